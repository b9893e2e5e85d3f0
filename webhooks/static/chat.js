// Web chat client: posts each question to the chat API and renders the reply, its sources and
// suggested follow-ups. No framework, no CDN. Text is inserted with textContent (never innerHTML),
// so nothing in a reply can inject markup.
(function () {
  "use strict";
  var main = document.querySelector(".chat");
  var chatUrl = main.getAttribute("data-chat-url");
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var send = document.getElementById("send");
  var status = document.getElementById("status");

  // Who this visitor is travels in an HttpOnly session cookie the server set with the page.

  // Scrolls so the whole message sits above the sticky composer. scrollIntoView({block: "end"})
  // aligned it with the bottom of the window, under the composer, hiding its last line and its
  // suggestion buttons. A message taller than the room above the composer shows from its start.
  function reveal(div) {
    var gap = 8;
    var box = div.getBoundingClientRect();
    var limit = form.getBoundingClientRect().top - gap;  // the composer's top edge, in the window
    var delta;
    if (box.height > limit - gap) {
      delta = box.top - gap;
    } else if (box.bottom > limit) {
      delta = box.bottom - limit;
    } else if (box.top < gap) {
      delta = box.top - gap;
    } else {
      return;
    }
    window.scrollBy(0, delta);
  }

  function bubble(kind, text) {
    var div = document.createElement("div");
    div.className = "msg " + kind;
    var p = document.createElement("p");
    p.textContent = text;
    div.appendChild(p);
    log.appendChild(div);
    reveal(div);
    return div;
  }

  function renderSources(div, citations) {
    if (!citations || !citations.length) return;
    var box = document.createElement("div");
    box.className = "sources";
    var h = document.createElement("h2");
    h.textContent = "Nguồn";
    box.appendChild(h);
    var ul = document.createElement("ul");
    var seen = {};
    citations.forEach(function (c) {
      var label = c.title + (c.locator ? " — " + c.locator : "");
      if (seen[label]) return;
      seen[label] = true;
      var li = document.createElement("li");
      if (c.url && /^https?:\/\//.test(c.url)) {
        var a = document.createElement("a");
        a.href = c.url; a.textContent = label; a.target = "_blank"; a.rel = "noopener noreferrer";
        li.appendChild(a);
      } else {
        li.textContent = label;
      }
      ul.appendChild(li);
    });
    box.appendChild(ul);
    div.appendChild(box);
  }

  function renderSuggestions(div, suggestions) {
    if (!suggestions || !suggestions.length) return;
    var box = document.createElement("div");
    box.className = "suggestions";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Gợi ý câu hỏi tiếp theo");
    suggestions.forEach(function (s) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = s;
      b.addEventListener("click", function () { ask(s); });
      box.appendChild(b);
    });
    div.appendChild(box);
  }

  function busy(on) {
    send.disabled = on;
    input.setAttribute("aria-busy", on ? "true" : "false");
    status.textContent = on ? "Đang tìm câu trả lời…" : "";
  }

  function ask(text) {
    text = (text || "").trim();
    if (!text) return;
    bubble("user", text);
    busy(true);
    fetch(chatUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ text: text, channel: "web" })
    }).then(function (resp) {
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      return resp.json();
    }).then(function (reply) {
      var div = bubble("bot", reply.reply);
      renderSources(div, reply.citations);
      renderSuggestions(div, reply.suggestions);
      reveal(div);
    }).catch(function () {
      var div = bubble("bot", "Xin lỗi, hệ thống đang bận hoặc mất kết nối. Bạn vui lòng thử lại sau ít phút.");
      div.classList.add("error");
    }).then(function () {
      busy(false);
      input.focus();
    });
  }

  // The skip link must move keyboard focus, not just scroll, in every browser.
  var skip = document.querySelector(".skip-link");
  if (skip) skip.addEventListener("click", function (e) { e.preventDefault(); input.focus(); });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    ask(text);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
})();

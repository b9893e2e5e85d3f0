// Draws the dashboard charts from the JSON the server embeds in #figures (no inline script: CSP).
(function () {
  "use strict";
  var el = document.getElementById("figures");
  if (!el || typeof Chart === "undefined") { return; }
  var f = JSON.parse(el.textContent);
  var palette = ["#0b4f8a", "#1e6b34", "#a3201b", "#8a4b00", "#5b3a8c", "#00707a", "#7a6000", "#34495e",
                 "#b0457a", "#2d7fc1", "#4f8a3d", "#c0392b"];
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif";
  Chart.defaults.color = "#1a1a1a";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, config); }
  }
  draw("chart-category", {
    type: "bar",
    data: { labels: f.by_category.labels,
            datasets: [{ label: "Số phản ánh", data: f.by_category.values, backgroundColor: palette[0] }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } },
               scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  draw("chart-week", {
    type: "line",
    data: { labels: f.by_week.labels,
            datasets: [{ label: "Phản ánh tiếp nhận", data: f.by_week.values, borderColor: palette[0],
                         backgroundColor: "rgba(11,79,138,0.15)", fill: true, tension: 0.2 }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  draw("chart-ontime", {
    type: "bar",
    data: { labels: f.on_time.labels,
            datasets: [{ label: "% trả lời đúng hạn", data: f.on_time.values, backgroundColor: palette[1] }] },
    options: { indexAxis: "y", plugins: { legend: { display: false },
                 tooltip: { callbacks: { label: function (ctx) {
                   return ctx.parsed.x + "% (" + f.on_time.counts[ctx.dataIndex] + " phản ánh)"; } } } },
               scales: { x: { beginAtZero: true, max: 100 } } }
  });
  draw("chart-duties", {
    type: "doughnut",
    data: { labels: f.duties.labels,
            datasets: [{ data: f.duties.values, backgroundColor: ["#8a9099", palette[3], palette[1], palette[2]] }] },
    options: { plugins: { legend: { position: "bottom" } } }
  });
}());

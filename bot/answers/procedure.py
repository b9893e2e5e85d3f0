"""Procedure answers: the asked field(s) of the matched procedure, from the catalogue, cited."""
from __future__ import annotations

from datetime import date

from bot.types import Citation, Reply
from knowledge.procedures import DEFAULT_MAX_AGE_DAYS

FIELD_ORDER = ["documents", "citizen_deadline", "time", "fee", "body", "place", "online", "steps", "result",
               "legal_basis"]


def procedure_reply(code: str, fields: list[str], today: date,
                    max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> Reply | None:
    """The asked fields of one procedure as in force on `today`, each with its source and, when a fact
    is unverified or older than `max_age_days`, a caveat saying where to check."""
    from knowledge.procedures import load_catalogue

    proc = load_catalogue().get(code)
    if proc is None:
        return None
    asked = [f for f in FIELD_ORDER if f in fields] or ["overview"]
    if "place" in asked and "body" not in asked:
        asked.insert(asked.index("place"), "body")  # where to file goes with who decides
    if "fee" in asked and proc.domain == "bao_tro_xa_hoi" and "result" not in asked:
        asked.append("result")  # "được bao nhiêu tiền" asks about the benefit, not a fee
    title = proc.name if proc.name.lower().startswith("thủ tục") else f"Thủ tục {proc.name[:1].lower()}{proc.name[1:]}"
    parts = [f"{title}:"]
    citations = []
    for f in asked:
        parts.append(proc.answer_text(f, today, max_age_days))
        cite = proc.citation(f)
        citations.append(Citation(**cite) if isinstance(cite, dict) else cite)
    suggestions = [s for s in ("Cần giấy tờ gì?", "Mất bao lâu?", "Lệ phí bao nhiêu?", "Nộp ở đâu?",
                                "Làm trực tuyến được không?")
                   if not any(w in s.lower() for w in _field_words(asked))][:4]
    return Reply(reply="\n".join(parts), intent="procedure", answered=True, citations=citations,
                 suggestions=suggestions)


def _field_words(fields: list[str]) -> list[str]:
    words = {"documents": "giấy tờ", "time": "bao lâu", "fee": "lệ phí", "place": "nộp ở đâu", "online": "trực tuyến",
             "citizen_deadline": "hạn chót"}
    return [words[f] for f in fields if f in words]

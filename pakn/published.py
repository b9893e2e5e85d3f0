"""What of a petition the public may see, and the search over published answers (issue 19).

Why one module: the REST lookup, Open311 (single, list, closed list) and the page of answered
petitions must agree on what is public, or the most generous of them becomes the real rule.

* A petition's own words (masked with `pakn.privacy.redact`) and its map point are shown only
  when it was filed through Open311, whose clients publish by design (`is_published`). A
  petition sent by chat, Zalo, Telegram or the REST API was not written to be published: it
  shows category, ward, office, dates and status.
* The office's answer to a petition that is not a complaint or denunciation is public (masked):
  answering is the state's act, and publishing answers is what issue 19 asks for
  (`answer_is_public`).
* A complaint or denunciation (`is_complaint`) shows its status only, is never listed and never
  published: the law protects the denouncer (Luật Tố cáo 2018, Điều 47).
* Never the house address (`public_address` keeps the ward and province) or the contact.

Search (`search_answered`) matches folded text — `retrieval.normalize.loose_key`, the project's
one accent/case folding — over only what the result itself shows: the masked answer, the
category, office and ward, and the masked description of an Open311 petition. Matching on text
that is not shown (a chat petition's content, a masked phone number) would turn the search box
into an oracle: "which petitions mention Nguyễn Văn A / 0912…" answered by the hit count.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pakn.complaints import complaint_words
from pakn.models import ANSWERED, CLOSED, PaknEvent, PaknRecord
from pakn.privacy import redact, redact_public

# Statuses in which a petition counts as answered: a reopened one (in_progress) is being handled again.
ANSWERED_STATUSES = (ANSWERED, CLOSED)
# How many of the most recently answered petitions one search scans (folded matching runs in Python,
# over the masked text, which the database cannot index). Older answers stay reachable by category.
MAX_SCAN = 5000
MAX_QUERY_CHARS = 200

UNIT_WORDS = re.compile(r"^\s*(phường|phuong|xã|xa|thị trấn|quận|quan|huyện|huyen|tp\.?|thành phố|thị xã|tỉnh|"
                        r"p\.|x\.|q\.|f\.?)\s*\d*\b", re.IGNORECASE)


# Petitions about an official's conduct name people; their words are never published.
PRIVATE_CATEGORIES = frozenset({"can_bo_cong_vu"})


def is_private(record: PaknRecord) -> bool:
    """A complaint or denunciation — as triage decided, or as any complaint, denunciation or bribery
    phrase in any spelling suggests (`pakn.complaints.is_sensitive`): triage may have missed it,
    and publishing a denunciation cannot be undone."""
    return bool(record.is_complaint) or complaint_words().is_sensitive(record.content)


def is_published(record: PaknRecord) -> bool:
    """Whether a petition's own words may be shown publicly: only when it was filed through Open311
    itself (whose clients publish by design), is not private and is not about an official."""
    return record.channel == "open311" and not is_private(record) and record.category not in PRIVATE_CATEGORIES


def answer_is_public(record: PaknRecord) -> bool:
    """Whether the office's answer (and the reason of a refusal) may be shown: any petition that is
    not private."""
    return not is_private(record)


def public_address(record: PaknRecord) -> str | None:
    """Where a petition is, without the house: the ward and province we resolved, or else the parts
    of the typed address that name an area ("phường Bến Thành, TP. Hồ Chí Minh" of "12 hẻm 5,
    phường Bến Thành, TP. Hồ Chí Minh"). A house number and alley identify a household."""
    loc = record.locality or {}
    area = ", ".join(p for p in (loc.get("ward_name"), loc.get("province_name")) if p)
    if area:
        return area
    parts = [p.strip() for p in (record.location or "").split(",") if p.strip()]
    kept = [p for p in parts if not re.search(r"\d", p) or UNIT_WORDS.match(p)]
    return redact(", ".join(kept)) or None


def last_reply(record: PaknRecord):
    """The office's latest answer event, or None."""
    return next((e for e in reversed(record.events) if e.kind == "reply"), None)


@dataclass(frozen=True)
class AnsweredItem:
    """One published answer, as the page and the API show it."""

    code: str
    status: str
    category: str
    category_name: str | None
    ward: str | None
    office_id: str | None
    office_name: str | None
    created_at: datetime
    answered_at: datetime | None
    description: str | None  # only for a petition filed through Open311
    answer: str | None

    def haystack(self) -> str:
        from retrieval.normalize import loose_key

        return loose_key(" ".join(x for x in (self.description, self.answer, self.category_name,
                                              self.office_name, self.ward) if x))


def answered_item(record: PaknRecord) -> AnsweredItem:
    reply = last_reply(record)
    return AnsweredItem(
        code=record.code, status=record.status, category=record.category, category_name=record.category_name,
        ward=public_address(record), office_id=record.office_id, office_name=record.office_name,
        created_at=record.created_at, answered_at=reply.at if reply else None,
        description=redact_public(record.content) if is_published(record) else None,
        answer=redact_public(reply.note) if reply and answer_is_public(record) else None)


def query_terms(q: str | None) -> list[str]:
    """The folded words of a search box entry (all must appear)."""
    from retrieval.normalize import loose_key

    return loose_key((q or "")[:MAX_QUERY_CHARS]).split()


def _answered_at():
    """When the office last answered a petition (None for one it never answered): the sort key."""
    return (select(func.max(PaknEvent.at)).where(PaknEvent.record_id == PaknRecord.id, PaknEvent.kind == "reply")
            .correlate(PaknRecord).scalar_subquery())


def search_answered(session: Session, q: str | None = None, *, category: str | None = None, limit: int = 20,
                    offset: int = 0) -> tuple[list[AnsweredItem], int]:
    """Published answers, most recently answered first, whose shown text contains every folded word of
    `q`; and how many match in all. Complaints and denunciations are never among them.

    The `MAX_SCAN` most recently answered are read, the private ones dropped (`is_private` reads the
    words, which no database index holds), and the rest folded and matched here."""
    answered_at = _answered_at()
    stmt = select(PaknRecord).where(PaknRecord.status.in_(ANSWERED_STATUSES), PaknRecord.is_complaint.is_not(True),
                                    answered_at.is_not(None))
    if category:
        stmt = stmt.where(PaknRecord.category == category)
    stmt = stmt.order_by(answered_at.desc(), PaknRecord.id.desc())
    terms = query_terms(q)
    items = []
    for record in session.scalars(stmt.limit(MAX_SCAN)):
        if is_private(record):  # triage missed a complaint or denunciation: still never published
            continue
        item = answered_item(record)
        hay = item.haystack()
        if all(t in hay for t in terms):
            items.append(item)
    return items[offset:offset + limit], len(items)


__all__ = ["ANSWERED_STATUSES", "AnsweredItem", "answer_is_public", "answered_item", "is_published",
           "last_reply", "public_address", "query_terms", "search_answered"]

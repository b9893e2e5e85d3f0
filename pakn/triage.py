"""Triage of one PAKN petition: topic, locality, office, due date, and the legal track.

`triage()` is pure logic over data files (no database): the persistence/API layer calls it and
stores the result, including `explanation`, so a clerk can see why a petition landed on their desk.

Khiếu nại (complaints against decisions/acts) and tố cáo (denunciations of violations) are not
PAKN: they follow Luật Khiếu nại 2011 and Luật Tố cáo 2018 with their own time limits, not the PAKN
procedure of Nghị định 20/2008/NĐ-CP. They are flagged, routed to the body that advises on them,
and the citizen is told which law applies.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from pakn.classifier import Alternative, get_classifier
from pakn.complaints import ComplaintWords, complaint_words
from pakn.duedates import due_at
from pakn.legal_deadlines import Kind, LegalDeadlines, legal_deadlines
from pakn.localities import Locality, LocalityIndex, recognise
from pakn.routing import load_routing, route

NOTICE_COMPLAINT = (
    "Nội dung của ông/bà có tính chất khiếu nại. Khiếu nại được giải quyết theo Luật Khiếu nại năm 2011, "
    "không theo thủ tục tiếp nhận phản ánh, kiến nghị của Nghị định 20/2008/NĐ-CP. {deadlines} Đơn cần ghi rõ "
    "họ tên, địa chỉ, quyết định hoặc hành vi bị khiếu nại và gửi đến cơ quan, người đã ban hành quyết định đó."
)
NOTICE_OLD_ADDRESS = "Địa chỉ ông/bà ghi theo đơn vị hành chính trước ngày 01/7/2025: {note}."
NOTICE_DENUNCIATION = (
    "Nội dung của ông/bà có tính chất tố cáo. Tố cáo được giải quyết theo Luật Tố cáo năm 2018, "
    "không theo thủ tục tiếp nhận phản ánh, kiến nghị của Nghị định 20/2008/NĐ-CP. {deadlines} {protection} "
    "Người tố cáo cần ghi rõ họ tên, địa chỉ."
)


def legal_notice(kind: Kind, deadlines: LegalDeadlines | None = None) -> str:
    """The notice for a complaint or a denunciation, citing the articles of its law (data:
    knowledge/pakn/legal_deadlines.yaml; an unverified figure is named by its article only)."""
    track = (deadlines or legal_deadlines()).track(kind)
    if kind == "complaint":
        return NOTICE_COMPLAINT.format(deadlines=track.deadline_sentence())
    return NOTICE_DENUNCIATION.format(deadlines=track.deadline_sentence(),
                                      protection=track.protection_sentence() or "")


def legal_notices(complaint: bool, denunciation: bool) -> list[str]:
    """The notices of the laws that apply, complaint first (the chat reply shows the same)."""
    flags: tuple[tuple[Kind, bool], ...] = (("complaint", complaint), ("denunciation", denunciation))
    return [legal_notice(k) for k, on in flags if on]


def legal_due_at(received: datetime, complaint: bool, denunciation: bool, *, tz: str, due_time: str,
                 deadlines: LegalDeadlines | None = None) -> datetime | None:
    """The due date under the law of a complaint/denunciation (the earlier one when a petition is
    both), or None for an ordinary petition (which keeps the PAKN working days)."""
    data = deadlines or legal_deadlines()
    flags: tuple[tuple[Kind, bool], ...] = (("complaint", complaint), ("denunciation", denunciation))
    kinds = [k for k, on in flags if on]
    dates = [data.track(k).due_at(received, tz=tz, due_time=due_time) for k in kinds]
    return min(dates) if dates else None


class Triage(BaseModel):
    """The triage decision stored with a PAKN record."""

    category: str
    category_name: str
    confidence: float = Field(ge=0.0, le=1.0)
    needs_human: bool = Field(description="low confidence: goes to the human triage queue")
    alternatives: list[Alternative] = []
    office_id: str
    office_name: str
    office_contact: dict[str, str] = {}
    locality: dict | None = Field(description="recognised place in today's units, or None")
    location_unrecognised: bool = Field(False, description="a location was given but not recognised")
    due_at: datetime = Field(description="processing deadline: PAKN working days, or the time limits of Luật "
                                         "Khiếu nại/Luật Tố cáo for a complaint/denunciation")
    forward_due_at: datetime = Field(description="deadline to forward it if the office lacks competence")
    is_complaint_or_denunciation: bool
    notice: str | None = Field(description="Vietnamese notice for the citizen, or None")
    explanation: str
    deferred: bool = Field(False, description="provisional: the semantic classifier still has to run (worker)")


def detect_complaint(content: str, words: ComplaintWords | None = None) -> tuple[bool, bool]:
    """(is khiếu nại, is tố cáo) from the phrases in knowledge/pakn/complaints.yaml; a demand for a
    bribe counts as a denunciation whatever words are used. See `pakn.complaints`."""
    return (words or complaint_words()).detect(content)


def locate(content: str, location: str | None = None, *,
           index: LocalityIndex | None = None) -> tuple[Locality | None, bool]:
    """(locality, a location was given but not recognised): the form's place field first, read as
    a whole place name; without one, the place named in the petition itself. `index` defaults to
    the shared one (the address bench passes its own to compare converters)."""
    loc = recognise(location, whole=True, index=index) if location and location.strip() else None
    unrecognised = bool(location and location.strip()) and loc is None
    if loc is None and not unrecognised:
        loc = recognise(content, index=index)
    return loc, unrecognised


def triage(content: str, location: str | None = None, *, now: datetime | None = None,
           semantic: bool = True) -> Triage:
    """Classify, locate, route and date one petition.

    `location` is the place field of the form, if any (recognised as a whole place name); without
    it the content itself is searched for a place. `now` is the time of receipt (default: now).
    `semantic=False` skips the embedding view: an unsure petition comes back `deferred`, routed
    provisionally to the triage desk, for the outbox worker to classify (see pakn.classifier).
    """
    cfg = load_routing()
    zone = ZoneInfo(cfg.timezone)
    received = now or datetime.now(zone)

    cls = get_classifier().classify(content, semantic=semantic)
    complaint, denunciation = detect_complaint(content)
    flagged = complaint or denunciation

    loc, unrecognised = locate(content, location)
    r = route(cls.category, loc, complaint_or_denunciation=flagged, on=received.date())

    notices = legal_notices(complaint, denunciation)
    if loc is not None and loc.successor_note:
        # The citizen wrote the address they always used; say which unit it is today, so the
        # office named in the receipt makes sense to them.
        notices.insert(0, NOTICE_OLD_ADDRESS.format(note=loc.successor_note))
    explanation = f"{cls.explanation} {r.explanation}"
    if unrecognised:
        explanation += f" Không nhận diện được địa bàn “{(location or '').strip()}”."
    d = cfg.deadlines
    # A complaint or denunciation is due under its own law (pakn.legal_deadlines), not Nghị định 20.
    due = legal_due_at(received, complaint, denunciation, tz=cfg.timezone, due_time=d.due_time) \
        or due_at(received, d.processing_working_days, tz=cfg.timezone, due_time=d.due_time)
    return Triage(
        category=cls.category,
        category_name=cls.category_name,
        confidence=cls.confidence,
        needs_human=cls.needs_human,
        alternatives=cls.alternatives,
        office_id=r.office_id,
        office_name=r.office_name,
        office_contact=r.contact,
        locality=loc.model_dump() if loc else None,
        location_unrecognised=unrecognised,
        due_at=due,
        forward_due_at=due_at(received, d.forward_working_days, tz=cfg.timezone, due_time=d.due_time),
        is_complaint_or_denunciation=flagged,
        notice=" ".join(notices) or None,
        explanation=explanation,
        deferred=cls.deferred,
    )


def warm_up() -> None:
    """Load everything triage reads — the classifier with its example vectors, the ward index, the
    routing rules — and the duplicate matcher before the first petition (called from the app
    lifespan): the loads are single-flight, but a request should not pay for them at all."""
    get_classifier()
    triage("Đèn đường ở phường Bến Thành, TP. Hồ Chí Minh hỏng đã lâu", semantic=True)
    from pakn.duplicates import lexical_model

    lexical_model()  # the duplicate matcher's IDF: never built inside an intake's write transaction

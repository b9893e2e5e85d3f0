"""Time limits of complaints and denunciations, as data: due dates and the notice to the citizen.

Why: a complaint (Luật Khiếu nại 2011) or a denunciation (Luật Tố cáo 2018) is not a PAKN — it has
its own time limits for acceptance (thụ lý) and resolution — yet it used to get the PAKN due date
(10 working days). The figures live in `knowledge/pakn/legal_deadlines.yaml`, each with its
article, a source page and the date it was checked, so a non-programmer can correct them when the
law changes. A figure marked `verified: false` is never used: the due date leaves it out and the
notice says that the law's time limit applies and where to read it, rather than print a number
nobody could confirm.

The due date is the latest date the law allows counted from receipt: acceptance period, then the
resolution period from acceptance. Without a verified acceptance period the resolution period is
counted from receipt — an earlier date than the law's, which is the safe side for an office.
Calendar periods are counted as plain days (no shift off a weekend or holiday), again the earlier
reading.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pakn.duedates import add_working_days

LEGAL_DEADLINES_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "pakn" / "legal_deadlines.yaml"
Kind = Literal["complaint", "denunciation"]


class Period(BaseModel):
    """One time limit of the law, with where it was read."""

    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(None, gt=0)
    counting: Literal["calendar", "working"]
    starts: Literal["receipt", "acceptance"]
    article: str = Field(min_length=4)
    quote: str = Field(min_length=10)
    counting_note: str | None = None
    source: str = Field(pattern=r"^https?://")
    also: str | None = Field(None, pattern=r"^https?://")
    checked: date
    verified: bool

    @model_validator(mode="after")
    def _verified_needs_days(self) -> Period:
        if self.verified and self.days is None:
            raise ValueError("a verified period needs its number of days")
        return self

    @property
    def usable(self) -> bool:
        """Whether the figure may be used for a date or quoted as a number."""
        return self.verified and self.days is not None

    def add_to(self, start: date) -> date:
        """`start` plus this period (the start day itself is not counted)."""
        assert self.days is not None
        if self.counting == "working":
            return add_working_days(start, self.days)
        return start + timedelta(days=self.days)

    def phrase(self) -> str:
        """'10 ngày' / '05 ngày làm việc', as the law writes it."""
        return f"{self.days:02d} ngày làm việc" if self.counting == "working" else f"{self.days} ngày"


class Protection(BaseModel):
    """The article protecting the denouncer's identity."""

    model_config = ConfigDict(extra="forbid")

    article: str = Field(min_length=4)
    quote: str = Field(min_length=10)
    source: str = Field(pattern=r"^https?://")
    also: str | None = Field(None, pattern=r"^https?://")
    checked: date
    verified: bool


class LegalTrack(BaseModel):
    """The time limits of one kind of petition under its own law."""

    model_config = ConfigDict(extra="forbid")

    label: str
    law: str = Field(min_length=5)
    acceptance: Period
    resolution: Period
    protection: Protection | None = None

    @model_validator(mode="after")
    def _check(self) -> LegalTrack:
        if self.resolution.starts != "acceptance":
            raise ValueError("the resolution period runs from acceptance (starts: acceptance)")
        if self.acceptance.starts != "receipt":
            raise ValueError("the acceptance period runs from receipt (starts: receipt)")
        return self

    def due_at(self, received: datetime, *, tz: str = "Asia/Ho_Chi_Minh", due_time: str = "17:00") -> datetime:
        """Latest date of resolution from the verified periods, at `due_time` local (see module doc)."""
        zone = ZoneInfo(tz)
        local = received.replace(tzinfo=zone) if received.tzinfo is None else received.astimezone(zone)
        day = local.date()
        if self.acceptance.usable:
            day = self.acceptance.add_to(day)
        if self.resolution.usable:
            day = self.resolution.add_to(day)
        hh, mm = (int(x) for x in due_time.split(":"))
        return datetime.combine(day, time(hh, mm), tzinfo=zone)

    def deadline_sentence(self) -> str:
        """The time limits in Vietnamese, citing the articles; an unverified figure is not printed."""
        law = self.law
        acc, res = self.acceptance, self.resolution
        if acc.usable:
            parts = [(f"theo {acc.article} {law}, đơn thuộc thẩm quyền được thụ lý trong thời hạn {acc.phrase()} "
                      "kể từ ngày nhận được")]
        else:
            parts = [f"việc thụ lý đơn theo điều kiện và thời hạn của {law} ({acc.article})"]
        if res.usable:
            parts.append(f"theo {res.article} {law}, thời hạn giải quyết {self.label} không quá {res.phrase()} kể từ ngày thụ lý")
        else:
            parts.append(f"thời hạn giải quyết theo {res.article} {law}")
        sentence = "; ".join(parts)
        return sentence[0].upper() + sentence[1:] + "."

    def protection_sentence(self) -> str | None:
        """The denouncer's protection, citing its article (None when the law has none here)."""
        if self.protection is None:
            return None
        if self.protection.verified:
            return (f"Theo {self.protection.article} {self.law}, người tố cáo được bảo vệ bí mật thông tin cá nhân, "
                    "trừ trường hợp người tố cáo tự tiết lộ.")
        return f"Người tố cáo được bảo vệ theo {self.law} ({self.protection.article})."


class LegalDeadlines(BaseModel):
    """knowledge/pakn/legal_deadlines.yaml."""

    model_config = ConfigDict(extra="forbid")

    complaint: LegalTrack
    denunciation: LegalTrack

    def track(self, kind: Kind) -> LegalTrack:
        return self.complaint if kind == "complaint" else self.denunciation


def load_legal_deadlines(path: Path = LEGAL_DEADLINES_FILE) -> LegalDeadlines:
    """Read and check the file; an error names it (a wrong figure must not load silently)."""
    try:
        return LegalDeadlines.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


@lru_cache(maxsize=1)
def legal_deadlines() -> LegalDeadlines:
    """The shipped figures, read once."""
    return load_legal_deadlines()


__all__ = ["LegalDeadlines", "LegalTrack", "Period", "Protection", "legal_deadlines", "load_legal_deadlines"]

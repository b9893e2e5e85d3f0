"""Typed values that flow through retrieval: the unit of retrieval and a ranked hit.

A `Unit` is the smallest piece of evidence an answer can cite: one plan section's paragraphs with
their heading path, one task row, one field of one procedure. Its `locator` is what citations print.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Unit(BaseModel):
    """One retrievable piece of evidence with the metadata that filters and citations need."""

    id: str = Field(description="stable id, e.g. 'tayninh-cchc-2024#task-31' or 'tthc:1.001193#fee'")
    kind: str = Field(description="plan_section | plan_task | tthc_field")
    source: str = Field(description="plan id or procedure code; the citation's source")
    title: str = Field(description="document or procedure title for citations")
    locator: str = Field(description="printed in citations: 'Mục II.1.a', 'Nhiệm vụ số 31', 'Lệ phí'")
    text: str = Field(description="the evidence text, clean (no HTML, no markdown)")
    context: str = Field("", description="extra text indexed but not shown: heading path, offices, aliases")
    meta: dict[str, Any] = Field(default_factory=dict, description="plan_id, locality, province, year, kind, field…")


class SearchHit(BaseModel):
    """A unit with its score and rank for one query."""

    unit: Unit
    score: float
    rank: int

"""Route a classified petition to an office: category × locality → office id, as data.

The rules live in `knowledge/routing.yaml` so a province can change who handles what without a
release. Per category: `level: xa` means the UBND of the ward/commune handles it when the ward is
known (local trash, hộ tịch, trật tự), otherwise the province `body`; `level: tinh` always goes to
the province body. With no locality at all the petition goes to the configured default province,
and the explanation says so. If the office directory (`knowledge/offices.py`, owned elsewhere) is
present and knows the id, its name/contact are used and `successor` is followed for bodies that no
longer exist; it is imported lazily so this module works without it.
"""
from __future__ import annotations

import logging
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from pakn.localities import Locality, province_by_slug

log = logging.getLogger(__name__)

ROUTING_PATH = Path(__file__).resolve().parent.parent / "knowledge" / "routing.yaml"


class Rule(BaseModel):
    """How one category is routed."""

    level: Literal["xa", "tinh"]
    body: str = Field(pattern=r"^[a-z0-9-]+$")
    why: str = Field(min_length=5, description="Vietnamese reason, quoted in the explanation")


class Deadlines(BaseModel):
    """Day counts of Nghị định 20/2008/NĐ-CP (amended 48/2013, 92/2017), kept as data."""

    processing_working_days: int = Field(gt=0)
    forward_working_days: int = Field(gt=0)
    due_time: str = Field("17:00", pattern=r"^\d{2}:\d{2}$")


class RoutingConfig(BaseModel):
    """knowledge/routing.yaml."""

    default_province: str
    timezone: str = "Asia/Ho_Chi_Minh"
    deadlines: Deadlines
    bodies: dict[str, str]
    categories: dict[str, Rule]
    complaint_or_denunciation: Rule

    @model_validator(mode="after")
    def _check(self) -> RoutingConfig:
        for slug, rule in [*self.categories.items(), ("complaint_or_denunciation", self.complaint_or_denunciation)]:
            if rule.body not in self.bodies:
                raise ValueError(f"routing.yaml: {slug} names unknown body {rule.body!r}")
        if province_by_slug(self.default_province) is None:
            raise ValueError(f"routing.yaml: unknown default_province {self.default_province!r}")
        return self


class Route(BaseModel):
    """Where a petition goes and why (stored with the record)."""

    office_id: str
    office_name: str
    contact: dict[str, str] = {}
    level: Literal["xa", "tinh"]
    province_slug: str
    used_default_province: bool
    explanation: str


@lru_cache(maxsize=1)
def load_routing(path: Path = ROUTING_PATH) -> RoutingConfig:
    """The routing rules, validated (an unknown category or body is an error at load)."""
    cfg = RoutingConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    from pakn.classifier import load_categories

    missing = set(load_categories()) - set(cfg.categories)
    if missing:
        raise ValueError(f"routing.yaml: no rule for categories {sorted(missing)}")
    return cfg


def _directory():
    """The office directory if that module exists and loads; None otherwise."""
    try:
        from knowledge.offices import load_offices

        return load_offices()
    except Exception as exc:  # noqa: BLE001 - absent or broken directory must not stop PAKN intake
        log.debug("office directory unavailable: %s", exc)
        return None


def _short_province(name: str) -> str:
    return name.removeprefix("Thành phố ").strip()


def route(
    category: str,
    locality: Locality | None,
    *,
    complaint_or_denunciation: bool = False,
    on: date | None = None,
    config: RoutingConfig | None = None,
) -> Route:
    """Pick the office for a petition of `category` at `locality` (None → default province)."""
    cfg = config or load_routing()
    rule = cfg.complaint_or_denunciation if complaint_or_denunciation else cfg.categories[category]
    used_default = locality is None
    loc = locality or province_by_slug(cfg.default_province)
    assert loc is not None  # validated at load
    province = _short_province(loc.province_name)

    if rule.level == "xa" and loc.ward_slug:
        office_id = f"{loc.province_slug}.xa.{loc.ward_slug}"
        default_name = f"UBND {loc.ward_name}, {loc.province_name}"
        rule_txt = f"lĩnh vực giải quyết tại cấp xã ({rule.why}), đã xác định được {loc.ward_name}"
        level = "xa"
    else:
        office_id = f"{loc.province_slug}.{rule.body}"
        # "Văn phòng UBND tỉnh" + "thành phố Hồ Chí Minh": the body's own "tỉnh" gives way to the
        # province's real level, or names would read "… tỉnh thành phố …" / "… tỉnh tỉnh …".
        body = cfg.bodies[rule.body].removesuffix(" tỉnh")
        default_name = f"{body} {'thành phố' if loc.province_name.startswith('Thành phố') else 'tỉnh'} {province}"
        if rule.level == "xa":
            rule_txt = f"lĩnh vực cấp xã nhưng chưa xác định được xã/phường, chuyển cơ quan cấp tỉnh ({rule.why})"
        else:
            rule_txt = f"lĩnh vực do cấp tỉnh giải quyết ({rule.why})"
        level = "tinh"

    name, contact = default_name, {}
    directory = _directory()
    if directory is not None and office_id in directory:
        current = directory.current(office_id, on)
        if current is not None:
            if current.id != office_id:
                rule_txt += f"; cơ quan cũ đã được thay bằng {current.name}"
            office_id, name, contact = current.id, current.name, dict(current.contact)

    if used_default:
        where = f"không nêu địa bàn, chuyển mặc định về {loc.province_name} (tỉnh vận hành hệ thống)"
    else:
        where = f"địa bàn: {loc.ward_name + ', ' if loc.ward_name else ''}{loc.province_name}"
        if loc.successor_note:
            where += f" ({loc.successor_note})"
        elif loc.old_name:
            where += f" (theo địa danh cũ: {loc.old_name})"
    if complaint_or_denunciation:
        rule_txt = f"đơn có nội dung khiếu nại/tố cáo ({rule.why})"
    explanation = f"Chuyển đến {name}: {rule_txt}; {where}."
    return Route(office_id=office_id, office_name=name, contact=contact, level=level,
                 province_slug=loc.province_slug, used_default_province=used_default, explanation=explanation)

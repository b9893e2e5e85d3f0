"""Pre-2025 wards and districts (the 63-province map) and the ward/commune that succeeded each.

Citizens keep writing the address they always used ("Phường 3, TP Tây Ninh", "xã Hiệp Tân, huyện
Hòa Thành"). The old → new ward mapping comes from `vietnamadminunits` (PyPI, MIT), which ships
the legacy map (10,040 old wards with their GSO codes) and the 2025 conversion table as package
data: nothing is downloaded at run time.

Chosen over `vietnam-address-converter` by measurement (README, Measurements, "Old addresses";
`bench/pakn_addresses.py --converter`): over all 10,040 old wards the two agree on 9,599
successors; the other has no answer for 417 that this one maps, and takes 7.6 s to import
against 0.5 s.

Only its data and its converter are used, not its free-text parser: the parser matches
space-stripped keys anywhere in the string (built for address columns, not petitions; "phuong 3
tp tay ninh" finds no ward), and its
converter geocodes through ArcGIS (network) when the string carries a street and the old ward was
split. So the locality scanner (pakn/localities.py) finds the old ward and district in the text
and hands the converter a canonical "ward, district, province" string, which has no street part:
the network branch is never reached (tests/unit/test_pakn_old_units.py blocks sockets to prove it).
A split old ward (471 of them) goes to the successor the library marks as default, and the note
to the citizen says the old unit was split: on those the two libraries agree 164 times out of 185
where the other answers at all, against 9,435 of 9,438 for unsplit wards. The split table has
artefacts (Phường 4 of TP Tây Ninh is listed as shared with Phường Long An, 100 km away, by
confusion with Tân An's Phường 4), so the note only names the default successor.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from vntext import fold_words


@dataclass(frozen=True)
class OldWard:
    """A ward/commune of the pre-1/7/2025 map (official names, with their type)."""

    ward: str          # "Phường 3"
    district: str      # "Thành phố Tây Ninh"
    province: str      # "Tỉnh Tây Ninh"
    district_short: str
    province_short: str


@dataclass(frozen=True)
class Successor:
    """The 2025 unit an old ward became, as `vietnamadminunits` names it."""

    ward: str          # "Phường Tân Ninh"
    province: str      # "Tỉnh Tây Ninh"
    split: bool = False  # the old ward was divided between several new units; `ward` is the default


def short_unit(name: str) -> str:
    """Folded name without its unit type: "Phường 3" → "3", "Thị xã Hòa Thành" → "hoa thanh"."""
    f = fold_words(name)
    for p in ("thanh pho ", "thi xa ", "thi tran ", "huyen ", "quan ", "phuong ", "xa ", "tinh "):
        if f.startswith(p):
            return f[len(p):]
    return f


class OldUnits:
    """Old wards and districts by folded short name, and each old ward's successor (memoised here).

    Built once per LocalityIndex (which owns it); `rows`/`convert` can be injected for tests.
    """

    def __init__(self, rows: list[dict] | None = None, convert=None, divided: dict | None = None) -> None:
        if rows is None:
            from vietnamadminunits.database import get_data

            rows = get_data(fields=["province", "district", "ward", "provinceShort", "districtShort"],
                            table="admin_units_legacy")
        if convert is None:
            from vietnamadminunits import convert_address

            convert = convert_address
        if divided is None:
            try:
                from vietnamadminunits.converter.converter_2025 import DICT_PROVINCE_WARD_DIVIDED
            except ImportError:  # a future release may move it: then no ward is reported as split
                DICT_PROVINCE_WARD_DIVIDED = {}
            divided = DICT_PROVINCE_WARD_DIVIDED
        self._convert = convert
        self._divided = {key for per_province in divided.values() for key in per_province}
        self._successors: dict[OldWard, Successor | None] = {}
        self.wards: dict[str, list[OldWard]] = defaultdict(list)
        self.districts: dict[str, list[tuple[str, str]]] = defaultdict(list)  # → (district, province_short)
        seen_d: set[tuple[str, str]] = set()
        # Keys are names without their type ("3" for Phường 3 / Quận 3): people get the type wrong
        # ("xã Hiệp Tân" for what was Phường Hiệp Tân since 2020), so only the name is matched.
        for r in rows:
            if not r.get("ward"):
                continue
            w = OldWard(r["ward"], r["district"], r["province"], r["districtShort"], r["provinceShort"])
            self.wards[short_unit(w.ward)].append(w)
            if (w.district, w.province) not in seen_d:
                seen_d.add((w.district, w.province))
                self.districts[short_unit(w.district)].append((w.district, w.province_short))

    def successor(self, old: OldWard) -> Successor | None:
        """The ward/commune that took `old` over on 1/7/2025, or None if the library has none."""
        if old not in self._successors:
            # No street part: the converter's geocoding branch is unreachable (module docstring).
            unit = self._convert(f"{old.ward}, {old.district}, {old.province}")
            o = getattr(unit, "OldAdminUnit", None)
            key = f"{o.province_key}_{o.district_key}_{o.ward_key}" if o is not None else ""
            self._successors[old] = Successor(unit.ward, unit.province, key in self._divided) if unit.ward else None
        return self._successors[old]

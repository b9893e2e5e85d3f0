"""Import procedure lists exported from the national public-service portal into catalogue YAML files.

The portal and the provincial portals publish each procedure with the same labelled fields ("Mã thủ
tục", "Tên thủ tục", "Lĩnh vực", "Cơ quan thực hiện", "Cấp thực hiện", "Cách thức thực hiện",
"Thời hạn giải quyết", "Phí, lệ phí", "Thành phần hồ sơ", "Trình tự thực hiện", "Kết quả thực
hiện", "Căn cứ pháp lý"), often with HTML left in the cells. Exports come as CSV, XLSX or JSON.
Each row becomes one validated `Procedure` written as YAML; rows that cannot be made valid are
reported, never written, so a half-understood record cannot reach citizens. Rows whose body is a
district (cấp huyện) are skipped for review: that level no longer exists after 1/7/2025 and the
new body must be decided by a person, not guessed.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from knowledge.errors import KnowledgeError
from knowledge.procedures import FACT_FIELDS, NATIONAL_PORTAL, Procedure, fold
from knowledge.tthc_diff import CatalogueDiff

# Folded header → canonical key. Headers vary between the national portal and provincial copies.
HEADERS: dict[str, str] = {
    "ma thu tuc": "code", "ma tthc": "code", "ma so": "code", "ma": "code", "matthc": "code",
    "ma thu tuc hanh chinh": "code",
    "ten thu tuc": "name", "ten tthc": "name", "tentthc": "name", "ten thu tuc hanh chinh": "name",
    "linh vuc": "field", "linhvuc": "field",
    "co quan thuc hien": "body", "coquanthuchien": "body",
    "cap thuc hien": "level", "capthuchien": "level",
    "cach thuc thuc hien": "method", "muc do": "online_level", "muc do dvc": "online_level",
    "dich vu cong truc tuyen": "online_level",
    "thoi han giai quyet": "time", "thoihangiaiquyet": "time",
    "phi le phi": "fee", "phi hoac le phi": "fee", "le phi": "fee", "phi": "fee", "phi, le phi": "fee",
    "thanh phan ho so": "documents", "thanhphanhoso": "documents",
    "trinh tu thuc hien": "steps", "trinh tu": "steps",
    "ket qua thuc hien": "result", "ket qua": "result",
    "can cu phap ly": "legal_basis", "cancuphaply": "legal_basis",
    "dia chi tiep nhan": "place", "noi tiep nhan": "place", "dia chi tiep nhan ho so": "place",
    "doi tuong thuc hien": "subjects",
}

DOMAIN_KEYWORDS = [
    ("ho tich", "ho_tich"), ("chung thuc", "chung_thuc"), ("cu tru", "cu_tru"), ("can cuoc", "can_cuoc"),
    ("dat dai", "dat_dai"), ("xay dung", "xay_dung"), ("ho kinh doanh", "kinh_doanh"),
    ("dang ky kinh doanh", "kinh_doanh"), ("bao tro xa hoi", "bao_tro_xa_hoi"),
    ("xuat nhap canh", "xuat_nhap_canh"), ("ho chieu", "xuat_nhap_canh"), ("duong bo", "giao_thong"),
    ("giay phep lai xe", "giao_thong"), ("dang ky xe", "giao_thong"), ("ly lich tu phap", "ly_lich_tu_phap"),
    ("bao hiem", "bao_hiem"), ("viec lam", "lao_dong"), ("lao dong", "lao_dong"),
    ("nguoi co cong", "nguoi_co_cong"), ("giao duc", "giao_duc"), ("dao tao", "giao_duc"),
    ("y te", "y_te"), ("kham benh", "y_te"), ("doanh nghiep", "doanh_nghiep"), ("hop tac xa", "doanh_nghiep"),
    ("moi truong", "moi_truong"),
]

_LAW_NUMBER = re.compile(r"\b(\d{1,4}/\d{4}/[A-ZĐ0-9]+(?:-[A-ZĐ0-9]+)*)", re.UNICODE)
_BULLET = re.compile(r"^(?:[-+•▪*]\s*|\d{1,2}[.)]\s+|[a-zđ][)]\s+|bước\s*\d+\s*[:.]\s*)", re.IGNORECASE)
_QUANTITY = re.compile(r"\(\s*\d{1,2}\s*bản[^)]*\)|\(\s*bản (?:chính|sao)[^)]*\)", re.IGNORECASE)


@dataclass
class ImportReport:
    """What an import wrote and what it refused, with the row number and the reason."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


# ---------------------------------------------------------------------- reading
def clean(text: Any) -> str:
    """Cell text without HTML: block tags become line breaks, entities are decoded, spaces squeezed."""
    if text is None:
        return ""
    t = str(text)
    t = re.sub(r"(?i)<\s*(br|/p|/li|/div|/tr)\s*/?>", "\n", t)
    t = re.sub(r"<[^>]+>", " ", t)
    t = html.unescape(t).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in t.splitlines()]
    return "\n".join(line for line in lines if line)


def _canonical(header: str) -> str | None:
    h = fold(str(header or "")).replace("_", " ").strip()
    return HEADERS.get(h) or HEADERS.get(h.replace(" ", ""))


def _normalise(raw: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in raw.items():
        key = _canonical(k)
        if key and clean(v):
            out.setdefault(key, clean(v))
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of an export (CSV, XLSX or JSON) keyed by canonical field names."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = path.read_text(encoding="utf-8-sig")
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        return [_normalise(r) for r in csv.DictReader(text.splitlines(keepends=True), dialect=dialect)]
    if suffix in {".xlsx", ".xlsm"}:
        from openpyxl import load_workbook

        ws = load_workbook(path, read_only=True, data_only=True).active
        rows = list(ws.iter_rows(values_only=True))
        # Exports carry a title block above the table: the header is the first row naming the procedure.
        start = next((i for i, r in enumerate(rows) if any(_canonical(c) == "name" for c in r if c)), None)
        if start is None:
            raise KnowledgeError(f"{path}: no header row with 'Tên thủ tục'")
        header = rows[start]
        return [_normalise(dict(zip(header, r, strict=False))) for r in rows[start + 1:] if any(r)]
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8-sig"))
        if isinstance(data, dict):
            data = next((v for k, v in data.items() if isinstance(v, list) and k.lower() in
                         {"data", "items", "result", "results", "records"}), [data])
        if not isinstance(data, list):
            raise KnowledgeError(f"{path}: expected a list of procedures")
        return [_normalise(r) for r in data if isinstance(r, dict)]
    raise KnowledgeError(f"{path}: unsupported export format {suffix!r} (use .csv, .xlsx or .json)")


# ---------------------------------------------------------------------- mapping
def slugify(text: str, limit: int = 70) -> str:
    words = fold(text).split()
    if words and words[0] == "thu" and len(words) > 1 and words[1] == "tuc":
        words = words[2:]
    slug = ""
    for w in words:
        if len(slug) + len(w) + 1 > limit:
            break
        slug = f"{slug}-{w}" if slug else w
    return slug or "thu-tuc"


def _items(text: str) -> list[str]:
    """One item per line, bullets, numbering and 'Bước n:' removed (a dash inside a line is kept)."""
    parts = [_BULLET.sub("", line.strip()).strip(" ;.") for line in text.splitlines()]
    return [p for p in parts if len(p) >= 3]


def _document(line: str) -> dict[str, Any]:
    """A dossier item; copies and original/copy come from its '(01 bản chính)' note when present."""
    qty = _QUANTITY.search(line)
    name = _QUANTITY.sub("", line).strip(" ,;") if qty else line
    f = fold(qty.group(0) if qty else line)
    m = re.search(r"\b(\d{1,2})\s*ban\b", f)
    copies = int(m.group(1)) if m else 1
    if "xuat trinh" in fold(line):
        form = "xuat_trinh"
    elif qty and "ban chinh" in f and "ban sao" in f:
        form = "ban_chinh_hoac_ban_sao"
    elif qty and "chung thuc" in f:
        form = "ban_sao_chung_thuc"
    elif (qty and "ban sao" in f) or (not qty and f.startswith("ban sao")):
        form = "ban_sao"
    else:
        form = "ban_chinh"
    return {"name": name, "copies": 0 if form == "xuat_trinh" else copies, "form": form}


def _level(text: str) -> str:
    f = fold(text)
    if "xa" in f.split() or "cap xa" in f:
        return "xa"
    if "tinh" in f:
        return "tinh"
    if "trung uong" in f or "bo" in f.split():
        return "trung_uong"
    return "xa" if "huyen" in f else "tinh"


def _domain(field_name: str, name: str) -> str:
    f = fold(f"{field_name} {name}")
    return next((d for kw, d in DOMAIN_KEYWORDS if kw in f), "khac")


def _fees(text: str) -> list[dict[str, Any]]:
    f = fold(text)
    if not text or f in {"khong", "khong co", "mien phi", "khong thu", "khong quy dinh"}:
        return []
    by_province = "hdnd" in f or "hoi dong nhan dan" in f
    amounts = re.findall(r"(\d{1,3}(?:\.\d{3})+|\d+)\s*(?:dong|d\b|vnd)", f)
    single = len(amounts) == 1
    return [{
        "name": "Phí, lệ phí",
        "kind": "le_phi" if "le phi" in f else "phi",
        "amount": text.replace("\n", "; "),
        "amount_vnd": int(amounts[0].replace(".", "")) if single else None,
        "set_by_province": by_province,
    }]


def _legal_basis(text: str) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line in re.split(r"[\n;]+", text):
        for number in _LAW_NUMBER.findall(line):
            if number not in seen:
                seen.add(number)
                title = line.strip(" .-+") or number
                docs.append({"number": number, "title": title})
    return docs


def _online(method: str, online_level: str) -> dict[str, Any]:
    f = fold(f"{method} {online_level}")
    if "toan trinh" in f:
        return {"mode": "toan_trinh", "portals": [NATIONAL_PORTAL]}
    if "truc tuyen" in f or "mot phan" in f:
        return {"mode": "mot_phan", "portals": [NATIONAL_PORTAL]}
    return {"mode": "khong"}


EXPORT_SOURCE_ID = "csdl-quoc-gia-tthc"


def row_to_procedure(row: dict[str, str], *, reviewed: date, source: str) -> dict[str, Any]:
    """Map one export row to the catalogue schema (a plain dict, validated by the caller)."""
    name = row.get("name", "")
    body = row.get("body", "")
    code = row.get("code") or None
    if code and not re.fullmatch(r"\d\.\d{6}", code):
        code = None  # provincial exports sometimes put an internal number here
    steps = _items(row.get("steps", "")) or ["Nộp hồ sơ và nhận kết quả theo quy định tại quyết định công bố thủ tục."]
    level_text = row.get("level", "") or body
    out: dict[str, Any] = {
        "id": slugify(name),
        "code": code,
        "name": name,
        "aliases": [],
        "domain": _domain(row.get("field", ""), name),
        "field": row.get("field") or "Chưa phân loại",
        "level": _level(level_text),
        "body": body,
        "subjects": row.get("subjects") or None,
        "place": {"offices": [row.get("place") or f"Bộ phận Một cửa của {body}" if body else "Bộ phận Một cửa"],
                  "by_post": "buu chinh" in fold(row.get("method", ""))},
        "online": _online(row.get("method", ""), row.get("online_level", "")),
        "documents": [_document(line) for line in _items(row.get("documents", ""))],
        "steps": steps,
        "time": row.get("time", ""),
        "fees": _fees(row.get("fee", "")),
        "result": row.get("result") or "",
        "legal_basis": _legal_basis(row.get("legal_basis", "")),
        "last_reviewed": reviewed,
        "source": source,
    }
    # The export is a source (the national database), but no one has compared its values with the
    # legal texts: every fact points at it and stays unverified until a reviewer checks it.
    out["sources"] = [{"id": EXPORT_SOURCE_ID, "title": source, "checked": reviewed}]
    out["facts"] = {f: {"source": EXPORT_SOURCE_ID, "verified": None}
                    for f in FACT_FIELDS if f not in ("fee", "citizen_deadline")}
    if not out["fees"]:
        out["facts"]["fee"] = {"source": EXPORT_SOURCE_ID, "verified": None}
    for fee in out["fees"]:
        fee["source"] = [EXPORT_SOURCE_ID]
    if "huyen" in fold(row.get("level", "")) and "huyen" not in fold(body):
        out["previous_rule"] = "Trước 1/7/2025 thủ tục này có thể được thực hiện ở cấp huyện."
    return out


def import_file(path: Path | str, target_dir: Path | str, *, reviewed: date | None = None,
                overwrite: bool = False) -> ImportReport:
    """Write one validated YAML file per usable row of an export; report every row left out and why."""
    src, target = Path(path), Path(target_dir)
    target.mkdir(parents=True, exist_ok=True)
    report = ImportReport()
    source = f"Nhập từ tệp xuất dữ liệu Cơ sở dữ liệu quốc gia về TTHC ({src.name})"
    used: set[str] = set()
    for n, row in enumerate(read_rows(src), start=1):
        if not row.get("name"):
            report.skipped.append((n, "thiếu Tên thủ tục"))
            continue
        data = row_to_procedure(row, reviewed=reviewed or date.today(), source=source)
        if data["id"] in used and data["code"]:
            data["id"] = f"{data['id']}-{data['code'].replace('.', '-')}"
        try:
            proc = Procedure.model_validate(data)
        except ValidationError as e:
            reasons = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
            report.skipped.append((n, f"{data['name']}: {reasons}"))
            continue
        out = target / f"{proc.id}.yaml"
        if proc.id in used or (out.exists() and not overwrite):
            report.skipped.append((n, f"{proc.name}: tệp {out.name} đã tồn tại"))
            continue
        used.add(proc.id)
        dumped = proc.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
        out.write_text(yaml.safe_dump(dumped, allow_unicode=True, sort_keys=False, width=110), encoding="utf-8")
        report.written.append(out)
    return report


# ---------------------------------------------------------------------- import with a diff
# Canonical row keys → the Procedure fields they fill (only fields a row carries may change).
ROW_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("code",), "name": ("name",), "field": ("field",), "level": ("level",), "body": ("body",),
    "subjects": ("subjects",), "place": ("place",), "method": ("online",), "online_level": ("online",),
    "documents": ("documents",), "steps": ("steps",), "time": ("time",), "fee": ("fees",), "result": ("result",),
    "legal_basis": ("legal_basis",),
}
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def present_fields(row: dict[str, str]) -> set[str]:
    """The procedure fields this row really states (a missing column is not a removal)."""
    return {f for key in row if row[key] for f in ROW_FIELDS.get(key, ())}


def dump_procedure(proc: Procedure) -> str:
    """The YAML text of one procedure as the importer and the console write it."""
    dumped = proc.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(dumped, allow_unicode=True, sort_keys=False, width=110)


@dataclass
class ImportPlan:
    """An export read against the catalogue, nothing written yet: the diff, the YAML each added or
    changed procedure would get, the current text of each file it would replace or remove, and the
    rows left out with the reason."""

    export_name: str
    day: date
    diff: CatalogueDiff
    texts: dict[str, str] = field(default_factory=dict)
    old_texts: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def plan_import(path: Path | str, directory: Path | str | None = None, *, day: date | None = None,
                full: bool = False, export_name: str | None = None) -> ImportPlan:
    """Read an export and work out what it would change in the catalogue at `directory`.

    `full=True` says the export is the whole catalogue, so every procedure missing from it is
    proposed for removal; otherwise only those of the domains the export covers.
    `export_name` is the name shown as the source (the uploaded file's name, not a temp path).
    """
    from knowledge.procedures import Catalogue, catalogue_dir, load_catalogue_uncached, parse_procedure
    from knowledge.tthc_diff import diff_catalogue, match_imported, merge_procedure

    src = Path(path)
    target = Path(directory) if directory else catalogue_dir()
    day = day or date.today()
    name = export_name or src.name
    catalogue = load_catalogue_uncached(target)
    title = f"Nhập từ tệp xuất dữ liệu Cơ sở dữ liệu quốc gia về TTHC ({name})"
    source = {"id": EXPORT_SOURCE_ID, "title": title, "checked": day.isoformat()}
    versions: dict[str, Procedure] = {}
    row_of: dict[str, int] = {}
    codes: dict[str, str] = {p.code: p.id for p in catalogue if p.code}
    skipped: list[tuple[int, str]] = []
    for n, row in enumerate(read_rows(src), start=1):
        if not row.get("name"):
            skipped.append((n, "thiếu Tên thủ tục"))
            continue
        data = row_to_procedure(row, reviewed=day, source=title)
        try:
            imported = Procedure.model_validate(data)
        except ValidationError as e:
            reasons = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
            skipped.append((n, f"{data['name']}: {reasons}"))
            continue
        old = match_imported(catalogue, imported)
        if old is not None:
            if old.id in versions:
                skipped.append((n, f"{imported.name}: trùng với dòng {row_of[old.id]} (cùng thủ tục {old.id})"))
                continue
            try:
                version = merge_procedure(old, imported, present_fields(row), source)
            except ValidationError as e:
                skipped.append((n, f"{imported.name}: {e.errors()[0]['msg']}"))
                continue
        else:
            pid = imported.id
            if (catalogue.get(pid) is not None or pid in versions) and imported.code:
                pid = f"{pid}-{imported.code.replace('.', '-')}"
            if catalogue.get(pid) is not None or pid in versions:
                skipped.append((n, f"{imported.name}: tệp {pid}.yaml đã có cho thủ tục khác"))
                continue
            version = imported.model_copy(update={"id": pid})
        if version.code and codes.get(version.code, version.id) != version.id:
            skipped.append((n, f"{version.name}: mã {version.code} đã thuộc thủ tục {codes[version.code]}"))
            continue
        if version.code:
            codes[version.code] = version.id
        versions[version.id] = version
        row_of[version.id] = n
    domains: set[str] | None = None if full else {str(p.domain) for p in versions.values()}
    diff = diff_catalogue(catalogue, versions.values(), removal_domains=domains)
    plan = ImportPlan(export_name=name, day=day, diff=diff, skipped=skipped)
    for ch in [*diff.added, *diff.changed]:
        text = dump_procedure(versions[ch.id])
        parse_procedure(text, f"{ch.id}.yaml", ch.id)  # what will be written loads with the real loader
        plan.texts[ch.id] = text
    for ch in [*diff.changed, *diff.removed]:
        plan.old_texts[ch.id] = (target / f"{ch.id}.yaml").read_text(encoding="utf-8")
    kept = [p for p in catalogue if p.id not in versions and p.id not in {c.id for c in diff.removed}]
    Catalogue([*kept, *versions.values()])  # duplicate ids or codes across the whole result raise here
    return plan


def write_changes(directory: Path | str, writes: dict[str, str], removals: list[str] | tuple[str, ...] = ()) -> None:
    """Write (or remove) catalogue files, after checking that the resulting catalogue loads.

    Each file is written to a temporary name and renamed over the old one, so a reader never sees
    half a file, and the rename changes the directory's mtime, which is what makes every process's
    `load_catalogue` reload. Nothing is written when any text or the result as a whole is invalid.
    """
    from knowledge.procedures import Catalogue, load_catalogue, load_catalogue_uncached, parse_procedure

    target = Path(directory)
    for pid in [*writes, *removals]:
        if not _SLUG.fullmatch(pid):
            raise KnowledgeError(f"{pid!r}: not a catalogue file name")
    new = {pid: parse_procedure(text, f"{pid}.yaml", pid) for pid, text in writes.items()}
    current = load_catalogue_uncached(target)
    kept = [p for p in current if p.id not in new and p.id not in removals]
    Catalogue([*kept, *new.values()])
    for pid, text in writes.items():
        out = target / f"{pid}.yaml"
        tmp = target / f".{pid}.yaml.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    for pid in removals:
        (target / f"{pid}.yaml").unlink(missing_ok=True)
    load_catalogue.cache_clear()  # type: ignore[attr-defined]

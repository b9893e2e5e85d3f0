"""What an import of the national TTHC database would change in the catalogue, before anything is written.

Pure functions (no files, no database), shared by `python -m knowledge tthc import --dry-run` and the
staff console, so the officer approving an import and the developer running it see the same diff:

* `match_imported` pairs each imported record with the catalogue entry it updates (by mã TTHC, then
  by file name, then by exact name), or with none (a new procedure);
* `merge_procedure` builds the new version of a catalogued procedure: only the fields the export
  actually carries and whose value really differs are taken from it, everything the export does not
  know (aliases, citizen deadlines, notes, the verified provenance of unchanged facts) is kept;
* `diff_catalogue` compares the old catalogue with the new versions: procedures added, changed
  (each field with before/after) and removed, and `format_diff` says it in Vietnamese.

Why a changed fact loses its verification: the export states a value but nobody has compared it
with the legal text, so a changed field points at the export as its source with `verified: null`
(the bot then answers it with a caveat) — an import never invents a check date. Why removals are
scoped: exports usually cover one lĩnh vực or one province's list, so a procedure missing from the
file is proposed for removal only when the export covers its domain (or the operator says the file
is the whole catalogue), and removing it still needs an explicit approval.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from knowledge.procedures import DOMAIN_LABELS, LEVEL_LABELS, ONLINE_LABELS, Procedure, fold

# Fields compared, in the order a diff lists them. Bookkeeping (last_reviewed, source, sources, facts)
# is not a change of what citizens are told, so it is not listed; provenance follows the merge rules.
COMPARED_FIELDS = ("code", "name", "aliases", "domain", "field", "level", "body", "subjects", "place", "online",
                   "documents", "steps", "time", "citizen_deadlines", "fees", "fee_note", "result", "legal_basis",
                   "previous_rule", "notes")
# Fields an export of the national database can carry (see knowledge.tthc_import.HEADERS).
IMPORTED_FIELDS = ("code", "name", "field", "level", "body", "subjects", "place", "online", "documents", "steps",
                   "time", "fees", "result", "legal_basis")
# Which provenance entry (`facts:` key) a changed field invalidates.
FACT_OF = {"documents": "documents", "time": "time", "place": "place", "online": "online", "result": "result",
           "legal_basis": "legal_basis", "body": "body", "level": "body", "fees": "fee"}

FIELD_LABELS_VI = {
    "code": "Mã thủ tục", "name": "Tên thủ tục", "aliases": "Tên thường gọi", "domain": "Nhóm thủ tục",
    "field": "Lĩnh vực", "level": "Cấp thực hiện", "body": "Cơ quan thực hiện", "subjects": "Đối tượng thực hiện",
    "place": "Nơi nộp hồ sơ", "online": "Dịch vụ công trực tuyến", "documents": "Thành phần hồ sơ",
    "steps": "Trình tự thực hiện", "time": "Thời hạn giải quyết",
    "citizen_deadlines": "Thời hạn người dân phải làm thủ tục", "fees": "Phí, lệ phí", "fee_note": "Ghi chú lệ phí",
    "result": "Kết quả", "legal_basis": "Căn cứ pháp lý", "previous_rule": "Quy định trước 1/7/2025",
    "notes": "Ghi chú",
}
KIND_VI = {"added": "thêm mới", "changed": "thay đổi", "removed": "bãi bỏ"}
FIELD_KIND_VI = {"added": "bổ sung", "changed": "sửa", "removed": "bỏ"}


@dataclass(frozen=True)
class FieldChange:
    """One field of one procedure: its value before and after (JSON values, as in the YAML)."""

    field: str
    kind: str  # added | changed | removed
    before: Any
    after: Any

    @property
    def label(self) -> str:
        return FIELD_LABELS_VI.get(self.field, self.field)


@dataclass
class ProcedureChange:
    """One procedure the import adds, changes or removes."""

    kind: str  # added | changed | removed
    id: str
    code: str | None
    name: str
    fields: list[FieldChange] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "code": self.code, "name": self.name,
                "fields": [{"field": f.field, "kind": f.kind, "before": f.before, "after": f.after}
                           for f in self.fields]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcedureChange:
        return cls(kind=data["kind"], id=data["id"], code=data.get("code"), name=data["name"],
                   fields=[FieldChange(**f) for f in data.get("fields", [])])


@dataclass
class CatalogueDiff:
    """Every procedure the import would add, change or remove; `unchanged` lists the ids left as they are."""

    added: list[ProcedureChange] = field(default_factory=list)
    changed: list[ProcedureChange] = field(default_factory=list)
    removed: list[ProcedureChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[ProcedureChange]:
        return [*self.added, *self.changed, *self.removed]

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "changed": len(self.changed), "removed": len(self.removed),
                "unchanged": len(self.unchanged)}


# ---------------------------------------------------------------------- comparing values
def _text(value: Any) -> str:
    """Text as a person reads it: spacing, case and a final full stop do not make a change."""
    return " ".join(str(value or "").split()).rstrip(" .;").casefold()


def comparable(name: str, value: Any) -> Any:
    """The part of a field's value that decides whether it changed.

    The export and the curated catalogue describe the same thing in different detail: the legal
    basis as the same numbers with other titles, online filing as the same mode with a curated
    note. Those are not changes; a different number, mode, document or amount is.
    """
    if value is None or value == [] or value == "":
        return None
    if name == "legal_basis":
        return sorted({_text(d.get("number")) for d in value})
    if name == "online":
        return value.get("mode")
    if name == "place":
        return [_text(o) for o in value.get("offices", [])]
    if name == "documents":
        return [_text(d.get("name")) for d in value]
    if name == "fees":
        return [_text(f.get("amount")) for f in value]
    if isinstance(value, list):
        return [_text(v) if isinstance(v, str) else v for v in value]
    if isinstance(value, str):
        return _text(value)
    return value


def _dump(proc: Procedure) -> dict[str, Any]:
    return proc.model_dump(mode="json")


def field_changes(old: Procedure | None, new: Procedure | None, fields: Iterable[str] = COMPARED_FIELDS
                  ) -> list[FieldChange]:
    """Each field whose value differs between two versions (None = the procedure does not exist)."""
    before = _dump(old) if old else {}
    after = _dump(new) if new else {}
    out: list[FieldChange] = []
    for name in fields:
        b, a = before.get(name), after.get(name)
        cb, ca = comparable(name, b), comparable(name, a)
        if cb == ca:
            continue
        kind = "added" if cb is None else "removed" if ca is None else "changed"
        out.append(FieldChange(name, kind, b, a))
    return out


# ---------------------------------------------------------------------- matching and merging
def match_imported(catalogue: Iterable[Procedure], imported: Procedure) -> Procedure | None:
    """The catalogued procedure an imported record updates, or None for a new procedure.

    By mã TTHC first; then by file name or exact name, unless both carry codes that differ (two
    procedures may share a name across levels, e.g. a commune and a provincial variant).
    """
    procs = list(catalogue)
    if imported.code:
        hit = next((p for p in procs if p.code == imported.code), None)
        if hit:
            return hit
    name = fold(imported.name)
    for p in procs:
        if (p.id == imported.id or fold(p.name) == name) and not (p.code and imported.code and p.code != imported.code):
            return p
    return None


def _export_source_id(old: Procedure, source: dict[str, Any]) -> tuple[str, bool]:
    """(id to cite the export under, whether it must be added to `sources:`): the export's own id,
    or a dated one when that id already names another file (an earlier import)."""
    sid = source["id"]
    existing = old.source_by_id(sid)
    if existing is None:
        return sid, True
    if existing.title == source["title"]:
        return sid, False
    day = str(source.get("checked") or "").replace("-", "")
    n, candidate = 1, f"{sid}-{day}" if day else f"{sid}-2"
    while old.source_by_id(candidate) is not None:
        n += 1
        candidate = f"{sid}-{day}-{n}" if day else f"{sid}-{n + 1}"
    return candidate, True


def merge_procedure(old: Procedure, imported: Procedure, present: Iterable[str], source: dict[str, Any]
                    ) -> Procedure:
    """The new version of `old` after an import: `imported`'s value for each field in `present` (the
    fields the export row really carried) that differs, `old` for everything else.

    Each changed fact cites the export (`source`: the export's `sources:` entry, id/title/checked)
    and is unverified; unchanged facts keep their provenance. Returns `old` itself when nothing
    differs.
    """
    data = old.model_dump(mode="json", exclude_none=True)
    new = imported.model_dump(mode="json", exclude_none=True)
    changed = [f.field for f in field_changes(old, imported, [f for f in IMPORTED_FIELDS if f in set(present)])]
    if not changed:
        return old
    sid, add_source = _export_source_id(old, source)
    facts = data.setdefault("facts", {})
    for name in changed:
        if name in new:
            data[name] = new[name]
        else:
            data.pop(name, None)
        if name == "fees":
            data["fees"] = [{k: v for k, v in fee.items() if k not in ("verified", "ref")} | {"source": [sid]}
                            for fee in new.get("fees", [])]
        fact = FACT_OF.get(name)
        if fact and (fact != "fee" or not data.get("fees") or data.get("fee_note")):
            facts[fact] = {"source": [sid]}  # verified: null — nobody has checked the new value
    if add_source:
        data.setdefault("sources", []).append({**source, "id": sid})
    return Procedure.model_validate(data)


# ---------------------------------------------------------------------- the diff
def diff_catalogue(old: Iterable[Procedure], new: Iterable[Procedure], *,
                   removal_domains: set[str] | None = None) -> CatalogueDiff:
    """Compare the catalogue with the new versions of the procedures an import touches.

    `new` holds one procedure per imported record, already matched and merged (same `id` as the
    entry it updates). Catalogued procedures absent from `new` are proposed for removal when their
    domain is in `removal_domains` (None = every domain: the export is the whole catalogue).
    """
    old_by_id = {p.id: p for p in old}
    diff = CatalogueDiff()
    seen: set[str] = set()
    for p in new:
        seen.add(p.id)
        before = old_by_id.get(p.id)
        if before is None:
            diff.added.append(ProcedureChange("added", p.id, p.code, p.name, field_changes(None, p)))
            continue
        fields = field_changes(before, p)
        if fields:
            diff.changed.append(ProcedureChange("changed", p.id, p.code, p.name, fields))
        else:
            diff.unchanged.append(p.id)
    for pid, p in old_by_id.items():
        if pid not in seen and (removal_domains is None or p.domain in removal_domains):
            diff.removed.append(ProcedureChange("removed", p.id, p.code, p.name, field_changes(p, None)))
    return diff


# ---------------------------------------------------------------------- Vietnamese text
def show_value(name: str, value: Any) -> str:
    """A field's value as one line of Vietnamese for the diff (the YAML keeps every detail)."""
    if value is None or value == [] or value == "":
        return "(trống)"
    if name == "level":
        return LEVEL_LABELS.get(value, str(value))
    if name == "domain":
        return DOMAIN_LABELS.get(value, str(value))
    if name == "online":
        return ONLINE_LABELS.get(value.get("mode"), str(value.get("mode")))
    if name == "place":
        return "; ".join(value.get("offices", [])) + ("; có thể gửi qua bưu chính" if value.get("by_post") else "")
    if name == "documents":
        return "; ".join(d.get("name", "") for d in value)
    if name == "fees":
        return "; ".join(f"{f.get('name', '')}: {f.get('amount', '')}" for f in value)
    if name == "legal_basis":
        return "; ".join(f"{d.get('number', '')} ({d.get('title', '')})" for d in value)
    if name == "citizen_deadlines":
        return "; ".join(f"{d.get('within', '')} {d.get('from_event', '')}" for d in value)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def format_diff(diff: CatalogueDiff, skipped: Iterable[tuple[int, str]] = ()) -> str:
    """The diff as plain Vietnamese text (what `tthc import --dry-run` prints)."""
    c = diff.counts()
    lines = [(f"Thêm mới {c['added']} thủ tục, thay đổi {c['changed']}, đề xuất bãi bỏ {c['removed']}, "
              f"không đổi {c['unchanged']}.")]
    for ch in diff.changes:
        lines.append("")
        lines.append(f"[{KIND_VI[ch.kind].upper()}] {ch.name} (mã {ch.code or 'chưa có'}, tệp {ch.id}.yaml)")
        if ch.kind == "removed":
            lines.append("  Thủ tục không có trong tệp xuất; chỉ bị xóa khỏi danh mục khi được duyệt rõ ràng.")
            continue
        for f in ch.fields:
            if ch.kind == "added":
                lines.append(f"  {f.label}: {show_value(f.field, f.after)}")
            else:
                lines.append(f"  {f.label} ({FIELD_KIND_VI[f.kind]}):")
                lines.append(f"    - Trước: {show_value(f.field, f.before)}")
                lines.append(f"    + Sau:   {show_value(f.field, f.after)}")
    skipped = list(skipped)
    if skipped:
        lines.append("")
        lines.append(f"Bỏ qua {len(skipped)} dòng:")
        lines += [f"  Dòng {row}: {reason}" for row, reason in skipped]
    return "\n".join(lines)


__all__ = ["COMPARED_FIELDS", "FIELD_LABELS_VI", "IMPORTED_FIELDS", "CatalogueDiff", "FieldChange",
           "ProcedureChange", "comparable", "diff_catalogue", "field_changes", "format_diff", "match_imported",
           "merge_procedure", "show_value"]

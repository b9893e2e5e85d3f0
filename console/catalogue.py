"""The procedure catalogue in the console: its state, imports of the national TTHC database, review, history.

Flow: an editor uploads an export → `upload` reads it against the catalogue (knowledge.tthc_import.
plan_import) and stores the batch with one pending revision per procedure it would add, change or
remove → another editor or an admin opens the diff and `publish`es the procedures they tick (or
`reject`s the batch) → the YAML files are written, the catalogue cache reloads, and the revisions
stay as each procedure's history.

Four eyes: the approver must be a different account from the uploader, because the catalogue is
what the bot tells citizens and one person's mistake (a wrong file, a wrong province) should be
seen by a second. `CATALOGUE_FOUR_EYES=false` lets one editor do both for an office that has only
one; the approver is recorded either way.

Why publishing checks the file text: the diff was computed against the catalogue at upload time.
If a file changed since (another import, a hand edit), publishing the stored text would silently
undo that change, so the batch is refused and must be uploaded again to get a fresh diff.
"""
from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.auth import Principal
from console.models import CatalogueImport, CatalogueRevision
from knowledge.errors import KnowledgeError
from knowledge.procedures import DOMAIN_LABELS, Catalogue, Procedure, catalogue_dir, load_catalogue
from knowledge.tthc_import import ImportPlan
from pakn.models import utcnow
from settings import get_settings

EXTENSIONS = (".csv", ".xlsx", ".xlsm", ".json")
STATUS_VI = {"pending": "Chờ duyệt", "published": "Đã công bố", "rejected": "Đã từ chối",
             "superseded": "Đã thay thế"}
KIND_VI = {"added": "Thêm mới", "changed": "Thay đổi", "removed": "Bãi bỏ"}
STATE_VI = {"verified": "Đã xác minh", "unverified": "Chưa xác minh", "stale": "Xác minh đã lâu",
            "unsourced": "Chưa có nguồn"}


class CatalogueError(Exception):
    """A catalogue action was refused; `str(exc)` is Vietnamese and safe to show, `status` the HTTP code."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- the catalogue's state


@dataclass
class ProcedureRow:
    """One line of the catalogue page."""

    proc: Procedure
    domain: str
    newest_verified: date | None
    oldest_verified: date | None
    unverified: int
    stale: int
    expired: int
    facts: int

    @property
    def flagged(self) -> bool:
        return bool(self.unverified or self.stale or self.expired)


def fact_states(proc: Procedure, today: date, max_age_days: int) -> list[dict]:
    """Each fact of a procedure with its source names, check date and state (the detail page)."""
    out = []
    for field, what, prov in proc.fact_items():
        state = prov.state(today, max_age_days)
        sources = [s for sid in prov.source if (s := proc.source_by_id(sid)) is not None]
        out.append({"field": field, "what": what, "state": state, "state_vi": STATE_VI[state],
                    "verified": prov.verified, "ref": prov.ref, "note": prov.note, "sources": sources,
                    "expired": prov.valid_to is not None and prov.valid_to < today,
                    "valid_from": prov.valid_from, "valid_to": prov.valid_to})
    return out


def rows(catalogue: Catalogue, today: date, max_age_days: int) -> list[ProcedureRow]:
    """Every procedure with its counts of unverified (incl. unsourced), stale and expired facts."""
    out = []
    for p in catalogue:
        items = p.fact_items()
        states = [prov.state(today, max_age_days) for _, _, prov in items]
        dates = [prov.verified for _, _, prov in items if prov.verified]
        out.append(ProcedureRow(
            proc=p, domain=DOMAIN_LABELS.get(p.domain, p.domain),
            newest_verified=max(dates) if dates else None, oldest_verified=min(dates) if dates else None,
            unverified=sum(s in ("unverified", "unsourced") for s in states), stale=states.count("stale"),
            expired=sum(prov.valid_to is not None and prov.valid_to < today for _, _, prov in items),
            facts=len(items)))
    return sorted(out, key=lambda r: (r.domain, r.proc.name))


# ---------------------------------------------------------------- upload


def _safe_name(filename: str) -> str:
    """The uploaded file's base name, kept for the record and the source title; no path, no oddities."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = re.sub(r"[^\w.\- ()]+", "_", base).strip(" ._") or "tep-xuat"
    return base[:120]


def upload(db: Session, principal: Principal, filename: str, content: bytes, *, full: bool,
           today: date) -> CatalogueImport:
    """Read an export against the catalogue and store it as a pending batch with its revisions."""
    if not principal.can_edit_catalogue:
        raise CatalogueError("Chỉ cán bộ biên tập danh mục hoặc quản trị viên được nhập dữ liệu.", 403)
    name = _safe_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in EXTENSIONS:
        raise CatalogueError("Chỉ nhận tệp .csv, .xlsx hoặc .json xuất từ Cơ sở dữ liệu quốc gia về TTHC.")
    limit = get_settings().catalogue_upload_max_bytes
    if len(content) > limit:
        raise CatalogueError(f"Tệp quá lớn (tối đa {limit // 1_000_000 or 1} MB).", 413)
    if not content.strip():
        raise CatalogueError("Tệp rỗng.")
    from knowledge.tthc_import import plan_import

    with tempfile.TemporaryDirectory(prefix="tthc-upload-") as tmp:
        path = Path(tmp) / f"export{suffix}"
        path.write_bytes(content)
        try:
            plan = plan_import(path, catalogue_dir(), day=today, full=full, export_name=name)
        except KnowledgeError as exc:
            raise CatalogueError(f"Không đọc được tệp: {exc}".replace(str(path), name)) from None
        except Exception as exc:  # noqa: BLE001 - a malformed upload (bad CSV/XLSX/JSON) is the user's error, not ours
            raise CatalogueError(f"Không đọc được tệp {name}: định dạng không hợp lệ ({type(exc).__name__}).") from None
    diff = plan.diff
    if diff.empty:
        raise CatalogueError(f"Tệp {name} không có thay đổi nào so với danh mục hiện hành "
                             f"({len(diff.unchanged)} thủ tục trùng khớp, {len(plan.skipped)} dòng bị bỏ qua).")
    now = utcnow()
    batch = CatalogueImport(
        filename=name, file_sha256=hashlib.sha256(content).hexdigest(), status="pending", full_export=full,
        counts=diff.counts(), diff={"changes": [c.to_json() for c in diff.changes], "unchanged": diff.unchanged},
        skipped=[[row, reason] for row, reason in plan.skipped], uploaded_by=principal.email, uploaded_at=now)
    db.add(batch)
    db.flush()
    for ch in diff.changes:
        db.add(CatalogueRevision(
            batch_id=batch.id, procedure_id=ch.id, code=ch.code, name=ch.name, kind=ch.kind, status="pending",
            fields=ch.to_json()["fields"], before_yaml=plan.old_texts.get(ch.id), after_yaml=plan.texts.get(ch.id),
            created_by=principal.email, created_at=now))
    db.flush()
    return batch


# ---------------------------------------------------------------- review


def get_batch(db: Session, batch_id: int) -> CatalogueImport | None:
    return db.get(CatalogueImport, batch_id)


def batches(db: Session, limit: int = 20) -> list[CatalogueImport]:
    return list(db.scalars(select(CatalogueImport).order_by(CatalogueImport.id.desc()).limit(limit)))


def last_published(db: Session) -> CatalogueImport | None:
    return db.scalars(select(CatalogueImport).where(CatalogueImport.status == "published")
                      .order_by(CatalogueImport.decided_at.desc(), CatalogueImport.id.desc()).limit(1)).first()


def may_decide(principal: Principal, batch: CatalogueImport) -> str | None:
    """Why this principal may not approve or reject this batch, or None when they may."""
    if not principal.can_edit_catalogue:
        return "Chỉ cán bộ biên tập danh mục hoặc quản trị viên được duyệt."
    if batch.status != "pending":
        return f"Lần nhập này đã được xử lý ({STATUS_VI.get(batch.status, batch.status)})."
    if get_settings().catalogue_four_eyes and batch.uploaded_by == principal.email:
        return "Người duyệt phải là người khác với người tải tệp lên (nguyên tắc bốn mắt)."
    return None


def _locked_batch(db: Session, principal: Principal, batch_id: int) -> CatalogueImport:
    batch = db.scalars(select(CatalogueImport).where(CatalogueImport.id == batch_id).with_for_update()).first()
    if batch is None:
        raise CatalogueError("Không tìm thấy lần nhập dữ liệu.", 404)
    why = may_decide(principal, batch)
    if why:
        raise CatalogueError(why, 409 if batch.status != "pending" and principal.can_edit_catalogue else 403)
    return batch


def publish(db: Session, principal: Principal, batch_id: int, selected: set[int], note: str = "") -> CatalogueImport:
    """Write the ticked revisions into the catalogue; the others of the batch are rejected."""
    batch = _locked_batch(db, principal, batch_id)
    chosen = [r for r in batch.revisions if r.id in selected]
    if not chosen:
        raise CatalogueError("Chưa chọn thủ tục nào để công bố.")
    directory = catalogue_dir()
    for r in chosen:
        path = directory / f"{r.procedure_id}.yaml"
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != r.before_yaml:
            raise CatalogueError(f"Thủ tục “{r.name}” đã thay đổi kể từ khi tệp được tải lên; hãy tải tệp lên lại "
                                 "để xem khác biệt mới, rồi từ chối lần nhập này.", 409)
    now = utcnow()
    for r in batch.revisions:
        r.status = "published" if r in chosen else "rejected"
        r.decided_by, r.decided_at = principal.email, now
    batch.status, batch.decided_by, batch.decided_at = "published", principal.email, now
    batch.note = note.strip()[:2000] or None
    db.flush()
    from knowledge.tthc_import import write_changes

    try:
        write_changes(directory, {r.procedure_id: r.after_yaml for r in chosen if r.kind != "removed" and r.after_yaml},
                      [r.procedure_id for r in chosen if r.kind == "removed"])
    except KnowledgeError as exc:
        raise CatalogueError(f"Không công bố được: {exc}") from None
    load_catalogue.cache_clear()  # type: ignore[attr-defined]
    return batch


def reject(db: Session, principal: Principal, batch_id: int, note: str = "") -> CatalogueImport:
    """Refuse the whole batch; nothing is written, the revisions stay in the history as rejected."""
    batch = _locked_batch(db, principal, batch_id)
    now = utcnow()
    for r in batch.revisions:
        r.status, r.decided_by, r.decided_at = "rejected", principal.email, now
    batch.status, batch.decided_by, batch.decided_at = "rejected", principal.email, now
    batch.note = note.strip()[:2000] or None
    db.flush()
    return batch


def record_applied(plan: ImportPlan, actor: str, removals: list[str]) -> int:
    """Keep an import applied from the command line in the same history as the console's (uploader =
    approver = the operator, who confirmed it); returns the batch id."""
    from db import migrate, session_scope

    migrate(get_settings().database_url)
    now = utcnow()
    with session_scope() as db:
        batch = CatalogueImport(
            filename=plan.export_name[:200], file_sha256="", status="published", full_export=False,
            counts=plan.diff.counts(), diff={"changes": [c.to_json() for c in plan.diff.changes],
                                             "unchanged": plan.diff.unchanged},
            skipped=[[row, reason] for row, reason in plan.skipped], uploaded_by=actor, uploaded_at=now,
            decided_by=actor, decided_at=now, note="Nhập bằng dòng lệnh")
        db.add(batch)
        db.flush()
        for ch in plan.diff.changes:
            status = "rejected" if ch.kind == "removed" and ch.id not in removals else "published"
            db.add(CatalogueRevision(
                batch_id=batch.id, procedure_id=ch.id, code=ch.code, name=ch.name, kind=ch.kind, status=status,
                fields=ch.to_json()["fields"], before_yaml=plan.old_texts.get(ch.id),
                after_yaml=plan.texts.get(ch.id), created_by=actor, created_at=now, decided_by=actor, decided_at=now))
        db.flush()
        return batch.id


def history(db: Session, procedure_id: str, code: str | None = None) -> list[CatalogueRevision]:
    """Every revision of one procedure (by file name, or its code), newest first."""
    cond = CatalogueRevision.procedure_id == procedure_id
    if code:
        cond = cond | (CatalogueRevision.code == code)
    return list(db.scalars(select(CatalogueRevision).where(cond)
                           .order_by(CatalogueRevision.created_at.desc(), CatalogueRevision.id.desc())))


__all__ = ["KIND_VI", "STATUS_VI", "CatalogueError", "ProcedureRow", "batches", "fact_states", "get_batch",
           "history", "last_published", "may_decide", "publish", "record_applied", "reject", "rows", "upload"]

"""Catalogue changes: uploaded TTHC exports (import batches) and per-procedure revisions

Revision ID: 0006_catalogue_changes
Revises: 0005_channel_interactions

Each import keeps its diff, its uploader and its approver; each procedure change keeps the file's
text before and after, which is the procedure's history in the console.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_catalogue_changes"
down_revision = "0005_channel_interactions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("full_export", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_catalogue_imports_status", "catalogue_imports", ["status"])
    op.create_table(
        "catalogue_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.String(length=120), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("before_yaml", sa.Text(), nullable=True),
        sa.Column("after_yaml", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["catalogue_imports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_catalogue_revisions_batch_id", "catalogue_revisions", ["batch_id"])
    op.create_index("ix_catalogue_revisions_procedure_at", "catalogue_revisions", ["procedure_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_catalogue_revisions_procedure_at", table_name="catalogue_revisions")
    op.drop_index("ix_catalogue_revisions_batch_id", table_name="catalogue_revisions")
    op.drop_table("catalogue_revisions")
    op.drop_index("ix_catalogue_imports_status", table_name="catalogue_imports")
    op.drop_table("catalogue_imports")

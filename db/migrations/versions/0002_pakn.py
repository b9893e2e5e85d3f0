"""PAKN petitions, their history and the delivery outbox

Revision ID: 0002_pakn
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_pakn"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pakn_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("locality", sa.JSON(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("contact", sa.JSON(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("channel_user_id", sa.String(length=128), nullable=True),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("requested_category", sa.String(length=40), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("category_name", sa.String(length=120), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("needs_human", sa.Boolean(), nullable=False),
        sa.Column("office_id", sa.String(length=80), nullable=True),
        sa.Column("office_name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("is_complaint", sa.Boolean(), nullable=False),
        sa.Column("notice", sa.Text(), nullable=True),
        sa.Column("media", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", name="uq_pakn_records_code"),
        sa.UniqueConstraint("idempotency_key", name="uq_pakn_records_idempotency_key"),
        sa.UniqueConstraint("channel", "external_id", name="uq_pakn_channel_external"),
    )
    op.create_index("ix_pakn_records_category", "pakn_records", ["category"])
    op.create_index("ix_pakn_records_office_id", "pakn_records", ["office_id"])
    op.create_index("ix_pakn_records_status", "pakn_records", ["status"])

    op.create_table(
        "pakn_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["pakn_records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pakn_events_record_id", "pakn_events", ["record_id"])

    op.create_table(
        "pakn_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("locked_by", sa.String(length=80), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["record_id"], ["pakn_records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key", name="uq_pakn_outbox_dedupe_key"),
    )
    op.create_index("ix_pakn_outbox_record_id", "pakn_outbox", ["record_id"])
    op.create_index("ix_pakn_outbox_due", "pakn_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_pakn_outbox_due", table_name="pakn_outbox")
    op.drop_index("ix_pakn_outbox_record_id", table_name="pakn_outbox")
    op.drop_table("pakn_outbox")
    op.drop_index("ix_pakn_events_record_id", table_name="pakn_events")
    op.drop_table("pakn_events")
    op.drop_index("ix_pakn_records_status", table_name="pakn_records")
    op.drop_index("ix_pakn_records_office_id", table_name="pakn_records")
    op.drop_index("ix_pakn_records_category", table_name="pakn_records")
    op.drop_table("pakn_records")

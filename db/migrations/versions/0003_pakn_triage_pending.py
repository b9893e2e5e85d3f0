"""PAKN: mark petitions whose classification the outbox worker still has to finish

Revision ID: 0003_pakn_triage_pending
Revises: 0002_pakn
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_pakn_triage_pending"
down_revision = "0002_pakn"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pakn_records") as batch:
        batch.add_column(sa.Column("triage_pending", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("pakn_records") as batch:
        batch.drop_column("triage_pending")

"""API client credentials (chat integrations, office staff API); joins the earlier branches into one line

Revision ID: 0004_api_clients
Revises: 0002_channels, 0002_console, 0003_pakn_triage_pending
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_api_clients"
down_revision = ("0002_channels", "0002_console", "0003_pakn_triage_pending")
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_clients",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("office_id", sa.String(length=80), nullable=True),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("api_clients")

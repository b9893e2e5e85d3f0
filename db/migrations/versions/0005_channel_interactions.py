"""Channels: each person's last verified interaction (Zalo's consultation-message window)

Revision ID: 0005_channel_interactions
Revises: 0004_api_clients

The table is filled from the Zalo messages still in the inbox, so people who wrote before the
upgrade are not taken for people who never wrote.
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_channel_interactions"
down_revision = "0004_api_clients"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_interactions",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("last_interaction_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cs_sent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "user_id", name="pk_channel_interactions"),
    )
    op.execute(
        "INSERT INTO channel_interactions (channel, user_id, last_interaction_at, cs_sent, updated_at) "
        "SELECT channel, user_key, MAX(received_at), 0, MAX(received_at) FROM channel_inbox "
        "WHERE channel = 'zalo' AND kind LIKE 'user\\_send\\_%' ESCAPE '\\' GROUP BY channel, user_key"
    )


def downgrade() -> None:
    op.drop_table("channel_interactions")

"""PAKN: duplicate petitions link to the open case they repeat (one cluster, answered once)

Revision ID: 0007_petition_clusters
Revises: 0006_catalogue_changes

`primary_id` points a report at the case it duplicates (NULL: a case of its own); `ward_code` is
today's ward triage resolved (also inside `locality`), a column so the matcher can ask the
database for open cases in one ward. It is filled from `locality` for the petitions already stored.
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_petition_clusters"
down_revision = "0006_catalogue_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pakn_records") as batch:
        batch.add_column(sa.Column("primary_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ward_code", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_pakn_records_primary", "pakn_records", ["primary_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_index("ix_pakn_records_primary_id", ["primary_id"])
        batch.create_index("ix_pakn_records_cluster_lookup", ["category", "ward_code", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE pakn_records SET ward_code = (locality::jsonb ->> 'ward_code')::integer "
                   "WHERE locality IS NOT NULL AND jsonb_typeof(locality::jsonb -> 'ward_code') = 'number'")
    else:
        op.execute("UPDATE pakn_records SET ward_code = CAST(json_extract(locality, '$.ward_code') AS INTEGER) "
                   "WHERE locality IS NOT NULL AND json_type(locality, '$.ward_code') = 'integer'")


def downgrade() -> None:
    with op.batch_alter_table("pakn_records") as batch:
        batch.drop_index("ix_pakn_records_cluster_lookup")
        batch.drop_index("ix_pakn_records_primary_id")
        batch.drop_constraint("fk_pakn_records_primary", type_="foreignkey")
        batch.drop_column("ward_code")
        batch.drop_column("primary_id")

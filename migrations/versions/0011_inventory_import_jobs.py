"""inventory: large imports run in the background — the queue of import jobs with their progress and result

Revision ID: 0011_inventory_import_jobs
Revises: 0010_security_encrypt_secrets
"""
from alembic import op
import sqlalchemy as sa

from fleetops.models.base import UTCDateTime

revision = "0011_inventory_import_jobs"
down_revision = "0010_security_encrypt_secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_import_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_checked", sa.Integer, nullable=False),
        sa.Column("rows_written", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("heartbeat_at", UTCDateTime, nullable=True),
        sa.Column("finished_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_inventory_import_jobs_state", "inventory_import_jobs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_inventory_import_jobs_state", table_name="inventory_import_jobs")
    op.drop_table("inventory_import_jobs")

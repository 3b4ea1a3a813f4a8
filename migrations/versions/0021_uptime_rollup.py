"""The uptime rollup: per device and closed local day, the seconds the uptime reports need, with running sums, and
the triggers that delete a day when something it was computed from changes (issue 14)

Revision ID: 0021_uptime_rollup
Revises: 0020_outage_excluded_before
"""
import sqlalchemy as sa
from alembic import op

from fleetops.models.rollup import PG_DROP, SQLITE_DROP, trigger_statements

revision = "0021_uptime_rollup"
down_revision = "0020_outage_excluded_before"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "uptime_days",
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("day_end_s", sa.BigInteger(), primary_key=True),
        sa.Column("day_start_s", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("from_s", sa.BigInteger(), nullable=False),
        sa.Column("up_s", sa.BigInteger(), nullable=False),
        sa.Column("down_s", sa.BigInteger(), nullable=False),
        sa.Column("excluded_s", sa.BigInteger(), nullable=False),
        sa.Column("cum_up_s", sa.BigInteger(), nullable=False),
        sa.Column("cum_down_s", sa.BigInteger(), nullable=False),
        sa.Column("cum_excluded_s", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_uptime_days_end", "uptime_days", ["day_end_s"])
    for stmt in trigger_statements(op.get_bind().dialect.name):
        op.execute(stmt)


def downgrade():
    for stmt in (PG_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP):
        op.execute(stmt)
    op.drop_index("ix_uptime_days_end", table_name="uptime_days")
    op.drop_table("uptime_days")

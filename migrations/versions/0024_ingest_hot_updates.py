"""Cheaper steady polls (issue 14 part 2): monitor_states leaves half of each page free so that a poll's counter
update stays a HOT update (no index entry written), and status_intervals indexes outage_id only where it is set

Revision ID: 0024_ingest_hot_updates
Revises: 0023_jobs_rate_limit_counters
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_ingest_hot_updates"
down_revision = "0023_jobs_rate_limit_counters"
branch_labels = None
depends_on = None

LINKED = "outage_id IS NOT NULL"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # Pages already full gain room as their rows move on later updates (or at once with VACUUM FULL).
        op.execute("ALTER TABLE monitor_states SET (fillfactor = 50)")
    op.drop_index("ix_status_intervals_outage_id", table_name="status_intervals")
    op.create_index("ix_status_intervals_outage_id", "status_intervals", ["outage_id"],
                    postgresql_where=sa.text(LINKED), sqlite_where=sa.text(LINKED))


def downgrade():
    op.drop_index("ix_status_intervals_outage_id", table_name="status_intervals")
    op.create_index("ix_status_intervals_outage_id", "status_intervals", ["outage_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE monitor_states RESET (fillfactor)")

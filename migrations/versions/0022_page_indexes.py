"""Two partial indexes for the busiest pages at 10,000 devices (issue 14 part 4): the fleet's status tiles from an
index alone, and the devices down now without reading the outages that ended

Revision ID: 0022_page_indexes
Revises: 0020_outage_excluded_before
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_page_indexes"
down_revision = "0021_uptime_rollup"
branch_labels = None
depends_on = None

MONITORED = "ip_address IS NOT NULL"
OPEN = "ended_at IS NULL AND retracted_at IS NULL"


def upgrade():
    op.create_index("ix_devices_monitored", "devices", ["lifecycle", "status", "kind"],
                    postgresql_where=sa.text(MONITORED), sqlite_where=sa.text(MONITORED))
    op.create_index("ix_outages_open", "outages", ["started_at", "id"],
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    op.drop_index("ix_outages_open", table_name="outages")
    op.drop_index("ix_devices_monitored", table_name="devices")

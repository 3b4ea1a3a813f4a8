"""service periods: a device's stretches in service (installed/accepted → taken out → back → retired), backfilled;
site_incidents.imported_late (a replayed site blackout, like outages.imported_late in 0006)

Revision ID: 0012_service_periods
Revises: 0011_inventory_import_jobs

Backfill: one period per device that is not planned, from in_service_from (else installed_on at local midnight,
else open-ended in the past) until retired_at for a retired device; a device marked replaced is closed now (its
date of replacement was never recorded).
"""
from datetime import datetime, time, timezone

from alembic import op
import sqlalchemy as sa
import fleetops.models.base

revision = '0012_service_periods'
down_revision = '0011_inventory_import_jobs'
branch_labels = None
depends_on = None

IN_SERVICE = ("installed", "online", "relocated")


def upgrade() -> None:
    op.create_table('service_periods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('start_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_service_periods_device_id_devices'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_periods'))
    )
    op.create_index('ix_service_periods_device', 'service_periods', ['device_id', 'start_at'], unique=False)
    _backfill()
    with op.batch_alter_table("site_incidents") as batch:
        batch.add_column(sa.Column("imported_late", sa.Boolean(), nullable=False, server_default=sa.false()))


def _backfill() -> None:
    from fleetops.platform import clock

    zone = clock.local_zone()
    now = datetime.now(timezone.utc)
    conn = op.get_bind()
    utc = fleetops.models.base.UTCDateTime()
    devices = sa.table('devices', sa.column('id', sa.Integer), sa.column('lifecycle', sa.String),
                       sa.column('installed_on', sa.Date), sa.column('in_service_from', utc),
                       sa.column('retired_at', utc))
    periods = sa.table('service_periods', sa.column('device_id', sa.Integer), sa.column('start_at', utc),
                       sa.column('end_at', utc))
    rows = []
    for d in conn.execute(sa.select(devices).where(devices.c.lifecycle != 'planned')):
        start = d.in_service_from or (datetime.combine(d.installed_on, time(0), tzinfo=zone)
                                      if d.installed_on else None)
        if d.lifecycle in IN_SERVICE:
            end = None
        elif d.lifecycle == 'retired':
            end = d.retired_at or now
        else:  # replaced: out of service since an unrecorded moment
            end = d.retired_at or now
        if start is not None and end is not None and end <= start:
            continue
        rows.append({"device_id": d.id, "start_at": start, "end_at": end})
    for i in range(0, len(rows), 5000):
        conn.execute(sa.insert(periods), rows[i:i + 5000])


def downgrade() -> None:
    with op.batch_alter_table("site_incidents") as batch:
        batch.drop_column("imported_late")
    op.drop_index('ix_service_periods_device', table_name='service_periods')
    op.drop_table('service_periods')

"""monitoring tables (owned by the monitoring area; fill in upgrade/downgrade for its own tables only)

Revision ID: 0002
Revises: 0001
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import fleetops.models.base  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('online_rate_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(), nullable=False),
    sa.Column('in_service', sa.Integer(), nullable=False),
    sa.Column('online', sa.Integer(), nullable=False),
    sa.Column('contract_in_service', sa.Integer(), nullable=False),
    sa.Column('contract_online', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_online_rate_samples'))
    )
    op.create_index(op.f('ix_online_rate_samples_at'), 'online_rate_samples', ['at'], unique=False)
    op.create_table('site_incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('started_at', fleetops.models.base.UTCDateTime(), nullable=False),
    sa.Column('detected_at', fleetops.models.base.UTCDateTime(), nullable=False),
    sa.Column('ended_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('device_count', sa.Integer(), nullable=False),
    sa.Column('retracted_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_incidents_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_incidents'))
    )
    op.create_index('ix_site_incidents_open', 'site_incidents', ['site_id', 'ended_at'], unique=False)
    op.create_index(op.f('ix_site_incidents_site_id'), 'site_incidents', ['site_id'], unique=False)
    op.create_table('device_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(), nullable=False),
    sa.Column('detected_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('ended_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_events_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_events')),
    sa.UniqueConstraint('device_id', 'kind', 'at', name='uq_device_events_key')
    )
    op.create_index('ix_device_events_at', 'device_events', ['at'], unique=False)
    op.create_table('monitor_states',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('probe', sa.String(length=8), nullable=False),
    sa.Column('last_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_ok_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('last_ok_value', sa.Float(), nullable=True),
    sa.Column('run_start', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('run_count', sa.Integer(), nullable=False),
    sa.Column('run_detected_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_monitor_states_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'probe', name=op.f('pk_monitor_states'))
    )
    op.create_table('outages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('started_at', fleetops.models.base.UTCDateTime(), nullable=False),
    sa.Column('detected_at', fleetops.models.base.UTCDateTime(), nullable=False),
    sa.Column('ended_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('cause_reason', sa.Text(), nullable=False),
    sa.Column('evidence_path', sa.String(length=300), nullable=False),
    sa.Column('cause_set_by', sa.String(length=100), nullable=False),
    sa.Column('cause_set_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.Column('site_incident_id', sa.Integer(), nullable=True),
    sa.Column('retracted_at', fleetops.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_outages_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_incident_id'], ['site_incidents.id'], name=op.f('fk_outages_site_incident_id_site_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outages'))
    )
    op.create_index('ix_outages_device_start', 'outages', ['device_id', 'started_at'], unique=False)
    op.create_index(op.f('ix_outages_site_incident_id'), 'outages', ['site_incident_id'], unique=False)
    op.create_index('ix_outages_started_at', 'outages', ['started_at'], unique=False)
    op.create_table('probe_results',
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('probe', sa.String(length=8), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('rtt_ms', sa.Float(), nullable=True),
    sa.Column('sys_uptime_s', sa.Float(), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_probe_results_device_id_devices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('device_id', 'probe', 'at', name=op.f('pk_probe_results'))
    )
    op.create_index('ix_probe_results_at', 'probe_results', ['at'], unique=False)
    op.create_table('status_intervals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('start_s', sa.BigInteger(), nullable=False),
    sa.Column('end_s', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('outage_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_status_intervals_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outage_id'], ['outages.id'], name=op.f('fk_status_intervals_outage_id_outages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_intervals'))
    )
    op.create_index('ix_status_intervals_device_end', 'status_intervals', ['device_id', 'end_s'], unique=False)
    op.create_index('ix_status_intervals_end_start', 'status_intervals', ['end_s', 'start_s'], unique=False)
    op.create_index(op.f('ix_status_intervals_outage_id'), 'status_intervals', ['outage_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_status_intervals_outage_id'), table_name='status_intervals')
    op.drop_index('ix_status_intervals_end_start', table_name='status_intervals')
    op.drop_index('ix_status_intervals_device_end', table_name='status_intervals')
    op.drop_table('status_intervals')
    op.drop_index('ix_probe_results_at', table_name='probe_results')
    op.drop_table('probe_results')
    op.drop_index('ix_outages_started_at', table_name='outages')
    op.drop_index(op.f('ix_outages_site_incident_id'), table_name='outages')
    op.drop_index('ix_outages_device_start', table_name='outages')
    op.drop_table('outages')
    op.drop_table('monitor_states')
    op.drop_index('ix_device_events_at', table_name='device_events')
    op.drop_table('device_events')
    op.drop_index(op.f('ix_site_incidents_site_id'), table_name='site_incidents')
    op.drop_index('ix_site_incidents_open', table_name='site_incidents')
    op.drop_table('site_incidents')
    op.drop_index(op.f('ix_online_rate_samples_at'), table_name='online_rate_samples')
    op.drop_table('online_rate_samples')


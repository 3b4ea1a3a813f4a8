"""maintenance windows (planned power cuts, works, relocations) with their scopes and held outages; the public
fault reports from a device's QR code; exclusion_requests.maintenance_window_id (a window entered after the fact)

Revision ID: 0016_maintenance_windows
Revises: 0015_inspections
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base


revision = "0016_maintenance_windows"
down_revision = "0015_inspections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('maintenance_windows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('attachment_path', sa.String(length=300), nullable=False),
    sa.Column('starts_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recurrence', sa.String(length=10), nullable=False),
    sa.Column('recur_count', sa.Integer(), nullable=True),
    sa.Column('recur_until', sa.Date(), nullable=True),
    sa.Column('last_end_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('after_the_fact', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cancelled_by', sa.String(length=100), nullable=False),
    sa.Column('cancelled_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('noted_start_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('noted_end_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_windows'))
    )
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_windows_last_end_at'), ['last_end_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_windows_state'), ['state'], unique=False)

    op.create_table('maintenance_scopes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('cabinet_id', sa.Integer(), nullable=True),
    sa.Column('district', sa.String(length=50), nullable=False),
    sa.ForeignKeyConstraint(['cabinet_id'], ['cabinets.id'], name=op.f('fk_maintenance_scopes_cabinet_id_cabinets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_maintenance_scopes_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_maintenance_scopes_site_id_sites'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id'], ['maintenance_windows.id'], name=op.f('fk_maintenance_scopes_window_id_maintenance_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_scopes'))
    )
    with op.batch_alter_table('maintenance_scopes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_scopes_window_id'), ['window_id'], unique=False)

    op.create_table('fault_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('problem', sa.String(length=20), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('photo_path', sa.String(length=300), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('client_hash', sa.String(length=64), nullable=False),
    sa.Column('reported_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_reported_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('repeats', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_fault_reports_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_fault_reports_ticket_id_tickets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fault_reports'))
    )
    with op.batch_alter_table('fault_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fault_reports_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_reports_reported_at'), ['reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_fault_reports_state'), ['state'], unique=False)

    op.create_table('maintenance_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('outage_id', sa.Integer(), nullable=True),
    sa.Column('site_incident_id', sa.Integer(), nullable=True),
    sa.Column('occurrence_end', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('held_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['outage_id'], ['outages.id'], name=op.f('fk_maintenance_holds_outage_id_outages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_incident_id'], ['site_incidents.id'], name=op.f('fk_maintenance_holds_site_incident_id_site_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id'], ['maintenance_windows.id'], name=op.f('fk_maintenance_holds_window_id_maintenance_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_holds'))
    )
    with op.batch_alter_table('maintenance_holds', schema=None) as batch_op:
        batch_op.create_index('ix_maintenance_holds_open', ['released_at', 'occurrence_end'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_holds_outage_id'), ['outage_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_holds_site_incident_id'), ['site_incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_holds_window_id'), ['window_id'], unique=False)

    with op.batch_alter_table('exclusion_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('maintenance_window_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_exclusion_requests_maintenance_window_id'), ['maintenance_window_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_exclusion_requests_maintenance_window_id_maintenance_windows'), 'maintenance_windows', ['maintenance_window_id'], ['id'], ondelete='CASCADE')



def downgrade() -> None:
    with op.batch_alter_table('exclusion_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_exclusion_requests_maintenance_window_id_maintenance_windows'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_exclusion_requests_maintenance_window_id'))
        batch_op.drop_column('maintenance_window_id')

    with op.batch_alter_table('maintenance_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_holds_window_id'))
        batch_op.drop_index(batch_op.f('ix_maintenance_holds_site_incident_id'))
        batch_op.drop_index(batch_op.f('ix_maintenance_holds_outage_id'))
        batch_op.drop_index('ix_maintenance_holds_open')

    op.drop_table('maintenance_holds')
    with op.batch_alter_table('fault_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fault_reports_state'))
        batch_op.drop_index(batch_op.f('ix_fault_reports_reported_at'))
        batch_op.drop_index(batch_op.f('ix_fault_reports_device_id'))

    op.drop_table('fault_reports')
    with op.batch_alter_table('maintenance_scopes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_scopes_window_id'))

    op.drop_table('maintenance_scopes')
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_state'))
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_last_end_at'))

    op.drop_table('maintenance_windows')

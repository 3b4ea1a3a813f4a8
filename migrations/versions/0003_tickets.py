"""tickets tables: SLA policies, tickets, history, breaches, photos, crew qualifications, idempotency keys, spare parts and the stock ledger

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('part_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('device_kind', sa.String(length=30), nullable=False),
    sa.Column('serialised', sa.Boolean(), nullable=False),
    sa.Column('minimum_stock', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_part_types')),
    sa.UniqueConstraint('code', name=op.f('uq_part_types_code'))
    )
    op.create_table('request_keys',
    sa.Column('request_id', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=60), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_request_keys'))
    )
    op.create_table('sla_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('updated_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('key', name=op.f('uq_sla_policies_key'))
    )
    op.create_table('crew_qualifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('certificate_no', sa.String(length=100), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_crew_qualifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crew_qualifications'))
    )
    op.create_index(op.f('ix_crew_qualifications_user_id'), 'crew_qualifications', ['user_id'], unique=False)
    op.create_table('stock_locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_stock_locations_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_locations')),
    sa.UniqueConstraint('code', name=op.f('uq_stock_locations_code'))
    )
    op.create_table('stock_levels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_type_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_stock_levels_on_hand_not_negative')),
    sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'], name=op.f('fk_stock_levels_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['part_type_id'], ['part_types.id'], name=op.f('fk_stock_levels_part_type_id_part_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_levels')),
    sa.UniqueConstraint('part_type_id', 'location_id', name='uq_stock_levels_part_location')
    )
    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('outage_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence_path', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('resolution', sa.String(length=20), nullable=False),
    sa.Column('work_notes', sa.Text(), nullable=False),
    sa.Column('requires_replacement', sa.Boolean(), nullable=False),
    sa.Column('replacement_reason', sa.Text(), nullable=False),
    sa.Column('needs_height', sa.Boolean(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('opened_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detected_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('notified_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('day_night', sa.String(length=5), nullable=False),
    sa.Column('distance_km', sa.Float(), nullable=True),
    sa.Column('respond_by', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrive_by', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('repair_by', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('departed_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrival_lat', sa.Float(), nullable=True),
    sa.Column('arrival_lon', sa.Float(), nullable=True),
    sa.Column('repair_started_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_tickets_assignee_id_users')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_tickets_device_id_devices')),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_tickets_policy_id_sla_policies')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_tickets_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('incident_id', name=op.f('uq_tickets_incident_id')),
    sa.UniqueConstraint('outage_id', name=op.f('uq_tickets_outage_id'))
    )
    op.create_index(op.f('ix_tickets_arrive_by'), 'tickets', ['arrive_by'], unique=False)
    op.create_index(op.f('ix_tickets_assignee_id'), 'tickets', ['assignee_id'], unique=False)
    op.create_index(op.f('ix_tickets_device_id'), 'tickets', ['device_id'], unique=False)
    op.create_index('ix_tickets_device_state', 'tickets', ['device_id', 'state'], unique=False)
    op.create_index(op.f('ix_tickets_site_id'), 'tickets', ['site_id'], unique=False)
    op.create_index(op.f('ix_tickets_state'), 'tickets', ['state'], unique=False)
    op.create_table('serial_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('part_type_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'], name=op.f('fk_serial_parts_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['part_type_id'], ['part_types.id'], name=op.f('fk_serial_parts_part_type_id_part_types')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_serial_parts_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_serial_parts')),
    sa.UniqueConstraint('part_type_id', 'serial', name='uq_serial_parts_type_serial')
    )
    op.create_table('ticket_breaches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('which', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('due_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_breaches_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_breaches')),
    sa.UniqueConstraint('ticket_id', 'which', 'kind', name='uq_ticket_breaches_once')
    )
    op.create_index(op.f('ix_ticket_breaches_ticket_id'), 'ticket_breaches', ['ticket_id'], unique=False)
    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    op.create_index(op.f('ix_ticket_events_ticket_id'), 'ticket_events', ['ticket_id'], unique=False)
    op.create_table('ticket_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('thumb_path', sa.String(length=500), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('location_kept', sa.Boolean(), nullable=False),
    sa.Column('taken_by', sa.String(length=100), nullable=False),
    sa.Column('taken_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_photos_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_photos'))
    )
    op.create_index(op.f('ix_ticket_photos_ticket_id'), 'ticket_photos', ['ticket_id'], unique=False)
    op.create_table('stock_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('part_type_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('serial_part_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['stock_locations.id'], name=op.f('fk_stock_movements_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['part_type_id'], ['part_types.id'], name=op.f('fk_stock_movements_part_type_id_part_types')),
    sa.ForeignKeyConstraint(['serial_part_id'], ['serial_parts.id'], name=op.f('fk_stock_movements_serial_part_id_serial_parts')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_stock_movements_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_movements'))
    )
    op.create_index(op.f('ix_stock_movements_at'), 'stock_movements', ['at'], unique=False)
    op.create_index(op.f('ix_stock_movements_part_type_id'), 'stock_movements', ['part_type_id'], unique=False)
    op.create_index(op.f('ix_stock_movements_ticket_id'), 'stock_movements', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_stock_movements_ticket_id'), table_name='stock_movements')
    op.drop_index(op.f('ix_stock_movements_part_type_id'), table_name='stock_movements')
    op.drop_index(op.f('ix_stock_movements_at'), table_name='stock_movements')
    op.drop_table('stock_movements')
    op.drop_index(op.f('ix_ticket_photos_ticket_id'), table_name='ticket_photos')
    op.drop_table('ticket_photos')
    op.drop_index(op.f('ix_ticket_events_ticket_id'), table_name='ticket_events')
    op.drop_table('ticket_events')
    op.drop_index(op.f('ix_ticket_breaches_ticket_id'), table_name='ticket_breaches')
    op.drop_table('ticket_breaches')
    op.drop_table('serial_parts')
    op.drop_index(op.f('ix_tickets_state'), table_name='tickets')
    op.drop_index(op.f('ix_tickets_site_id'), table_name='tickets')
    op.drop_index('ix_tickets_device_state', table_name='tickets')
    op.drop_index(op.f('ix_tickets_device_id'), table_name='tickets')
    op.drop_index(op.f('ix_tickets_assignee_id'), table_name='tickets')
    op.drop_index(op.f('ix_tickets_arrive_by'), table_name='tickets')
    op.drop_table('tickets')
    op.drop_table('stock_levels')
    op.drop_table('stock_locations')
    op.drop_index(op.f('ix_crew_qualifications_user_id'), table_name='crew_qualifications')
    op.drop_table('crew_qualifications')
    op.drop_table('sla_policies')
    op.drop_table('request_keys')
    op.drop_table('part_types')

"""records (issue 12): metrology certificate details and renewals, device serial changes, delivery items,
platform connectors

Revision ID: 0019_records
Revises: 0018_agents
Create Date: 2026-12-02 10:56:54.937182
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base
import fleetops.models.crypto


revision = '0019_records'
down_revision = '0018_agents'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_no', sa.String(length=60), nullable=False),
    sa.Column('serial', sa.String(length=100), nullable=False),
    sa.Column('box_no', sa.String(length=60), nullable=False),
    sa.Column('batch_no', sa.String(length=60), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('accepted_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_items')),
    sa.UniqueConstraint('delivery_no', 'serial', name='uq_delivery_items_serial')
    )
    with op.batch_alter_table('delivery_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_items_delivery_no'), ['delivery_no'], unique=False)

    op.create_table('platform_connectors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password', fleetops.models.crypto.EncryptedText(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('interval_s', sa.Integer(), nullable=False),
    sa.Column('timeout_s', sa.Integer(), nullable=False),
    sa.Column('last_pull_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_ok_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_connectors')),
    sa.UniqueConstraint('name', name=op.f('uq_platform_connectors_name'))
    )
    op.create_table('certificate_records',
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('attachment_path', sa.String(length=500), nullable=False),
    sa.Column('attachment_type', sa.String(length=50), nullable=False),
    sa.Column('attachment_size', sa.Integer(), nullable=False),
    sa.Column('updated_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['metrology_certificates.id'], name=op.f('fk_certificate_records_certificate_id_metrology_certificates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('certificate_id', name=op.f('pk_certificate_records'))
    )
    op.create_table('certificate_renewals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['metrology_certificates.id'], name=op.f('fk_certificate_renewals_certificate_id_metrology_certificates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_certificate_renewals_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_renewals')),
    sa.UniqueConstraint('certificate_id', name=op.f('uq_certificate_renewals_certificate_id'))
    )
    op.create_table('device_serial_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('old_serial', sa.String(length=100), nullable=False),
    sa.Column('new_serial', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('part_type_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_serial_changes_device_id_devices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['part_type_id'], ['part_types.id'], name=op.f('fk_device_serial_changes_part_type_id_part_types')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_device_serial_changes_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_serial_changes'))
    )
    with op.batch_alter_table('device_serial_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_serial_changes_device_id'), ['device_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('device_serial_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_serial_changes_device_id'))

    op.drop_table('device_serial_changes')
    op.drop_table('certificate_renewals')
    op.drop_table('certificate_records')
    op.drop_table('platform_connectors')
    with op.batch_alter_table('delivery_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_items_delivery_no'))

    op.drop_table('delivery_items')

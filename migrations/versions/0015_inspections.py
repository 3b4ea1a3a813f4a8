"""inspections (P1–P3): inspection_plans (plans as data) and inspection_orders (one per plan, device and period;
the unique key (plan_id, device_id, period_start) keeps repeated or concurrent generator runs from doubling them)

Revision ID: 0015_inspections
Revises: 0014_display_tokens
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base


revision = "0015_inspections"
down_revision = "0014_display_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspection_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('device_kinds', sa.JSON(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('key_sites_only', sa.Boolean(), nullable=False),
    sa.Column('period', sa.String(length=10), nullable=False),
    sa.Column('at_night', sa.Boolean(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('preset', sa.String(length=40), nullable=False),
    sa.Column('updated_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_inspection_plans_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_plans')),
    sa.UniqueConstraint('key', name=op.f('uq_inspection_plans_key'))
    )
    op.create_table('inspection_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('district', sa.String(length=50), nullable=False),
    sa.Column('period_start', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('day_night', sa.String(length=5), nullable=False),
    sa.Column('done_by', sa.String(length=100), nullable=False),
    sa.Column('done_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_alerted_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_inspection_orders_device_id_devices')),
    sa.ForeignKeyConstraint(['plan_id'], ['inspection_plans.id'], name=op.f('fk_inspection_orders_plan_id_inspection_plans')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_inspection_orders_site_id_sites')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_inspection_orders_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_orders')),
    sa.UniqueConstraint('plan_id', 'device_id', 'period_start', name='uq_inspection_orders_once'),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_inspection_orders_ticket_id'))
    )
    with op.batch_alter_table('inspection_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_orders_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_orders_district'), ['district'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_orders_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_orders_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_orders_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_orders_state'), ['state'], unique=False)
        batch_op.create_index('ix_inspection_orders_state_due', ['state', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inspection_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_orders_state_due')
        batch_op.drop_index(batch_op.f('ix_inspection_orders_state'))
        batch_op.drop_index(batch_op.f('ix_inspection_orders_site_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_orders_plan_id'))
        batch_op.drop_index(batch_op.f('ix_inspection_orders_due_at'))
        batch_op.drop_index(batch_op.f('ix_inspection_orders_district'))
        batch_op.drop_index(batch_op.f('ix_inspection_orders_device_id'))

    op.drop_table('inspection_orders')
    op.drop_table('inspection_plans')

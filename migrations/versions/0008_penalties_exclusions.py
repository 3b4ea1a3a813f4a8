"""penalties and exclusions: the spare-swap clock (T3), termination-threshold marks (P4), exclusion requests (U3)

Revision ID: 0008_penalties
Revises: 0007_liveness_port
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base


revision = '0008_penalties'
down_revision = '0007_liveness_port'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('penalty_threshold_marks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_key', sa.String(length=40), nullable=False),
    sa.Column('level', sa.String(length=12), nullable=False),
    sa.Column('at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cumulative_yuan', sa.String(length=30), nullable=False),
    sa.Column('threshold_yuan', sa.String(length=30), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty_threshold_marks')),
    sa.UniqueConstraint('policy_key', 'level', name='uq_penalty_threshold_marks_once')
    )
    op.create_table('exclusion_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outage_id', sa.Integer(), nullable=True),
    sa.Column('site_incident_id', sa.Integer(), nullable=True),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('photo_path', sa.String(length=300), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['outage_id'], ['outages.id'], name=op.f('fk_exclusion_requests_outage_id_outages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_incident_id'], ['site_incidents.id'], name=op.f('fk_exclusion_requests_site_incident_id_site_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exclusion_requests'))
    )
    with op.batch_alter_table('exclusion_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exclusion_requests_outage_id'), ['outage_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exclusion_requests_site_incident_id'), ['site_incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_exclusion_requests_state'), ['state'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('swap_started_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('swap_by', fleetops.models.base.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('swap_by')
        batch_op.drop_column('swap_started_at')

    with op.batch_alter_table('exclusion_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exclusion_requests_state'))
        batch_op.drop_index(batch_op.f('ix_exclusion_requests_site_incident_id'))
        batch_op.drop_index(batch_op.f('ix_exclusion_requests_outage_id'))

    op.drop_table('exclusion_requests')
    op.drop_table('penalty_threshold_marks')

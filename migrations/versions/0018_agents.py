"""probe agents: registered agents with their scope, token hash and last health (issue 14)

Revision ID: 0018_agents
Revises: 0017_discovery_traps
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base

revision = "0018_agents"
down_revision = "0017_discovery_traps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('probe_agents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('districts', sa.JSON(), nullable=False),
    sa.Column('cidrs', sa.JSON(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('revoked_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_contact_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_push_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('spool_depth', sa.Integer(), nullable=False),
    sa.Column('lag_s', sa.Float(), nullable=True),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('config_version', sa.String(length=64), nullable=False),
    sa.Column('dropped_results', sa.Integer(), nullable=False),
    sa.Column('silent_since', fleetops.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_probe_agents')),
    sa.UniqueConstraint('name', name=op.f('uq_probe_agents_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_probe_agents_token_hash'))
    )


def downgrade() -> None:
    op.drop_table('probe_agents')

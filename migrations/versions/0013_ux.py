"""alert channels: soft delete — alert_channels.deleted_at (a deleted channel leaves the lists and sends nothing;
its deliveries stay as history)

Revision ID: 0013_ux
Revises: 0012_service_periods
"""
from alembic import op
import sqlalchemy as sa
import fleetops.models.base

revision = "0013_ux"
down_revision = "0012_service_periods"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_channels') as batch:
        batch.add_column(sa.Column('deleted_at', fleetops.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alert_channels') as batch:
        batch.drop_column('deleted_at')

"""devices.liveness_port: the TCP port of a TCP liveness check (issue 16; NULL = the device kind's port)

Revision ID: 0007_liveness_port
Revises: 0006_figures
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_liveness_port"
down_revision = "0006_figures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("liveness_port", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("liveness_port")

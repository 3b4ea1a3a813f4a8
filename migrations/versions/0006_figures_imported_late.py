"""figures: outages.imported_late — an outage whose results arrived long after it ended (a replayed history)

Revision ID: 0006_figures
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_figures"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outages") as batch:
        batch.add_column(sa.Column("imported_late", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("outages") as batch:
        batch.drop_column("imported_late")

"""An outage that outlasted its maintenance window keeps the window's time excluded (issue 17, U3)

Revision ID: 0020_outage_excluded_before
Revises: 0019_records
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_outage_excluded_before"
down_revision = "0019_records"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outages") as batch:
        batch.add_column(sa.Column("excluded_before_s", sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("outages") as batch:
        batch.drop_column("excluded_before_s")

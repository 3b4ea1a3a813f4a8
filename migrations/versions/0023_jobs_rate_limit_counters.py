"""Sign-in throttling counters in the database, shared by every web process (issue 14: several web processes on one
PostgreSQL; with per-process memory counters, N processes gave N times the attempts)

Revision ID: 0023_jobs_rate_limit_counters
Revises: 0022_page_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0023_jobs_rate_limit_counters"
down_revision = "0022_page_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rate_limit_counters",
        sa.Column("limit_key", sa.String(255), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("limit_key", name=op.f("pk_rate_limit_counters")),
    )
    op.create_index("ix_rate_limit_counters_expires_at", "rate_limit_counters", ["expires_at"])


def downgrade():
    op.drop_index("ix_rate_limit_counters_expires_at", table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")

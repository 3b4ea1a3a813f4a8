"""map and wall screen: read-only display tokens for the duty room's wall screen

Revision ID: 0014_display_tokens
Revises: 0013_ux
"""
from alembic import op
import sqlalchemy as sa

from fleetops.models.base import UTCDateTime

revision = "0014_display_tokens"
down_revision = "0013_ux"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "display_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("uses", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("display_tokens")

"""security: a session version per user, part of every session cookie; bumped on logout and password change

Revision ID: 0009_security_session_version
Revises: 0008_penalties
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_security_session_version"
down_revision = "0008_penalties"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")

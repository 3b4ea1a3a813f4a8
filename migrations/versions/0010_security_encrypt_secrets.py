"""security: secrets at rest — device SNMP communities/v3 keys and camera passwords become encrypted text, alert
channels' secrets an encrypted JSON; existing plain values are encrypted with the secrets key (models/crypto.py)

Revision ID: 0010_security_encrypt_secrets
Revises: 0009_security_session_version
"""
import json

from alembic import op
import sqlalchemy as sa

revision = "0010_security_encrypt_secrets"
down_revision = "0009_security_session_version"
branch_labels = None
depends_on = None

DEVICE_SECRETS = {"snmp_community": 100, "snmp_v3_auth_key": 200, "snmp_v3_priv_key": 200, "snapshot_password": 200}
devices = sa.table("devices", sa.column("id", sa.Integer), *(sa.column(c, sa.Text) for c in DEVICE_SECRETS))
channels = sa.table("alert_channels", sa.column("id", sa.Integer), sa.column("secrets", sa.JSON))


def _convert(encrypting: bool) -> None:
    from fleetops.models import crypto

    crypto.ensure_configured()
    ring = crypto.KEYRING
    conn = op.get_bind()

    for row in conn.execute(sa.select(devices)).mappings().all():
        changed = {}
        for column in DEVICE_SECRETS:
            value = row[column]
            if value and encrypting and not value.startswith(crypto.PREFIX):
                changed[column] = ring.encrypt(value)
            elif value and not encrypting and value.startswith(crypto.PREFIX):
                changed[column] = ring.decrypt(value)
        if changed:
            conn.execute(devices.update().where(devices.c.id == row["id"]).values(**changed))
    for row in conn.execute(sa.select(channels)).mappings().all():
        value = row["secrets"]
        if isinstance(value, str):
            value = json.loads(value)
        if not value:
            continue
        wrapped = isinstance(value, dict) and set(value) == {"fernet"}
        if encrypting and not wrapped:
            new = {"fernet": ring.encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))}
        elif not encrypting and wrapped:
            new = json.loads(ring.decrypt(value["fernet"]))
        else:
            continue
        conn.execute(channels.update().where(channels.c.id == row["id"]).values(secrets=new))


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        for column, length in DEVICE_SECRETS.items():
            batch.alter_column(column, existing_type=sa.String(length=length), type_=sa.Text(),
                               existing_nullable=False)
    _convert(encrypting=True)


def downgrade() -> None:
    _convert(encrypting=False)
    with op.batch_alter_table("devices") as batch:
        for column, length in DEVICE_SECRETS.items():
            batch.alter_column(column, existing_type=sa.Text(), type_=sa.String(length=length),
                               existing_nullable=False)

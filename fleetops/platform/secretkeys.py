"""`fleetops rotate-secret-key`: a new Fernet key for the secrets stored in the database, every stored secret
re-encrypted with it in one transaction (models/crypto.py holds the key handling and the column types).

With the instance key file: the new key is added in front of the old one(s) first, the secrets are re-encrypted
and committed, then the file keeps only the new key — a crash at any step leaves a key that opens every value.
With FLEETOPS_SECRETS_KEY="NEW,OLD" (keys from the environment): the secrets are re-encrypted with NEW; the
operator then drops OLD from the variable."""
from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import crypto
from fleetops.platform import audit

DEVICE_SECRETS = ("snmp_community", "snmp_v3_auth_key", "snmp_v3_priv_key", "snapshot_password")
_devices = sa.table("devices", sa.column("id", sa.Integer), *(sa.column(c, sa.Text) for c in DEVICE_SECRETS))
_channels = sa.table("alert_channels", sa.column("id", sa.Integer), sa.column("secrets", sa.JSON))


def reencrypt_all(session: Session) -> int:
    """Every stored secret re-encrypted with the current first key (plain leftovers encrypted); returns the count."""
    ring = crypto.KEYRING
    count = 0
    for row in session.execute(sa.select(_devices)).mappings().all():
        values = {c: ring.rotate(row[c]) for c in DEVICE_SECRETS if row[c]}
        if values:
            session.execute(_devices.update().where(_devices.c.id == row["id"]).values(**values))
            count += len(values)
    for row in session.execute(sa.select(_channels)).mappings().all():
        value = row["secrets"]
        if isinstance(value, str):
            value = json.loads(value)
        if not value:
            continue
        plain = json.loads(ring.decrypt(value["fernet"])) if set(value) == {"fernet"} else value
        session.execute(_channels.update().where(_channels.c.id == row["id"]).values(
            secrets={"fernet": ring.encrypt(json.dumps(plain, ensure_ascii=False, sort_keys=True))}))
        count += 1
    return count


def rotate_secret_key(session: Session, config: dict, instance_path: Path, actor="cli") -> Msg:
    """Rotate the secrets key (see the module); commits. Returns what was done, in words."""
    if config.get("SECRETS_KEY"):
        keys = crypto.keys_from_config(config, instance_path)
        if len(keys) < 2:
            raise ValidationFailed(Msg(
                "The key comes from FLEETOPS_SECRETS_KEY: set it to \"NEW,OLD\" (NEW: %(key)s), run this "
                "command again, then set it to NEW alone.", key=crypto.new_key().decode()))
        crypto.configure(keys)
        count = reencrypt_all(session)
        audit.record(session, actor, "secrets_key_rotated", "system", "secrets",
                     summary=Msg("Secrets key rotated: %(count)s stored secrets re-encrypted.", count=count))
        session.commit()
        return Msg("%(count)s stored secrets re-encrypted with the first key of FLEETOPS_SECRETS_KEY; now set it "
                   "to that key alone and restart the web and scheduler processes.", count=count)
    path = Path(instance_path) / crypto.KEY_FILE
    old = crypto.read_key_file(path, create=True)
    new = crypto.new_key()
    crypto.write_key_file(path, [new] + old)  # both open every value while we re-encrypt
    crypto.configure([new] + old, source=instance_path)
    try:
        count = reencrypt_all(session)
        audit.record(session, actor, "secrets_key_rotated", "system", "secrets",
                     summary=Msg("Secrets key rotated: %(count)s stored secrets re-encrypted.", count=count))
        session.commit()
    except Exception:
        session.rollback()
        crypto.write_key_file(path, old)
        crypto.configure(old, source=instance_path)
        raise
    crypto.write_key_file(path, [new])
    crypto.configure([new], source=instance_path)
    return Msg("%(count)s stored secrets re-encrypted with a new key in %(file)s; the running web and scheduler "
               "processes read it when they next meet a value they cannot open.", count=count, file=str(path))

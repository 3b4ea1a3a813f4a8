"""Secrets at rest: SNMP communities/v3 keys, camera passwords and alert channels' secrets are stored encrypted
with a key kept outside the database; `fleetops rotate-secret-key` re-encrypts them; migration 0007 encrypts the
plain values an older database holds (and its downgrade decrypts them)."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner
from cryptography.fernet import Fernet, InvalidToken

import fleetops.cli as cli
from fleetops.models import Device, Site, crypto
from fleetops.models.alerts import AlertChannel
from fleetops.services import alerts
from tests.conftest import fresh_database
from tests.test_migrations import _config

SECRETS = {"snmp_community": "s3cret-community", "snmp_v3_auth_key": "auth-key-123",
           "snmp_v3_priv_key": "priv-key-456", "snapshot_password": "Cam-pass-1"}


def _fleet(db, users):
    site = Site(code="S9", name="S9", district="独山子区", latitude=44.3, longitude=84.9)
    db.add(site)
    db.flush()
    db.add(Device(code="S9-CAM1", name="S9 相机", kind="checkpoint_camera", site_id=site.id, **SECRETS))
    alerts.save_channel(db, users["admin"], name="smtp", kind="email", settings={"host": "10.0.0.5", "from_addr": "a@b"},
                        secrets={"password": "smtp-pass-789"})
    db.commit()


def _raw(db):
    device = db.execute(sa.text("SELECT snmp_community, snmp_v3_auth_key, snmp_v3_priv_key, snapshot_password "
                                "FROM devices")).one()
    channel = db.execute(sa.text("SELECT secrets FROM alert_channels")).scalar_one()
    return list(device), str(channel)


def test_secrets_are_stored_encrypted_and_read_back_plain(make_app, users, tmp_path, monkeypatch):
    monkeypatch.delenv("FLEETOPS_SECRETS_KEY", raising=False)  # the instance key file, made at first start
    app = make_app(INSTANCE_PATH=str(tmp_path))
    db = app.extensions["fleetops.sessionmaker"]()
    _fleet(db, users)
    device_raw, channel_raw = _raw(db)
    assert all(v.startswith("fernet:") for v in device_raw) and "fernet" in channel_raw
    blob = " ".join(device_raw) + channel_raw
    assert not any(s in blob for s in list(SECRETS.values()) + ["smtp-pass-789"])
    db.expire_all()
    device = db.scalar(sa.select(Device))
    assert {k: getattr(device, k) for k in SECRETS} == SECRETS
    assert db.scalar(sa.select(AlertChannel)).secrets == {"password": "smtp-pass-789"}
    key_file = tmp_path / crypto.KEY_FILE
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    key = key_file.read_text().strip().encode()
    assert Fernet(key).decrypt(device_raw[0][len("fernet:"):].encode()) == b"s3cret-community"
    db.close()


def test_rotate_secret_key_re_encrypts_everything_with_a_new_key(make_app, users, tmp_path, monkeypatch):
    monkeypatch.delenv("FLEETOPS_SECRETS_KEY", raising=False)  # the instance key file, made at first start
    app = make_app(INSTANCE_PATH=str(tmp_path))
    db = app.extensions["fleetops.sessionmaker"]()
    _fleet(db, users)
    old_key = (tmp_path / crypto.KEY_FILE).read_text().strip().encode()
    before = _raw(db)
    monkeypatch.setattr(cli, "_app", app)
    out = CliRunner().invoke(cli.main, ["rotate-secret-key"])
    assert out.exit_code == 0, out.output
    assert "5" in out.output  # 4 device secrets + 1 channel
    keys = (tmp_path / crypto.KEY_FILE).read_text().split()
    assert len(keys) == 1 and keys[0].encode() != old_key
    db.expire_all()
    after = _raw(db)
    assert after != before
    token = after[0][0][len("fernet:"):].encode()
    assert Fernet(keys[0].encode()).decrypt(token) == b"s3cret-community"
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(token)
    assert db.scalar(sa.select(Device)).snmp_v3_priv_key == "priv-key-456"
    assert db.scalar(sa.select(AlertChannel)).secrets == {"password": "smtp-pass-789"}
    db.close()


def test_a_key_from_the_environment_rotates_to_its_first_key(make_app, users, tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = make_app(INSTANCE_PATH=str(tmp_path), SECRETS_KEY=old)
    db = app.extensions["fleetops.sessionmaker"]()
    _fleet(db, users)
    assert not (tmp_path / crypto.KEY_FILE).exists()
    from fleetops.domain.errors import ValidationFailed
    from fleetops.platform.secretkeys import rotate_secret_key
    with pytest.raises(ValidationFailed):  # one key: nothing to rotate to, the message says how
        rotate_secret_key(db, {**app.config, "SECRETS_KEY": old}, tmp_path)
    rotate_secret_key(db, {**app.config, "SECRETS_KEY": f"{new},{old}"}, tmp_path)
    token = _raw(db)[0][0][len("fernet:"):].encode()
    assert Fernet(new.encode()).decrypt(token) == b"s3cret-community"
    db.close()


def _insert(conn, table: sa.Table, **values):
    """A row with `values` and a plain filler for every other required column."""
    fill = {}
    for col in table.columns:
        if col.name in values or col.nullable or col.primary_key:
            continue
        t = col.type
        fill[col.name] = (False if isinstance(t, sa.Boolean) else 0 if isinstance(t, (sa.Integer, sa.Float))
                          else datetime(2026, 1, 1, tzinfo=timezone.utc) if isinstance(t, (sa.DateTime,)) or
                          "DateTime" in type(t).__name__ else {} if isinstance(t, sa.JSON) else "x")
    return conn.execute(table.insert().values(**fill, **values)).inserted_primary_key[0]


def test_migration_0007_encrypts_plain_secrets_and_its_downgrade_decrypts_them(tmp_path):
    key = Fernet.generate_key()
    crypto.configure([key])  # the key `fleetops db upgrade` gets from its instance (create_app)
    with fresh_database(tmp_path) as url:
        cfg = _config(url)
        command.upgrade(cfg, "0009_security_session_version")
        engine = sa.create_engine(url)
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.begin() as conn:
            site = _insert(conn, meta.tables["sites"], code="P1", name="P1")
            _insert(conn, meta.tables["devices"], code="P1-CAM1", site_id=site, kind="checkpoint_camera", **SECRETS)
            _insert(conn, meta.tables["alert_channels"], name="hook", kind="webhook", settings={"url": "http://x"},
                    secrets={"token": "hook-token-9"})
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            raw = list(conn.execute(sa.text("SELECT snmp_community, snmp_v3_auth_key, snmp_v3_priv_key, "
                                            "snapshot_password FROM devices")).one())
            channel = str(conn.execute(sa.text("SELECT secrets FROM alert_channels")).scalar_one())
        assert all(v.startswith("fernet:") for v in raw) and "hook-token-9" not in channel
        assert Fernet(key).decrypt(raw[0][len("fernet:"):].encode()) == b"s3cret-community"
        with sa.orm.Session(engine) as s:
            assert s.scalar(sa.select(AlertChannel)).secrets == {"token": "hook-token-9"}
            assert s.scalar(sa.select(Device)).snapshot_password == "Cam-pass-1"
        command.downgrade(cfg, "0009_security_session_version")
        with engine.connect() as conn:
            assert list(conn.execute(sa.text("SELECT snmp_community, snmp_v3_auth_key, snmp_v3_priv_key, "
                                             "snapshot_password FROM devices")).one()) == list(SECRETS.values())
            assert "hook-token-9" in str(conn.execute(sa.text("SELECT secrets FROM alert_channels")).scalar_one())
        engine.dispose()

"""Migrations: one head; `upgrade head` on an empty database; the models match (`alembic check`); downgrade works."""
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from fleetops.config import PROJECT_ROOT
from fleetops.models import Base
from tests.conftest import fresh_database


@pytest.fixture
def empty_database_url(tmp_path):
    with fresh_database(tmp_path) as url:
        yield url


def _config(url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def test_there_is_one_head():
    heads = ScriptDirectory.from_config(_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_upgrade_on_an_empty_database_matches_the_models(empty_database_url):
    cfg = _config(empty_database_url)
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises when autogenerate would find a difference
    engine = create_engine(empty_database_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_downgrade_to_base_and_up_again(empty_database_url):
    cfg = _config(empty_database_url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = create_engine(empty_database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    command.upgrade(cfg, "head")


def test_service_periods_are_backfilled_from_the_lifecycle(empty_database_url):
    """0009: one period per device that is not planned — in_service_from (else installed_on's local midnight)
    until retired_at for a retired device, open while in service."""
    from datetime import timezone

    from sqlalchemy import text

    cfg = _config(empty_database_url)
    command.upgrade(cfg, "0008_penalties")
    engine = create_engine(empty_database_url)
    with engine.begin() as c:
        c.execute(text("INSERT INTO sites (id, code, name, road, direction, district, latitude, longitude, key_site, "
                       "timezone, notes, version, created_at) VALUES (1, 'K1', 'K1', '', '', '', 43.8, 87.6, "
                       ":f, 'Asia/Shanghai', '', 1, '2025-01-01 00:00:00')"), {"f": False})
        for i, (life, isf, inst, ret) in enumerate([
                ("online", "2025-04-18 02:00:00", None, None), ("installed", None, "2025-05-01", None),
                ("retired", "2025-01-01 00:00:00", None, "2025-06-01 00:00:00"), ("planned", None, None, None)], 1):
            c.execute(text(
                "INSERT INTO devices (id, code, name, kind, site_id, vendor, model, serial, lifecycle, installed_on, "
                "in_service_from, retired_at, liveness_probe, snmp_version, snmp_port, snmp_community, snmp_v3_user, "
                "snmp_v3_auth_protocol, snmp_v3_auth_key, snmp_v3_priv_protocol, snmp_v3_priv_key, snapshot_url, "
                "snapshot_username, snapshot_password, status, notes, version, created_at) VALUES (:id, :code, '', "
                "'checkpoint_camera', 1, '', '', '', :life, :inst, :isf, :ret, 'ping', '', 161, '', '', '', '', '', "
                "'', '', '', '', 'unknown', '', 1, '2025-01-01 00:00:00')"),
                {"id": i, "code": f"D{i}", "life": life, "inst": inst, "isf": isf, "ret": ret})
    command.upgrade(cfg, "head")
    with engine.connect() as c:
        rows = c.execute(text("SELECT device_id, start_at, end_at FROM service_periods ORDER BY device_id")).all()
    engine.dispose()
    def utc(v):  # SQLite gives the stored UTC text, PostgreSQL an aware datetime in the session's zone
        if v is None:
            return None
        return (v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if hasattr(v, "astimezone") else str(v)[:16])

    got = {r[0]: (utc(r[1]), utc(r[2])) for r in rows}
    assert got == {1: ("2025-04-18 02:00", None), 2: ("2025-04-30 16:00", None),
                   3: ("2025-01-01 00:00", "2025-06-01 00:00")}

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

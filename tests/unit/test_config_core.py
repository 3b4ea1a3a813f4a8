"""Configuration: defaults ← instance file ← FLEETOPS_* environment; a bad value stops start-up with its name."""
import json

import pytest

from fleetops.config import ConfigError, load_config


def test_environment_overrides_the_instance_file(tmp_path):
    (tmp_path / "fleetops.json").write_text(json.dumps({"POLL_INTERVAL_S": 30}))
    cfg = load_config(tmp_path, environ={"FLEETOPS_POLL_INTERVAL_S": "45"})
    assert cfg["POLL_INTERVAL_S"] == 45
    assert load_config(tmp_path, environ={})["POLL_INTERVAL_S"] == 30


def test_json_settings_come_from_the_environment(tmp_path):
    cfg = load_config(tmp_path, environ={"FLEETOPS_POLL_INTERVAL_BY_KIND": '{"fill_light": 300}'})
    assert cfg["POLL_INTERVAL_BY_KIND"] == {"fill_light": 300}


@pytest.mark.parametrize("key,value", [("POLL_INTERVAL_S", "sixty"), ("POLL_INTERVAL_BY_KIND", "[1,2]")])
def test_a_bad_value_names_the_variable(tmp_path, key, value):
    with pytest.raises(ConfigError, match=f"FLEETOPS_{key}"):
        load_config(tmp_path, environ={f"FLEETOPS_{key}": value})


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    cfg = load_config(tmp_path, environ={})
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'fleetops.sqlite3'}"
    assert len(cfg["SECRET_KEY"]) == 64 and (tmp_path / "secret_key").stat().st_mode & 0o077 == 0

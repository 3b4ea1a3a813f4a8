"""The inventory commands: import (errors with line and column, exit 1, nothing written), export, load-demo."""
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import fleetops.cli
from fleetops.cli import main
from fleetops.models import Device, Site
from tests.inventory_helpers import csv_bytes, device_row


@pytest.fixture
def run(app, monkeypatch):
    monkeypatch.setattr(fleetops.cli, "_app", app)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_import_reports_every_bad_row_and_exits_1(run, db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([device_row("K105-CAM1", ip="10.0.0.1"), device_row("K105-CAM2", "飞碟", ip="10.0.0.2"),
                                device_row("K105-CAM3", ip="10.0.0.1")], encoding="gbk"))
    result = run("import-inventory", str(path))
    assert result.exit_code == 1
    assert "第 3 行" in result.stderr and "设备类型" in result.stderr and "第 4 行" in result.stderr
    assert "Traceback" not in result.output
    assert db.scalar(select(func.count(Device.id))) == 0


def test_dry_run_then_import_then_reimport(run, db, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(csv_bytes([device_row("K105-CAM1", ip="10.0.0.1"), device_row("K105-SW", "交换机", ip="10.0.0.2")]))
    dry = run("import-inventory", str(path), "--dry-run")
    assert dry.exit_code == 0 and "新增 2" in dry.output  # Chinese by default: "created 2"
    assert db.scalar(select(func.count(Device.id))) == 0
    assert run("import-inventory", str(path)).exit_code == 0
    again = run("import-inventory", str(path))
    assert again.exit_code == 0 and "新增 0，更新 0，未变 2" in again.output
    assert db.scalar(select(func.count(Device.id))) == 2


def test_missing_file_is_a_message_not_a_traceback(run, tmp_path):
    result = run("import-inventory", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1 and "无法读取" in result.stderr


def test_load_demo_then_export_round_trips(run, db, tmp_path):
    first = run("load-demo", "--seed", "3", "--devices", "120")
    assert first.exit_code == 0 and "演示设备已加载" in first.output  # "demo fleet loaded"
    assert "未加载演示设备" in run("load-demo").output  # "… demo fleet not loaded"
    out = tmp_path / "fleet.xlsx"
    assert run("export-inventory", str(out)).exit_code == 0
    result = run("import-inventory", str(out))
    n = db.scalar(select(func.count(Device.id)))
    assert result.exit_code == 0 and f"新增 0，更新 0，未变 {n}" in result.output
    assert db.scalar(select(func.count(Site.id))) > 10
    assert run("export-inventory", str(tmp_path / "fleet.txt")).exit_code == 1

"""The shipped example files import as documented in examples/README.md."""
from pathlib import Path

from sqlalchemy import func, select

from fleetops.models import Device, Site
from fleetops.services.inventory.demo import load_demo_fleet
from fleetops.services.inventory import import_inventory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_good_examples_import_on_top_of_the_demo_fleet(db, users):
    load_demo_fleet(db, seed=7)
    db.commit()
    before = db.scalar(select(func.count(Device.id)))
    expected = {"inventory_utf8.csv": "utf-8", "inventory_gbk.csv": "gb18030", "inventory.xlsx": "xlsx"}
    created = 0
    for name, encoding in expected.items():
        result = import_inventory(db, (EXAMPLES / name).read_bytes(), name, users["admin"])
        assert result.ok, (name, [str(e) for e in result.errors])
        assert result.encoding == encoding and result.updated == 0
        created += result.created
        db.commit()
    assert db.scalar(select(func.count(Device.id))) == before + created
    assert {"C901", "C902", "K901", "Z901", "D901"} <= set(db.scalars(select(Site.code)))


def test_the_bad_example_reports_each_documented_mistake_and_writes_nothing(db, users):
    result = import_inventory(db, (EXAMPLES / "inventory_bad.csv").read_bytes(), "inventory_bad.csv", users["admin"])
    assert {(e.line, e.column) for e in result.errors} >= {
        (3, "设备类型"), (4, "IP地址"), (5, "IP地址"), (6, "上级设备"), (8, "纬度"), (8, "经度"), (9, "设备编号"), (10, "安装日期")}
    assert db.scalar(select(func.count(Device.id))) == 0

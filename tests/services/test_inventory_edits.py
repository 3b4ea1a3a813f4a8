"""Inventory use cases: edits are audited (secrets redacted), stale edits refused, lists filtered and paged in SQL."""
import pytest
from sqlalchemy import select

from fleetops.domain.errors import ConflictError, ValidationFailed
from fleetops.models import AuditLog, Device, Site
from fleetops.services import inventory
from tests.inventory_helpers import load_small_fleet


@pytest.fixture
def site(db, users):
    s = inventory.save_site(db, None, {"name": "世纪大道与友谊路口卡口", "road": "世纪大道", "direction": "由东向西",
                                       "district": "克拉玛依区", "latitude": "45.6012", "longitude": "84.8731",
                                       "key_site": "yes"}, users["supervisor"], new_code="K105")
    db.commit()
    return s


@pytest.fixture
def camera(db, users, site):
    d = inventory.save_device(db, None, {"name": "K105 卡口相机1", "kind": "checkpoint_camera", "site_code": "K105",
                                         "ip_address": "10.65.1.11", "snmp_version": "v2c",
                                         "snmp_community": "top-secret-1"}, users["supervisor"], new_code="K105-CAM1")
    db.commit()
    return d


def test_editing_a_device_records_before_and_after_with_secrets_redacted(db, users, camera):
    inventory.save_device(db, "K105-CAM1", {"vendor": "大华", "snmp_community": "even-more-secret"},
                          users["supervisor"], expected_version=camera.version)
    db.commit()
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "device_updated"))
    assert (entry.actor_name, entry.entity_type, entry.entity_id) == ("supervisor", "device", "K105-CAM1")
    assert entry.before == {"vendor": "", "snmp_community": "••••••"}
    assert entry.after == {"vendor": "大华", "snmp_community": "••••••"}
    assert db.scalar(select(Device.snmp_community).where(Device.code == "K105-CAM1")) == "even-more-secret"


def test_an_empty_secret_on_the_form_keeps_the_stored_one(db, users, camera):
    inventory.save_device(db, "K105-CAM1", {"snmp_community": "", "name": "新名称"}, users["supervisor"])
    db.commit()
    assert db.scalar(select(Device.snmp_community).where(Device.code == "K105-CAM1")) == "top-secret-1"


def test_a_stale_version_is_refused_with_a_clear_message(db, users, camera):
    old = camera.version
    inventory.save_device(db, "K105-CAM1", {"vendor": "大华"}, users["supervisor"], expected_version=old)
    db.commit()
    with pytest.raises(ConflictError, match="已被他人修改"):
        inventory.save_device(db, "K105-CAM1", {"vendor": "宇视"}, users["admin"], expected_version=old)


def test_two_sessions_editing_at_once_the_second_flush_is_refused(app, db, users, camera):
    other = app.extensions["fleetops.sessionmaker"]()
    try:
        mine = db.scalar(select(Device).where(Device.code == "K105-CAM1"))
        theirs = other.scalar(select(Device).where(Device.code == "K105-CAM1"))
        mine.vendor = "大华"
        db.commit()
        with pytest.raises(ConflictError):
            inventory.save_device(other, "K105-CAM1", {"vendor": "宇视"}, users["admin"])
        assert theirs is not None
    finally:
        other.close()


def test_bad_values_are_reported_per_field(db, users, site):
    with pytest.raises(ValidationFailed) as err:
        inventory.save_device(db, None, {"kind": "飞碟", "site_code": "K105", "ip_address": "300.1.1.1"},
                              users["supervisor"], new_code="K105-X")
    assert set(err.value.details["errors"]) == {"kind", "ip_address"}


def test_a_duplicate_ip_is_refused_naming_the_other_device(db, users, camera):
    with pytest.raises(ValidationFailed, match="K105-CAM1"):
        inventory.save_device(db, None, {"kind": "switch", "site_code": "K105", "ip_address": "10.65.1.11"},
                              users["supervisor"], new_code="K105-SW")


def test_a_device_cannot_become_its_own_grandparent(db, users, camera):
    inventory.save_device(db, None, {"kind": "fill_light", "site_code": "K105", "parent_code": "K105-CAM1"},
                          users["supervisor"], new_code="K105-BG1")
    db.commit()
    with pytest.raises(ValidationFailed, match="循环"):
        inventory.save_device(db, "K105-CAM1", {"parent_code": "K105-BG1"}, users["supervisor"])


def test_retiring_a_device_frees_its_ip_and_is_audited(db, users, camera):
    inventory.retire_device(db, "K105-CAM1", users["supervisor"])
    db.commit()
    dev = db.scalar(select(Device).where(Device.code == "K105-CAM1"))
    assert dev.lifecycle == "retired" and dev.retired_at is not None and dev.ip_address is None
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "device_retired"))
    assert entry.before["ip_address"] == "10.65.1.11" and entry.after["lifecycle"] == "retired"


def test_editing_a_site_is_audited_and_coordinates_are_checked(db, users, site):
    with pytest.raises(ValidationFailed, match="不在中国境内"):
        inventory.save_site(db, "K105", {"latitude": "84.87"}, users["supervisor"])
    db.rollback()
    inventory.save_site(db, "K105", {"key_site": "no", "road": "友谊路"}, users["supervisor"])
    db.commit()
    entry = db.scalar(select(AuditLog).where(AuditLog.action == "site_updated"))
    assert entry.before == {"road": "世纪大道", "key_site": True} and entry.after == {"road": "友谊路", "key_site": False}


def test_device_list_filters_combine_and_count_in_sql(db, users):
    fleet = load_small_fleet(db, 200)
    sites = {s["code"]: s for s in fleet.sites}
    want = [d["code"] for d in fleet.devices
            if d["kind"] == "switch" and sites[d["site_code"]]["district"] == "克拉玛依区"]
    page = inventory.list_devices(db, kind="switch", district="克拉玛依区", per_page=5)
    assert page.total == len(want) > 5
    assert [d.code for d in page.items] == sorted(want)[:5]
    last = inventory.list_devices(db, kind="switch", district="克拉玛依区", per_page=5, page=page.pages)
    assert [d.code for d in last.items] == sorted(want)[(page.pages - 1) * 5:]
    key = inventory.list_devices(db, key_site="是", per_page=200)
    assert key.total == sum(1 for d in fleet.devices if sites[d["site_code"]]["key_site"])


def test_device_search_matches_code_name_ip_and_site_name(db, users):
    fleet = load_small_fleet(db, 60)
    cam = next(d for d in fleet.devices if d["ip_address"] and "CAM" in d["code"])
    assert [d.code for d in inventory.list_devices(db, q=cam["ip_address"]).items] == [cam["code"]]
    assert cam["code"] in [d.code for d in inventory.list_devices(db, q=cam["code"].lower()).items]
    assert inventory.list_devices(db, q="100%_").total == 0  # LIKE wildcards are literal


def test_a_page_past_the_end_shows_the_last_page(db, users):
    load_small_fleet(db, 30)
    page = inventory.list_devices(db, page=999, per_page=10)
    assert page.page == page.pages and page.items


def test_site_list_counts_devices_per_site(db, users):
    fleet = load_small_fleet(db, 60)
    page = inventory.list_sites(db, per_page=200)
    counts = {s.code: n for s, n in page.items}
    assert counts == {s["code"]: sum(1 for d in fleet.devices if d["site_code"] == s["code"]) for s in fleet.sites}
    assert db.scalar(select(Site).where(Site.code == page.items[0][0].code)) is not None

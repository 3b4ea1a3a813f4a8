"""The demo fleet: realistic shape around Karamay, loopback IPs, valid parents, deterministic, loaded once."""
import ipaddress
from collections import Counter
from datetime import date

from sqlalchemy import func, select

from fleetops.domain.choices import CAMERA_KINDS, DeviceKind
from fleetops.models import Cabinet, Depot, Device, MetrologyCertificate, Site
from fleetops.services.inventory.demo import generate_fleet, ip_for, load_demo_fleet

LOOPBACK_FLEET = ipaddress.ip_network("127.20.0.0/14")


def test_demo_fleet_has_the_shape_of_a_city_fleet(db):
    summary = load_demo_fleet(db, seed=7, today=date(2026, 11, 23))
    db.commit()
    assert 100 <= summary["sites"] <= 140 and 580 <= summary["devices"] <= 640
    sites = db.scalars(select(Site)).all()
    assert {s.district for s in sites} == {"克拉玛依区", "独山子区", "白碱滩区", "乌尔禾区"}
    assert all(44.0 < s.latitude < 46.5 and 84.5 < s.longitude < 86.0 for s in sites)
    assert 0 < sum(s.key_site for s in sites) < len(sites) / 2
    assert 2 <= db.scalar(select(func.count(Depot.id))) <= 3
    assert db.scalar(select(func.count(Cabinet.id))) == len(sites)
    assert all(c.power_feed for c in db.scalars(select(Cabinet)))
    devices = db.scalars(select(Device)).all()
    kinds = Counter(d.kind for d in devices)
    assert set(kinds) == {k.value for k in DeviceKind}
    per_site = Counter((d.site_id, d.kind) for d in devices)
    assert all(per_site[(s.id, "switch")] == 1 for s in sites)
    # every roadside site has a camera; the command centre (ZX001) holds the two platforms (issue 12, U7)
    assert all(sum(per_site[(s.id, k)] for k in CAMERA_KINDS) >= 1 for s in sites if s.code != "ZX001")


def test_every_ip_is_a_distinct_loopback_address_and_lights_have_none(db):
    load_demo_fleet(db, seed=7)
    db.commit()
    devices = db.scalars(select(Device)).all()
    ips = [d.ip_address for d in devices if d.ip_address]
    assert len(ips) == len(set(ips))
    assert all(ipaddress.ip_address(ip) in LOOPBACK_FLEET for ip in ips)
    assert sorted(ips, key=ipaddress.ip_address)[0] == "127.20.0.1"
    no_ip = {"fill_light", "strobe_light", "fibre_transceiver", "power_supply"}
    assert all((d.ip_address is None) == (d.kind in no_ip) for d in devices)


def test_parents_are_at_the_same_site_and_cameras_hang_off_the_switch(db):
    load_demo_fleet(db, seed=7)
    db.commit()
    devices = db.scalars(select(Device)).all()
    for d in devices:
        if d.parent is not None:
            assert d.parent.site_id == d.site_id
        if d.kind in CAMERA_KINDS:
            assert d.parent.kind == "switch"
            assert d.snapshot_url == f"http://127.0.0.1:5082/cam/{d.code}/ISAPI/Streaming/channels/101/picture"
            assert d.snapshot_username == "admin" and len(d.snapshot_password) >= 12
        if d.kind in {"switch", "terminal", "capture_unit", "cabinet"} | set(CAMERA_KINDS):
            assert (d.snmp_version, d.snmp_port) == ("v2c", 161) and d.snmp_community
    communities = [d.snmp_community for d in devices if d.snmp_community]
    assert len(set(communities)) == len(communities)


def test_speed_cameras_carry_certificates_one_expired_some_due_soon(db):
    today = date(2026, 11, 23)
    load_demo_fleet(db, seed=7, today=today)
    db.commit()
    certs = db.scalars(select(MetrologyCertificate)).all()
    # F5: speed cameras and (issue 12) e-police cameras, the red-light enforcement devices, are certified
    assert certs and {c.device.kind for c in certs} == {"speed_camera", "epolice_camera"}
    speed = [c for c in certs if c.device.kind == "speed_camera"]
    assert sum(c.valid_until < today for c in speed) == 1
    assert any(0 <= (c.valid_until - today).days <= 30 for c in speed)


def test_demo_fleet_is_deterministic_and_loaded_only_once(db):
    a, b = generate_fleet(600, 11, date(2026, 1, 1)), generate_fleet(600, 11, date(2026, 1, 1))
    assert a == b and generate_fleet(600, 12, date(2026, 1, 1)) != a
    assert load_demo_fleet(db, seed=7)
    db.commit()
    n = db.scalar(select(func.count(Device.id)))
    assert load_demo_fleet(db, seed=7) == {}
    assert db.scalar(select(func.count(Device.id))) == n


def test_the_generator_scales_to_ten_thousand_devices_past_one_octet():
    fleet = generate_fleet(10_000, 1)
    ips = [d["ip_address"] for d in fleet.devices if d["ip_address"]]
    assert len(fleet.devices) >= 10_000 and len(set(ips)) == len(ips)
    assert len({d["code"] for d in fleet.devices}) == len(fleet.devices)
    assert ip_for(253) == "127.20.0.254" and ip_for(254) == "127.20.1.1"
    assert ip_for(254 * 256) == "127.21.0.1"


def test_a_demo_ticket_goes_to_the_qualified_crew_of_its_district(db):
    """T8 in the demo: each district has a crew member holding work at height and electrician, so a camera's job
    is dispatched to the crew of its site's district and nothing escalates as "nobody qualified"."""
    from fleetops.models.alerts import Alert
    from fleetops.services import tickets

    summary = load_demo_fleet(db, seed=7, n_devices=60, today=date(2026, 6, 21))
    db.commit()
    assert len(summary["crew"]) == 4
    cam = db.scalar(select(Device).where(Device.kind == DeviceKind.CHECKPOINT_CAMERA.value).order_by(Device.id))
    t = tickets.open_ticket(db, device_id=cam.id, category="offline", source="outage", opened_by="test")
    db.commit()
    assert t.assignee is not None and t.assignee.username.startswith("demo-crew-")
    assert t.assignee.district == cam.site.district
    assert not db.scalars(select(Alert).where(Alert.kind == "no_qualified_crew")).all()
    assert load_demo_fleet(db, seed=7, n_devices=60) == {}  # loaded once: no second crew

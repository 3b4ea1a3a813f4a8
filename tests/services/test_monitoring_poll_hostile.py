"""The poll cycle with a hostile SNMP agent beside good ones (issue 11, High): only the hostile device fails."""
from sqlalchemy import select

from fleetops.models import Device, Site
from fleetops.models.monitoring import ProbeResultRow
from fleetops.services.monitoring import poll_once
from probes.snmp import OCTET_STRING, SYS_UPTIME, TIMETICKS
from tests.probes.test_snmp_hostile import GOOD, _agent, _answer


def test_one_hostile_agent_leaves_the_cycle_and_the_good_devices_intact(make_app, db):
    app = make_app(PING_TIMEOUT_S=0.5, SNMP_TIMEOUT_S=1.0, POLL_INTERVAL_S=60)
    site = Site(code="K105", name="K105 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    db.add(site)
    db.commit()
    agents = {"K105-GOOD": ("127.0.0.1", _answer(GOOD)),
              "K105-HUGE": ("127.0.9.1", _answer({**GOOD, SYS_UPTIME: (TIMETICKS, b"\x01" + b"\x00" * 140)})),
              "K105-TEXT": ("127.0.9.2", _answer({**GOOD, SYS_UPTIME: (OCTET_STRING, b"soon")})),
              "K105-JUNK": ("127.0.9.3", lambda data: [b"\x30\x05\x02\x01\x01\x04\x00junk"])}
    closers = []
    try:
        for code, (address, reply) in agents.items():
            port, close = _agent(address, reply)
            closers.append(close)
            db.add(Device(code=code, kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                          ip_address=address, snmp_version="v2c", snmp_community="c", snmp_port=port,
                          liveness_probe="snmp"))
        db.add(Device(code="K105-PING", kind="checkpoint_camera", site_id=site.id, lifecycle="online",
                      ip_address="127.0.0.2"))
        db.commit()
        summary = poll_once(app)
    finally:
        for close in closers:
            close()
    assert summary.rejected == [] and summary.unknown_devices == []
    rows = {(code, r.probe): r for code, r in db.execute(
        select(Device.code, ProbeResultRow).join(ProbeResultRow, ProbeResultRow.device_id == Device.id))}
    assert rows[("K105-GOOD", "snmp")].ok and rows[("K105-GOOD", "snmp")].sys_uptime_s == 5000.0
    assert rows[("K105-PING", "ping")].ok  # the cycle's ping results are kept too
    for code in ("K105-HUGE", "K105-TEXT", "K105-JUNK"):
        row = rows[(code, "snmp")]
        assert not row.ok and row.sys_uptime_s is None, code

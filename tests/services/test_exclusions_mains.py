"""The system's own exclusion request (issue 10, U3): a site blackout whose cabinet power supply reports its mains
input lost asks, by itself, to be excluded as the power utility's — read from a real simulated SNMP agent on
loopback (the power_cut fault: the battery-backed power-supply monitor keeps answering, mains input 0 V)."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.monitoring import ExclusionRequest, SiteIncident
from fleetops.services.monitoring import IngestConfig, exclusions, ingest_results
from fleetops.simulator import Simulator
from fleetops.simulator.agents import SimDevice
from probes.snmp import SnmpTarget, get_many_sync

MIN = timedelta(minutes=1)
CFG = IngestConfig(poll_interval_s=60, down_after=3)
KINDS = {"K105-SW": "switch", "K105-CAM1": "checkpoint_camera", "K105-CAM2": "checkpoint_camera",
         "K105-PSU": "power_supply"}


@pytest.fixture
def site(db):
    s = Site(code="K105", name="K105 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
    db.add(s)
    db.flush()
    for i, (code, kind) in enumerate(KINDS.items(), start=1):
        db.add(Device(code=code, kind=kind, site_id=s.id, lifecycle="online", ip_address=f"127.0.0.{70 + i}",
                      liveness_probe="snmp", snmp_version="v2c", snmp_community="c"))
    db.commit()
    return s


@pytest.fixture
def sim():
    devices = [SimDevice(code, "K105", "127.0.0.1", port=0, community="c", kind=kind) for code, kind in KINDS.items()]
    with Simulator(devices, firewall=False, control_port=None, tick_s=0.05) as s:
        yield s


def poll(sim, at):
    """One real SNMP GET of every device, stamped as the poll at `at` (minutes pass without waiting for them)."""
    targets = [SnmpTarget(code, "127.0.0.1", sim.address(code)[1], community="c", kind=kind)
               for code, kind in KINDS.items()]
    results = get_many_sync(targets, None, 0.3, 8)
    for r in results:
        r.at = at
    return results


def requests(db):
    return db.scalars(select(ExclusionRequest).order_by(ExclusionRequest.id)).all()


def test_a_power_cut_whose_cabinet_reports_mains_loss_files_one_system_request(db, users, site, sim):
    t0 = utcnow().replace(second=0, microsecond=0) - 30 * MIN
    for m in range(2):  # mains present: 220 V, nothing to ask
        r = poll(sim, t0 + m * MIN)
        assert {x.target: x.metrics.get("input_voltage_v") for x in r if x.ok}["K105-PSU"] == 220.0
        ingest_results(db, r, CFG, now=t0 + m * MIN)
        db.commit()
    sim.add_fault("power_cut", site="K105")
    for m in range(2, 7):
        r = poll(sim, t0 + m * MIN)
        assert {x.target for x in r if x.ok} == {"K105-PSU"}  # on its battery, the only one answering
        assert next(x for x in r if x.ok).metrics["input_voltage_v"] == 0.0
        ingest_results(db, r, CFG, now=t0 + m * MIN)
        db.commit()
    inc = db.scalars(select(SiteIncident)).one()
    [req] = requests(db)
    assert (req.source, req.cause, req.state, req.site_incident_id) == ("system", "power_utility", "pending", inc.id)
    assert req.evidence["input_voltage_v"] == 0.0

    # Every later poll of the dark site reads 0 V again: no second request, pending or once decided.
    ingest_results(db, poll(sim, t0 + 7 * MIN), CFG, now=t0 + 7 * MIN)
    db.commit()
    assert len(requests(db)) == 1
    exclusions.reject(db, req.id, actor=users["supervisor"], note="供电局无停电记录")
    db.commit()
    ingest_results(db, poll(sim, t0 + 8 * MIN), CFG, now=t0 + 8 * MIN)
    db.commit()
    assert [r.state for r in requests(db)] == ["rejected"]


def test_the_threshold_is_a_parameter_and_a_lit_site_asks_nothing(db, site, sim):
    """A reading under the parameter without any blackout at the site asks nothing (the site is not dark)."""
    from fleetops.platform import parameters

    parameters.set_value(db, "mains_lost_below_v", 230, "admin")  # 220 V now counts as lost
    t0 = utcnow().replace(second=0, microsecond=0) - 10 * MIN
    for m in range(4):
        ingest_results(db, poll(sim, t0 + m * MIN), CFG, now=t0 + m * MIN)
        db.commit()
    assert requests(db) == [] and db.scalars(select(SiteIncident)).all() == []

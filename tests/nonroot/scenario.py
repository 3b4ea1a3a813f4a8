"""Run by tests/nonroot/test_demo_as_user.py as an ordinary user inside a network namespace of its own: the demo,
polled as that user. One step per invocation (`python scenario.py STEP`), printing one JSON line.

Environment: FLEETOPS_DATABASE_URL (a SQLite file the user owns), FLEETOPS_INSTANCE_PATH, SIM_CONTROL_PORT."""
import json
import os
import sys

from sqlalchemy import func, select, update

from fleetops import create_app
from fleetops.db import session_scope
from fleetops.models import Device
from fleetops.models.alerts import Alert
from fleetops.models.monitoring import Outage, ProbeResultRow

CONF = {"SNMP_TIMEOUT_S": 0.5, "TCP_TIMEOUT_S": 0.5, "PING_TIMEOUT_S": 0.5, "POLL_INTERVAL_S": 30}


def main(step: str) -> dict:
    app = create_app(dict(CONF, ICMP_MODE=os.environ.get("ICMP_MODE", "auto"),
                          LIVENESS_TCP_FALLBACK=os.environ.get("TCP_FALLBACK", "1") == "1"))
    factory = app.extensions["fleetops.sessionmaker"]
    if step == "load":
        from fleetops.services.inventory.demo import load_demo_fleet
        from fleetops.simulator.faults import nft_available

        with session_scope(factory) as s:
            summary = load_demo_fleet(s, n_devices=40, liveness="ping" if nft_available() else "tcp")
        return {"uid": os.geteuid(), "devices": summary["devices"], "nft": nft_available()}
    if step == "ping-liveness":  # the same fleet, now checked by ping (to see ICMP forbidden)
        with session_scope(factory) as s:
            s.execute(update(Device).values(liveness_probe="ping"))
        return {}
    if step == "poll":
        from fleetops.services.monitoring.poll import poll_once

        poll_once(app)
        with session_scope(factory) as s:
            status = dict(s.execute(select(Device.status, func.count()).where(Device.ip_address.is_not(None))
                                    .group_by(Device.status)).all())
            down = sorted(s.scalars(select(Device.code).join(Outage, Outage.device_id == Device.id)
                                    .where(Outage.ended_at.is_(None), Outage.retracted_at.is_(None))))
            from fleetops.domain.choices import IN_SERVICE

            in_service = s.scalar(select(func.count()).select_from(Device).where(
                Device.ip_address.is_not(None), Device.lifecycle.in_([x.value for x in IN_SERVICE])))
            ports = dict(s.execute(select(Device.code, Device.snmp_port).where(Device.snmp_version != "")).all())
            live_port = dict(s.execute(select(Device.code, Device.liveness_port)
                                       .where(Device.ip_address.is_not(None))).all())
            host_alerts = [a.title for a in s.scalars(select(Alert).where(Alert.kind == "probe_host_problem",
                                                                        Alert.state != "resolved"))]
            details = sorted({d for d in s.scalars(select(ProbeResultRow.detail).where(ProbeResultRow.ok))})
            failed_reasons = sorted({d for d in s.scalars(select(ProbeResultRow.detail)
                                                          .where(ProbeResultRow.ok.is_(False)))})
        return {"status": status, "in_service": in_service, "open_outages": down, "snmp_ports": sorted(set(ports.values())),
                "liveness_ports": sorted({p for p in live_port.values() if p}), "host_alerts": host_alerts,
                "ok_details": details, "failed_details": failed_reasons, "uid": os.geteuid()}
    raise SystemExit(f"unknown step {step}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), default=str))

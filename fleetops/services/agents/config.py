"""What an agent fetches from the centre (issue 14): its devices and the probe settings, with a version.

The version is a hash of the whole answer, sent as the HTTP ETag: the agent asks with If-None-Match and gets
304 until something it would probe differently has changed (a device added, moved, re-addressed, a setting).
The answer carries the devices' SNMP credentials (the agent needs them to poll): it goes to an authenticated
agent only, and is never logged."""
import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.models import Device
from fleetops.models.agents import ProbeAgent
from fleetops.services.agents.scope import owners
from fleetops.services.monitoring.settings import chunks

# The central configuration keys an agent's probing follows (the same names the central poll reads).
SETTING_KEYS = ("POLL_INTERVAL_S", "POLL_INTERVAL_BY_KIND", "PING_TIMEOUT_S", "SNMP_TIMEOUT_S", "TCP_TIMEOUT_S",
                "ICMP_MODE", "LIVENESS_TCP_FALLBACK", "POLL_CONCURRENCY")
DEFAULTS = {"POLL_INTERVAL_S": 60, "POLL_INTERVAL_BY_KIND": {}, "PING_TIMEOUT_S": 1.0, "SNMP_TIMEOUT_S": 2.0,
            "TCP_TIMEOUT_S": 1.0, "ICMP_MODE": "auto", "LIVENESS_TCP_FALLBACK": True, "POLL_CONCURRENCY": 512}


def agent_config(session: Session, agent: ProbeAgent, app_config) -> dict:
    """{"version", "agent", "settings", "devices": [...]} for `agent`; records the version it was given."""
    settings = {k: app_config.get(k, DEFAULTS[k]) for k in SETTING_KEYS}
    ids = sorted(owners(session, agent.id))
    devices = []
    cols = (Device.code, Device.kind, Device.ip_address, Device.liveness_probe, Device.liveness_port,
            Device.snmp_version, Device.snmp_port, Device.snmp_community, Device.snmp_v3_user,
            Device.snmp_v3_auth_protocol, Device.snmp_v3_auth_key, Device.snmp_v3_priv_protocol,
            Device.snmp_v3_priv_key)
    for chunk in chunks(ids):
        for r in session.execute(select(*cols).where(Device.id.in_(chunk))):
            snmp = None
            if r.snmp_version:
                snmp = {"version": r.snmp_version, "port": r.snmp_port or 161, "community": r.snmp_community,
                        "user": r.snmp_v3_user, "auth_protocol": r.snmp_v3_auth_protocol,
                        "auth_key": r.snmp_v3_auth_key, "priv_protocol": r.snmp_v3_priv_protocol,
                        "priv_key": r.snmp_v3_priv_key}
            devices.append({"code": r.code, "kind": r.kind, "address": r.ip_address, "liveness": r.liveness_probe,
                            "liveness_port": r.liveness_port, "snmp": snmp})
    devices.sort(key=lambda d: d["code"])
    body = {"agent": agent.name, "settings": settings, "devices": devices}
    version = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]
    agent.config_version = version
    return {"version": version, **body}

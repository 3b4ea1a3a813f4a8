"""The OIDs one SNMP GET asks for: system group, interfaces, and vendor health objects per device kind."""
from __future__ import annotations

from dataclasses import dataclass

from probes.base import ConfigError

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"  # .<ifIndex>; 1 up, 2 down, 7 lowerLayerDown …
# NET-SNMP-MIB netSnmpPlaypen: an arc meant for local/experimental objects. The simulator serves the
# health objects below there; a real vendor MIB is added with register_health_oids().
PLAYPEN = "1.3.6.1.4.1.8072.9999"


@dataclass(frozen=True)
class HealthOid:
    """A vendor health object: the metric it becomes (with its unit in the name) and a scale factor."""

    metric: str
    oid: str
    scale: float = 1.0


_TEMPERATURE = HealthOid("temperature_c", f"{PLAYPEN}.1.1.0")
_SUPPLY = HealthOid("supply_voltage_v", f"{PLAYPEN}.1.2.0", 0.1)
_LAMP = HealthOid("lamp_ok", f"{PLAYPEN}.1.3.0")
_INPUT = HealthOid("input_voltage_v", f"{PLAYPEN}.1.4.0", 0.1)

# device kind (the stored DeviceKind value) → extra OIDs read in the same GET
HEALTH_OIDS: dict[str, tuple[HealthOid, ...]] = {
    **{k: (_TEMPERATURE, _SUPPLY) for k in (
        "checkpoint_camera", "epolice_camera", "security_checkpoint", "speed_camera", "capture_unit")},
    "fill_light": (_LAMP, _TEMPERATURE),
    "strobe_light": (_LAMP, _TEMPERATURE),
    "switch": (_TEMPERATURE,),
    "terminal": (_TEMPERATURE,),
    "power_supply": (_INPUT,),
}


def register_health_oids(kind: str, *oids: HealthOid) -> None:
    """Add a kind's vendor health objects (e.g. from a vendor MIB); read in the same GET as sysUpTime."""
    for h in oids:
        _check_oid(h.oid)
    HEALTH_OIDS[kind] = tuple(oids)

def check_oid(oid: str) -> str:
    """The OID in canonical dotted form; ConfigError("bad_oid") when it is not numeric."""
    parts = oid.strip().strip(".").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise ConfigError("bad_oid", f"not a numeric OID: {oid!r}", oid=str(oid))
    return ".".join(parts)


_check_oid = check_oid

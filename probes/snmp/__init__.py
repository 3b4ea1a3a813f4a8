"""SNMP probes: one GET per device for uptime, identity, interfaces and vendor health; v2c and v3.

- `oids.py`   the OIDs asked for (system group, ifOperStatus, vendor health per device kind)
- `target.py` `SnmpTarget`: where and how to ask one device; a bad config raises `ConfigError`
- `ber.py`    our small BER codec for v2c messages (the simulator's agents use it too)
- `poller.py` `SnmpPoller` (one UDP socket for v2c, one pysnmp engine for v3), `get_many_sync`, `get_one`

Callers import from `probes.snmp` as before.
"""
from probes.snmp.ber import (  # noqa: F401
    COUNTER32, COUNTER64, END_OF_MIB_VIEW, GAUGE32, GET, GET_BULK, GET_NEXT, INTEGER, IP_ADDRESS, NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT, NULL, OBJECT_ID, OCTET_STRING, OPAQUE, REPORT, RESPONSE, SET, TIMETICKS, BerError, decode_message,
    decode_value, encode_message, encode_value, from_pysnmp, oid_tuple,
)
from probes.snmp.oids import (  # noqa: F401
    HEALTH_OIDS, IF_NUMBER, IF_OPER_STATUS, PLAYPEN, SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, HealthOid, check_oid,
    register_health_oids,
)
from probes.snmp.poller import PROBE, SnmpPoller, get_many, get_many_sync, get_one, interpret  # noqa: F401
from probes.snmp.target import AUTH_PROTOCOLS, PRIV_PROTOCOLS, V2C, V3, SnmpTarget  # noqa: F401

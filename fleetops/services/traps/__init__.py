"""SNMP traps as evidence and early warning (issue 17 part 2).

- `definitions` trap OID → meaning, severity, effect (data: definitions.json, plus TRAP_DEFINITIONS_FILE)
- `record`      store a trap (device matched by source address) and apply its effect
- `receiver`    the UDP receiver (v1/v2c/v3), `fleetops traps` and `fleetops run` start it
- `queries`     the traps page and the CLI listing
"""
from fleetops.services.traps.queries import UNKNOWN, list_traps, meanings  # noqa: F401
from fleetops.services.traps.receiver import TrapReceiver, default_port  # noqa: F401
from fleetops.services.traps.record import record_trap  # noqa: F401

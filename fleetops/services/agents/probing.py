"""The probing half of the poll for a probe agent (issue 14): no database, only the device list and settings
the centre sent. The probes and the rules (liveness method, TCP fallback, SNMP counts too, local failures never
reported as the device's) are the central poll's own (`monitoring/poll.probe_all`, `split_local`)."""
from datetime import datetime, timezone

from fleetops.domain.choices import liveness_tcp_port
from fleetops.services.monitoring.parse import stored_reason
from fleetops.services.monitoring.poll import probe_all, split_local


class Targets:
    """The probe targets of one device list, built once per config version (10,000 devices: built once, not
    every cycle)."""

    def __init__(self, config: dict):
        from probes.snmp import SnmpTarget

        self.settings = dict(config.get("settings") or {})
        self.version = config.get("version", "")
        self.interval_s = int(self.settings.get("POLL_INTERVAL_S") or 60)
        by_kind = self.settings.get("POLL_INTERVAL_BY_KIND") or {}
        self.pings, self.tcps, self.snmps, self.ports, self.problems = [], [], [], {}, []
        self.interval_of: dict[str, int] = {}
        for d in config.get("devices") or ():
            code, kind, address, liveness = d["code"], d.get("kind", ""), d.get("address"), d.get("liveness")
            self.interval_of[code] = int(by_kind.get(kind, self.interval_s))
            if liveness in ("ping", "tcp"):
                self.ports[code] = liveness_tcp_port(kind, d.get("liveness_port"))
            if liveness == "ping":
                self.pings.append((code, address))
            elif liveness == "tcp":
                self.tcps.append((code, address, self.ports[code]))
            snmp = d.get("snmp")
            if snmp:
                try:
                    self.snmps.append(SnmpTarget(
                        key=code, address=address, port=snmp.get("port") or 161, version=snmp["version"],
                        community=snmp.get("community"), user=snmp.get("user"),
                        auth_protocol=snmp.get("auth_protocol"), auth_key=snmp.get("auth_key"),
                        priv_protocol=snmp.get("priv_protocol"), priv_key=snmp.get("priv_key"), kind=kind))
                except ValueError:  # bad probe config: name the device, never the secret
                    self.problems.append(code)

    def __len__(self) -> int:
        return len(self.interval_of)

    def due(self, last: dict[str, float], now_s: float):
        """(pings, tcps, snmps) of the devices due now; a per-kind slower interval waits its turn."""
        def is_due(code):
            interval = self.interval_of.get(code, self.interval_s)
            at = last.get(code)
            return interval <= self.interval_s or at is None or now_s - at >= interval - self.interval_s / 2

        return ([p for p in self.pings if is_due(p[0])], [t for t in self.tcps if is_due(t[0])],
                [s for s in self.snmps if is_due(s.key)])


def probe(targets: Targets, last: dict[str, float] | None = None) -> tuple[list[dict], int, str]:
    """Probe the due devices: (result lines as in docs/results-format.md, local failures, how ping was done).
    `last` (code → epoch seconds of its last probe) is updated."""
    last = {} if last is None else last
    now_s = datetime.now(timezone.utc).timestamp()
    pings, tcps, snmps = targets.due(last, now_s)
    if not (pings or tcps or snmps):
        return [], 0, "none"
    results, ping_mode = probe_all(pings, tcps, snmps, targets.ports, _conf(targets.settings))
    keep, local = split_local(results)
    for code in {p[0] for p in pings} | {t[0] for t in tcps} | {s.key for s in snmps}:
        last[code] = now_s
    return [result_line(r) for r in keep], len(local), ping_mode


def _conf(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if v is not None}


def result_line(r) -> dict:
    """A ProbeResult → one result line (the failed probe's reason kept as its stored sentence)."""
    line = {"device": r.target, "probe": r.probe, "ok": bool(r.ok), "at": r.at.isoformat()}
    metrics = {k: v for k, v in (r.metrics or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if metrics:
        line["metrics"] = metrics
    detail = stored_reason(r) if not r.ok else (r.detail or "")
    if detail:
        line["detail"] = detail
    return line

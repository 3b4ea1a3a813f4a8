"""/metrics: Prometheus text exposition (version 0.0.4) for an existing Grafana. Metric names and labels are an
interface other systems scrape: never rename one."""
from datetime import datetime

from sqlalchemy.orm import Session

from fleetops.models.base import utcnow
from fleetops.services.reports import queries

from fleetops.services import monitoring as uptime


def last_poll(session: Session, poll_interval_s: int = 60, now: datetime | None = None) -> dict | None:
    """The latest poll cycle as the stored results show it (the poller runs in another process): each result carries
    its own probe time, so the spread of the times within the last cycle is how long probing the fleet took."""
    now = now or utcnow()
    times = queries.poll_times(session, now, poll_interval_s)
    if times is None:
        return None
    first, latest = times
    return {"duration_s": round((latest - first).total_seconds(), 3), "age_s": round((now - latest).total_seconds(), 3),
            "at": latest.timestamp()}


def metrics_text(session: Session, poll_interval_s: int = 60) -> str:
    """The exposition text: devices, online ratio, tickets, breaches, alerts, the outbox and the last poll."""
    status = uptime.fleet_status(session)
    now = utcnow()
    open_tickets = queries.count_open_tickets(session)
    overdue = queries.count_arrival_overdue(session, now)
    breaches = queries.breaches_by_deadline(session)
    alerts_open = queries.open_alerts_by_severity(session)
    outbox = queries.deliveries_by_state(session)
    poll = last_poll(session, poll_interval_s, now)
    lines = []

    def metric(name, kind, help_, samples):
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {_num(value)}" if lab else f"{name} {_num(value)}")

    metric("fleetops_devices_in_service", "gauge", "In-service devices with an address.",
           [({}, status["in_service"])])
    metric("fleetops_devices", "gauge", "Devices by monitoring status.",
           [({"status": k}, v) for k, v in sorted(status["by_status"].items())])
    metric("fleetops_devices_down", "gauge", "Devices down, hung or unreachable now.",
           [({}, sum(v for k, v in status["by_status"].items() if k in queries.DOWN_STATUSES))])
    metric("fleetops_online_ratio", "gauge", "Share of in-service devices online now (0-1).",
           [({"scope": "all"}, _ratio(status["online_rate_pct"])),
            ({"scope": "contract"}, _ratio(status["contract_online_rate_pct"]))])
    metric("fleetops_tickets_open", "gauge", "Open tickets.", [({}, open_tickets)])
    metric("fleetops_tickets_arrival_overdue", "gauge", "Open tickets past their arrival deadline.",
           [({}, overdue)])
    metric("fleetops_deadline_breaches_total", "counter", "Recorded deadline breaches.",
           [({"which": w}, breaches.get(w, 0)) for w in ("respond", "arrive", "repair")])
    metric("fleetops_alerts_open", "gauge", "Open alerts by severity.",
           [({"severity": s}, alerts_open.get(s, 0)) for s in ("info", "warning", "critical")])
    metric("fleetops_alert_deliveries", "gauge", "Alert outbox messages by state.",
           [({"state": s}, outbox.get(s, 0)) for s in ("pending", "delivered", "failed", "cancelled")])
    if poll is not None:
        metric("fleetops_poll_cycle_duration_seconds", "gauge",
               "Probe phase of the latest poll cycle: spread of its results' probe times.", [({}, poll["duration_s"])])
        metric("fleetops_poll_last_result_age_seconds", "gauge", "Seconds since the newest probe result.",
               [({}, poll["age_s"])])
    return "\n".join(lines) + "\n"


def _esc(v) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v) -> str:
    if v is None:
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def _ratio(pct_value) -> float | None:
    return None if pct_value is None else round(pct_value / 100, 6)

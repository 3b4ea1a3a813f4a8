"""In-process domain events: one area announces (outage_opened), others react (tickets, alerts).

Handlers are connected in one place, `fleetops.wiring.SUBSCRIPTIONS`, never by importing a module.
They run synchronously inside the emitter's transaction, so a ticket opened for an outage commits or
rolls back with it. Event names are past tense; `EVENTS` lists every one with its payload, and
`connect` refuses an event that is not listed (a typo would otherwise never fire).
"""
import logging
from collections import defaultdict
from typing import Callable

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

EVENTS: dict[str, str] = {
    "outage_opened": "outage_id, device_id, started_at, detected_at",
    "outage_closed": "outage_id, device_id, ended_at",
    "site_incident_opened": "incident_id, site_id, started_at, detected_at",
    "site_incident_closed": "incident_id, site_id, ended_at",
    "device_rebooted": "device_id, at",
    "device_flapping": "device_id, at",
    "device_hung": "device_id, at",
    "outage_cause_set": "outage_id, cause, by",
    "stock_below_minimum": "part_type_id, location_id, on_hand, minimum",
    "quality_finding_opened": "finding_id, device_id, kind",
    "quality_finding_cleared": "finding_id, device_id",
    "plate_accuracy_below_target": "device_id, month, period, accuracy, target",
    "ticket_opened": "ticket_id",
    "ticket_transitioned": "ticket_id, from_state, to_state",
    "deadline_approaching": "ticket_id, which, due_at",
    "deadline_breached": "ticket_id, which, due_at",
    "penalty_threshold_approaching": "policy_key, cumulative, threshold, contract_total, share_pct",
    "penalty_threshold_crossed": "policy_key, cumulative, threshold, contract_total, share_pct",
    "cabinet_mains_lost": "site_id, at, input_voltage_v",
    "exclusion_requested": "request_id, outage_id, site_incident_id, cause, source",
    "exclusion_decided": "request_id, state, by",
    "probe_agent_silent": "agent, agent_id, last_seen_at, devices",
    "probe_agent_back": "agent, agent_id",
    "no_data_found": "device_id, alert_id, summary, detected_at",
    "alert_raised": "alert_id, key, kind",
    "alert_resolved": "alert_id, key, kind",
    # P3: inspections
    "inspection_overdue": "plan_id, plan_name, district, period_start, due_at, count, order_ids",

    # maintenance windows (services/maintenance): one note to the alert group per occurrence, instead of alarms
    "maintenance_window_started": "window_id, starts_at, ends_at",
    "maintenance_window_ended": "window_id, ended_at",
}

_handlers: dict[str, list[Callable]] = defaultdict(list)


def connect(event: str, handler: Callable) -> None:
    """Subscribe `handler(session, **payload)` to `event` (idempotent)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}; add it to fleetops.platform.events.EVENTS")
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def disconnect(event: str, handler: Callable) -> None:
    """Remove one subscription (tests listening for a while)."""
    if handler in _handlers.get(event, ()):
        _handlers[event].remove(handler)


def emit(session: Session, event: str, **payload) -> None:
    """Call every handler of `event` in the caller's transaction; a handler's error propagates."""
    for handler in list(_handlers.get(event, ())):
        handler(session, **payload)


def handlers(event: str) -> list[Callable]:
    return list(_handlers.get(event, ()))


def subscriptions() -> list[tuple[str, Callable]]:
    return [(event, h) for event, hs in _handlers.items() for h in hs]

"""In-process domain events: one area announces (outage_opened), others react (tickets, alerts).

Handlers are connected in one place, `fleetops.wiring.SUBSCRIPTIONS`, never by importing a module.
They run synchronously inside the emitter's transaction, so a ticket opened for an outage commits or
rolls back with it. Event names are past tense; `EVENTS` lists every one with its payload, and
`connect` refuses an event that is not listed (a typo would otherwise never fire).
"""
import logging
from collections import defaultdict
from contextlib import contextmanager
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
    """Call every handler of `event` in the caller's transaction; a handler's error propagates.
    Inside `deferred(session, event)` the payload is kept and announced when that block ends."""
    held = session.info.get(_DEFERRED)
    if held is not None and event in held:
        held[event].append(payload)
        return
    for handler in list(_handlers.get(event, ())):
        handler(session, **payload)


def handles_batches(many: Callable) -> Callable:
    """Decorator for a handler that can also take a whole batch of the event at once: `many(session, payloads)`,
    the payloads in the order they were announced. `emit_many` calls it once instead of the handler per payload;
    the handler itself (one payload) stays what `emit` calls."""
    def mark(handler: Callable) -> Callable:
        handler.many = many
        return handler
    return mark


def emit_many(session: Session, event: str, payloads: list[dict]) -> None:
    """Announce several occurrences of `event` together (a blackout's site incidents, one transaction): each
    handler in turn, in the wired order, takes all of them — in one call when it handles batches, else once per
    payload — before the next handler runs. The emitter promises that one payload's handling does not depend on
    another payload's later handlers (e.g. the incidents of different sites), so the outcome is the one of
    emitting them one by one, at a fraction of the queries."""
    if not payloads:
        return
    held = session.info.get(_DEFERRED)
    if held is not None and event in held:
        held[event].extend(payloads)
        return
    for handler in list(_handlers.get(event, ())):
        many = getattr(handler, "many", None)
        if many is not None:
            many(session, [dict(p) for p in payloads])
        else:
            for payload in payloads:
                handler(session, **payload)


_DEFERRED = "fleetops.events.deferred"


@contextmanager
def deferred(session: Session, *names: str):
    """Hold the events `names` emitted inside the block and announce them (emit_many, in order) when it ends —
    for a batch whose per-item events would each cost a query in their handlers. Only for events whose handlers
    touch nothing the rest of the block reads. Nested blocks hold the outer block's events too; an error inside
    the block drops what was held (the transaction is going back anyway)."""
    held = session.info.get(_DEFERRED)
    mine = {n: [] for n in names if held is None or n not in held}
    if held is None:
        held = session.info[_DEFERRED] = {}
    held.update(mine)
    try:
        yield
    finally:
        for n in mine:
            held.pop(n, None)
        if not held:
            session.info.pop(_DEFERRED, None)
    for n, payloads in mine.items():
        emit_many(session, n, payloads)


def handlers(event: str) -> list[Callable]:
    return list(_handlers.get(event, ()))


def subscriptions() -> list[tuple[str, Callable]]:
    return [(event, h) for event, hs in _handlers.items() for h in hs]

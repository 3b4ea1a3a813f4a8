"""In-process domain events: one area announces (outage_opened), others react (tickets, alerts).

Handlers run synchronously inside the emitter's transaction, so a ticket opened for an outage
commits or rolls back with it. Event names are past tense. Known events and their payloads:

- outage_opened(outage_id, device_id, started_at, detected_at)
- outage_closed(outage_id, device_id, ended_at)
- site_incident_opened(incident_id, site_id, started_at, detected_at)
- site_incident_closed(incident_id, site_id, ended_at)
- device_rebooted(device_id, at), device_flapping(device_id, at), device_hung(device_id, at)
- outage_cause_set(outage_id, cause, by)
- stock_below_minimum(part_type_id, location_id, on_hand, minimum)
- quality_finding_opened(finding_id, device_id, kind), quality_finding_cleared(finding_id, device_id)
- ticket_opened / ticket_transitioned(ticket_id, from_state, to_state), deadline_approaching(ticket_id, which, due_at)
"""
import logging
from collections import defaultdict
from typing import Callable

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_handlers: dict[str, list[Callable]] = defaultdict(list)


def subscribe(event: str):
    """Decorator: `@subscribe("outage_opened") def h(session, **payload): ...`."""

    def register(func: Callable) -> Callable:
        if func not in _handlers[event]:
            _handlers[event].append(func)
        return func

    return register


def emit(session: Session, event: str, **payload) -> None:
    """Call every handler of `event` in the caller's transaction; a handler's error propagates."""
    for handler in list(_handlers.get(event, ())):
        handler(session, **payload)


def handlers(event: str) -> list[Callable]:
    return list(_handlers.get(event, ()))

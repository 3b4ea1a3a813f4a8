"""A ticket's history: one TicketEvent row per thing that happened, and the state-machine step that writes it.

History notes written by the system are stored `Msg` forms (msgid + parameters), so the history page shows
them in the reader's language; notes a person typed stay free text. Other areas (spares) write their lines
through `log_event`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from fleetops.domain import tickets as rules
from fleetops.domain.text import Msg, stored
from fleetops.models.base import utcnow
from fleetops.models.tickets import Ticket, TicketEvent
from fleetops.platform import audit, events
from fleetops.platform.idempotency import actor_name


def log_event(session: Session, t: Ticket, action: str, actor, *, from_state="", note: Msg | str = "", data=None,
              at: datetime | None = None) -> TicketEvent:
    """Add one line to the ticket's history (`note` a Msg, kept as its stored form, or free text)."""
    line = TicketEvent(ticket_id=t.id, at=at or utcnow(), actor_name=actor_name(actor), action=action,
                       from_state=from_state, to_state=t.state, note=stored(note), data=data)
    session.add(line)
    return line


def move(session: Session, t: Ticket, action: str, actor, at: datetime, note: Msg | str = "", data=None) -> str:
    """Apply one transition of the state machine, with history, audit (A3) and the ticket_transitioned event."""
    before = t.state
    t.state = rules.transition(t.state, action)
    log_event(session, t, action, actor, from_state=before, note=note, data=data, at=at)
    audit.record(session, actor, f"ticket_{action}", "ticket", t.id, summary=note or Msg("%(before)s → %(after)s", before=_state_msg(before),
                                                                              after=_state_msg(t.state)),
                 before={"state": before}, after={"state": t.state, **(data or {})})
    events.emit(session, "ticket_transitioned", ticket_id=t.id, from_state=before, to_state=t.state)
    return before


def _state_msg(state: str) -> Msg | str:
    """A state as its label (the audit summary reads 已派单 → 已出发, not dispatched → on_the_way)."""
    label = rules.TicketState._LABELS.get(state)
    return Msg(label, context="TicketState") if label else state

"""A3: the audit trail — every change to inventory, tickets, outage causes, stock and contract numbers."""
from sqlalchemy.orm import Session

from fleetops.domain.text import stored
from fleetops.models import AuditLog

REDACTED = "••••••"


def redact(values: dict | None, secret_fields=()) -> dict | None:
    """Copy of `values` with secrets replaced: the audit log is shown to people (STYLE §4)."""
    if values is None:
        return None
    return {k: (REDACTED if k in secret_fields and v else v) for k, v in values.items()}


def record(session: Session, actor, action: str, entity_type: str, entity_id, summary="",
           before: dict | None = None, after: dict | None = None, secret_fields=()) -> AuditLog:
    """Add one audit row in the caller's transaction. `actor` is a User, a name, or None (system).

    `summary` is a `Msg` (kept as its msgid and parameters, shown in the reader's language) or free text."""
    actor_id = getattr(actor, "id", None)
    actor_name = getattr(actor, "username", None) or (actor if isinstance(actor, str) else "system")
    entry = AuditLog(
        actor_id=actor_id, actor_name=actor_name, action=action, entity_type=entity_type,
        entity_id=str(entity_id if entity_id is not None else ""), summary=stored(summary),
        before=_jsonable(redact(before, secret_fields)), after=_jsonable(redact(after, secret_fields)),
    )
    session.add(entry)
    return entry


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _jsonable(values):
    if values is None:
        return None
    out = {}
    for k, v in values.items():
        if v is None or isinstance(v, (str, int, float, bool, list, dict)):
            out[k] = v
        else:
            out[k] = str(v) if not hasattr(v, "isoformat") else v.isoformat()
    return out

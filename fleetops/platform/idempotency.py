"""Idempotency for actions a tablet may resend: a client-made request id claimed as the first write.

Used by tickets and spares (and any area whose actions cross an unreliable link)."""
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleetops.domain.errors import DuplicateRequest
from fleetops.domain.text import Msg
from fleetops.models.tickets import RequestKey

ALREADY_APPLIED = "This action was already applied; it was not repeated."


def claim_request(session: Session, request_id: str | None, action: str, entity_id="") -> None:
    """Record `request_id` as the transaction's first write; a repeat raises DuplicateRequest.

    Two copies arriving at once both insert; the unique key lets one through and the other fails
    here, before it has changed anything."""
    if not request_id:
        return
    request_id = str(request_id)[:64]
    if session.get(RequestKey, request_id) is not None:
        raise DuplicateRequest(Msg(ALREADY_APPLIED), request_id=request_id)
    session.add(RequestKey(request_id=request_id, action=action, entity_id=str(entity_id)))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise DuplicateRequest(Msg(ALREADY_APPLIED), request_id=request_id) from None


def actor_name(actor) -> str:
    """The name an audit or history row records for `actor` (a User, a name, or None → "system")."""
    return getattr(actor, "username", None) or (actor if isinstance(actor, str) and actor else "system")

"""Issue 13: read-only display tokens for the wall screen. An admin creates one (shown once), the duty room's
screen opens `/wall?token=…`; it grants the wall view and its JSON only, never a user's rights. Revocable;
creation, revocation and the first use after each start of the screen are audited."""
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import NotFound
from fleetops.domain.inputs import text as text_input
from fleetops.domain.text import Msg
from fleetops.models.base import utcnow
from fleetops.models.display import DisplayToken
from fleetops.platform import audit

DISPLAY_PREFIX = "fw_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_display_token(session: Session, name: str, actor=None) -> tuple[DisplayToken, str]:
    """Issue a display token; the plain token is returned once and never stored."""
    name = text_input(name, "name", max_length=100, required=True)
    token = DISPLAY_PREFIX + secrets.token_urlsafe(32)
    row = DisplayToken(name=name, token_hash=_hash(token), prefix=token[:10], created_by=getattr(actor, "id", None))
    session.add(row)
    session.flush()
    audit.record(session, actor, "display_token_created", "display_token", row.id,
                 summary=Msg("Wall-screen token created: %(name)s (%(prefix)s…)", name=name, prefix=row.prefix))
    return row, token


def display_token_valid(session: Session, token: str, touch: bool = True) -> DisplayToken | None:
    """The live token row for `token`, or None (unknown, malformed or revoked)."""
    if not token or not token.startswith(DISPLAY_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(DisplayToken).where(DisplayToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    if touch:
        row.last_used_at = utcnow()
        row.uses = (row.uses or 0) + 1
    return row


def record_display_opened(session: Session, row: DisplayToken, address: str = "") -> None:
    """A screen exchanged the token in its URL for a cookie: one audit row per opening (not per poll)."""
    audit.record(session, "display:" + row.prefix, "display_token_used", "display_token", row.id,
                 summary=Msg("Wall screen opened with token %(name)s from %(address)s", name=row.name,
                             address=address or "?"))


def revoke_display_token(session: Session, token_id: int, actor=None) -> None:
    row = session.get(DisplayToken, token_id)
    if row is None:
        raise NotFound(Msg("No such token."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor, "display_token_revoked", "display_token", row.id,
                     summary=Msg("Wall-screen token revoked: %(name)s (%(prefix)s…)", name=row.name,
                                 prefix=row.prefix))


def list_display_tokens(session: Session) -> list[DisplayToken]:
    return list(session.scalars(select(DisplayToken).order_by(DisplayToken.created_at.desc(), DisplayToken.id.desc())))

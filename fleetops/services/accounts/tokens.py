"""Per-user API tokens: issued once in plain text, only the hash is stored; revocable."""
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.text import Msg
from fleetops.domain.errors import NotFound
from fleetops.models import ApiToken, User
from fleetops.models.base import utcnow
from fleetops.platform import audit
from fleetops.services.accounts.users import get_user

TOKEN_PREFIX = "fo_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_token(token: str) -> str:
    """The stored form of a token (SHA-256 hex): probe agents' tokens are kept the same way."""
    return _hash(token)


def create_token(session: Session, username: str, name: str = "", actor=None) -> tuple[ApiToken, str]:
    """Issue a token for a user; the plain token is returned once and never stored."""
    user = get_user(session, username)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name or "api", token_hash=_hash(token), prefix=token[:10])
    session.add(row)
    session.flush()
    audit.record(session, actor, "token_created", "api_token", row.id, summary=f"{username}: {row.prefix}…")
    return row, token


def user_for_token(session: Session, token: str) -> User | None:
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = utcnow()
    return row.user


def revoke_token(session: Session, token_id: int, actor=None) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(Msg("No such token."))
    row.revoked_at = utcnow()
    audit.record(session, actor, "token_revoked", "api_token", row.id, summary=row.prefix)

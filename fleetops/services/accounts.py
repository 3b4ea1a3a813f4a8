"""Users, passwords (hashed) and per-user API tokens (only the hash is stored)."""
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from fleetops.domain.choices import Role
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.models import ApiToken, User
from fleetops.models.base import utcnow
from fleetops.platform import audit

TOKEN_PREFIX = "fo_"


def create_user(session: Session, username: str, role: str, password: str | None = None,
                display_name: str = "", district: str = "", actor=None) -> tuple[User, str]:
    """Create a user; returns (user, password). A random password is made when none is given."""
    username = (username or "").strip()
    if not username:
        raise ValidationFailed("用户名不能为空 / A user name is required.")
    try:
        role = Role(role).value
    except ValueError:
        raise ValidationFailed(f"未知角色 {role!r}：应为 admin、supervisor 或 crew / Unknown role {role!r}.") from None
    if session.scalar(select(User).where(User.username == username)):
        raise ConflictError(f"用户 {username} 已存在 / User {username} already exists.")
    password = password or secrets.token_urlsafe(12)
    if len(password) < 8:
        raise ValidationFailed("密码至少 8 位 / The password needs at least 8 characters.")
    user = User(username=username, role=role, display_name=display_name or username, district=district,
                password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    audit.record(session, actor, "user_created", "user", user.id, summary=f"{username} ({role})",
                 after={"username": username, "role": role, "district": district})
    return user, password


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    if user and user.active and check_password_hash(user.password_hash, password or ""):
        return user
    return None


def set_password(session: Session, user: User, password: str, actor=None) -> None:
    if len(password or "") < 8:
        raise ValidationFailed("密码至少 8 位 / The password needs at least 8 characters.")
    user.password_hash = generate_password_hash(password)
    audit.record(session, actor, "password_changed", "user", user.id, summary=user.username)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, username: str, name: str = "", actor=None) -> tuple[ApiToken, str]:
    """Issue a token for a user; the plain token is returned once and never stored."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"没有用户 {username} / No user {username}.")
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
        raise NotFound("没有这个令牌 / No such token.")
    row.revoked_at = utcnow()
    audit.record(session, actor, "token_revoked", "api_token", row.id, summary=row.prefix)

"""Users: create (random password when none is given), authenticate, change a password (hashed)."""
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from fleetops.domain.choices import Role
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import User
from fleetops.platform import audit

MIN_PASSWORD = 8
TOO_SHORT = Msg("The password needs at least 8 characters.")


def create_user(session: Session, username: str, role: str, password: str | None = None,
                display_name: str = "", district: str = "", actor=None) -> tuple[User, str]:
    """Create a user; returns (user, password). A random password is made when none is given."""
    username = (username or "").strip()
    if not username:
        raise ValidationFailed(Msg("A user name is required."))
    try:
        role = Role(role).value
    except ValueError:
        raise ValidationFailed(Msg("Unknown role %(role)r: use admin, supervisor or crew.", role=role)) from None
    if session.scalar(select(User).where(User.username == username)):
        raise ConflictError(Msg("User %(name)s already exists.", name=username))
    password = password or secrets.token_urlsafe(12)
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(TOO_SHORT)
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
    if len(password or "") < MIN_PASSWORD:
        raise ValidationFailed(TOO_SHORT)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    audit.record(session, actor, "password_changed", "user", user.id, summary=user.username)


def end_sessions(user: User) -> None:
    """Every session cookie issued to `user` so far stops working (logout, password change)."""
    user.session_version = (user.session_version or 1) + 1


def log_out(session: Session, user: User) -> None:
    """Logout: end the user's sessions everywhere (a copied or replayed cookie included)."""
    end_sessions(user)


def record_login_throttled(session: Session, username: str, address: str, scope: str) -> None:
    """An audit line when sign-ins are refused for too many failures (`scope`: "account" or "address")."""
    username = (username or "").strip()[:80]
    user_id = session.scalar(select(User.id).where(User.username == username)) if username else None
    if scope == "account":
        summary = Msg("Sign-in paused for account %(name)s after too many wrong passwords (from %(address)s).",
                      name=username, address=address)
    else:
        summary = Msg("Sign-in paused for address %(address)s after too many wrong passwords (last tried: %(name)s).",
                      name=username, address=address)
    audit.record(session, None, "login_throttled", "user", user_id if user_id is not None else username,
                 summary=summary, after={"username": username, "address": address, "scope": scope})


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(Msg("No user %(name)s.", name=username))
    return user


def set_password_of(session: Session, username: str, password: str, actor=None) -> User:
    """`fleetops set-password USER`: the user by name, then set_password."""
    user = get_user(session, username)
    set_password(session, user, password, actor)
    return user


def create_first_admin(session: Session) -> str | None:
    """First start: create `admin` with a random password and return it (once); None when any user exists."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    _user, password = create_user(session, "admin", "admin", display_name="管理员", actor="setup")
    return password

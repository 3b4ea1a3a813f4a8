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


def known_districts(session: Session) -> list[str]:
    """The districts of the inventory (sites and depots): what a district field offers, never typed free."""
    from fleetops.models import Depot, Site

    names = set(session.scalars(select(Site.district).distinct())) | set(session.scalars(select(Depot.district)
                                                                                           .distinct()))
    return sorted(d for d in names if d)


def update_user(session: Session, user_id: int, *, display_name: str, role: str, district: str, active: bool,
                actor) -> User:
    """An admin changes a user's name, role, district or whether the account works. Disabling ends every session
    of the user at once (their session version moves on) and they can no longer log in; an admin cannot disable
    or demote their own account (there would be no way back). Audited (A3)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(Msg("No user %(name)s.", name=user_id))
    try:
        role = Role(role).value
    except ValueError:
        raise ValidationFailed(Msg("Choose a role.")) from None
    district = (district or "").strip()
    if district and district not in known_districts(session):
        raise ValidationFailed(Msg("District: choose one of the districts of the inventory."))
    display_name = (display_name or "").strip()[:100] or user.username
    if getattr(actor, "id", None) == user.id and (not active or role != user.role):
        raise ConflictError(Msg("You cannot disable your own account or change your own role."))
    before = {"display_name": user.display_name, "role": user.role, "district": user.district, "active": user.active}
    user.display_name, user.role, user.district, user.active = display_name, role, district, bool(active)
    after = {"display_name": user.display_name, "role": user.role, "district": user.district, "active": user.active}
    if before == after:
        return user
    if before["active"] and not user.active:
        end_sessions(user)
        action = "user_disabled"
    elif not before["active"] and user.active:
        action = "user_enabled"
    else:
        action = "user_updated"
    if before["role"] != user.role:
        end_sessions(user)  # a new role starts with a new sign-in
    changed_before, changed_after = audit.diff(before, after)
    audit.record(session, actor, action, "user", user.id, summary=user.username, before=changed_before,
                 after=changed_after)
    return user


def reset_password(session: Session, user_id: int, actor) -> tuple[User, str]:
    """An admin gives a user a new random password (shown once to the admin); the user's sessions end. Audited."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(Msg("No user %(name)s.", name=user_id))
    password = secrets.token_urlsafe(12)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    audit.record(session, actor, "password_reset", "user", user.id, summary=user.username)
    return user, password

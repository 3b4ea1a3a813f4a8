"""Reads for the administration pages: users, tokens, and the audit log (filtered, paged in SQL)."""
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.models import ApiToken, AuditLog, User

AUDIT_PER_PAGE = 50
AUDIT_FILTERS = ("entity_type", "entity_id", "actor", "action")


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def session_user(session: Session, session_id) -> User | None:
    """The logged-in user behind a session cookie's id ("<user id>:<session version>"): None when unknown,
    malformed, disabled, or from before the user's last logout or password change."""
    try:
        user_id, version = str(session_id).split(":")
        user = session.get(User, int(user_id))
        version = int(version)
    except (TypeError, ValueError):
        return None
    if user is None or not user.active or version != (user.session_version or 1):
        return None
    return user


def active_usernames(session: Session) -> list[str]:
    return list(session.scalars(select(User.username).where(User.active.is_(True)).order_by(User.username)))


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


@dataclass
class AuditPage:
    rows: list
    page: int
    pages: int
    total: int
    entity_types: list[str]
    actors: list[str]


def audit_page(session: Session, filters: dict, page=1, per_page: int = AUDIT_PER_PAGE) -> AuditPage:
    """One page of the audit log, newest first, with the values the filter lists offer."""
    f = {k: (filters.get(k) or "").strip() for k in AUDIT_FILTERS}
    conds = []
    if f["entity_type"]:
        conds.append(AuditLog.entity_type == f["entity_type"])
    if f["entity_id"]:
        conds.append(AuditLog.entity_id == f["entity_id"])
    if f["actor"]:
        conds.append(AuditLog.actor_name == f["actor"])
    if f["action"]:
        conds.append(AuditLog.action == f["action"])
    try:
        page = max(1, int(page or 1))
    except (TypeError, ValueError):
        page = 1
    total = session.scalar(select(func.count(AuditLog.id)).where(*conds))
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    rows = session.scalars(select(AuditLog).where(*conds).order_by(AuditLog.at.desc(), AuditLog.id.desc())
                           .limit(per_page).offset((page - 1) * per_page)).all()
    entity_types = session.scalars(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type)).all()
    actors = session.scalars(select(AuditLog.actor_name).distinct().order_by(AuditLog.actor_name)).all()
    return AuditPage(list(rows), page, pages, total, list(entity_types), list(actors))

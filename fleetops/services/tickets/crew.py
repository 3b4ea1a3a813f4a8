"""The crew: qualifications (T8) and who gets a new ticket (auto-dispatch)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import tickets as rules
from fleetops.domain.choices import Role
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Site, User
from fleetops.models.tickets import CrewQualification, Ticket
from fleetops.platform import audit


def pick_crew(session: Session, site: Site) -> User | None:
    """Auto-dispatch: the crew member of the site's district (else an all-district one) with the fewest open tickets."""
    crews = list(session.scalars(select(User).where(User.role == Role.CREW, User.active.is_(True))))
    local = [u for u in crews if u.district and u.district == site.district] or [u for u in crews if not u.district]
    if not local:
        return None
    load = dict(session.execute(
        select(Ticket.assignee_id, func.count()).where(Ticket.state.in_(rules.NOT_RESOLVED),
                                                       Ticket.category.not_in(rules.NOT_FAULT_CATEGORIES))
        .group_by(Ticket.assignee_id)).all())
    return min(local, key=lambda u: (load.get(u.id, 0), u.id))


def active_crew_member(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.role != Role.CREW or not user.active:
        raise ValidationFailed(Msg("User %(id)s is not an active crew member.", id=user_id))
    return user


def qualifications_of(session: Session, user_id: int) -> list[rules.Qualification]:
    return [rules.Qualification(q.kind, q.valid_from, q.valid_until)
            for q in session.scalars(select(CrewQualification).where(CrewQualification.user_id == user_id))]


def add_qualification(session: Session, user_id: int, kind: str, valid_until, *, valid_from=None,
                      certificate_no: str = "", actor=None) -> CrewQualification:
    """T8: record a crew member's certificate and its validity (audited)."""
    user = session.get(User, user_id)
    if user is None or user.role != Role.CREW:
        raise ValidationFailed(Msg("User %(id)s is not a crew member.", id=user_id))
    if valid_from is not None and valid_from > valid_until:
        raise ValidationFailed(Msg("The certificate ends before it starts."))
    try:
        kind = rules.QualificationKind(kind).value
    except ValueError:
        raise ValidationFailed(Msg("Unknown qualification %(kind)s.", kind=repr(kind))) from None
    q = CrewQualification(user_id=user_id, kind=kind, valid_from=valid_from, valid_until=valid_until,
                          certificate_no=certificate_no)
    session.add(q)
    session.flush()
    audit.record(session, actor, "qualification_added", "user", user_id, summary=f"{kind} → {valid_until}",
                 after={"kind": kind, "valid_until": valid_until, "certificate_no": certificate_no})
    return q


def list_qualifications(session: Session) -> list[CrewQualification]:
    return list(session.scalars(select(CrewQualification).options(selectinload(CrewQualification.user))
                                .order_by(CrewQualification.user_id, CrewQualification.kind,
                                          CrewQualification.valid_until)))

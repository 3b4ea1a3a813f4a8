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


# ---------------------------------------------------------------- the crew's order of work on site (T7)

def after_photo_problem(t: Ticket) -> Msg | None:
    """Why the ticket cannot be resolved yet for want of an after-repair photo (the rule per fault category in
    domain/tickets.AFTER_PHOTO_REQUIRED), or None."""
    if not rules.needs_after_photo(t.category):
        return None
    if any(p.phase == "after" for p in t.photos):
        return None
    return Msg("A photo after the repair is required for “%(fault)s”: add one under Photos, then resolve.",
               fault=Msg(rules.FaultCategory._LABELS[t.category], context="FaultCategory"))


def require_after_photo(t: Ticket) -> None:
    """Server side: resolving without the photo the fault's kind needs is refused with a clear message (409)."""
    from fleetops.domain.errors import ConflictError

    problem = after_photo_problem(t)
    if problem is not None:
        raise ConflictError(problem)


def checklist_complete(t: Ticket) -> bool:
    return set(rules.CHECKLIST_KEYS) <= set(t.checklist or [])


def part_choices(session: Session, t: Ticket, user) -> dict:
    """What the 使用备件 form offers: only part types and locations that have stock, the crew's own van first and
    the part types that fit the ticket's device first; and, when something is missing, why — no stock of the
    fitting type where the crew takes parts from, with where it is available instead."""
    from fleetops.models.tickets import PartType, StockLevel, StockLocation

    levels = list(session.execute(
        select(StockLevel.on_hand, PartType, StockLocation)
        .join(PartType, PartType.id == StockLevel.part_type_id)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(StockLevel.on_hand > 0)).all())
    kind = t.device.kind if t.device is not None else ""
    uid = getattr(user, "id", None)

    def loc_rank(loc):  # the crew's van, then the warehouses, then other crews' vans
        return (0 if loc.user_id == uid and uid is not None else (1 if loc.kind == "warehouse" else 2), loc.code)

    stock = [{"part_type": pt, "location": loc, "on_hand": n} for n, pt, loc in levels]
    stock.sort(key=lambda r: (0 if kind and r["part_type"].device_kind == kind else 1, r["part_type"].code,
                              loc_rank(r["location"])))
    types, locs = [], []
    for r in stock:
        if r["part_type"] not in types:
            types.append(r["part_type"])
    for r in sorted(stock, key=lambda r: loc_rank(r["location"])):
        if r["location"] not in locs:
            locs.append(r["location"])
    fitting = list(session.scalars(select(PartType).where(PartType.device_kind == kind))) if kind else []
    own = [r for r in stock if r["location"].kind == "warehouse" or r["location"].user_id == uid]
    missing = []
    for pt in fitting:
        if not any(r["part_type"].id == pt.id for r in own):
            elsewhere = [r for r in stock if r["part_type"].id == pt.id]
            missing.append({"part_type": pt, "elsewhere": elsewhere})
    return {"stock": stock, "part_types": types, "locations": locs, "missing": missing}

"""The crew: qualifications (T8) and who gets a new ticket (auto-dispatch: only crew holding every certificate the
job needs, valid that day; nobody → flagged and escalated)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import tickets as rules
from fleetops.domain.choices import Role
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Site, User
from fleetops.models.base import utcnow
from fleetops.models.tickets import CrewQualification, Ticket
from fleetops.platform import audit


def pick_crew(session: Session, site: Site, *, ticket: Ticket | None = None, device=None, category: str = "",
              on: date | None = None, pool: CrewPool | None = None) -> User | None:
    """Auto-dispatch (T8): among active crew of the site's district (else all-district crew), only those who hold
    every certificate the job needs (rules.required_qualifications) valid on the job's local day; the one with the
    fewest open tickets. With `ticket` given and nobody qualified, the ticket is flagged in its history and
    escalated to the supervisor at once (escalate_unqualified) — never left silently unassigned. `pool`: the crew
    read once for a batch of tickets (else read here)."""
    if ticket is not None:
        device, category = ticket.device, ticket.category
        on = on or _local_day(ticket.detected_at or ticket.opened_at, site)
    on = on or _local_day(utcnow(), site)
    needed = rules.required_qualifications(device.kind if device is not None else None, category)
    pool = pool or CrewPool(session)
    fit = [u for u in pool.crews if not rules.missing_qualifications(pool.quals.get(u.id, []), needed, on)]
    local = [u for u in fit if u.district and u.district == site.district] or [u for u in fit if not u.district]
    if not local:
        if ticket is not None:
            escalate_unqualified(session, ticket, needed, on, pool)
        return None
    load = pool.load()
    return min(local, key=lambda u: (load.get(u.id, 0), u.id))


_NOT_COUNTED = object()


def _load_key(t: Ticket):
    """Whose open-ticket load `t` counts in (its assignee, None when unassigned), or _NOT_COUNTED."""
    if t.state in rules.NOT_RESOLVED and t.category not in rules.NOT_FAULT_CATEGORIES:
        return t.assignee_id
    return _NOT_COUNTED


class CrewPool:
    """What pick_crew reads, read once for a batch of tickets (a blackout): the active crew, their certificates, and
    each one's count of open fault tickets. The count is read at the first pick; the tickets the batch opens or
    changes are `track`ed (before that first pick, unchanged since their last flush), so every later pick sees
    the count a fresh query after a flush would give."""

    def __init__(self, session: Session, gather_escalations: bool = False):
        self.session = session
        # (ticket, raise_alert arguments, its history line): raised together by raise_escalations
        self.escalations: list[tuple] | None = [] if gather_escalations else None
        self.crews = list(session.scalars(select(User).where(User.role == Role.CREW, User.active.is_(True))))
        self.quals = _qualifications_by_user(session, [u.id for u in self.crews])
        self._base: dict | None = None
        self._tracked: dict[int, list] = {}  # id(ticket) → [ticket, whose load it counted in when read]

    def track(self, tickets) -> None:
        for t in tickets:
            self._tracked.setdefault(id(t), [t, _load_key(t)])

    def raise_escalations(self) -> None:
        """The escalations gathered while picking (escalate_unqualified): their alerts raised together (each linked
        to its ticket) and named in the history lines (a line whose alert was open already is taken back, as
        escalate_unqualified alone would not have written it)."""
        from fleetops.services import alerts

        if not self.escalations:
            return
        gathered, self.escalations = self.escalations, []
        raised = alerts.raise_alerts(self.session, [spec for _t, spec, _line in gathered])
        for (ticket, _spec, line), (alert, new) in zip(gathered, raised):
            if new:
                line.data = {**line.data, "alert_id": alert.id}
            elif line in self.session.new:
                self.session.expunge(line)
            else:
                self.session.delete(line)

    def load(self) -> dict:
        if self._base is None:
            self._base = dict(self.session.execute(
                select(Ticket.assignee_id, func.count()).where(Ticket.state.in_(rules.NOT_RESOLVED),
                                                               Ticket.category.not_in(rules.NOT_FAULT_CATEGORIES))
                .group_by(Ticket.assignee_id)).all())
            for entry in self._tracked.values():
                entry[1] = _load_key(entry[0])
        out = dict(self._base)
        for t, was in self._tracked.values():
            now = _load_key(t)
            if now != was:
                if was is not _NOT_COUNTED:
                    out[was] = out.get(was, 0) - 1
                if now is not _NOT_COUNTED:
                    out[now] = out.get(now, 0) + 1
        return out


def _local_day(at: datetime, site: Site) -> date:
    from zoneinfo import ZoneInfo

    from fleetops.services.tickets.deadlines import site_zone

    return at.astimezone(ZoneInfo(site_zone(site))).date()


def _qualifications_by_user(session: Session, user_ids) -> dict[int, list[rules.Qualification]]:
    out: dict[int, list[rules.Qualification]] = {}
    for q in session.scalars(select(CrewQualification).where(CrewQualification.user_id.in_(list(user_ids) or [0]))):
        out.setdefault(q.user_id, []).append(rules.Qualification(q.kind, q.valid_from, q.valid_until))
    return out


def _labels(kinds) -> Msg:
    params = {f"q{i}": Msg(rules.QualificationKind._LABELS[k], context="QualificationKind")
              for i, k in enumerate(kinds)}
    return Msg(", ".join(f"%(q{i})s" for i in range(len(params))), **params)


def escalate_unqualified(session: Session, ticket: Ticket, needed, on: date, pool: CrewPool | None = None) -> None:
    """T8: nobody of the district holds every certificate this job needs on `on`: a history line on the ticket
    (the flag) and a critical alert to the supervisor, linked to the ticket; once per ticket. With a `pool` that
    gathers escalations (a batch of tickets), the line is written now and the alert raised with the others by
    `pool.raise_escalations`."""
    from fleetops.services import alerts

    spec, needs = _escalation(ticket, needed, on)
    if pool is not None and pool.escalations is not None:
        line = _flag(session, ticket, needed, on, needs, alert_id=None)
        pool.escalations.append((ticket, spec, line))
        return
    alert, new = alerts.raise_alert(session, **spec)
    if new:
        _flag(session, ticket, needed, on, needs, alert.id)


def _escalation(ticket: Ticket, needed, on: date) -> tuple[dict, Msg]:
    needs = _labels(needed) if needed else Msg("no certificate")
    where = ticket.device.code if ticket.device is not None else ticket.site.code
    return dict(
        key=f"ticket:{ticket.id}:no_qualified_crew", kind="no_qualified_crew", severity="critical",
        title=Msg("No qualified crew for ticket #%(id)s: %(where)s", id=ticket.id, where=where),
        body=Msg("Nobody of district %(district)s holds every certificate this job needs (%(needs)s) valid on "
                 "%(day)s; assign someone by hand or arrange qualified staff.", district=ticket.site.district or "-",
                 needs=needs, day=on.isoformat()),
        device=ticket.device, site=ticket.site, audience=("supervisor",), source_type="ticket",
        source_id=ticket.id, ticket_id=ticket.id), needs


def _flag(session: Session, ticket: Ticket, needed, on: date, needs: Msg, alert_id):
    from fleetops.services.tickets.history_log import log_event

    return log_event(session, ticket, "no_qualified_crew", "system", from_state=ticket.state,
                     note=Msg("No qualified crew: needs %(needs)s; escalated to the supervisor.", needs=needs),
                     data={"needs": list(needed), "day": on.isoformat(), "alert_id": alert_id})


def crew_fit(session: Session, ticket: Ticket) -> dict[int, dict]:
    """T8: for the assign form — per active crew member, the certificates this job needs that they hold and those
    they lack (valid on the job's day), and every certificate they hold today."""
    on = _local_day(ticket.detected_at or ticket.opened_at or utcnow(), ticket.site)
    needed = rules.required_qualifications(ticket.device.kind if ticket.device is not None else None, ticket.category)
    crews = list(session.scalars(select(User).where(User.role == Role.CREW, User.active.is_(True))))
    quals = _qualifications_by_user(session, [u.id for u in crews])
    out = {}
    for u in crews:
        mine = quals.get(u.id, [])
        missing = rules.missing_qualifications(mine, needed, on)
        holds = sorted({q.kind for q in mine if rules.holds_valid(mine, q.kind, on)})
        out[u.id] = {"holds": [rules.QualificationKind.label_of(k) for k in holds],
                     "missing": [rules.QualificationKind.label_of(k) for k in missing],
                     "qualified": not missing, "local": not u.district or u.district == ticket.site.district}
    return out


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

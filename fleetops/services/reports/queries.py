"""Every read this area makes of the tables: plain SQLAlchemy selects, one function per question."""
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from fleetops.domain.choices import IN_SERVICE
from fleetops.domain.tickets import NOT_COUNTED_CATEGORIES
from fleetops.models import Device, MetrologyCertificate, Site
from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.monitoring import OnlineRateSample, Outage, ProbeResultRow, SiteIncident, StatusInterval
from fleetops.models.quality import AuditSample, QualityFinding, SnapshotSample
from fleetops.models.tickets import PartType, StockLevel, StockMovement, Ticket, TicketBreach

OPEN_STATES = ("new", "dispatched", "on_the_way", "arrived", "repairing")
NOT_ARRIVED_STATES = ("new", "dispatched", "on_the_way")
DOWN_STATUSES = ("down", "hung", "unreachable")
_IN_SERVICE = [s.value for s in IN_SERVICE]
# P3: inspection orders are planned work, not faults: no fault statistics count them.
IS_FAULT = Ticket.category.not_in(NOT_COUNTED_CATEGORIES)


def has_figures(session: Session, start: datetime, end: datetime) -> bool:
    """Whether anything the monthly report counts happened in [start, end): monitored time or a ticket."""
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    lo, hi = int((start - epoch).total_seconds()), int((end - epoch).total_seconds())
    monitored = session.scalar(select(StatusInterval.id).where(StatusInterval.end_s > lo, StatusInterval.start_s < hi)
                               .limit(1))
    return monitored is not None or session.scalar(select(Ticket.id).where(
        Ticket.opened_at >= start, Ticket.opened_at < end).limit(1)) is not None


# ---------------------------------------------------------------- tickets and deadlines
def tickets_opened(session: Session, start: datetime, end: datetime) -> list[Ticket]:
    """Tickets opened in [start, end), cancelled ones left out."""
    return session.scalars(select(Ticket).where(Ticket.opened_at >= start, Ticket.opened_at < end,
                                                Ticket.state != "cancelled", IS_FAULT)).all()


def open_tickets(session: Session) -> list[Ticket]:
    return session.scalars(select(Ticket).where(Ticket.state.in_(OPEN_STATES), IS_FAULT)).all()


def count_open_tickets(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Ticket).where(Ticket.state.in_(OPEN_STATES), IS_FAULT)) or 0


def count_arrival_overdue(session: Session, now: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.state.in_(NOT_ARRIVED_STATES), Ticket.arrive_by < now, IS_FAULT)) or 0


def breaches_due(session: Session, start: datetime, end: datetime) -> list[tuple[TicketBreach, Ticket]]:
    """Recorded breaches whose deadline fell in [start, end), oldest deadline first."""
    return session.execute(select(TicketBreach, Ticket).join(Ticket, Ticket.id == TicketBreach.ticket_id).where(
        TicketBreach.kind == "breached", TicketBreach.due_at >= start, TicketBreach.due_at < end)
        .order_by(TicketBreach.due_at)).all()


def count_breaches_since(session: Session, since: datetime) -> int:
    return session.scalar(select(func.count()).select_from(TicketBreach).where(
        TicketBreach.kind == "breached", TicketBreach.recorded_at >= since)) or 0


def breaches_by_deadline(session: Session) -> dict[str, int]:
    return dict(session.execute(select(TicketBreach.which, func.count()).where(
        TicketBreach.kind == "breached").group_by(TicketBreach.which)).all())


def replacements_before(session: Session, end: datetime) -> list[tuple[str, str | None]]:
    """(device code, reason) of devices a ticket opened before `end` says must be replaced (T4)."""
    return session.execute(select(Device.code, Ticket.replacement_reason).join(
        Ticket, Ticket.device_id == Device.id).where(Ticket.requires_replacement.is_(True), Ticket.opened_at < end)
        .where(Ticket.state != "cancelled").distinct()).all()


# ---------------------------------------------------------------- outages and devices
def outages_started(session: Session, start: datetime, end: datetime) -> list[Outage]:
    return session.scalars(select(Outage).where(Outage.started_at >= start, Outage.started_at < end,
                                                Outage.retracted_at.is_(None))).all()


def count_incidents_started(session: Session, start: datetime, end: datetime) -> int:
    return session.scalar(select(func.count()).select_from(SiteIncident).where(
        SiteIncident.started_at >= start, SiteIncident.started_at < end, SiteIncident.retracted_at.is_(None))) or 0


def devices_by_id(session: Session, ids) -> dict[int, Device]:
    return {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(list(ids) or [0])))}


def devices_down(session: Session, limit: int = 20) -> list:
    """In-service devices down, hung or unreachable now, longest first: (code, name, site_name, status,
    status_since) rows — the dashboard's list reads these columns only, no Device object (issue 14 part 4)."""
    return session.execute(select(Device.code, Device.name, Site.name.label("site_name"), Device.status,
                                  Device.status_since).outerjoin(Site, Site.id == Device.site_id)
                           .where(Device.status.in_(DOWN_STATUSES), Device.lifecycle.in_(_IN_SERVICE))
                           .order_by(Device.status_since, Device.id).limit(limit)).all()


def key_site_codes(session: Session) -> set[str]:
    return {c for (c,) in session.execute(select(Site.code).where(Site.key_site.is_(True)))}


def newest_certificates(session: Session) -> list[tuple[Device, MetrologyCertificate]]:
    """Each in-service device's newest metrology certificate, soonest expiry first."""
    newest = (select(MetrologyCertificate.device_id, func.max(MetrologyCertificate.valid_until).label("until"))
              .group_by(MetrologyCertificate.device_id).subquery())
    return session.execute(select(Device, MetrologyCertificate).join(newest, newest.c.device_id == Device.id).join(
        MetrologyCertificate, (MetrologyCertificate.device_id == Device.id)
        & (MetrologyCertificate.valid_until == newest.c.until)).where(
        Device.lifecycle.in_(_IN_SERVICE)).order_by(MetrologyCertificate.valid_until)).all()


def online_rate_samples(session: Session, start: datetime, end: datetime | None = None) -> list[OnlineRateSample]:
    q = select(OnlineRateSample).where(OnlineRateSample.at >= start)
    if end is not None:
        q = q.where(OnlineRateSample.at < end)
    return session.scalars(q.order_by(OnlineRateSample.at)).all()


def online_rate_counts(session: Session, start: datetime, end: datetime | None = None) -> list:
    """The samples in [start, end) as (at, online, in_service, contract_online, contract_in_service) rows, oldest
    first: what the online-rate chart reads, without an ORM object per sample (issue 14 part 4)."""
    S = OnlineRateSample
    q = select(S.at, S.online, S.in_service, S.contract_online, S.contract_in_service).where(S.at >= start)
    if end is not None:
        q = q.where(S.at < end)
    return session.execute(q.order_by(S.at)).all()


def poll_times(session: Session, now: datetime, poll_interval_s: int) -> tuple[datetime, datetime] | None:
    """(first, latest) probe time of the latest poll cycle within the last day, or None."""
    latest = session.scalar(select(func.max(ProbeResultRow.at)).where(ProbeResultRow.at >= now - timedelta(days=1)))
    if latest is None:
        return None
    first = session.scalar(select(func.min(ProbeResultRow.at)).where(
        ProbeResultRow.at > latest - timedelta(seconds=poll_interval_s / 2)))
    return first, latest


# ---------------------------------------------------------------- spare parts
def parts_issued(session: Session, start: datetime, end: datetime) -> list[tuple[str, str, int, int | None]]:
    """(part code, name, times issued, units issued) in [start, end), most units first."""
    return session.execute(select(PartType.code, PartType.name, func.count(StockMovement.id),
                                  func.sum(-StockMovement.quantity))
                           .join(PartType, PartType.id == StockMovement.part_type_id)
                           .where(StockMovement.kind == "issued", StockMovement.at >= start, StockMovement.at < end)
                           .group_by(PartType.code, PartType.name)
                           .order_by(func.sum(-StockMovement.quantity).desc())).all()


def part_types(session: Session) -> list[PartType]:
    return session.scalars(select(PartType).order_by(PartType.code)).all()


def stock_on_hand(session: Session) -> list:
    """(code, name, minimum_stock, on_hand) of every part type, by code: one grouped query, not one per part type."""
    return session.execute(
        select(PartType.code, PartType.name, PartType.minimum_stock,
               func.coalesce(func.sum(StockLevel.on_hand), 0).label("on_hand"))
        .outerjoin(StockLevel, StockLevel.part_type_id == PartType.id)
        .group_by(PartType.id, PartType.code, PartType.name, PartType.minimum_stock).order_by(PartType.code)).all()


# ---------------------------------------------------------------- image quality
def finding_kind_counts(session: Session, start: datetime, end: datetime) -> tuple[Counter, Counter, Counter]:
    """Finding kinds (found in the period, cleared in the period, still open at its end)."""
    found = Counter(k for (k,) in session.execute(select(QualityFinding.kind).where(
        QualityFinding.first_seen_at >= start, QualityFinding.first_seen_at < end)))
    cleared = Counter(k for (k,) in session.execute(select(QualityFinding.kind).where(
        QualityFinding.cleared_at >= start, QualityFinding.cleared_at < end)))
    still = Counter(k for (k,) in session.execute(select(QualityFinding.kind).where(
        QualityFinding.first_seen_at < end,
        (QualityFinding.cleared_at.is_(None)) | (QualityFinding.cleared_at >= end))))
    return found, cleared, still


def findings_first_seen(session: Session, start: datetime, end: datetime) -> list[QualityFinding]:
    return session.scalars(select(QualityFinding).where(QualityFinding.first_seen_at >= start,
                                                        QualityFinding.first_seen_at < end)).all()


def count_open_findings(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(QualityFinding).where(QualityFinding.state == "open")) or 0


def snapshot_samples(session: Session, start: datetime, end: datetime) -> list:
    """(device_id, period, ok, problems) of every snapshot sampled in [start, end)."""
    return session.execute(select(SnapshotSample.device_id, SnapshotSample.period, SnapshotSample.ok,
                                  SnapshotSample.problems).where(
        SnapshotSample.taken_at >= start, SnapshotSample.taken_at < end)).all()


# ---------------------------------------------------------------- alerts
def dashboard_counts(session: Session, month_start: datetime) -> dict[str, int]:
    """The dashboard's four tallies in one statement (issue 14 part 4: four round trips were a tenth of the page):
    breaches recorded since `month_start`, open quality findings, open alerts (not grouped under another), pending
    deliveries — each the same count as count_breaches_since, count_open_findings, count_open_alerts and
    count_pending_deliveries."""
    row = session.execute(select(*dashboard_count_columns(month_start))).one()
    return {k: int(v or 0) for k, v in row._asdict().items()}


def count_of(table, *where):
    """SELECT count(*) FROM table WHERE … as a scalar subquery: one column of a statement that counts several things."""
    return select(func.count()).select_from(table).where(*where).scalar_subquery()


def dashboard_count_columns(month_start) -> list:
    """dashboard_counts' four tallies as labelled columns, for a statement that adds more (reports.dashboard);
    `month_start` is a datetime or a bind parameter."""
    return [
        count_of(TicketBreach, TicketBreach.kind == "breached", TicketBreach.recorded_at >= month_start)
        .label("breaches"),
        count_of(QualityFinding, QualityFinding.state == "open").label("findings"),
        count_of(Alert, Alert.state == "open", Alert.group_id.is_(None)).label("alerts"),
        count_of(AlertDelivery, AlertDelivery.state == "pending").label("deliveries")]


def count_open_alerts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Alert).where(
        Alert.state == "open", Alert.group_id.is_(None))) or 0


def count_pending_deliveries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AlertDelivery).where(
        AlertDelivery.state == "pending")) or 0


def open_alerts_by_severity(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Alert.severity, func.count()).where(
        Alert.open_key.is_not(None), Alert.group_id.is_(None)).group_by(Alert.severity)).all())


def deliveries_by_state(session: Session) -> dict[str, int]:
    return dict(session.execute(select(AlertDelivery.state, func.count()).group_by(AlertDelivery.state)).all())


def plate_audit_totals(session: Session, month: str) -> tuple[int, int]:
    """Q1 for the dashboard: (judged, correct) audited plate reads of a month, in one count."""
    counts = dict(session.execute(select(AuditSample.outcome, func.count()).where(
        AuditSample.month == month, AuditSample.outcome.in_(("correct", "wrong"))).group_by(AuditSample.outcome)).all())
    return int(sum(counts.values())), int(counts.get("correct", 0))

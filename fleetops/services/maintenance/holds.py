"""What a maintenance window does to monitoring (U3, U5, A1), through events only (the ingest is not touched).

`on_outage_opened` / `on_site_incident_opened` are wired BEFORE the tickets and alerts handlers: an outage (or a
site blackout) that begins inside an active window of its scope is held — linked to the window, which is its
evidence — and takes the window's cause, so tickets and alerts (which ask `is_held_*`) stay silent. The
`maintenance_windows` job (every poll interval) announces each occurrence's start and end to the alert group and,
when an occurrence ends, releases what it held (as does the first transaction that stores a probe result past the
end, through the `before_commit` session hook: "on the next poll"): whatever is still down is ticketed and alerted
at once, as usual, and its cause goes back to a device fault (audited): the window's cause stays only on outages
that were over before the window's end, so an outage outlasting its window counts against the contractor whole."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.exc import UnboundExecutionError
from sqlalchemy.orm import Session

from fleetops.domain.maintenance import OUTAGE_CAUSE
from fleetops.domain.uptime import EXCLUDED_CAUSES
from fleetops.domain.text import Msg
from fleetops.models import Device, Site
from fleetops.models.base import utcnow
from fleetops.models.maintenance import MaintenanceHold, MaintenanceWindow
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.platform import audit, events
from fleetops.platform.jobs import JobContext
from fleetops.services.maintenance.windows import (
    active_windows, cause_label, occurrence_at, reason_text, window_for_device, window_for_site, window_occurrences,
)

log = logging.getLogger(__name__)
SYSTEM = "maintenance"


def is_held_outage(session: Session, outage_id) -> bool:
    """True while the outage is held by a window (tickets and alerts stay silent)."""
    return session.scalar(select(MaintenanceHold.id).where(MaintenanceHold.outage_id == outage_id,
                                                           MaintenanceHold.released_at.is_(None)).limit(1)) is not None


def is_held_incident(session: Session, incident_id) -> bool:
    return session.scalar(select(MaintenanceHold.id).where(MaintenanceHold.site_incident_id == incident_id,
                                                           MaintenanceHold.released_at.is_(None)).limit(1)) is not None


def held_incidents(session: Session, incident_ids) -> set[int]:
    """Those of `incident_ids` a window holds now (is_held_incident for a batch, one query per 500)."""
    return _holding(session, MaintenanceHold.site_incident_id, incident_ids, MaintenanceHold.released_at.is_(None))


def _holding(session: Session, col, ids, *where) -> set[int]:
    ids, out = sorted(set(ids)), set()
    for i in range(0, len(ids), 500):
        out.update(session.scalars(select(col).where(col.in_(ids[i:i + 500]), *where)))
    return out


def _seen(session: Session, **key) -> bool:
    col = MaintenanceHold.outage_id if "outage_id" in key else MaintenanceHold.site_incident_id
    return session.scalar(select(MaintenanceHold.id).where(col == next(iter(key.values()))).limit(1)) is not None


def on_outage_opened(session: Session, outage_id, device_id, started_at=None, detected_at=None, **_):
    """Hold and classify an outage that began inside an active window of its device (wired first)."""
    if _seen(session, outage_id=outage_id):
        return  # held already, or released by the window's end (then tickets and alerts act as usual)
    outage = session.get(Outage, outage_id)
    device = session.get(Device, device_id)
    if outage is None or device is None or outage.imported_late:
        return
    _hold_outage(session, outage, device, detected_at or utcnow())


def _hold_outage(session: Session, outage: Outage, device: Device, now, released: bool = False,
                 windows: list[MaintenanceWindow] | None = None) -> bool:
    found = window_for_device(session, device, outage.started_at, windows)
    if found is None:
        return False
    w, occ = found
    session.add(MaintenanceHold(window_id=w.id, outage_id=outage.id, occurrence_end=occ.end, held_at=now,
                                released_at=now if released else None))
    session.flush()  # the ingest may run without autoflush: tickets and alerts must see the hold
    _classify(session, outage, OUTAGE_CAUSE[w.cause], reason_text(w), w.attachment_path,
              Msg("Outage of %(device)s inside maintenance window #%(id)s: cause %(cause)s", device=device.code,
                  id=w.id, cause=cause_label(w.cause)))
    log.info("maintenance window=%s holds outage=%s device=%s", w.id, outage.id, device.code)
    return True


def on_outage_closed(session: Session, outage_id, device_id=None, ended_at=None, **_):
    """An outage that began inside a window but was never announced by itself (it joined a site blackout that was
    already dark) takes the window's cause when it ends."""
    if _seen(session, outage_id=outage_id):
        return
    outage = session.get(Outage, outage_id)
    if outage is None or outage.imported_late or outage.retracted_at is not None:
        return
    _hold_outage(session, outage, outage.device, ended_at or utcnow(), released=True)


def on_site_incidents_opened(session: Session, payloads: list[dict]) -> None:
    """A whole site dark inside a window over the site: held, no site ticket, no blackout alert (wired first).
    For a batch of site_incident_opened payloads (a blackout, distinct sites): the holds already made, the windows
    and the incidents' outages are read once for all of them, then each is handled as by itself, in order."""
    ids = [p["incident_id"] for p in payloads]
    seen = _holding(session, MaintenanceHold.site_incident_id, ids)
    todo = []
    for p in payloads:
        if p["incident_id"] in seen:
            continue
        seen.add(p["incident_id"])
        inc, site = session.get(SiteIncident, p["incident_id"]), session.get(Site, p["site_id"])
        if inc is None or site is None or inc.imported_late:
            continue
        todo.append((inc, site, p.get("detected_at") or utcnow()))
    if not todo:
        return
    members: dict[int, list[Outage]] = {inc.id: [] for inc, _s, _n in todo}
    for i in range(0, len(todo), 500):
        for o in session.scalars(select(Outage).where(
                Outage.site_incident_id.in_([inc.id for inc, _s, _n in todo[i:i + 500]]),
                Outage.retracted_at.is_(None)).order_by(Outage.id)):
            members[o.site_incident_id].append(o)
    moments = [inc.started_at for inc, _s, _n in todo] + [o.started_at for os in members.values() for o in os]
    windows = active_windows(session, min(moments), max(moments))
    held_outages = _holding(session, MaintenanceHold.outage_id, [o.id for os in members.values() for o in os]) \
        if windows else set()
    for inc, site, now in todo:
        found = window_for_site(session, site, inc.started_at, windows) if windows else None
        if found is not None:
            w, occ = found
            session.add(MaintenanceHold(window_id=w.id, site_incident_id=inc.id, occurrence_end=occ.end, held_at=now))
            session.flush()  # the ingest may run without autoflush: tickets and alerts must see the hold
        # Its devices' outages (announced only as the blackout, U5) take their windows' cause too.
        for o in members[inc.id]:
            if o.id not in held_outages and windows:
                held_outages.add(o.id)
                _hold_outage(session, o, o.device, now, windows=windows)


@events.handles_batches(on_site_incidents_opened)
def on_site_incident_opened(session: Session, incident_id, site_id, started_at=None, detected_at=None, **_):
    """One site incident: the batch of one."""
    on_site_incidents_opened(session, [{"incident_id": incident_id, "site_id": site_id, "started_at": started_at,
                                        "detected_at": detected_at}])


def _classify(session: Session, outage: Outage, cause: str, reason: str, evidence: str, summary) -> None:
    before = {"cause": outage.cause, "cause_reason": outage.cause_reason, "evidence_path": outage.evidence_path}
    outage.cause, outage.cause_reason, outage.cause_set_by, outage.cause_set_at = cause, reason, SYSTEM, utcnow()
    if evidence:
        outage.evidence_path = evidence
    audit.record(session, None, "outage_cause_set", "outage", outage.id, summary=summary, before=before,
                 after={"cause": cause, "cause_reason": reason, "evidence_path": outage.evidence_path})
    events.emit(session, "outage_cause_set", outage_id=outage.id, cause=cause, by=SYSTEM)


# ------------------------------------------------------------------------------------------ the window's end

def release(session: Session, now: datetime, window_id: int | None = None, holds=None) -> int:
    """Release the holds whose occurrence has ended (or every hold of a cancelled window): a site blackout still
    dark and an outage still down are announced now — outage_opened / site_incident_opened again (the blackouts
    together, as one batch), which the tickets and alerts areas handle as new. Returns how many were still down."""
    if holds is None:
        q = select(MaintenanceHold).where(MaintenanceHold.released_at.is_(None))
        q = q.where(MaintenanceHold.window_id == window_id) if window_id else \
            q.where(MaintenanceHold.occurrence_end <= now)
        holds = list(session.scalars(q))
    holds = sorted(holds, key=lambda h: (h.site_incident_id is None, h.id))
    # First every outage that outlasted its window becomes a device fault (audited), THEN what is still down is
    # announced: the site alert and the ticket raised for it must not take the window's cause for a known one
    # (a quiet alert nobody hears of) — from the window's end the outage is the contractor's fault.
    for h in holds:
        h.released_at = now
        if h.site_incident_id:
            continue
        o = session.get(Outage, h.outage_id)
        if o is None or o.retracted_at is not None or (o.ended_at is not None and o.ended_at <= h.occurrence_end):
            continue
        if o.cause == OUTAGE_CAUSE.get(h.window.cause):  # it outlasted the window
            if o.cause in EXCLUDED_CAUSES:  # U3: the time inside the window stays excluded, the rest counts
                o.excluded_before_s = int(h.occurrence_end.timestamp())
            _classify(session, o, "device_fault", "", "",
                      Msg("Outage of %(device)s outlasted maintenance window #%(id)s: counted as a device fault "
                          "from the window's end", device=o.device.code, id=h.window_id))
    still = 0
    dark, sites = [], set()  # the blackouts still dark, announced together (a district's window ends)
    for h in holds:  # site blackouts first: a device outage then joins the site's ticket (U5)
        if h.site_incident_id:
            inc = session.get(SiteIncident, h.site_incident_id)
            if inc is not None and inc.ended_at is None and inc.retracted_at is None:
                still += 1
                if inc.site_id in sites:  # one site at most once per batch
                    events.emit_many(session, "site_incident_opened", dark)
                    dark, sites = [], set()
                dark.append({"incident_id": inc.id, "site_id": inc.site_id, "started_at": inc.started_at,
                             "detected_at": now})
                sites.add(inc.site_id)
            continue
        events.emit_many(session, "site_incident_opened", dark)
        dark, sites = [], set()
        o = session.get(Outage, h.outage_id)
        if o is None or o.retracted_at is not None or o.ended_at is not None:
            continue  # over before the window's end, or back up already (the results after the end arrived
            # together): nothing left to announce
        still += 1
        inc = session.get(SiteIncident, o.site_incident_id) if o.site_incident_id else None
        if inc is not None and inc.ended_at is None and inc.retracted_at is None:
            continue  # announced as its site's blackout (U5)
        events.emit(session, "outage_opened", outage_id=o.id, device_id=o.device_id, started_at=o.started_at,
                    detected_at=now)
    events.emit_many(session, "site_incident_opened", dark)
    return still


def release_observed(session: Session) -> int:
    """"On the next poll": release the holds whose device (or, for a blackout, any device of the site) has a
    result at or after the end of the occurrence that held it — the poll that follows the window, whenever the
    results arrive (live, pushed by an agent, or replayed). Announced with the occurrence's end as detection time."""
    from fleetops.models.monitoring import ProbeResultRow

    if session.scalar(select(MaintenanceHold.id).where(MaintenanceHold.released_at.is_(None)).limit(1)) is None:
        return 0  # nothing held: the usual case, one index probe
    after_end = ProbeResultRow.at >= MaintenanceHold.occurrence_end
    outage_seen = select(ProbeResultRow.at).join(Outage, Outage.device_id == ProbeResultRow.device_id).where(
        Outage.id == MaintenanceHold.outage_id, after_end).exists()
    site_seen = select(ProbeResultRow.at).join(Device, Device.id == ProbeResultRow.device_id).join(
        SiteIncident, SiteIncident.site_id == Device.site_id).where(
        SiteIncident.id == MaintenanceHold.site_incident_id, after_end).exists()
    due = list(session.scalars(select(MaintenanceHold).where(
        MaintenanceHold.released_at.is_(None), outage_seen | site_seen)))
    ends = sorted({h.occurrence_end for h in due})
    return sum(release(session, end, holds=[h for h in due if h.occurrence_end == end]) for end in ends)


_tables_seen: set = set()


def _has_table(bind, session: Session) -> bool:
    key = id(getattr(bind, "engine", bind))
    if key not in _tables_seen:
        if not inspect(session.connection()).has_table(MaintenanceHold.__tablename__):
            return False
        _tables_seen.add(key)
    return True


def before_commit(session: Session) -> None:
    """Session hook (wiring.COMMIT_HOOKS): after a transaction that stored probe results, what a window held and
    the results show still down past its end is ticketed and alerted in that same transaction."""
    if session.info.get("maintenance_releasing"):
        return
    try:
        bind = session.get_bind()
    except UnboundExecutionError:
        return
    if not _has_table(bind, session):
        return  # a database not yet upgraded to the maintenance tables (e.g. while `fleetops db upgrade` runs)
    session.info["maintenance_releasing"] = True
    try:
        with session.no_autoflush:
            pending = session.scalar(select(MaintenanceHold.id).where(MaintenanceHold.released_at.is_(None))
                                     .limit(1))
        if pending is not None:
            release_observed(session)
    finally:
        session.info.pop("maintenance_releasing", None)


def announce_start(session: Session, w: MaintenanceWindow, starts_at, ends_at) -> None:
    w.noted_start_at = starts_at
    events.emit(session, "maintenance_window_started", window_id=w.id, starts_at=starts_at, ends_at=ends_at)


def announce_end(session: Session, w: MaintenanceWindow, ended_at) -> None:
    w.noted_end_at = ended_at
    events.emit(session, "maintenance_window_ended", window_id=w.id, ended_at=ended_at)


def tick(session: Session, now: datetime | None = None) -> dict:
    """One pass: announce the occurrences that started or ended, release what ended. Idempotent."""
    now = now or utcnow()
    started = ended = 0
    unannounced_end = MaintenanceWindow.noted_start_at.is_not(None) & (
        MaintenanceWindow.noted_end_at.is_(None) | (MaintenanceWindow.noted_end_at <= MaintenanceWindow.noted_start_at))
    for w in session.scalars(select(MaintenanceWindow).where(
            MaintenanceWindow.state == "active", MaintenanceWindow.starts_at <= now,
            (MaintenanceWindow.last_end_at > now) | unannounced_end).order_by(MaintenanceWindow.id)):
        occs = window_occurrences(w)
        if w.noted_start_at is not None and (w.noted_end_at is None or w.noted_end_at <= w.noted_start_at):
            current = next((o for o in occs if o.start == w.noted_start_at), None)
            if current is None or current.end <= now:
                announce_end(session, w, current.end if current else now)
                ended += 1
        occ = occurrence_at(occs, now)
        if occ is not None and w.noted_start_at != occ.start:
            announce_start(session, w, occ.start, occ.end)
            started += 1
    released = release(session, now)
    return {"started": started, "ended": ended, "still_down": released}


def job_windows(ctx: JobContext) -> None:
    with ctx.session(write=True) as s:
        out = tick(s)
    log.info("job=maintenance_windows started=%d ended=%d still_down=%d", out["started"], out["ended"],
             out["still_down"])

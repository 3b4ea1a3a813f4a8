"""Site incidents (U5): when a site's switch/power or most of its devices go down together, one incident;
its member outages point at it (the devices become "unreachable via parent")."""
from datetime import timedelta

from sqlalchemy import func, or_, select

from fleetops.domain import availability as av
from fleetops.domain.choices import IN_SERVICE, INFRASTRUCTURE_KINDS
from fleetops.models import Device
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.services.monitoring.batch import Batch
from fleetops.services.monitoring.settings import chunks, overlaps


def rederive(b: Batch) -> None:
    """Re-derive the incidents of every site whose outages changed (three queries for all of them)."""
    if not b.changed_sites:
        return
    b.s.flush()
    window = b.cfg.site_window
    site_ids = sorted(b.changed_sites)
    lookback = {sid: at - window - timedelta(days=1) for sid, at in b.changed_sites.items()}
    earliest = min(lookback.values())
    outages: dict[int, list] = {sid: [] for sid in site_ids}
    counts: dict[int, int] = {}
    incidents: dict[int, list[SiteIncident]] = {sid: [] for sid in site_ids}
    for chunk in chunks(site_ids):
        q = (select(Outage, Device.kind, Device.site_id).join(Device, Device.id == Outage.device_id)
             .where(Device.site_id.in_(chunk), Outage.retracted_at.is_(None), Outage.started_at >= earliest))
        for o, kind, sid in b.s.execute(q):
            if o.started_at >= lookback[sid]:
                outages[sid].append((o, kind))
        counts.update(b.s.execute(
            select(Device.site_id, func.count(Device.id))
            .where(Device.site_id.in_(chunk), Device.lifecycle.in_([x.value for x in IN_SERVICE]))
            .group_by(Device.site_id)).all())
        for inc in b.s.scalars(select(SiteIncident).where(
                SiteIncident.site_id.in_(chunk), SiteIncident.retracted_at.is_(None),
                or_(SiteIncident.ended_at.is_(None), SiteIncident.ended_at >= earliest))):
            incidents[inc.site_id].append(inc)
    created: list[tuple[SiteIncident, av.SiteIncident]] = []
    members: list[tuple[Outage, SiteIncident | None]] = []
    for sid in site_ids:
        rows = outages[sid]
        outage_by_id = {o.id: o for o, _k in rows}
        found = av.site_incidents(
            [av.SiteOutage(o.id, o.device_id, o.started_at, o.ended_at, kind in INFRASTRUCTURE_KINDS)
             for o, kind in rows], counts.get(sid, 0), window,
            detected={o.id: o.detected_at for o, _k in rows})
        existing = [e for e in incidents[sid] if e.ended_at is None or e.ended_at >= lookback[sid]]
        used = set()
        member_of: dict[int, SiteIncident] = {}
        for inc in found:
            match = next((e for e in existing if id(e) not in used and (
                any(outage_by_id[k].site_incident_id == e.id for k in inc.members)
                or overlaps(e.started_at, e.ended_at, inc.start, inc.end))), None)
            if match is None:
                match = SiteIncident(site_id=sid, started_at=inc.start, detected_at=inc.detected_at,
                                     ended_at=inc.end, device_count=len(inc.members), imported_late=b.is_late(inc.end))
                b.s.add(match)
                created.append((match, inc))
            else:
                if match.ended_at is None and inc.end is not None:
                    b.pending_events.append(("site_incident_closed", {
                        "incident_id": match.id, "site_id": sid, "ended_at": inc.end}))
                match.started_at, match.detected_at, match.ended_at = inc.start, inc.detected_at, inc.end
                match.device_count = len(inc.members)
            used.add(id(match))
            for k in inc.members:
                member_of[k] = match
        for e in existing:
            if id(e) not in used:
                e.retracted_at = b.now
        members += [(o, member_of.get(o.id)) for o, _k in rows]
    if created:
        b.s.flush()  # one flush gives every new incident its id
    for match, inc in created:
        b.summary.incidents_opened += 1
        if match.imported_late:
            b.late_incidents.add(match.id)
            b.summary.incidents_imported_late += 1
            continue  # history: recorded, announced to no one
        b.pending_events.insert(0, ("site_incident_opened", {
            "incident_id": match.id, "site_id": match.site_id, "started_at": inc.start,
            "detected_at": inc.detected_at}))
        if inc.end is not None:
            b.pending_events.append(("site_incident_closed", {
                "incident_id": match.id, "site_id": match.site_id, "ended_at": inc.end}))
    for o, inc in members:
        o.site_incident_id = inc.id if inc is not None else None

"""Issue 14 (blackouts at scale): the site incidents one ingest opens are handled as one batch by the maintenance,
tickets and alerts subscribers. A blackout of several sites in ONE batch must leave exactly what the same sites
leave when each goes dark in a batch of its own (handled in the order the batch announces them, the latest site
first): the same site tickets, crew picked (the load of each crew member moves as the batch dispatches and merges),
escalations for want of qualified crew, merged device tickets, grouped and quiet alerts, queued and withdrawn
messages, maintenance holds and the causes they set, history and audit rows. Real database, the one ingest path."""
import json
from datetime import date, timedelta

from sqlalchemy import select

from fleetops.models import AuditLog, Cabinet, Depot, Device, Site, User
from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.base import utcnow
from fleetops.models.maintenance import MaintenanceHold
from fleetops.models.monitoring import Outage, SiteIncident
from fleetops.models.tickets import Ticket, TicketEvent
from fleetops.services import alerts, maintenance, tickets
from fleetops.services.monitoring import IngestConfig, ingest_results
from tests.conftest import _empty_tables

# site code → district; the crew: c1, c2 of 天山区 and c4 of 水磨沟区 hold the certificates, c3 of 新市区 none
# (S4 and S7 escalate).
SITES = {"S1": "天山区", "S2": "天山区", "S3": "天山区", "S4": "新市区", "S5": "水磨沟区", "S6": "水磨沟区",
         "S7": "新市区"}
CREW = {"c1": "天山区", "c2": "天山区", "c3": "新市区", "c4": "水磨沟区"}


def _build(db, t0):
    depot = Depot(name="一号驻点", latitude=43.8, longitude=87.6)
    db.add(depot)
    db.flush()
    boss = User(username="boss", password_hash="x", role="supervisor")
    db.add(boss)
    crew = {name: User(username=name, password_hash="x", role="crew", district=district, depot_id=depot.id,
                       email=f"{name}@example.test") for name, district in CREW.items()}
    db.add_all(list(crew.values()))
    db.flush()
    for name in ("c1", "c2", "c4"):
        for kind in ("work_at_height", "electrician"):
            tickets.add_qualification(db, crew[name].id, kind, date(2099, 1, 1), valid_from=date(2020, 1, 1))
    devices = {}
    for i, (code, district) in enumerate([*SITES.items(), ("H1", "天山区")]):
        site = Site(code=code, name=f"{code} 卡口", district=district, latitude=43.8 + i / 100, longitude=87.6,
                    depot_id=depot.id)
        db.add(site)
        db.flush()
        cab = Cabinet(site_id=site.id, code=f"{code}-CAB")
        db.add(cab)
        db.flush()
        for j in range(3):
            d = Device(code=f"{code}-CAM{j + 1}", kind="checkpoint_camera", site_id=site.id, cabinet_id=cab.id,
                       lifecycle="online")
            db.add(d)
            devices[d.code] = d
    db.flush()
    hook = alerts.save_channel(db, boss, name="crew-group", kind="webhook", settings={"url": "http://127.0.0.1:9/h"})
    alerts.save_route(db, boss, channel_id=hook.id)
    mail = alerts.save_channel(db, boss, name="crew-mail", kind="email", settings={"host": "127.0.0.1", "port": 2525,
                                                                             "from_addr": "fleetops@example.test"})
    alerts.save_route(db, boss, channel_id=mail.id, role="crew")
    # A planned power cut over the whole of S5 (held: no ticket, no alert), another over one camera of S6 only.
    maintenance.create_window(db, sites=["S5"], starts_at=t0 - timedelta(minutes=30), ends_at=t0 + timedelta(hours=3),
                              cause="power_utility", reference="供电通知 118", actor=boss, now=t0 - timedelta(hours=1))
    maintenance.create_window(db, devices=["S6-CAM1"], starts_at=t0 - timedelta(minutes=30),
                              ends_at=t0 + timedelta(hours=3), cause="power_utility", reference="供电通知 119",
                              actor=boss, now=t0 - timedelta(hours=1))
    # Two device tickets at S3 the crew has not touched, both with c1: merged into S3's ticket, c1's load drops.
    for code in ("S3-CAM1", "S3-CAM2"):
        t = tickets.open_ticket(db, device_id=devices[code].id, category="offline", source="outage",
                                opened_by="monitoring", detected_at=t0 - timedelta(hours=2), auto_dispatch=False)
        tickets.dispatch(db, t.id, assignee_id=crew["c1"].id, actor=boss, at=t0 - timedelta(hours=2))
    # Device alerts not sent yet: folded into their site's blackout alert; one with a known quiet cause.
    for code, cause in (("S2-CAM1", ""), ("S1-CAM1", "power_utility")):
        a, _new = alerts.raise_alert(db, f"device:{devices[code].id}:down", "device_down", "critical", f"{code} 离线",
                                     device=devices[code], now=t0, hold_s=90)
        a.cause = cause
    db.commit()


def _cycle(db, codes, at, ok):
    results = [{"device": c, "probe": "ping", "ok": ok, "at": at.isoformat(), "metrics": {}} for c in codes]
    summary = ingest_results(db, results, IngestConfig(), now=at + timedelta(seconds=5))
    db.commit()
    return summary


def _blackout(db, one_per_batch: bool) -> int:
    """Three cycles all up, then every device of S1–S7 stops answering: the third dark cycle detects it, in one
    batch or one batch per site. Returns how many site incidents the one batch opened (0 one per batch)."""
    t0 = (utcnow() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    _build(db, t0)
    dark = {code: [f"{code}-CAM{j + 1}" for j in range(3)] for code in SITES}
    every = [c for cs in dark.values() for c in cs] + ["H1-CAM1", "H1-CAM2", "H1-CAM3"]
    for k in range(3):
        _cycle(db, every, t0 + timedelta(minutes=k), ok=True)
    for k in (3, 4):
        _cycle(db, [c for cs in dark.values() for c in cs], t0 + timedelta(minutes=k), ok=False)
    at = t0 + timedelta(minutes=5)
    if not one_per_batch:
        return _cycle(db, [c for cs in dark.values() for c in cs], at, ok=False).incidents_opened
    for code in sorted(SITES, reverse=True):  # the order the batch announces them: the latest site first
        assert _cycle(db, dark[code], at, ok=False).incidents_opened == 1
    return 0


def _snapshot(db) -> dict:
    site = {s.id: s.code for s in db.scalars(select(Site))}
    dev = {d.id: d.code for d in db.scalars(select(Device))}
    user = {u.id: u.username for u in db.scalars(select(User))}
    outage = {o.id: (dev[o.device_id], o.started_at) for o in db.scalars(select(Outage))}
    incident = {i.id: (site[i.site_id], i.started_at) for i in db.scalars(select(SiteIncident))}
    all_alerts = db.scalars(select(Alert)).all()
    key = {a.id: a.key for a in all_alerts}
    kind = {a.id: a.kind for a in all_alerts}

    def source(a):
        if a.source_type == "site_incident":
            return incident[int(a.source_id)]
        if a.source_type == "outage":
            return outage[int(a.source_id)]
        return a.source_id

    def entity(row):
        return outage[int(row.entity_id)] if row.entity_type == "outage" else row.entity_id

    def data(values):
        values = dict(values or {})
        for name, named in (("alert_id", key), ("incident_id", incident), ("outage_id", outage)):
            if values.get(name) is not None:
                values[name] = str(named[values[name]])
        return json.dumps(values, sort_keys=True, ensure_ascii=False)

    def payload(d):
        values = {k: v for k, v in d.payload.items() if k != "alert_id"}
        if kind[d.alert_id] == "no_qualified_crew":  # raised at the clock's time, not the detection's
            values = {k: values[k] for k in ("title", "kind", "key", "purpose", "to")}
        return json.dumps(values, sort_keys=True, ensure_ascii=False)

    return {
        "tickets": [(t.id, site[t.site_id], dev.get(t.device_id), t.category, t.source, t.state,
                     user.get(t.assignee_id), incident.get(t.incident_id), t.summary, t.tier, t.policy_id,
                     t.needs_height, t.detected_at, t.notified_at, t.respond_by, t.arrive_by, t.repair_by, t.day_night,
                     t.distance_km, t.version) for t in db.scalars(select(Ticket).order_by(Ticket.id))],
        "history": [(e.ticket_id, e.action, e.actor_name, e.from_state, e.to_state, e.note, data(e.data))
                    for e in db.scalars(select(TicketEvent).order_by(TicketEvent.ticket_id, TicketEvent.id))],
        "audit": sorted((a.action, a.entity_type, str(entity(a)), a.actor_name, a.summary,
                         json.dumps(a.before, sort_keys=True, ensure_ascii=False),
                         json.dumps(a.after, sort_keys=True, ensure_ascii=False))
                        for a in db.scalars(select(AuditLog))),
        "alerts": sorted((a.key, a.kind, a.severity, a.state, a.title, a.body, site.get(a.site_id),
                          dev.get(a.device_id), a.district, a.audience, a.source_type, str(source(a)),
                          key.get(a.group_id), a.quiet_reason, a.cause, a.occurrences, a.notify_count, a.ticket_id,
                          None if a.kind == "no_qualified_crew" else (a.opened_at, a.last_notified_at))
                         for a in all_alerts),
        "messages": sorted((key[d.alert_id], d.channel_id, d.purpose, d.state, d.last_error, d.attempts,
                            None if kind[d.alert_id] == "no_qualified_crew" else d.next_attempt_at, payload(d))
                           for d in db.scalars(select(AlertDelivery))),
        "holds": sorted((h.window_id, str(outage.get(h.outage_id)), str(incident.get(h.site_incident_id)),
                         h.occurrence_end, h.held_at, h.released_at) for h in db.scalars(select(MaintenanceHold))),
        "outages": sorted((outage[o.id], o.detected_at, o.ended_at, o.cause, o.cause_reason, o.cause_set_by,
                           o.evidence_path, str(incident.get(o.site_incident_id))) for o in db.scalars(select(Outage))),
    }


def test_a_blackout_in_one_batch_leaves_what_the_same_sites_leave_one_batch_each(app, db):
    opened = _blackout(db, one_per_batch=False)
    assert opened == 7  # one batch: S1–S7 at once
    batch = _snapshot(db)
    db.close()
    _empty_tables(app.extensions["fleetops.engine"])
    _blackout(db, one_per_batch=True)
    alone = _snapshot(db)

    # What the scenario is about, so that the comparison below compares something.
    by_site = {t[1]: t for t in batch["tickets"] if t[3] == "site_dark"}
    assert sorted(by_site) == ["S1", "S2", "S3", "S4", "S6", "S7"]  # S5 is held by its window
    assert {s: t[6] for s, t in by_site.items()} == {"S3": "c2", "S2": "c1", "S1": "c1", "S4": None, "S6": "c4",
                                                     "S7": None}
    assert [t[5] for t in batch["tickets"] if t[3] == "offline"] == ["cancelled", "cancelled"]
    assert [a[0] for a in batch["alerts"] if a[1] == "no_qualified_crew"] == sorted(
        f"ticket:{by_site[s][0]}:no_qualified_crew" for s in ("S4", "S7"))
    for s in ("S4", "S7"):  # flagged in the history, before the dispatch to nobody, naming the alert it raised
        ticket_id, esc = by_site[s][0], f"ticket:{by_site[s][0]}:no_qualified_crew"
        lines = [h for h in batch["history"] if h[0] == ticket_id]
        assert [h[1] for h in lines] == ["opened", "no_qualified_crew", "dispatch"]
        assert json.loads(lines[1][6])["alert_id"] == esc
        assert [a[17] for a in batch["alerts"] if a[0] == esc] == [ticket_id]
    site_alerts = {a[6]: a for a in batch["alerts"] if a[1] == "site_dark"}
    assert sorted(site_alerts) == ["S1", "S2", "S3", "S4", "S6", "S7"]
    assert site_alerts["S1"][13] and site_alerts["S6"][13] and not site_alerts["S2"][13]  # quiet: a cause known
    folded = [a for a in batch["alerts"] if a[1] == "device_down"]
    assert sorted(a[12] for a in folded) == [site_alerts["S1"][0], site_alerts["S2"][0]]
    assert ("cancelled" in {m[3] for m in batch["messages"]} and
            sum(m[2] == "opened" and m[3] == "pending" for m in batch["messages"]) >= 3)
    assert len(batch["holds"]) == 1 + 3 + 1  # S5's blackout and its three outages, S6-CAM1's outage

    for part in batch:
        assert batch[part] == alone[part], part


def test_a_district_window_that_ends_with_its_sites_still_dark_tickets_and_alerts_each_as_one_batch(db):
    """The window's end releases the blackouts it held together (one batch): each site its ticket, the crew taking
    turns as their loads grow, and its blackout alert — as the sites alone would have got them."""
    t0 = (utcnow() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    depot = Depot(name="一号驻点", latitude=43.8, longitude=87.6)
    db.add(depot)
    db.flush()
    boss = User(username="boss", password_hash="x", role="supervisor")
    crew = [User(username=f"c{i}", password_hash="x", role="crew", district="天山区", depot_id=depot.id)
            for i in (1, 2)]
    db.add_all([boss, *crew])
    db.flush()
    for member in crew:
        for kind in ("work_at_height", "electrician"):
            tickets.add_qualification(db, member.id, kind, date(2099, 1, 1), valid_from=date(2020, 1, 1))
    codes = []
    for i in range(3):
        site = Site(code=f"W{i + 1}", name=f"W{i + 1} 卡口", district="天山区", latitude=43.8, longitude=87.6,
                    depot_id=depot.id)
        db.add(site)
        db.flush()
        db.add_all([Device(code=f"W{i + 1}-CAM{j + 1}", kind="checkpoint_camera", site_id=site.id, lifecycle="online")
                    for j in range(2)])
        codes += [f"W{i + 1}-CAM{j + 1}" for j in range(2)]
    hook = alerts.save_channel(db, boss, name="crew-group", kind="webhook", settings={"url": "http://127.0.0.1:9/h"})
    alerts.save_route(db, boss, channel_id=hook.id)
    maintenance.create_window(db, districts=["天山区"], starts_at=t0 - timedelta(minutes=30),
                              ends_at=t0 + timedelta(minutes=10), cause="power_utility", reference="供电通知 120",
                              actor=boss, now=t0 - timedelta(hours=1))
    db.commit()
    for k in range(6):
        _cycle(db, codes, t0 + timedelta(minutes=k), ok=k < 3)
    assert db.scalars(select(Ticket)).all() == []  # held while the window lasts
    assert db.scalars(select(Alert).where(Alert.kind == "site_dark")).all() == []

    assert maintenance.tick(db, now=t0 + timedelta(minutes=10))["still_down"] == 3 + 6  # blackouts, outages
    db.commit()
    site = {s.id: s.code for s in db.scalars(select(Site))}
    made = db.scalars(select(Ticket).order_by(Ticket.id)).all()
    assert [(site[t.site_id], t.state, t.assignee.username) for t in made] == [
        ("W3", "dispatched", "c1"), ("W2", "dispatched", "c2"), ("W1", "dispatched", "c1")]
    site_alerts = db.scalars(select(Alert).where(Alert.kind == "site_dark")).all()
    assert sorted(site[a.site_id] for a in site_alerts) == ["W1", "W2", "W3"]
    assert all(a.state == "open" and a.source_type == "site_incident" for a in site_alerts)
    assert db.scalars(select(MaintenanceHold).where(MaintenanceHold.released_at.is_(None))).all() == []
    assert maintenance.tick(db, now=t0 + timedelta(minutes=11))["still_down"] == 0  # released once

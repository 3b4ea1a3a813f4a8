"""Recompute the derived monitoring data of the devices a batch touched, then announce what changed.

The steps, in order: anchors and saved counters (`state`), liveness → outages and status intervals
(`outages`, `intervals`, `flapping`), SNMP → reboots and hung devices (`reboots_hung`), site incidents
(`incidents`), Device.status (`device_status`), and finally the events.

Events emitted (see platform/events.py): outage_opened, outage_closed, site_incident_opened,
site_incident_closed, device_rebooted, device_flapping, device_hung. An outage that belongs to a site
incident when it is detected is announced through site_incident_opened only (U5); recoveries
(outage_closed) are always announced. The site incidents a batch opens are announced together
(`events.emit_many`, the sites distinct), so that a blackout's tickets and alerts are written set-wise.
"""
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.models import Device, Site
from fleetops.models.monitoring import SiteIncident

from fleetops.platform import events
from fleetops.services.monitoring import bulk, device_status, incidents, outages, quiet, reboots_hung, state
from fleetops.services.monitoring.batch import Batch, Dev
from fleetops.services.monitoring.settings import PROBES, SAME_POLL_SLACK, IngestConfig, IngestSummary


def recompute(session: Session, cfg: IngestConfig, now: datetime, devices: dict[int, Dev],
              new_rows: dict[int, dict[str, list[dict]]], summary: IngestSummary,
              settled: dict[int, dict[str, list[dict]]] | None = None) -> None:
    """Devices whose results changed nothing (`quiet.py`) are written in bulk; the others get the full recompute.
    `settled`: devices already written by `steady.py` that are still down — only their Device.status is left,
    checked with the quiet ones after the site incidents."""
    session.flush()  # nothing pending: the quiet part writes with Core and expires what it overwrote
    settled = settled or {}
    q = quiet.Quiet(session, cfg, now, {d: devices[d] for d in new_rows}, new_rows)
    loud = q.run()
    b = Batch(session, cfg, now, {d: devices[d] for d in loud}, {d: new_rows[d] for d in loud}, summary)
    calm = [*q.devices, *settled]
    qb = Batch(session, cfg, now, {d: devices[d] for d in calm},
               {d: new_rows[d] if d in new_rows else settled[d] for d in calm}, summary)
    with session.no_autoflush:  # flushes happen where ids are needed, not before every query
        _run(b, lambda: device_status.update_devices(qb, q.states))


def _run(b: Batch, quiet_status=None) -> None:
    states = state.load_states(b)
    liveness = {d: b.devices[d].liveness_probe for d in b.devices}
    for probe in PROBES:
        todo = {d: rows[probe] for d, rows in b.new_rows.items() if probe in rows
                and (liveness[d] == probe or probe == "snmp")}
        if probe == "snmp":
            todo = _snmp_todo(b, todo, states, liveness)
        if not todo:
            continue
        plans = {d: state.plan(b, d, probe, rows, states.get((d, probe)),
                               hung=probe == "snmp" and liveness[d] == "ping") for d, rows in todo.items()}
        obs = state.load_observations(b, probe, plans)
        live = [d for d in plans if liveness[d] == probe]
        if live:
            outages.apply_liveness(b, {d: plans[d] for d in live}, {d: obs[d] for d in live}, states, probe)
        if probe == "snmp":
            reboots_hung.apply_snmp(b, plans, obs, states, liveness)
    incidents.rederive(b)
    device_status.update_devices(b, states)
    if quiet_status is not None:
        quiet_status()  # after the incidents: a still-down device may just have joined one
    _emit(b)


def _snmp_todo(b: Batch, todo: dict, states, liveness) -> dict:
    """Hung depends on the ping result of the same poll, so new ping results of a ping-liveness device
    re-judge the SNMP results they pair with (those up to SAME_POLL_SLACK before them and later)."""
    out = dict(todo)
    for d, rows in b.new_rows.items():
        if liveness[d] != "ping" or "ping" not in rows or not b.devices[d].snmp_version:
            continue
        st = states.get((d, "snmp"))
        shifted = [{"at": r["at"] - SAME_POLL_SLACK} for r in rows["ping"]]
        if d in out:
            out[d] = list(out[d]) + shifted
        elif st is not None and st.last_at is not None and min(r["at"] for r in shifted) <= st.last_at:
            out[d] = shifted  # late ping results: SNMP results already judged may pair with them
    return out


_POINT_EVENTS = ("device_rebooted", "device_flapping", "device_hung")


def _emit(b: Batch) -> None:
    """Announce what changed. History — an outage or site incident that had ended more than the
    `late_import_after_h` parameter before its results arrived, a reboot, flap or hang from before then — is
    recorded but announced to no one (no ticket, no alert); later ones go out with their real detection time."""
    b.s.flush()
    warm = _warm(b)  # noqa: F841  (held: the identity map keeps only what is referenced)
    incident_members = {o.id for o in b.opened if o.site_incident_id is not None}
    for o in b.opened:
        if o.retracted_at is not None:
            continue
        b.summary.outages_opened += 1
        if o.imported_late:
            b.summary.imported_late += 1
            continue
        if o.id in incident_members:
            continue  # U5: announced once, as the site incident
        events.emit(b.s, "outage_opened", outage_id=o.id, device_id=o.device_id,
                    started_at=o.started_at, detected_at=o.detected_at)
    blackout, sites = [], set()  # issue 14: site incidents opened together go out as one batch (emit_many)
    for name, payload in b.pending_events:
        if payload.get("incident_id") in b.late_incidents:
            continue
        if name in _POINT_EVENTS and payload["at"] < b.late_cutoff:
            continue
        if name == "site_incident_opened" and payload["site_id"] not in sites:
            blackout.append(payload)  # one site at most once per batch: its handlers may then run batch-wise
            sites.add(payload["site_id"])
            continue
        events.emit_many(b.s, "site_incident_opened", blackout)
        blackout, sites = [], set()
        if name == "site_incident_opened":
            blackout, sites = [payload], {payload["site_id"]}
        else:
            events.emit(b.s, name, **payload)
    events.emit_many(b.s, "site_incident_opened", blackout)
    for o in b.closed:
        if o.retracted_at is not None or o.imported_late:
            continue
        b.summary.outages_closed += 1
        events.emit(b.s, "outage_closed", outage_id=o.id, device_id=o.device_id, ended_at=o.ended_at)


def _warm(b: Batch) -> list:
    """The sites, devices and site incidents the events are about, loaded in three queries, so that each
    subscriber's `session.get(Site, …)` (Device, SiteIncident) is answered from the session, not by a query each."""
    site_ids = {p["site_id"] for _n, p in b.pending_events if p.get("site_id") is not None}
    device_ids = {o.device_id for o in b.opened} | {p["device_id"] for _n, p in b.pending_events
                                                     if p.get("device_id") is not None}
    incident_ids = {p["incident_id"] for _n, p in b.pending_events if p.get("incident_id") is not None}
    held: list = []
    for model, ids in ((Site, site_ids), (Device, device_ids), (SiteIncident, incident_ids)):
        for chunk in bulk.id_chunks(b.s, ids):
            held += b.s.scalars(select(model).where(bulk.in_ids(b.s, model.id, chunk))).all()
    return held

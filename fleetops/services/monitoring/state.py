"""Where a device's recompute starts: its saved counter state (MonitorState), the anchor time before which
nothing can change, and the stored observations from the anchor on."""
from sqlalchemy import func, select

from fleetops.domain import availability as av
from fleetops.models.monitoring import MonitorState, ProbeResultRow
from fleetops.services.monitoring.batch import Batch
from fleetops.services.monitoring.settings import BULK_LOOKBACK, chunks


def load_states(b: Batch) -> dict:
    out = {}
    for chunk in chunks(b.devices):
        for st in b.s.scalars(select(MonitorState).where(MonitorState.device_id.in_(chunk))):
            out[(st.device_id, st.probe)] = st
    return out


def plan(b: Batch, device_id: int, probe: str, rows: list[dict], st: MonitorState | None,
         hung: bool = False) -> dict:
    """Where to recompute from: the anchor time (results before it cannot change), the run carried into it,
    and the last ok reading before it (for reboots).

    `hung`: the SNMP state of a ping-liveness device is its hung counter, which depends on ping results too;
    in order, it is recomputed from the counter's first result (never carried), else from the last result."""
    t0 = min(r["at"] for r in rows)
    if st is None:  # nothing of this probe was ever processed for the device: the new rows are its history
        return {"anchor": t0, "prior": None, "prev": None}
    if hung and st.last_at is not None and t0 > st.last_at:
        anchor = st.run_start if (st.run_count or st.run_detected_at) and st.run_start else st.last_at
        prev = av.Observation(st.last_ok_at, True, st.last_ok_value) \
            if st.last_ok_at is not None and st.last_ok_at < anchor else None
        return {"anchor": anchor, "prior": None, "prev": prev}
    if st is not None and st.last_at is not None and t0 > st.last_at:
        if st.run_detected_at is not None:
            prior = av.RunState(st.run_start, st.run_count, st.run_detected_at)
            prev = av.Observation(st.last_ok_at, True, st.last_ok_value) if st.last_ok_at else None
            return {"anchor": st.last_at, "prior": prior, "prev": prev}
        # pending failures (or none): recompute from the last success, or from the run's first failure
        return {"anchor": st.last_ok_at or st.run_start or st.last_at, "prior": None, "prev": None}
    if st.last_ok_at is not None and st.last_ok_at < t0:
        return {"anchor": st.last_ok_at, "prior": None, "prev": None}
    # late results: from the last success before the earliest of them, else from the first result stored
    base = select(func.max(ProbeResultRow.at)).where(
        ProbeResultRow.device_id == device_id, ProbeResultRow.probe == probe)
    anchor = b.s.scalar(base.where(ProbeResultRow.ok.is_(True), ProbeResultRow.at < t0))
    if anchor is None:
        anchor = b.s.scalar(select(func.min(ProbeResultRow.at)).where(
            ProbeResultRow.device_id == device_id, ProbeResultRow.probe == probe))
    return {"anchor": min(anchor, t0) if anchor is not None else t0, "prior": None, "prev": None}


def load_observations(b: Batch, probe: str, plans: dict) -> dict[int, list[av.Observation]]:
    out: dict[int, list[av.Observation]] = {d: [] for d in plans}
    anchors = [p["anchor"] for p in plans.values() if p["anchor"] is not None]
    newest = max(anchors) if anchors else None
    bulk = [d for d, p in plans.items() if p["anchor"] is not None and p["anchor"] >= newest - BULK_LOOKBACK]
    in_bulk = set(bulk)
    single = [d for d in plans if d not in in_bulk]
    cols = (ProbeResultRow.device_id, ProbeResultRow.at, ProbeResultRow.ok, ProbeResultRow.sys_uptime_s)
    if bulk:
        since = min(plans[d]["anchor"] for d in bulk)
        for chunk in chunks(bulk):
            q = select(*cols).where(ProbeResultRow.device_id.in_(chunk), ProbeResultRow.probe == probe,
                                    ProbeResultRow.at >= since).order_by(ProbeResultRow.at)
            for r in b.s.execute(q):
                if r.at >= plans[r.device_id]["anchor"]:
                    out[r.device_id].append(av.Observation(r.at, r.ok, r.sys_uptime_s))
    for d in single:
        q = select(*cols).where(ProbeResultRow.device_id == d, ProbeResultRow.probe == probe)
        if plans[d]["anchor"] is not None:
            q = q.where(ProbeResultRow.at >= plans[d]["anchor"])
        out[d] = [av.Observation(r.at, r.ok, r.sys_uptime_s) for r in b.s.execute(q.order_by(ProbeResultRow.at))]
    return out


def save_state(b: Batch, states, device_id, probe, obs, final: av.RunState) -> None:
    st = states.get((device_id, probe))
    if st is None:
        st = MonitorState(device_id=device_id, probe=probe, run_count=0)
        b.s.add(st)
        states[(device_id, probe)] = st
    oks = [o for o in obs if o.ok]
    if oks and (st.last_ok_at is None or oks[-1].at >= st.last_ok_at):
        st.last_ok_at, st.last_ok_value = oks[-1].at, oks[-1].value
    if obs and (st.last_at is None or obs[-1].at > st.last_at):
        st.last_at = obs[-1].at
    st.run_start, st.run_count, st.run_detected_at = final.run_start, final.run_count, final.detected_at

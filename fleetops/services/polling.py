"""Monitoring ingest and polling: the one path every probe result enters by (poll, file replay, API), and the poll jobs.

Results are stored idempotently keyed by (device, probe, at); each affected device's outages, status intervals
and events are then recomputed from the stored results starting at the last success before the earliest new
result (or, for an in-order batch, from the device's saved counter state). So the same results applied twice,
or in any order, give the same outages.

Events emitted here (see services/events.py): outage_opened, outage_closed, site_incident_opened,
site_incident_closed, device_rebooted, device_flapping, device_hung. An outage that belongs to a site
incident when it is detected is announced through site_incident_opened only (U5); recoveries
(outage_closed) are always announced.
"""
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from fleetops.domain import availability as av
from fleetops.domain.choices import IN_SERVICE, INFRASTRUCTURE_KINDS, DeviceStatus
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import (
    DeviceEvent, MonitorState, OnlineRateSample, Outage, ProbeResultRow, SiteIncident, StatusInterval,
)
from fleetops.platform import events

log = logging.getLogger(__name__)

PROBES = ("ping", "snmp")
CHUNK = 900  # ids per IN (...) — well under SQLite's parameter limit
FUTURE_SLACK = timedelta(minutes=5)
# Devices whose anchor lies further back than this are recomputed one by one, not in the bulk query.
BULK_LOOKBACK = timedelta(hours=6)
LAST_SEEN_STEP = timedelta(minutes=5)
# Hung (U6): an SNMP result pairs with the ping result of the same poll — same time ± this, or the nearest
# ping result at most one poll interval older (av.same_poll_ping).
SAME_POLL_SLACK = timedelta(seconds=5)
INGEST_LOCK_ID = 0x466C6569  # PostgreSQL advisory lock serialising ingests


@dataclass
class IngestConfig:
    """Detection settings (infrastructure config, not contract numbers)."""

    poll_interval_s: int = 60
    interval_by_kind: dict = field(default_factory=dict)  # per-kind override of poll_interval_s
    down_after: int = 3  # U2: N consecutive failed liveness results
    retention_days: int = 30  # raw results older than this are refused (and pruned)
    flap_window_s: int = 1800  # U6: a fixed window …
    flap_threshold: int = 6  # … with this many ok↔failed changes is flapping
    site_window_s: int | None = None  # U5: outages starting this close together are "together" (default 2 polls)

    @classmethod
    def from_app_config(cls, config) -> "IngestConfig":
        return cls(
            poll_interval_s=int(config.get("POLL_INTERVAL_S", 60)),
            interval_by_kind=dict(config.get("POLL_INTERVAL_BY_KIND") or {}),
            down_after=int(config.get("DOWN_AFTER_FAILURES", 3)),
            retention_days=int(config.get("RESULT_RETENTION_DAYS", 30)),
            flap_window_s=int(config.get("FLAP_WINDOW_S", 1800)),
            flap_threshold=int(config.get("FLAP_THRESHOLD", 6)),
        )

    def max_cover(self, kind: str) -> timedelta:
        """A result stands for the device's state for at most 2 poll intervals (brief: monitoring gaps)."""
        return timedelta(seconds=2 * int(self.interval_by_kind.get(kind, self.poll_interval_s)))

    @property
    def site_window(self) -> timedelta:
        return timedelta(seconds=self.site_window_s or 2 * self.poll_interval_s)


@dataclass
class IngestSummary:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unknown_devices: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # {"index": n, "device": code, "reason": …}
    outages_opened: int = 0
    outages_closed: int = 0
    incidents_opened: int = 0
    reboots: int = 0
    hung: int = 0
    flapping: int = 0

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# ---------------------------------------------------------------------------------------------- parsing

def parse_result(obj) -> dict:
    """A ProbeResult or a result-line dict → {device, probe, ok, at, rtt_ms, sys_uptime_s, detail}; ValueError."""
    if hasattr(obj, "probe") and hasattr(obj, "target"):
        obj = {"device": obj.target, "probe": obj.probe, "ok": obj.ok, "at": obj.at,
               "metrics": obj.metrics, "detail": obj.detail}
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object / 不是 JSON 对象")
    device = obj.get("device")
    if not isinstance(device, str) or not device.strip():
        raise ValueError("'device' is missing / 缺少设备编号 device")
    probe = obj.get("probe")
    if probe not in PROBES:
        raise ValueError(f"'probe' must be ping or snmp, not {probe!r} / probe 只能是 ping 或 snmp")
    ok = obj.get("ok")
    if not isinstance(ok, bool):
        raise ValueError("'ok' must be true or false / ok 必须是 true 或 false")
    at = obj.get("at")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"'at' is not an ISO 8601 time: {at!r} / 时间格式错误") from None
    if not isinstance(at, datetime):
        raise ValueError("'at' is missing / 缺少时间 at")
    if at.tzinfo is None:
        raise ValueError("'at' must carry a UTC offset, e.g. +08:00 / 时间必须带时区")
    metrics = obj.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ValueError("'metrics' must be an object / metrics 必须是对象")
    values = {}
    for key in ("rtt_ms", "sys_uptime_s"):
        v = metrics.get(key)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"metrics.{key} must be a number ≥ 0 / {key} 必须是非负数")
            values[key] = float(v)
    detail = obj.get("detail") or ""
    if not isinstance(detail, str):
        raise ValueError("'detail' must be text / detail 必须是文本")
    return {"device": device.strip(), "probe": probe, "ok": ok, "at": at.astimezone(timezone.utc),
            "rtt_ms": values.get("rtt_ms"), "sys_uptime_s": values.get("sys_uptime_s"), "detail": detail[:200]}


def _chunks(seq, n=CHUNK):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _epoch_s(at: datetime) -> int:
    return int(math.floor((at - av.EPOCH).total_seconds()))


def _from_epoch(s: int) -> datetime:
    return av.EPOCH + timedelta(seconds=s)


# ---------------------------------------------------------------------------------------------- ingest

def ingest_results(session: Session, results, config: IngestConfig | None = None, now: datetime | None = None,
                   ) -> IngestSummary:
    """Store a batch of results and bring outages, intervals, events and Device.status up to date.

    Unknown device codes and bad results are reported in the summary, not fatal for the rest. The caller commits."""
    cfg = config or IngestConfig()
    now = now or utcnow()
    summary = IngestSummary()
    parsed: list[tuple[int, dict]] = []
    for index, raw in enumerate(results, start=1):
        summary.received += 1
        try:
            row = parse_result(raw)
        except ValueError as err:
            summary.rejected.append({"index": index, "device": _code_of(raw), "reason": str(err)})
            continue
        if row["at"] > now + FUTURE_SLACK:
            summary.rejected.append({"index": index, "device": row["device"],
                                     "reason": "'at' is in the future / 时间在未来"})
            continue
        if row["at"] < now - timedelta(days=cfg.retention_days):
            summary.rejected.append({"index": index, "device": row["device"],
                                     "reason": f"older than the {cfg.retention_days}-day retention window "
                                               f"/ 超出原始结果保留期"})
            continue
        parsed.append((index, row))
    if not parsed:
        return summary

    devices = _devices_by_code(session, {r["device"] for _, r in parsed})
    unknown = sorted({r["device"] for _, r in parsed if r["device"] not in devices})
    summary.unknown_devices = unknown
    rows, seen = [], set()
    for _index, r in parsed:
        dev = devices.get(r["device"])
        if dev is None:
            continue
        key = (dev.id, r["probe"], r["at"])
        if key in seen:
            summary.duplicates += 1
            continue
        seen.add(key)
        rows.append({"device_id": dev.id, "probe": r["probe"], "at": r["at"], "ok": r["ok"],
                     "rtt_ms": r["rtt_ms"], "sys_uptime_s": r["sys_uptime_s"], "detail": r["detail"]})
    if session.get_bind().dialect.name == "postgresql":
        # One ingest at a time (scheduler poll vs. an agent's push): each recomputes from the saved state.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INGEST_LOCK_ID})
    inserted = _insert_new(session, rows)
    summary.stored = len(inserted)
    summary.duplicates += len(rows) - len(inserted)
    if not inserted:
        return summary

    by_device: dict[int, dict[str, list[dict]]] = {}
    for r in inserted:
        by_device.setdefault(r["device_id"], {}).setdefault(r["probe"], []).append(r)
    dev_by_id = {d.id: d for d in devices.values() if d.id in by_device}
    _Recompute(session, cfg, now, dev_by_id, by_device, summary).run()
    return summary


def _code_of(raw) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("device"), str):
        return raw["device"]
    return getattr(raw, "target", "") or ""


@dataclass(frozen=True)
class _Dev:
    id: int
    code: str
    kind: str
    site_id: int
    liveness_probe: str
    snmp_version: str
    status: str
    status_since: datetime | None
    last_seen_at: datetime | None


def _devices_by_code(session: Session, codes: set[str]) -> dict[str, _Dev]:
    out = {}
    cols = (Device.id, Device.code, Device.kind, Device.site_id, Device.liveness_probe, Device.snmp_version,
            Device.status, Device.status_since, Device.last_seen_at)
    for chunk in _chunks(sorted(codes)):
        for row in session.execute(select(*cols).where(Device.code.in_(chunk))):
            out[row.code] = _Dev(*row)
    return out


def _insert_new(session: Session, rows: list[dict]) -> list[dict]:
    """Insert results, skipping those already stored; return the ones that were new."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = ProbeResultRow.__table__
    stmt = insert(table).on_conflict_do_nothing(index_elements=["device_id", "probe", "at"]).returning(
        table.c.device_id, table.c.probe, table.c.at)
    new_keys = set()
    for chunk in _chunks(rows, 2000):
        for r in session.execute(stmt, chunk):
            new_keys.add((r.device_id, r.probe, r.at))
    return [r for r in rows if (r["device_id"], r["probe"], r["at"]) in new_keys]


class _Recompute:
    """Recomputes derived monitoring data for the devices a batch touched (one instance per batch)."""

    def __init__(self, session, cfg, now, devices, new_rows, summary):
        self.s: Session = session
        self.cfg: IngestConfig = cfg
        self.now = now
        self.devices: dict[int, _Dev] = devices
        self.new_rows = new_rows
        self.summary: IngestSummary = summary
        self.opened: list[Outage] = []
        self.closed: list[Outage] = []
        self.changed_sites: dict[int, datetime] = {}  # site → earliest changed outage time
        self.open_run: dict[int, Outage | None] = {}
        self.open_hung: dict[int, DeviceEvent | None] = {}
        self.last_end: dict[int, datetime] = {}
        self.pending_events: list[tuple[str, dict]] = []

    def run(self) -> None:
        with self.s.no_autoflush:  # flushes happen where ids are needed, not before every query
            self._run()

    def _run(self) -> None:
        states = self._load_states()
        liveness = {d: p for d, p in ((d, self.devices[d].liveness_probe) for d in self.devices)}
        for probe in PROBES:
            todo = {d: rows[probe] for d, rows in self.new_rows.items() if probe in rows
                    and (liveness[d] == probe or probe == "snmp")}
            if probe == "snmp":
                todo = self._snmp_todo(todo, states, liveness)
            if not todo:
                continue
            plans = {d: self._plan(d, probe, rows, states.get((d, probe)),
                                   hung=probe == "snmp" and liveness[d] == "ping") for d, rows in todo.items()}
            obs = self._load_observations(probe, plans)
            live = [d for d in plans if liveness[d] == probe]
            if live:
                self._apply_liveness({d: plans[d] for d in live}, {d: obs[d] for d in live}, states, probe)
            if probe == "snmp":
                self._apply_snmp(plans, obs, states, liveness)
        self._site_incidents()
        self._update_devices(states)
        self._emit()

    def _snmp_todo(self, todo: dict, states, liveness) -> dict:
        """Hung depends on the ping result of the same poll, so new ping results of a ping-liveness device
        re-judge the SNMP results they pair with (those up to SAME_POLL_SLACK before them and later)."""
        out = dict(todo)
        for d, rows in self.new_rows.items():
            if liveness[d] != "ping" or "ping" not in rows or not self.devices[d].snmp_version:
                continue
            st = states.get((d, "snmp"))
            shifted = [{"at": r["at"] - SAME_POLL_SLACK} for r in rows["ping"]]
            if d in out:
                out[d] = list(out[d]) + shifted
            elif st is not None and st.last_at is not None and min(r["at"] for r in shifted) <= st.last_at:
                out[d] = shifted  # late ping results: SNMP results already judged may pair with them
        return out

    # -- state and anchors
    def _load_states(self) -> dict:
        out = {}
        for chunk in _chunks(self.devices):
            for st in self.s.scalars(select(MonitorState).where(MonitorState.device_id.in_(chunk))):
                out[(st.device_id, st.probe)] = st
        return out

    def _plan(self, device_id: int, probe: str, rows: list[dict], st: MonitorState | None,
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
        anchor = self.s.scalar(base.where(ProbeResultRow.ok.is_(True), ProbeResultRow.at < t0))
        if anchor is None:
            anchor = self.s.scalar(select(func.min(ProbeResultRow.at)).where(
                ProbeResultRow.device_id == device_id, ProbeResultRow.probe == probe))
        return {"anchor": min(anchor, t0) if anchor is not None else t0, "prior": None, "prev": None}

    def _load_observations(self, probe: str, plans: dict) -> dict[int, list[av.Observation]]:
        out: dict[int, list[av.Observation]] = {d: [] for d in plans}
        anchors = [p["anchor"] for p in plans.values() if p["anchor"] is not None]
        newest = max(anchors) if anchors else None
        bulk = [d for d, p in plans.items() if p["anchor"] is not None and p["anchor"] >= newest - BULK_LOOKBACK]
        in_bulk = set(bulk)
        single = [d for d in plans if d not in in_bulk]
        cols = (ProbeResultRow.device_id, ProbeResultRow.at, ProbeResultRow.ok, ProbeResultRow.sys_uptime_s)
        if bulk:
            since = min(plans[d]["anchor"] for d in bulk)
            for chunk in _chunks(bulk):
                q = select(*cols).where(ProbeResultRow.device_id.in_(chunk), ProbeResultRow.probe == probe,
                                        ProbeResultRow.at >= since).order_by(ProbeResultRow.at)
                for r in self.s.execute(q):
                    if r.at >= plans[r.device_id]["anchor"]:
                        out[r.device_id].append(av.Observation(r.at, r.ok, r.sys_uptime_s))
        for d in single:
            q = select(*cols).where(ProbeResultRow.device_id == d, ProbeResultRow.probe == probe)
            if plans[d]["anchor"] is not None:
                q = q.where(ProbeResultRow.at >= plans[d]["anchor"])
            out[d] = [av.Observation(r.at, r.ok, r.sys_uptime_s) for r in self.s.execute(q.order_by(ProbeResultRow.at))]
        return out

    def _save_state(self, states, device_id, probe, obs, final: av.RunState):
        st = states.get((device_id, probe))
        if st is None:
            st = MonitorState(device_id=device_id, probe=probe, run_count=0)
            self.s.add(st)
            states[(device_id, probe)] = st
        oks = [o for o in obs if o.ok]
        if oks and (st.last_ok_at is None or oks[-1].at >= st.last_ok_at):
            st.last_ok_at, st.last_ok_value = oks[-1].at, oks[-1].value
        if obs and (st.last_at is None or obs[-1].at > st.last_at):
            st.last_at = obs[-1].at
        st.run_start, st.run_count, st.run_detected_at = final.run_start, final.run_count, final.detected_at

    # -- liveness: outages and status intervals
    def _apply_liveness(self, plans, obs, states, probe) -> None:
        ids = list(plans)
        since = min((p["anchor"] for p in plans.values() if p["anchor"] is not None), default=None)
        existing_outages = self._existing(Outage, ids, since, Outage.started_at, Outage.ended_at,
                                          extra=Outage.retracted_at.is_(None))
        since_s = _epoch_s(since) if since is not None else None
        existing_iv: dict[int, list[StatusInterval]] = {d: [] for d in ids}
        for chunk in _chunks(ids):
            q = select(StatusInterval).where(StatusInterval.device_id.in_(chunk))
            if since_s is not None and all(plans[d]["anchor"] is not None for d in chunk):
                q = q.where(StatusInterval.end_s >= since_s)
            for iv in self.s.scalars(q):
                existing_iv[iv.device_id].append(iv)
        derived = {}
        for d in ids:  # outages first, all devices, then one flush gives the new ones their ids
            plan, o = plans[d], obs[d]
            dev = self.devices[d]
            runs, final = av.debounce(o, self.cfg.down_after, plan["prior"])
            anchor = plan["anchor"]
            mine = [x for x in existing_outages[d] if anchor is None or x.ended_at is None or x.ended_at > anchor]
            derived[d] = (runs, final, self._persist_outages(dev, runs, mine))
        self.s.flush()
        for d in ids:
            plan, o = plans[d], obs[d]
            runs, final, run_rows = derived[d]
            anchor = plan["anchor"]
            intervals = av.coverage(o, runs, self.cfg.max_cover(self.devices[d].kind))
            ivs = [iv for iv in existing_iv[d] if anchor is None or iv.end_s >= _epoch_s(anchor)]
            self._persist_intervals(d, anchor, intervals, run_rows, ivs)
            self._save_state(states, d, probe, o, final)
            self._flapping(d, probe, o)
            open_rows = [run_rows[r.start] for r in runs if r.end is None]
            self.open_run[d] = open_rows[-1] if open_rows else None
            ends = [r.end for r in runs if r.end is not None]
            if ends:
                self.last_end[d] = max(ends)

    def _existing(self, model, ids, since, start_col, end_col, extra=None) -> dict[int, list]:
        out: dict[int, list] = {d: [] for d in ids}
        for chunk in _chunks(ids):
            q = select(model).where(model.device_id.in_(chunk))
            if extra is not None:
                q = q.where(extra)
            if since is not None:
                q = q.where(or_(end_col.is_(None), end_col > since))
            for row in self.s.scalars(q.order_by(start_col)):
                out[row.device_id].append(row)
        return out

    def _persist_outages(self, dev: _Dev, runs: list[av.Run], existing: list[Outage]) -> dict:
        """Match recomputed runs to stored outages by overlap (keeping their cause); new ones are added,
        ones the late results undid are retracted. Returns {run start: Outage}."""
        out, used = {}, set()
        for run in runs:
            match = next((x for x in existing if id(x) not in used and _overlaps(
                x.started_at, x.ended_at, run.start, run.end)), None)
            if match is None:
                match = Outage(device_id=dev.id, started_at=run.start, detected_at=run.detected_at,
                               ended_at=run.end, cause="device_fault")
                self.s.add(match)
                self.opened.append(match)
                if run.end is not None:
                    self.closed.append(match)
                self._site_changed(dev.site_id, run.start)
            else:
                if match.ended_at is None and run.end is not None:
                    self.closed.append(match)
                if (match.started_at, match.detected_at, match.ended_at) != (run.start, run.detected_at, run.end):
                    self._site_changed(dev.site_id, min(run.start, match.started_at))
                    match.started_at, match.detected_at, match.ended_at = run.start, run.detected_at, run.end
            used.add(id(match))
            out[run.start] = match
        for x in existing:
            if id(x) not in used:
                x.retracted_at = self.now
                self._site_changed(dev.site_id, x.started_at)
        return out

    def _site_changed(self, site_id: int, at: datetime) -> None:
        prev = self.changed_sites.get(site_id)
        self.changed_sites[site_id] = at if prev is None else min(prev, at)

    def _persist_intervals(self, device_id, anchor, intervals, run_rows, existing: list[StatusInterval]) -> None:
        """Replace the device's intervals from `anchor` on with the recomputed ones, reusing rows."""
        want = [(_epoch_s(i.start), _epoch_s(i.end), i.state,
                 run_rows[i.run_start].id if i.run_start is not None else None) for i in intervals]
        want = [w for w in want if w[1] > w[0]]
        existing = sorted(existing, key=lambda iv: iv.start_s)
        anchor_s = _epoch_s(anchor) if anchor is not None else None
        before = [iv for iv in existing if anchor_s is not None and iv.start_s < anchor_s]
        after = [iv for iv in existing if anchor_s is None or iv.start_s >= anchor_s]
        for iv in before:  # the stretch covering the anchor ends there; the recomputed part follows
            if iv.end_s > anchor_s:
                iv.end_s = anchor_s
        if before and want:
            last = before[-1]
            first = want[0]
            if last.end_s == first[0] and last.state == first[2] and last.outage_id == first[3]:
                last.end_s = first[1]
                want = want[1:]
        for iv, w in zip(after, want):
            iv.start_s, iv.end_s, iv.state, iv.outage_id = w
        for iv in after[len(want):]:
            self.s.delete(iv)
        for w in want[len(after):]:
            self.s.add(StatusInterval(device_id=device_id, start_s=w[0], end_s=w[1], state=w[2], outage_id=w[3]))

    # -- SNMP: reboots and hung devices
    def _apply_snmp(self, plans, obs, states, liveness) -> None:
        ids = list(plans)
        since = min((p["anchor"] for p in plans.values() if p["anchor"] is not None), default=None)
        reboots_existing = self._existing_events("rebooted", ids, since, by_at=True)
        hung_existing = self._existing_events("hung", ids, since, by_at=False)
        hung_devices = [d for d in ids if liveness[d] == "ping"]
        pings = self._ping_observations(hung_devices, obs) if hung_devices else {}
        for d in ids:
            plan, o = plans[d], obs[d]
            anchor = plan["anchor"]
            found = av.reboots(o, plan["prev"])
            have = {e.at: e for e in reboots_existing[d] if anchor is None or e.at > anchor}
            for rb in found:
                if rb.at in have:
                    have.pop(rb.at)
                    continue
                ev = DeviceEvent(device_id=d, kind="rebooted", at=rb.at, detected_at=rb.at,
                                 detail=f"booted_at={rb.booted_at.isoformat(timespec='seconds')}")
                self.s.add(ev)
                self.summary.reboots += 1
                self.pending_events.append(("device_rebooted", {"device_id": d, "at": rb.at}))
            for stale in have.values():
                self.s.delete(stale)
            if liveness[d] == "ping":
                # the SNMP counter state of a ping-liveness device is its hung counter
                hung, final = av.hung_runs(o, pings.get(d, []), self.cfg.down_after, self._interval(d),
                                           SAME_POLL_SLACK, plan["prior"])
                self.open_hung[d] = self._persist_hung(d, anchor, hung, hung_existing[d])
            else:
                _runs, final = av.debounce(o, self.cfg.down_after, plan["prior"])
            self._save_state(states, d, "snmp", o, final)

    def _interval(self, device_id: int) -> timedelta:
        return self.cfg.max_cover(self.devices[device_id].kind) / 2

    def _ping_observations(self, ids, snmp_obs) -> dict[int, list[av.Observation]]:
        """Each device's ping results that can pair with its SNMP results being judged (see av.same_poll_ping)."""
        windows = {d: (snmp_obs[d][0].at - self._interval(d), snmp_obs[d][-1].at + SAME_POLL_SLACK)
                   for d in ids if snmp_obs.get(d)}
        out: dict[int, list[av.Observation]] = {d: [] for d in windows}
        if not windows:
            return out
        newest = max(w[0] for w in windows.values())
        bulk = sorted(d for d, w in windows.items() if w[0] >= newest - BULK_LOOKBACK)
        groups = [list(c) for c in _chunks(bulk)] + [[d] for d in sorted(set(windows) - set(bulk))]
        cols = (ProbeResultRow.device_id, ProbeResultRow.at, ProbeResultRow.ok)
        for group in groups:
            lo = min(windows[d][0] for d in group)
            hi = max(windows[d][1] for d in group)
            q = select(*cols).where(ProbeResultRow.device_id.in_(group), ProbeResultRow.probe == "ping",
                                    ProbeResultRow.at >= lo, ProbeResultRow.at <= hi).order_by(ProbeResultRow.at)
            for r in self.s.execute(q):
                w = windows[r.device_id]
                if w[0] <= r.at <= w[1]:
                    out[r.device_id].append(av.Observation(r.at, r.ok))
        return out

    def _existing_events(self, kind, ids, since, by_at: bool) -> dict[int, list[DeviceEvent]]:
        out: dict[int, list] = {d: [] for d in ids}
        for chunk in _chunks(ids):
            q = select(DeviceEvent).where(DeviceEvent.device_id.in_(chunk), DeviceEvent.kind == kind)
            if since is not None:
                q = q.where(DeviceEvent.at > since) if by_at else q.where(
                    or_(DeviceEvent.ended_at.is_(None), DeviceEvent.ended_at > since))
            for ev in self.s.scalars(q.order_by(DeviceEvent.at)):
                out[ev.device_id].append(ev)
        return out

    def _persist_hung(self, device_id, anchor, runs, existing) -> DeviceEvent | None:
        mine = [e for e in existing if anchor is None or e.ended_at is None or e.ended_at > anchor]
        used, open_ev = set(), None
        for run in runs:
            match = next((e for e in mine if id(e) not in used and _overlaps(e.at, e.ended_at, run.start, run.end)),
                         None)
            if match is None:
                match = DeviceEvent(device_id=device_id, kind="hung", at=run.start, detected_at=run.detected_at,
                                    ended_at=run.end, detail="ping ok, SNMP silent")
                self.s.add(match)
                self.summary.hung += 1
                self.pending_events.append(("device_hung", {"device_id": device_id, "at": run.detected_at}))
            else:
                match.at, match.detected_at, match.ended_at = run.start, run.detected_at, run.end
            used.add(id(match))
            if run.end is None:
                open_ev = match
        for e in mine:
            if id(e) not in used:
                self.s.delete(e)
        return open_ev

    # -- flapping (U6): fixed windows, recomputed for windows that saw a change
    def _flapping(self, device_id: int, probe: str, obs: list[av.Observation]) -> None:
        changes = [b.at for a, b in zip(obs, obs[1:]) if a.ok != b.ok]
        if not changes:
            return
        w = self.cfg.flap_window_s
        first_b, last_b = av.bucket_of(changes[0], w), av.bucket_of(changes[-1], w)
        start = av.bucket_start(first_b, w)
        end = av.bucket_start(last_b + 1, w)
        base = select(ProbeResultRow.at, ProbeResultRow.ok).where(
            ProbeResultRow.device_id == device_id, ProbeResultRow.probe == probe)
        rows = list(self.s.execute(base.where(ProbeResultRow.at < start).order_by(ProbeResultRow.at.desc()).limit(1)))
        rows = rows + list(self.s.execute(base.where(ProbeResultRow.at >= start, ProbeResultRow.at < end)
                                          .order_by(ProbeResultRow.at)))
        found = av.flap_times([av.Observation(r.at, r.ok) for r in rows], w, self.cfg.flap_threshold)
        have = {e.at: e for e in self.s.scalars(select(DeviceEvent).where(
            DeviceEvent.device_id == device_id, DeviceEvent.kind == "flapping",
            DeviceEvent.at >= start, DeviceEvent.at < end))}
        for at in found.values():
            if have.pop(at, None) is not None:
                continue
            self.s.add(DeviceEvent(device_id=device_id, kind="flapping", at=at, detected_at=at,
                                   detail=f">= {self.cfg.flap_threshold} changes in {w} s"))
            self.summary.flapping += 1
            self.pending_events.append(("device_flapping", {"device_id": device_id, "at": at}))
        for stale in have.values():
            self.s.delete(stale)

    # -- site blackouts (U5)
    def _site_incidents(self) -> None:
        """U5: re-derive the incidents of every site whose outages changed (three queries for all of them)."""
        if not self.changed_sites:
            return
        self.s.flush()
        window = self.cfg.site_window
        site_ids = sorted(self.changed_sites)
        lookback = {sid: at - window - timedelta(days=1) for sid, at in self.changed_sites.items()}
        earliest = min(lookback.values())
        outages: dict[int, list] = {sid: [] for sid in site_ids}
        counts: dict[int, int] = {}
        incidents: dict[int, list[SiteIncident]] = {sid: [] for sid in site_ids}
        for chunk in _chunks(site_ids):
            q = (select(Outage, Device.kind, Device.site_id).join(Device, Device.id == Outage.device_id)
                 .where(Device.site_id.in_(chunk), Outage.retracted_at.is_(None), Outage.started_at >= earliest))
            for o, kind, sid in self.s.execute(q):
                if o.started_at >= lookback[sid]:
                    outages[sid].append((o, kind))
            counts.update(self.s.execute(
                select(Device.site_id, func.count(Device.id))
                .where(Device.site_id.in_(chunk), Device.lifecycle.in_([x.value for x in IN_SERVICE]))
                .group_by(Device.site_id)).all())
            for inc in self.s.scalars(select(SiteIncident).where(
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
                    or _overlaps(e.started_at, e.ended_at, inc.start, inc.end))), None)
                if match is None:
                    match = SiteIncident(site_id=sid, started_at=inc.start, detected_at=inc.detected_at,
                                         ended_at=inc.end, device_count=len(inc.members))
                    self.s.add(match)
                    created.append((match, inc))
                else:
                    if match.ended_at is None and inc.end is not None:
                        self.pending_events.append(("site_incident_closed", {
                            "incident_id": match.id, "site_id": sid, "ended_at": inc.end}))
                    match.started_at, match.detected_at, match.ended_at = inc.start, inc.detected_at, inc.end
                    match.device_count = len(inc.members)
                used.add(id(match))
                for k in inc.members:
                    member_of[k] = match
            for e in existing:
                if id(e) not in used:
                    e.retracted_at = self.now
            members += [(o, member_of.get(o.id)) for o, _k in rows]
        if created:
            self.s.flush()  # one flush gives every new incident its id
        for match, inc in created:
            self.summary.incidents_opened += 1
            self.pending_events.insert(0, ("site_incident_opened", {
                "incident_id": match.id, "site_id": match.site_id, "started_at": inc.start,
                "detected_at": inc.detected_at}))
            if inc.end is not None:
                self.pending_events.append(("site_incident_closed", {
                    "incident_id": match.id, "site_id": match.site_id, "ended_at": inc.end}))
        for o, inc in members:
            o.site_incident_id = inc.id if inc is not None else None

    # -- Device.status and events
    def _update_devices(self, states) -> None:
        updates = []
        need_outage = [d for d in self.devices if d not in self.open_run]
        need_hung = [d for d in self.devices if d not in self.open_hung and self.devices[d].snmp_version]
        stored_outage: dict[int, Outage] = {}
        stored_hung: dict[int, DeviceEvent] = {}
        for chunk in _chunks(need_outage):  # no liveness result in this batch: status follows what is stored
            for o in self.s.scalars(select(Outage).where(Outage.device_id.in_(chunk), Outage.ended_at.is_(None),
                                                         Outage.retracted_at.is_(None))):
                stored_outage[o.device_id] = o
        for chunk in _chunks(need_hung):
            for e in self.s.scalars(select(DeviceEvent).where(DeviceEvent.device_id.in_(chunk),
                                                              DeviceEvent.kind == "hung",
                                                              DeviceEvent.ended_at.is_(None))):
                stored_hung[e.device_id] = e
        for d, dev in self.devices.items():
            new_rows = [r for rows in self.new_rows[d].values() for r in rows]
            seen = max((r["at"] for r in new_rows if r["ok"]), default=None)
            last_seen = max(x for x in (dev.last_seen_at, seen) if x is not None) if (dev.last_seen_at or seen) \
                else None
            outage = self.open_run[d] if d in self.open_run else stored_outage.get(d)
            hung = self.open_hung[d] if d in self.open_hung else stored_hung.get(d)
            if outage is not None:
                in_incident = outage.site_incident_id is not None and dev.kind not in INFRASTRUCTURE_KINDS
                status = DeviceStatus.UNREACHABLE if in_incident else DeviceStatus.DOWN
                since = outage.started_at
            elif hung is not None:
                status, since = DeviceStatus.HUNG, hung.at
            else:
                st = states.get((d, dev.liveness_probe))
                status = DeviceStatus.UP if st is not None and st.last_ok_at is not None else DeviceStatus.UNKNOWN
                first_ok = min((r["at"] for r in new_rows if r["ok"]), default=None)
                since = dev.status_since if dev.status == status.value else (self.last_end.get(d) or first_ok)
            unchanged = status.value == dev.status and since == dev.status_since
            if unchanged and not _seen_moved(dev.last_seen_at, last_seen):
                continue  # nothing worth a write: 10,000 devices a minute would churn the inventory table
            updates.append({"did": d, "st": status.value, "since": since, "seen": last_seen})
        table = Device.__table__
        # A plain UPDATE: monitoring must not bump the inventory's optimistic-lock version.
        stmt = update(table).where(table.c.id == bindparam("did")).values(
            status=bindparam("st"), status_since=bindparam("since"), last_seen_at=bindparam("seen"))
        self.s.flush()
        for chunk in _chunks(updates, 2000):
            self.s.connection().execute(stmt, chunk)

    def _emit(self) -> None:
        self.s.flush()
        incident_members = {o.id for o in self.opened if o.site_incident_id is not None}
        for o in self.opened:
            if o.retracted_at is not None:
                continue
            self.summary.outages_opened += 1
            if o.id in incident_members:
                continue  # U5: announced once, as the site incident
            events.emit(self.s, "outage_opened", outage_id=o.id, device_id=o.device_id,
                        started_at=o.started_at, detected_at=o.detected_at)
        for name, payload in self.pending_events:
            events.emit(self.s, name, **payload)
        for o in self.closed:
            if o.retracted_at is not None:
                continue
            self.summary.outages_closed += 1
            events.emit(self.s, "outage_closed", outage_id=o.id, device_id=o.device_id, ended_at=o.ended_at)



def _seen_moved(old: datetime | None, new: datetime | None) -> bool:
    """Device.last_seen_at is kept to the minute granularity people read it at: written when 5 min newer."""
    if new is None:
        return False
    return old is None or new - old >= LAST_SEEN_STEP


def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    far = datetime.max.replace(tzinfo=timezone.utc)
    return a_start < (b_end or far) and b_start < (a_end or far)


# ---------------------------------------------------------------------------------------------- polling

def _targets(session: Session, cfg: IngestConfig, now: datetime):
    """(ping targets, SNMP targets, config problems) for every in-service device with an address that is due."""
    from probes.snmp import SnmpTarget

    cols = (Device.id, Device.code, Device.kind, Device.ip_address, Device.liveness_probe, Device.snmp_version,
            Device.snmp_port, Device.snmp_community, Device.snmp_v3_user, Device.snmp_v3_auth_protocol,
            Device.snmp_v3_auth_key, Device.snmp_v3_priv_protocol, Device.snmp_v3_priv_key, MonitorState.last_at)
    q = (select(*cols).outerjoin(MonitorState, and_(MonitorState.device_id == Device.id,
                                                    MonitorState.probe == Device.liveness_probe))
         .where(Device.lifecycle.in_([x.value for x in IN_SERVICE]), Device.ip_address.is_not(None),
                Device.ip_address != ""))
    pings, snmps, problems = [], [], []
    for r in session.execute(q):
        interval = int(cfg.interval_by_kind.get(r.kind, cfg.poll_interval_s))
        if interval > cfg.poll_interval_s and r.last_at is not None and \
                (now - r.last_at).total_seconds() < interval - cfg.poll_interval_s / 2:
            continue  # a per-kind slower poll that is not due yet
        if r.liveness_probe == "ping":
            pings.append((r.code, r.ip_address))
        elif not r.snmp_version:
            problems.append(f"{r.code}: liveness by SNMP but no SNMP version set / 未配置 SNMP，无法判断在线")
        if r.snmp_version:
            try:
                snmps.append(SnmpTarget(
                    key=r.code, address=r.ip_address, port=r.snmp_port or 161, version=r.snmp_version,
                    community=r.snmp_community, user=r.snmp_v3_user, auth_protocol=r.snmp_v3_auth_protocol,
                    auth_key=r.snmp_v3_auth_key, priv_protocol=r.snmp_v3_priv_protocol,
                    priv_key=r.snmp_v3_priv_key, kind=r.kind))
            except ValueError as err:  # bad probe config: say which device, never the secret
                problems.append(f"{r.code}: {err}")
    return pings, snmps, problems


def poll_once(app_or_factory, config: dict | None = None, now: datetime | None = None) -> IngestSummary:
    """Probe every due in-service device (liveness by its probe, SNMP where configured) and ingest the results.

    `app_or_factory` is the Flask app or a sessionmaker (then `config` gives the settings)."""
    from concurrent.futures import ThreadPoolExecutor

    from probes import ping as ping_probe
    from probes import snmp as snmp_probe

    from fleetops.db import session_scope

    if hasattr(app_or_factory, "extensions"):
        factory, conf = app_or_factory.extensions["fleetops.sessionmaker"], app_or_factory.config
    else:
        factory, conf = app_or_factory, config or {}
    cfg = IngestConfig.from_app_config(conf)
    started = time.monotonic()
    with session_scope(factory) as s:
        pings, snmps, problems = _targets(s, cfg, now or utcnow())
    for p in problems:
        log.warning("job=poll bad_probe_config %s", p)
    concurrency = int(conf.get("POLL_CONCURRENCY", 512))
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="poll") as pool:
        ping_future = pool.submit(ping_probe.ping_many, pings, float(conf.get("PING_TIMEOUT_S", 1.0)), concurrency) \
            if pings else None
        snmp_future = pool.submit(snmp_probe.get_many_sync, snmps, None, float(conf.get("SNMP_TIMEOUT_S", 2.0)),
                                  concurrency) if snmps else None
        results = (ping_future.result() if ping_future else []) + (snmp_future.result() if snmp_future else [])
    probed_s = time.monotonic() - started
    with session_scope(factory) as s:
        summary = ingest_results(s, results, cfg, now=now)
    ok = sum(1 for r in results if r.ok)
    log.info("job=poll devices=%d results=%d ok=%d failed=%d opened=%d closed=%d probe_s=%.1f duration_s=%.1f",
             len({k for k, _ in pings} | {t.key for t in snmps}), len(results), ok, len(results) - ok,
             summary.outages_opened, summary.outages_closed, probed_s, time.monotonic() - started)
    return summary


def sample_online_rate(session: Session, cfg: IngestConfig | None = None, now: datetime | None = None
                       ) -> OnlineRateSample:
    """U4: mark devices whose results stopped coming as unknown, then record the share of devices online now."""
    from fleetops.domain.choices import CONTRACT_KINDS

    cfg = cfg or IngestConfig()
    now = now or utcnow()
    stale = []
    q = (select(Device.id, Device.kind, MonitorState.last_at)
         .join(MonitorState, and_(MonitorState.device_id == Device.id, MonitorState.probe == Device.liveness_probe))
         .where(Device.status != DeviceStatus.UNKNOWN.value))
    for r in session.execute(q):
        if r.last_at is not None and now - r.last_at > cfg.max_cover(r.kind):
            stale.append({"did": r.id, "since": r.last_at + cfg.max_cover(r.kind)})
    if stale:
        table = Device.__table__
        stmt = update(table).where(table.c.id == bindparam("did")).values(
            status=DeviceStatus.UNKNOWN.value, status_since=bindparam("since"))
        session.connection().execute(stmt, stale)
    in_service = [x.value for x in IN_SERVICE]
    base = select(func.count(Device.id)).where(Device.lifecycle.in_(in_service), Device.ip_address.is_not(None))
    contract = base.where(Device.kind.in_([str(k) for k in CONTRACT_KINDS]))
    up = Device.status == DeviceStatus.UP.value
    sample = OnlineRateSample(at=now, in_service=session.scalar(base) or 0, online=session.scalar(base.where(up)) or 0,
                              contract_in_service=session.scalar(contract) or 0,
                              contract_online=session.scalar(contract.where(up)) or 0)
    session.add(sample)
    return sample


def prune_results(session: Session, retention_days: int, now: datetime | None = None) -> int:
    """Drop raw results past the retention window; outages, intervals and events stay forever."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    res = session.execute(ProbeResultRow.__table__.delete().where(ProbeResultRow.at < cutoff))
    return res.rowcount or 0


def job_poll(app) -> None:
    poll_once(app)


def job_online_rate(app) -> None:
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        sample = sample_online_rate(s, IngestConfig.from_app_config(app.config))
        log.info("job=online_rate in_service=%d online=%d", sample.in_service, sample.online)


def job_prune_results(app) -> None:
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        n = prune_results(s, int(app.config.get("RESULT_RETENTION_DAYS", 30)))
    log.info("job=prune_results deleted=%d", n)

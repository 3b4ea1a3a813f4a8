"""Quiet devices (issue 14): a result that did not change a device's state costs no recompute.

Most of a cycle's results say what the previous cycle said: an up device answered again, a device already down
failed again. For those the full recompute (`recompute._run`: ORM objects, outages matched, incidents re-derived)
would change nothing but the saved counter, the end of the last status interval and Device.last_seen_at. This
module finds them with a handful of set-based queries for the whole batch, computes exactly what the full recompute
would write — with the same rules (`availability.debounce`, `coverage`, `hung_runs`, `reboots`), from the same
stored observations — and writes it in bulk (`bulk.py`). A device is quiet only when that recompute would open,
close, move or retract nothing (no outage, hung period, reboot, flap or site incident changes): anything else, and
any batch it cannot judge cheaply (late results, SNMP liveness), goes to the full recompute. A device's first
results (no saved state yet) are judged the same way, so a newly connected fleet costs no ORM objects either.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select

from fleetops.domain import availability as av
from fleetops.models.monitoring import DeviceEvent, MonitorState, Outage, ProbeResultRow, StatusInterval
from fleetops.services.monitoring import bulk, intervals
from fleetops.services.monitoring.batch import Dev
from fleetops.services.monitoring.settings import BULK_LOOKBACK, SAME_POLL_SLACK, IngestConfig, epoch_s
from fleetops.services.monitoring.state import plan

ENABLED = True  # False: every device gets the full recompute (the tests compare both ways)
STATE_COLS = ("last_at", "last_ok_at", "last_ok_value", "run_start", "run_count", "run_detected_at")


@dataclass
class State:
    """A MonitorState row as plain values (what `state.plan` and `device_status` read)."""

    device_id: int
    probe: str
    last_at: datetime | None
    last_ok_at: datetime | None
    last_ok_value: float | None
    run_start: datetime | None
    run_count: int
    run_detected_at: datetime | None

    def values(self) -> tuple:
        return (self.last_at, self.last_ok_at, self.last_ok_value, self.run_start, self.run_count,
                self.run_detected_at)


@dataclass
class Job:
    """One (device, probe) the recompute would process: its plan, observations and what it would write."""

    device_id: int
    probe: str
    rows: list[dict]
    st: State
    plan: dict
    obs: list | None = None
    new_state: State | None = None
    fresh: bool = False  # no saved state yet (first results of the probe): the state row is inserted
    outage: object = None  # the open outage a still-down device keeps (a Core row)
    want: list | None = None  # liveness: the recomputed status intervals (intervals.wanted)


class Quiet:
    """The quiet part of one batch: `devices` (ids) were handled here; the rest need the full recompute."""

    def __init__(self, session, cfg: IngestConfig, now: datetime, devices: dict[int, Dev],
                 new_rows: dict[int, dict[str, list[dict]]]):
        self.s, self.cfg, self.now = session, cfg, now
        self.all_devices, self.all_rows = devices, new_rows
        self.devices: set[int] = set()
        self.states: dict[tuple, State] = {}

    # -- the decision ------------------------------------------------------------------------------
    def run(self) -> set[int]:
        """Judge every device, write what the quiet ones change; returns the ids that need the full recompute."""
        if not self.all_devices or not ENABLED:
            return set(self.all_devices)
        self.states = self._load_states()
        jobs: dict[int, list[Job]] = {}
        loud: set[int] = set()
        for d, dev in self.all_devices.items():
            found = self._jobs(d, dev)
            if found is None:
                loud.add(d)
            else:
                jobs[d] = found
        loud |= self._judge(jobs)
        quiet = {d: js for d, js in jobs.items() if d not in loud}
        self._write(quiet)
        self.devices = set(quiet)
        return loud

    def _jobs(self, d: int, dev: Dev) -> list[Job] | None:
        """The (device, probe) pairs the recompute would process, each in order after the saved state —
        or None when the device needs the full recompute."""
        live = dev.liveness_probe
        if live not in ("ping", "tcp"):
            return None
        rows = self.all_rows[d]
        out = []
        if live in rows:
            out.append((live, sorted(rows[live], key=lambda r: r["at"]), False))
        snmp = list(rows.get("snmp", ()))
        if live == "ping" and "ping" in rows and dev.snmp_version:  # see recompute._snmp_todo
            shifted = [{"at": r["at"] - SAME_POLL_SLACK} for r in rows["ping"]]
            st = self.states.get((d, "snmp"))
            if snmp:
                snmp += shifted
            elif st is not None and st.last_at is not None and min(r["at"] for r in shifted) <= st.last_at:
                snmp = shifted
        if snmp:
            out.append(("snmp", snmp, live == "ping"))
        jobs = []
        for probe, prows, hung in out:
            st = self.states.get((d, probe))
            t0 = min(r["at"] for r in prows)
            if st is None:  # first results of the probe: its history starts with them (state.plan)
                jobs.append(Job(d, probe, prows, State(d, probe, None, None, None, None, 0, None),
                                plan(None, d, probe, prows, None, hung=hung), fresh=True))
                continue
            if st.last_at is None or t0 <= st.last_at:
                return None  # late results: the full recompute looks for the last success before them
            jobs.append(Job(d, probe, prows, st, plan(None, d, probe, prows, st, hung=hung)))
        return jobs

    def _judge(self, jobs: dict[int, list[Job]]) -> set[int]:
        """Compute each job's result from its stored observations; returns the devices that are not quiet."""
        loud: set[int] = set()
        by_probe: dict[str, list[Job]] = {}
        for js in jobs.values():
            for j in js:
                by_probe.setdefault(j.probe, []).append(j)
        for probe, js in by_probe.items():
            newest = max(j.plan["anchor"] for j in js)
            for j in js:
                if j.plan["anchor"] < newest - BULK_LOOKBACK:
                    loud.add(j.device_id)
            js = [j for j in js if j.device_id not in loud]
            obs = self._observations(probe, {j.device_id: j.plan["anchor"] for j in js})
            for j in js:
                j.obs = obs[j.device_id]
        ids = [d for d in jobs if d not in loud]
        anchors = {}
        for d in ids:
            for j in jobs[d]:
                anchors[d] = min(anchors.get(d, j.plan["anchor"]), j.plan["anchor"])
        stored_outages = self._outages(anchors)
        stored_events = self._events(anchors)
        ping_windows = {}
        for d in ids:
            for j in jobs[d]:
                if j.probe == "snmp" and self.all_devices[d].liveness_probe == "ping" and j.obs \
                        and not all(o.ok for o in j.obs):
                    ping_windows[d] = (j.obs[0].at - self._interval(d), j.obs[-1].at + SAME_POLL_SLACK)
        pings = self._pings(ping_windows)
        for d in ids:
            dev = self.all_devices[d]
            for j in jobs[d]:
                ok = (self._liveness(j, dev, stored_outages.get(d, [])) if j.probe == dev.liveness_probe
                      else self._snmp(j, dev, stored_events.get(d, []), pings.get(d, [])))
                if not ok:
                    loud.add(d)
                    break
        return loud

    def _liveness(self, j: Job, dev: Dev, stored: list) -> bool:
        """outages.apply_liveness for one device, if it would change no outage and flag no flapping."""
        o, anchor = j.obs, j.plan["anchor"]
        if any(x.ok != y.ok for x, y in zip(o, o[1:])):
            return False  # an ok↔failed change: flapping windows to look at
        runs, final = av.debounce(o, self.cfg.down_after, j.plan["prior"])
        mine = [x for x in stored if x.ended_at is None or x.ended_at > anchor]
        if not runs:
            if mine:
                return False  # the recompute would retract it
        elif len(runs) == 1 and runs[0].end is None and len(mine) == 1:
            x = mine[0]
            if (x.started_at, x.detected_at, x.ended_at) != (runs[0].start, runs[0].detected_at, None):
                return False
            j.outage = x
        else:
            return False
        run_ids = {runs[0].start: j.outage.id} if runs else {}
        j.want = intervals.wanted(av.coverage(o, runs, self.cfg.max_cover(dev.kind)), run_ids)
        j.new_state = self._saved(j, final)
        return True

    def _snmp(self, j: Job, dev: Dev, stored: list, pings: list) -> bool:
        """reboots_hung.apply_snmp for one device, if it would record or remove no reboot and no hung period."""
        o, anchor = j.obs, j.plan["anchor"]
        if av.reboots(o, j.plan["prev"]):
            return False
        if any(e.kind == "rebooted" and e.at > anchor for e in stored):
            return False  # the recompute would remove it
        if dev.liveness_probe == "ping":
            runs, final = av.hung_runs(o, pings, self.cfg.down_after, self._interval(j.device_id),
                                       SAME_POLL_SLACK, j.plan["prior"])
            if runs or any(e.kind == "hung" and (e.ended_at is None or e.ended_at > anchor) for e in stored):
                return False
        else:
            _runs, final = av.debounce(o, self.cfg.down_after, j.plan["prior"])
        j.new_state = self._saved(j, final)
        return True

    @staticmethod
    def _saved(j: Job, final: av.RunState) -> State:
        """state.save_state, on plain values."""
        old = j.st
        last_ok_at, last_ok_value, last_at = old.last_ok_at, old.last_ok_value, old.last_at
        ok = next((x for x in reversed(j.obs) if x.ok), None)
        if ok is not None and (last_ok_at is None or ok.at >= last_ok_at):
            last_ok_at, last_ok_value = ok.at, ok.value
        if j.obs and (last_at is None or j.obs[-1].at > last_at):
            last_at = j.obs[-1].at
        return State(old.device_id, old.probe, last_at, last_ok_at, last_ok_value, final.run_start,
                     final.run_count, final.detected_at)

    def _interval(self, d: int):
        return self.cfg.max_cover(self.all_devices[d].kind) / 2

    # -- reads (a few set-based queries for the whole batch) ----------------------------------------
    def _load_states(self) -> dict[tuple, State]:
        t = MonitorState.__table__
        out = {}
        for chunk in bulk.id_chunks(self.s, self.all_devices):
            q = select(t.c.device_id, t.c.probe, *[t.c[c] for c in STATE_COLS]).where(
                bulk.in_ids(self.s, t.c.device_id, chunk))
            for r in self.s.connection().execute(q).all():
                out[(r.device_id, r.probe)] = State(*r)
        return out

    def _observations(self, probe: str, anchors: dict[int, datetime]) -> dict[int, list]:
        t = ProbeResultRow.__table__
        out: dict[int, list] = {d: [] for d in anchors}
        for chunk in bulk.id_chunks(self.s, anchors):
            since = min(anchors[d] for d in chunk)
            q = select(t.c.device_id, t.c.at, t.c.ok, t.c.sys_uptime_s).where(
                bulk.in_ids(self.s, t.c.device_id, chunk), t.c.probe == probe, t.c.at >= since)
            for d, at, ok, value in self.s.connection().execute(q).all():
                if at >= anchors[d]:
                    out[d].append(av.Observation(at, ok, value))
        for o in out.values():
            o.sort(key=lambda x: x.at)
        return out

    def _outages(self, anchors: dict[int, datetime]) -> dict[int, list]:
        """Each device's outages that are open or ended after its anchor (not retracted)."""
        t = Outage.__table__
        out: dict[int, list] = {}
        for chunk in bulk.id_chunks(self.s, anchors):
            since = min(anchors[d] for d in chunk)
            q = select(t.c.id, t.c.device_id, t.c.started_at, t.c.detected_at, t.c.ended_at).where(
                bulk.in_ids(self.s, t.c.device_id, chunk), t.c.retracted_at.is_(None),
                or_(t.c.ended_at.is_(None), t.c.ended_at > since)).order_by(t.c.started_at)
            for r in self.s.connection().execute(q).all():
                out.setdefault(r.device_id, []).append(r)
        return out

    def _events(self, anchors: dict[int, datetime]) -> dict[int, list]:
        """Reboots after each device's anchor and hung periods open or ended after it."""
        t = DeviceEvent.__table__
        out: dict[int, list] = {}
        for chunk in bulk.id_chunks(self.s, anchors):
            since = min(anchors[d] for d in chunk)
            q = select(t.c.device_id, t.c.kind, t.c.at, t.c.ended_at).where(
                bulk.in_ids(self.s, t.c.device_id, chunk),
                or_(and_(t.c.kind == "rebooted", t.c.at > since),
                    and_(t.c.kind == "hung", or_(t.c.ended_at.is_(None), t.c.ended_at > since))))
            for r in self.s.connection().execute(q).all():
                out.setdefault(r.device_id, []).append(r)
        return out

    def _pings(self, windows: dict[int, tuple]) -> dict[int, list]:
        """The ping results an SNMP failure pairs with (reboots_hung._ping_observations)."""
        t = ProbeResultRow.__table__
        out: dict[int, list] = {d: [] for d in windows}
        for chunk in bulk.id_chunks(self.s, windows):
            lo = min(windows[d][0] for d in chunk)
            hi = max(windows[d][1] for d in chunk)
            q = select(t.c.device_id, t.c.at, t.c.ok).where(
                bulk.in_ids(self.s, t.c.device_id, chunk), t.c.probe == "ping", t.c.at >= lo, t.c.at <= hi)
            for d, at, ok in self.s.connection().execute(q).all():
                if windows[d][0] <= at <= windows[d][1]:
                    out[d].append(av.Observation(at, ok))
        for o in out.values():
            o.sort(key=lambda x: x.at)
        return out

    def _intervals(self, anchors: dict[int, int]) -> dict[int, list[tuple]]:
        t = StatusInterval.__table__
        out: dict[int, list] = {d: [] for d in anchors}
        for chunk in bulk.id_chunks(self.s, anchors):
            since = min(anchors[d] for d in chunk)
            q = select(t.c.id, t.c.device_id, t.c.start_s, t.c.end_s, t.c.state, t.c.outage_id).where(
                bulk.in_ids(self.s, t.c.device_id, chunk), t.c.end_s >= since).order_by(t.c.id)
            for r in self.s.connection().execute(q).all():
                if r.end_s >= anchors[r.device_id]:
                    out[r.device_id].append((r.id, r.start_s, r.end_s, r.state, r.outage_id))
        return out

    # -- writes -------------------------------------------------------------------------------------
    def _write(self, quiet: dict[int, list[Job]]) -> None:
        states, fresh, live = [], [], {}
        for js in quiet.values():
            for j in js:
                if j.fresh:
                    fresh.append((j.device_id, j.probe, *j.new_state.values()))
                elif j.new_state.values() != j.st.values():
                    states.append((j.device_id, j.probe, *j.new_state.values()))
                self.states[(j.device_id, j.probe)] = j.new_state
                if j.want is not None:
                    live[j.device_id] = j
        bulk.update_rows(self.s, MonitorState.__table__, ("device_id", "probe"), STATE_COLS, states)
        bulk.insert_rows(self.s, MonitorState.__table__, ("device_id", "probe", *STATE_COLS), fresh)
        stored = self._intervals({d: epoch_s(j.plan["anchor"]) for d, j in live.items()})
        changed, deleted, added = [], [], []
        for d, j in live.items():
            c, x, a = intervals.interval_changes(epoch_s(j.plan["anchor"]), j.want, stored[d])
            changed += [(i, *v) for i, v in c.items()]
            deleted += x
            added += [(d, *w) for w in a]
        t = StatusInterval.__table__
        bulk.update_rows(self.s, t, ("id",), ("start_s", "end_s", "state", "outage_id"), changed)
        bulk.delete_ids(self.s, t, deleted)
        bulk.insert_rows(self.s, t, ("device_id", "start_s", "end_s", "state", "outage_id"), added)
        # ORM copies of what was just written (an earlier ingest in this session) must not be read stale.
        for obj in list(self.s.identity_map.values()):
            if isinstance(obj, (MonitorState, StatusInterval)) and obj.device_id in quiet:
                self.s.expire(obj)

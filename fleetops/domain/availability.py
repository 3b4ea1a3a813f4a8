"""Availability rules (pure): results → debounced outages, up/down coverage, flapping, hung, reboots, site blackouts."""
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

# U6: sysUpTime is 32-bit TimeTicks (1/100 s); it wraps to 0 after 2^32 / 100 s ≈ 497.1 days — not a reboot.
TIMETICKS_WRAP_S = 2 ** 32 / 100
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Observation:
    """One probe result of one device: `value` is sys_uptime_s for SNMP results, else None."""

    at: datetime
    ok: bool
    value: float | None = None


@dataclass
class Run:
    """A run of consecutive failures that reached the threshold: an outage (liveness) or a hung period (SNMP).

    `start` is the first failed result, `detected_at` the result that crossed the threshold,
    `end` the first success after it (None while still failing)."""

    start: datetime
    detected_at: datetime
    end: datetime | None = None


@dataclass
class RunState:
    """What a device's failure counter holds after its latest result (carried between batches)."""

    run_start: datetime | None = None
    run_count: int = 0
    detected_at: datetime | None = None

    @property
    def in_run(self) -> bool:
        return self.detected_at is not None


def debounce(observations: list[Observation], down_after: int = 3,
             prior: RunState | None = None) -> tuple[list[Run], RunState]:
    """U2: runs of ≥ `down_after` consecutive failures; a shorter run is no outage.

    `observations` must be sorted by time; `prior` continues a run from before the first one."""
    if down_after < 1:
        raise ValueError("down_after must be at least 1")
    state = RunState(prior.run_start, prior.run_count, prior.detected_at) if prior else RunState()
    runs: list[Run] = []
    current = Run(state.run_start, state.detected_at) if state.in_run else None
    for obs in observations:
        if obs.ok:
            if current is not None:
                current.end = obs.at
                runs.append(current)
                current = None
            state = RunState()
            continue
        if state.run_count == 0:
            state.run_start = obs.at
        state.run_count += 1
        if state.run_count == down_after and current is None:
            state.detected_at = obs.at
            current = Run(state.run_start, obs.at)
    if current is not None:
        runs.append(current)
    return runs, state


@dataclass(frozen=True)
class Interval:
    """A stretch of time covered by results in one state; `run_start` ties a down stretch to its outage."""

    start: datetime
    end: datetime
    state: str  # "up" | "down"
    run_start: datetime | None = None


def coverage(observations: list[Observation], runs: list[Run], max_cover: timedelta) -> list[Interval]:
    """Each result stands for the state until the next result, but for at most `max_cover` (2 poll intervals);
    time covered by no result is unknown and appears in no interval. Down = inside a run [start, end)."""
    out: list[Interval] = []
    ri = 0
    ordered_runs = sorted(runs, key=lambda r: r.start)
    for i, obs in enumerate(observations):
        until = obs.at + max_cover
        if i + 1 < len(observations):
            until = min(until, observations[i + 1].at)
        if until <= obs.at:
            continue
        while ri < len(ordered_runs) and ordered_runs[ri].end is not None and ordered_runs[ri].end <= obs.at:
            ri += 1
        run = ordered_runs[ri] if ri < len(ordered_runs) and ordered_runs[ri].start <= obs.at else None
        state, key = ("down", run.start) if run is not None else ("up", None)
        if out and out[-1].end == obs.at and out[-1].state == state and out[-1].run_start == key:
            out[-1] = Interval(out[-1].start, until, state, key)
        else:
            out.append(Interval(obs.at, until, state, key))
    return out


def _epoch(at: datetime) -> float:
    return (at - EPOCH).total_seconds()


def flap_times(observations: list[Observation], bucket_s: int = 1800, threshold: int = 6) -> dict[int, datetime]:
    """U6 flapping: in a fixed window (bucket) of `bucket_s`, `threshold` or more ok↔failed changes.

    Returns {bucket number: time of the change that reached the threshold}. Fixed buckets make the
    answer independent of the order results arrived in. Pass every observation of the buckets asked
    about, plus the one just before the first bucket."""
    counts: dict[int, int] = {}
    out: dict[int, datetime] = {}
    for prev, obs in zip(observations, observations[1:]):
        if prev.ok == obs.ok:
            continue
        b = bucket_of(obs.at, bucket_s)
        counts[b] = counts.get(b, 0) + 1
        if counts[b] == threshold:
            out[b] = obs.at
    return out


def bucket_of(at: datetime, bucket_s: int) -> int:
    return int(_epoch(at) // bucket_s)


def bucket_start(bucket: int, bucket_s: int) -> datetime:
    return EPOCH + timedelta(seconds=bucket * bucket_s)


def same_poll_ping(ping: list[Observation], at: datetime, interval: timedelta,
                   slack: timedelta = timedelta(seconds=5)) -> Observation | None:
    """The ping result of the poll an SNMP result at `at` belongs to: the nearest ping result from at most one
    poll interval before `at` to `slack` after it (same poll = same timestamp ± a few seconds). On a tie the
    failed one wins. None when there is none. `ping` must be sorted by time."""
    keys = [p.at for p in ping]
    cands = ping[bisect_left(keys, at - interval):bisect_right(keys, at + slack)]
    if not cands:
        return None
    return min(cands, key=lambda p: (abs(p.at - at), p.ok))


def hung_runs(snmp: list[Observation], ping: list[Observation], hung_after: int = 3,
              interval: timedelta = timedelta(minutes=1), slack: timedelta = timedelta(seconds=5),
              prior: RunState | None = None) -> tuple[list[Run], RunState]:
    """Hung device: its SNMP agent stopped answering while the device itself answers ping.

    A hung period is detected after `hung_after` consecutive SNMP failures each of whose own poll's ping result
    (see `same_poll_ping`) succeeded. An SNMP failure whose ping failed too, or has no ping result, means
    "maybe dying / unknown", never hung: it resets the count. Once detected, the period lasts until SNMP answers
    again (a device that then goes down shows as down meanwhile). `snmp` and `ping` must be sorted by time;
    `prior` continues the hung counter from before the first SNMP result. Returns the runs and the counter."""
    if hung_after < 1:
        raise ValueError("hung_after must be at least 1")
    state = RunState(prior.run_start, prior.run_count, prior.detected_at) if prior else RunState()
    runs: list[Run] = []
    current = Run(state.run_start, state.detected_at) if state.in_run else None
    for obs in snmp:
        if obs.ok:
            if current is not None:
                current.end = obs.at
                runs.append(current)
                current = None
            state = RunState()
            continue
        if current is not None:
            continue  # already hung: stays so until SNMP answers
        p = same_poll_ping(ping, obs.at, interval, slack)
        if p is None or not p.ok:
            state = RunState()  # maybe dying (or unknown): never evidence of hung
            continue
        if state.run_count == 0:
            state.run_start = obs.at
        state.run_count += 1
        if state.run_count >= hung_after:
            state.detected_at = obs.at
            current = Run(state.run_start, obs.at)
    if current is not None:
        runs.append(current)
    return runs, state


@dataclass(frozen=True)
class Reboot:
    at: datetime  # the result that showed it
    booted_at: datetime  # estimated from the uptime counter


def reboots(observations: list[Observation], previous: Observation | None = None,
            tolerance_s: float = 30.0) -> list[Reboot]:
    """U6: the uptime counter went back — the boot time implied by a reading moved later than the previous one's.

    The counter wraps at 2^32 centiseconds (≈ 497.1 days): boot times equal modulo the wrap are the same boot.
    Only successful readings with a value count; `previous` is the last such reading before the list."""
    out: list[Reboot] = []
    prev = previous if previous is not None and previous.ok and previous.value is not None else None
    for obs in observations:
        if not obs.ok or obs.value is None:
            continue
        if prev is not None:
            boot_prev = _epoch(prev.at) - prev.value
            boot_now = _epoch(obs.at) - obs.value
            delta = (boot_now - boot_prev + TIMETICKS_WRAP_S / 2) % TIMETICKS_WRAP_S - TIMETICKS_WRAP_S / 2
            if delta > tolerance_s:
                out.append(Reboot(obs.at, obs.at - timedelta(seconds=obs.value)))
        prev = obs
    return out


@dataclass(frozen=True)
class SiteOutage:
    """An outage of one device of a site, as the blackout rule sees it."""

    key: object  # the caller's id for the outage
    device_id: int
    start: datetime
    end: datetime | None
    infrastructure: bool  # a switch, fibre transceiver, cabinet or power supply (U5)


@dataclass
class SiteIncident:
    start: datetime
    detected_at: datetime
    end: datetime | None
    members: list = field(default_factory=list)  # SiteOutage keys


def site_incidents(outages: list[SiteOutage], devices_at_site: int, window: timedelta,
                   detected: dict | None = None) -> list[SiteIncident]:
    """U5: outages at one site that start within `window` of the first of them form one incident when one of
    them is infrastructure (switch, power…) or they cover more than half of the site's devices (at least 2).

    The incident ends when its last member recovers. `detected` maps outage key → detection time."""
    ordered = sorted(outages, key=lambda o: (o.start, str(o.key)))
    out: list[SiteIncident] = []
    i = 0
    while i < len(ordered):
        first = ordered[i]
        j = i
        while j < len(ordered) and ordered[j].start - first.start <= window:
            j += 1
        cluster = ordered[i:j]
        devices = {o.device_id for o in cluster}
        majority = len(devices) >= 2 and len(devices) * 2 > devices_at_site
        if any(o.infrastructure for o in cluster) or majority:
            ends = [o.end for o in cluster]
            end = None if any(e is None for e in ends) else max(ends)
            det = [(detected or {}).get(o.key) or o.start for o in cluster]
            out.append(SiteIncident(first.start, _incident_detected(cluster, det, devices_at_site),
                                    end, [o.key for o in cluster]))
            i = j
        else:
            i += 1
    return out


def _incident_detected(cluster: list[SiteOutage], detected: list[datetime], devices_at_site: int) -> datetime:
    """The moment the rule first held: the infrastructure outage's detection, or the majority's."""
    pairs = sorted(zip(detected, cluster), key=lambda p: p[0])
    seen: set = set()
    for at, o in pairs:
        seen.add(o.device_id)
        if o.infrastructure or (len(seen) >= 2 and len(seen) * 2 > devices_at_site):
            return at
    return pairs[-1][0]

"""SLA policies as data, deadlines from a policy + site + clock (day/night by the real sun at the site), penalties, T4.

Pure: standard library plus astral (sun position). A policy is a plain dict (stored as JSON, edited
by an admin); `SlaPolicy.from_dict` validates it and `deadlines(...)` turns it into due times.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from astral import Observer
from astral import sun as astral_sun

from fleetops.domain.text import Msg, N_

# Standard sunrise/sunset: the sun's upper limb on the horizon with mean refraction (geometric −0.833°).
HORIZON_DEG = -0.833
EARTH_RADIUS_KM = 6371.0088

DAY = "day"
NIGHT = "night"


# ---------------------------------------------------------------- the sun at the site (T2)

def _elevation(lat: float, lon: float, at: datetime) -> float:
    return astral_sun.elevation(Observer(lat, lon), at, with_refraction=False)


def _bisect_crossing(lat: float, lon: float, lo: datetime, hi: datetime) -> datetime:
    """The instant between lo and hi where the elevation crosses the horizon (signs differ at the ends)."""
    lo_above = _elevation(lat, lon, lo) > HORIZON_DEG
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if (_elevation(lat, lon, mid) > HORIZON_DEG) == lo_above:
            lo = mid
        else:
            hi = mid
    return lo + (hi - lo) / 2


def sun_times_by_bisection(lat: float, lon: float, day: date, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """(sunrise, sunset) of the local calendar day, found on astral's elevation; None when it does not happen."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    step = timedelta(minutes=10)
    sunrise = sunset = None
    t = start
    above = _elevation(lat, lon, t) > HORIZON_DEG
    while t < start + timedelta(days=1):
        nxt = min(t + step, start + timedelta(days=1))
        nxt_above = _elevation(lat, lon, nxt) > HORIZON_DEG
        if nxt_above != above:
            crossing = _bisect_crossing(lat, lon, t, nxt)
            if nxt_above and sunrise is None:
                sunrise = crossing
            elif not nxt_above:
                sunset = crossing
        t, above = nxt, nxt_above
    return sunrise, sunset


def zone(tz_name: str | None = None) -> ZoneInfo:
    """The site's zone; without one, the configured default TIMEZONE (callers pass the setting they read)."""
    if not tz_name:
        from fleetops.config import DEFAULTS

        tz_name = DEFAULTS["TIMEZONE"]
    return ZoneInfo(tz_name)


def sun_times(lat: float, lon: float, day: date, tz_name: str | None = None) -> tuple[datetime | None, datetime | None]:
    """Sunrise and sunset at the site on its local date. astral raises ValueError on some dates far
    west of the zone's meridian (the event falls on another UTC day); then we bisect on the elevation."""
    tz = zone(tz_name)
    obs = Observer(lat, lon)
    try:
        rise = astral_sun.sunrise(obs, day, tzinfo=tz)
        set_ = astral_sun.sunset(obs, day, tzinfo=tz)
    except ValueError:
        return sun_times_by_bisection(lat, lon, day, tz)
    if rise.date() != day or set_.date() != day:  # astral answered for a neighbouring day
        return sun_times_by_bisection(lat, lon, day, tz)
    return rise, set_


def day_or_night(lat: float, lon: float, at: datetime, tz_name: str | None = None) -> str:
    """T2: "day" between local sunrise and sunset at the site, else "night" — never a clock-hour rule."""
    if at.tzinfo is None:
        raise ValueError("day_or_night needs a timezone-aware datetime")
    local = at.astimezone(zone(tz_name))
    rise, set_ = sun_times(lat, lon, local.date(), tz_name)
    if rise is None and set_ is None:  # polar day or night: decide by the sun itself
        return DAY if _elevation(lat, lon, at) > HORIZON_DEG else NIGHT
    if rise is not None and set_ is not None:
        return DAY if rise <= local < set_ else NIGHT
    return DAY if _elevation(lat, lon, at) > HORIZON_DEG else NIGHT


# ---------------------------------------------------------------- distance (T2)

def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def travel_distance_km(site_lat: float, site_lon: float, depot_lat: float | None, depot_lon: float | None,
                       road_factor: float, road_distance_km: float | None = None) -> float | None:
    """The site's entered road distance, else great-circle from the depot × the road factor; None without a depot."""
    if road_distance_km is not None:
        return float(road_distance_km)
    if depot_lat is None or depot_lon is None:
        return None
    return great_circle_km(site_lat, site_lon, depot_lat, depot_lon) * road_factor


# ---------------------------------------------------------------- policies as data (T2, T3, T5)

class PolicyError(ValueError):
    """A policy dict that cannot be used; `msg` (a Msg) says which field and why."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg

    def __str__(self) -> str:
        return str(self.msg)


@dataclass(frozen=True)
class SlaPolicy:
    """One contract's windows. Every window is optional: a policy uses what its contract defines.

    - arrival (T2): `arrive_day_h` / `arrive_night_h` within `near_km` of the depot, `arrive_far_h` beyond;
    - on-site repair (T3): `repair_h` after arrival, or swap a spare within `swap_h`;
    - service desk tiers (T5): `respond_h` after notification, `resolve_h[tier]` after notification.
    """

    name: str
    arrive_day_h: float | None = None
    arrive_night_h: float | None = None
    near_km: float | None = None
    arrive_far_h: float | None = None
    repair_h: float | None = None
    swap_h: float | None = None
    respond_h: float | None = None
    resolve_h: dict = field(default_factory=dict)
    key_sites_first: bool = False
    penalty: dict = field(default_factory=dict)  # T9/P4: PenaltyRules as data (empty: the defaults)

    NUMBER_FIELDS = ("arrive_day_h", "arrive_night_h", "near_km", "arrive_far_h", "repair_h", "swap_h", "respond_h")

    @classmethod
    def from_dict(cls, data: dict) -> "SlaPolicy":
        if not isinstance(data, dict):
            raise PolicyError(Msg("A policy must be a JSON object."))
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise PolicyError(Msg("Unknown field(s): %(fields)s", fields=", ".join(sorted(unknown))))
        name = str(data.get("name") or "").strip()
        if not name:
            raise PolicyError(Msg("A policy needs a name."))
        values = {"name": name, "key_sites_first": bool(data.get("key_sites_first", False))}
        for f in cls.NUMBER_FIELDS:
            v = data.get(f)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise PolicyError(Msg("%(field)s must be a positive number (got %(value)s).", field=f, value=repr(v)))
            values[f] = float(v)
        resolve = data.get("resolve_h") or {}
        if not isinstance(resolve, dict):
            raise PolicyError(Msg("resolve_h must map tier → hours."))
        for tier, v in resolve.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise PolicyError(Msg("resolve_h.%(tier)s must be a positive number.", tier=tier))
        values["resolve_h"] = {str(k): float(v) for k, v in resolve.items()}
        penalty = data.get("penalty") or {}
        if not isinstance(penalty, dict):
            raise PolicyError(Msg("penalty must be a JSON object."))
        values["penalty"] = PenaltyRules.from_dict(penalty).to_dict() if penalty else {}
        has_arrival = values.get("arrive_day_h") is not None
        if has_arrival and values.get("arrive_night_h") is None:
            raise PolicyError(Msg("arrive_day_h needs arrive_night_h too."))
        if values.get("arrive_far_h") is not None and values.get("near_km") is None:
            raise PolicyError(Msg("arrive_far_h needs near_km."))
        return cls(**values)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}

    def penalty_rules(self) -> "PenaltyRules":
        return PenaltyRules.from_dict(self.penalty)


# The two presets of the issue; seeded into the database on first use, then edited as data.
CHECKPOINT_OM = {  # the main contract (T2, T3)
    "name": N_("Checkpoint O&M"),  # a msgid: pages show a stored name with |msg
    "arrive_day_h": 2, "arrive_night_h": 3, "near_km": 100, "arrive_far_h": 4,
    "repair_h": 4, "swap_h": 4, "key_sites_first": True,
    # T9: 5‰ of the contract total per day late; 5 % when service does not meet the contract.
    "penalty": {"late_basis": "contract_total", "late_daily_pct": 0.5, "day_rule": "calendar_day_union",
                "not_to_spec_pct": 5, "not_to_spec_rule": "once_per_month"},
}
SERVICE_DESK_TIERS = {  # the second contract (T5)
    "name": N_("Service desk tiers"),
    "respond_h": 1, "resolve_h": {"ordinary": 8, "complex": 24},
    # T9/P4: 0.5 % of the party's share per day late; the owner may terminate above 10 % of the contract total;
    # the contractor's interruptions extend the service period.
    "penalty": {"late_basis": "party_share", "late_daily_pct": 0.5, "day_rule": "calendar_day_union",
                "not_to_spec_pct": None, "terminate_above_pct": 10, "warn_at_share_pct": 80,
                "extends_service_period": True},
}
PRESETS = {"checkpoint_om": CHECKPOINT_OM, "service_desk": SERVICE_DESK_TIERS}


@dataclass(frozen=True)
class Deadlines:
    """When the clock started and what is due by when; `day_night` is fixed at notification (T2)."""

    notified_at: datetime
    day_night: str | None
    distance_km: float | None
    respond_by: datetime | None
    arrive_by: datetime | None
    repair_by: datetime | None


def _hours(h: float) -> timedelta:
    return timedelta(seconds=round(h * 3600))


def arrival_window_h(policy: SlaPolicy, day_night: str, distance_km: float | None) -> float | None:
    """T2: day/night window near the depot; beyond `near_km` the far window (never shorter than the night one)."""
    if policy.arrive_day_h is None:
        return None
    near = policy.arrive_day_h if day_night == DAY else policy.arrive_night_h
    if policy.near_km is not None and policy.arrive_far_h is not None and distance_km is not None \
            and distance_km > policy.near_km:  # "within 100 km" includes 100 km itself
        return max(policy.arrive_far_h, near)
    return near


def deadlines(policy: SlaPolicy, notified_at: datetime, *, lat: float, lon: float, tz_name: str | None = None,
              distance_km: float | None = None, tier: str = "ordinary", arrived_at: datetime | None = None) -> Deadlines:
    """Due times for a ticket notified at `notified_at` at a site; repair_by counts from arrival when known (T3),
    else provisionally from arrive_by; for tiered policies resolve_h[tier] counts from notification (T5)."""
    if notified_at.tzinfo is None:
        raise ValueError("notified_at must be timezone-aware")
    dn = day_or_night(lat, lon, notified_at, tz_name)
    respond_by = notified_at + _hours(policy.respond_h) if policy.respond_h else None
    window = arrival_window_h(policy, dn, distance_km)
    arrive_by = notified_at + _hours(window) if window else None
    repair_by = None
    if policy.repair_h:
        base = arrived_at or arrive_by
        if base is not None:
            repair_by = base + _hours(policy.repair_h)
    if policy.resolve_h:
        hours = policy.resolve_h.get(tier)
        if hours is None:
            raise PolicyError(Msg("The policy has no tier %(tier)s (known: %(known)s).", tier=repr(tier),
                                  known=", ".join(sorted(policy.resolve_h))))
        tier_due = notified_at + _hours(hours)
        repair_by = min(repair_by, tier_due) if repair_by else tier_due
    return Deadlines(notified_at, dn, distance_km, respond_by, arrive_by, repair_by)


def priority_key(key_site: bool, due: datetime | None, policy: SlaPolicy | None = None):
    """Sort key for work lists: key assessment sites first when the policy says so (F2), then the earliest deadline."""
    far = datetime.max.replace(tzinfo=timezone.utc)
    first = 0 if (key_site and (policy is None or policy.key_sites_first)) else 1
    return (first, due or far)


# ---------------------------------------------------------------- penalties (T9, P4)

def days_late(due: datetime, done: datetime) -> int:
    """Whole days late, any started day counting as one; 0 when on time."""
    late = (done - due).total_seconds()
    return 0 if late <= 0 else math.ceil(late / 86400)


# How a "day late" is counted. The default is what both contracts say: a calendar day (site local time) on which
# at least one obligation was past its deadline — the union of late periods, never a sum over tickets.
DAY_RULES = {
    "calendar_day_union": N_("A day late is a calendar day (site local time) on which at least one obligation was "
                             "past its deadline; overlapping delays count once."),
    "per_obligation": N_("Each late obligation counts its own started days late; overlapping delays add up."),
}
NOT_TO_SPEC_RULES = {
    "once_per_month": N_("Service not to specification is charged once for each calendar month in which it "
                         "happened."),
    "per_case": N_("Service not to specification is charged for each case."),
}
LATE_BASES = {
    "contract_total": N_("the contract total"),
    "party_share": N_("the party's share"),
}


@dataclass(frozen=True)
class PenaltyRules:
    """T9/P4 as data, part of an SLA policy: what a day late costs and of what, how days are counted, what service
    not to spec costs, and the cumulative share of the contract total above which the owner may terminate."""

    late_basis: str = "contract_total"
    late_daily_pct: Decimal = Decimal("0.5")
    day_rule: str = "calendar_day_union"
    not_to_spec_pct: Decimal | None = Decimal("5")
    not_to_spec_rule: str = "once_per_month"
    terminate_above_pct: Decimal | None = None
    warn_at_share_pct: Decimal = Decimal("80")  # warn when cumulative penalties reach this share of the threshold
    extends_service_period: bool = False

    @classmethod
    def from_dict(cls, data: dict | None) -> "PenaltyRules":
        if data is not None and not isinstance(data, dict):
            raise PolicyError(Msg("penalty must be a JSON object."))
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise PolicyError(Msg("Unknown penalty field(s): %(fields)s", fields=", ".join(sorted(unknown))))
        values: dict = {}
        for key, choices in (("late_basis", LATE_BASES), ("day_rule", DAY_RULES),
                             ("not_to_spec_rule", NOT_TO_SPEC_RULES)):
            if key in data:
                if data[key] not in choices:
                    raise PolicyError(Msg("penalty.%(field)s must be one of %(choices)s.", field=key,
                                          choices=", ".join(choices)))
                values[key] = data[key]
        for key in ("late_daily_pct", "not_to_spec_pct", "terminate_above_pct", "warn_at_share_pct"):
            if key not in data:
                continue
            v = data[key]
            if v is None and key in ("not_to_spec_pct", "terminate_above_pct"):
                values[key] = None
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise PolicyError(Msg("penalty.%(field)s must be a number from 0 to 100.", field=key))
            try:
                d = Decimal(str(v))
            except ArithmeticError:
                raise PolicyError(Msg("penalty.%(field)s must be a number from 0 to 100.", field=key)) from None
            if not d.is_finite() or d < 0 or d > 100:
                raise PolicyError(Msg("penalty.%(field)s must be a number from 0 to 100.", field=key))
            values[key] = d
        if "extends_service_period" in data:
            values["extends_service_period"] = bool(data["extends_service_period"])
        return cls(**values)

    def to_dict(self) -> dict:
        out = {}
        for k, v in asdict(self).items():
            out[k] = float(v) if isinstance(v, Decimal) else v
        return out


def late_days(periods, tz_of, since: datetime | None = None, until: datetime | None = None) -> set:
    """T9: the calendar days (site local time) touched by any late period, clipped to [since, until).

    `periods` are (start, end, key) with aware datetimes; `tz_of(key)` gives the zone name of that obligation's
    site. Returns a set of (zone-independent) local dates: the union, so parallel delays count once."""
    days: set[date] = set()
    for start, end, key in periods:
        if since is not None and start < since:
            start = since
        if until is not None and end > until:
            end = until
        if end <= start:
            continue
        tz = zone(tz_of(key))
        first = start.astimezone(tz).date()
        last = (end - timedelta(microseconds=1)).astimezone(tz).date()
        d = first
        while d <= last:
            days.add(d)
            d += timedelta(days=1)
    return days


def per_obligation_days(periods, since: datetime | None = None, until: datetime | None = None) -> int:
    """The old way, kept only for a policy that asks for it: each late obligation's started days, summed."""
    total = 0
    for start, end, _key in periods:
        if since is not None and start < since:
            start = since
        if until is not None and end > until:
            end = until
        if end > start:
            total += days_late(start, end)
    return total


def union_seconds(intervals) -> int:
    """Length of the union of (start, end) intervals, in whole seconds (overlaps counted once)."""
    total = 0
    cur_s = cur_e = None
    for s, e in sorted((s, e) for s, e in intervals if e > s):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += (cur_e - cur_s).total_seconds()
            cur_s, cur_e = s, e
        elif e > cur_e:
            cur_e = e
    if cur_e is not None:
        total += (cur_e - cur_s).total_seconds()
    return int(total)


@dataclass(frozen=True)
class PenaltyEstimate:
    contract_total: Decimal
    days_late: int
    not_to_spec: int
    late_amount: Decimal
    not_to_spec_amount: Decimal
    late_basis_amount: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return self.late_amount + self.not_to_spec_amount


CENT = Decimal("0.01")


def estimate_penalty(contract_total, days_late_total: int, not_to_spec_cases: int = 0,
                     daily_rate_pct=Decimal("0.5"), not_to_spec_pct=Decimal("5"), late_basis=None) -> PenaltyEstimate:
    """T9: each day late costs `daily_rate_pct` % of the late basis (the contract total, or the party's share);
    each charged not-to-spec unit `not_to_spec_pct` % of the contract total. Decimal, rounded to the fen."""
    if days_late_total < 0 or not_to_spec_cases < 0:
        raise ValueError("days late and cases cannot be negative")
    total = Decimal(str(contract_total))
    basis = total if late_basis is None else Decimal(str(late_basis))
    late = (basis * Decimal(str(daily_rate_pct)) / 100 * days_late_total).quantize(CENT, ROUND_HALF_UP)
    spec_pct = Decimal(str(not_to_spec_pct or 0))
    spec = (total * spec_pct / 100 * not_to_spec_cases).quantize(CENT, ROUND_HALF_UP)
    return PenaltyEstimate(total, days_late_total, not_to_spec_cases, late, spec, basis)


def threshold_level(cumulative: Decimal, contract_total: Decimal, rules: PenaltyRules) -> tuple[str, Decimal | None]:
    """P4: ("crossed" | "approaching" | "", the threshold amount) for cumulative penalties against the
    termination threshold (above `terminate_above_pct` % of the contract total); warns from `warn_at_share_pct` %
    of the threshold on."""
    if rules.terminate_above_pct is None or not contract_total or contract_total <= 0:
        return "", None
    threshold = (Decimal(str(contract_total)) * rules.terminate_above_pct / 100).quantize(CENT, ROUND_HALF_UP)
    if cumulative > threshold:
        return "crossed", threshold
    if cumulative >= (threshold * rules.warn_at_share_pct / 100):
        return "approaching", threshold
    return "", threshold


# ---------------------------------------------------------------- replace after two repairs (T4)

REPAIR_RESOLUTIONS = frozenset({"repaired", "part_swapped"})


def replacement_required(previous: list[tuple[str, str]], category: str, repairs: int = 2) -> Msg | None:
    """T4: `previous` is the device's resolved tickets, oldest first, as (category, resolution).
    When the last `repairs` of them were repairs of this same fault, return the reason; else None."""
    recent = previous[-repairs:] if repairs > 0 else []
    if len(recent) < repairs:
        return None
    if all(cat == category and res in REPAIR_RESOLUTIONS for cat, res in recent):
        return Msg("The same fault (%(category)s) after %(repairs)s consecutive repairs: the device must be replaced.",
                   category=category, repairs=repairs)
    return None

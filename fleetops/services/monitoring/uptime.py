"""Uptime figures in SQL (U3, U4) — raw and contractual, per device/site/kind/district/fleet — and the periods.

The arithmetic is the one defined in domain/uptime.py, done by the database over status_intervals (epoch
seconds, so the same query runs on SQLite and PostgreSQL); only the per-group sums come back to Python.
Local days, months and contract years use the one TIMEZONE setting (platform/clock.py).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Float, Integer, and_, bindparam, case, cast, func, literal, select, true, union_all
from sqlalchemy.orm import Session, aliased

from fleetops.domain.choices import CONTRACT_KINDS, DeviceKind
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg, N_
from fleetops.domain.uptime import EXCLUDED_CAUSES, UptimeArithmetic
from fleetops.models import Device, Site
from fleetops.models.monitoring import Outage, StatusInterval
from fleetops.models.rollup import UptimeDay
from fleetops.models.service import ServicePeriod
from fleetops.platform import clock, parameters
from fleetops.services.monitoring.sqlfuncs import epoch_s, greatest, least

# Contract numbers this area reads (key → default, description msgid); registered by fleetops.wiring.
PARAMETERS = {
    "uptime_target_pct": (95.0, N_(
        "Contractual online rate target for checkpoint, security-checkpoint, e-police and fixed-speed devices (%)")),
    "late_import_after_h": (48, N_(
        "Results arriving this many hours after an outage ended record it as imported late: no ticket, no alert")),
    "mains_lost_below_v": (150, N_(
        "A cabinet power supply reporting its mains input below this voltage (V) has lost mains power: "
        "a site blackout then asks by itself to be excluded as the power utility's")),
}

GROUPS = ("device", "site", "kind", "district", "fleet")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _zone(local_tz: str | None) -> ZoneInfo:
    return ZoneInfo(local_tz) if local_tz else clock.local_zone()


def _to_s(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValidationFailed(Msg("Times must carry a UTC offset."))
    return int((at - EPOCH).total_seconds() // 1)


@dataclass
class UptimeRow(UptimeArithmetic):
    key: str
    label: str
    in_service_s: int
    up_s: int
    down_s: int
    excluded_s: int
    devices: int

    def as_dict(self, target_pct: float | None = None) -> dict:
        d = {"key": self.key, "label": self.label, "devices": self.devices, "in_service_s": self.in_service_s,
             "up_s": self.up_s, "down_s": self.down_s, "unknown_s": self.unknown_s, "excluded_s": self.excluded_s,
             "raw_pct": rounded(self.raw_pct), "contractual_pct": rounded(self.contractual_pct)}
        if target_pct is not None:
            d["meets_target"] = None if self.contractual_pct is None else self.contractual_pct >= target_pct
        return d


def rounded(v):
    return None if v is None else round(v, 4)


def uptime_rows(session: Session, start: datetime, end: datetime, by: str = "device", kinds=None,
                local_tz: str | None = None, locale: str | None = None, codes=None) -> list[UptimeRow]:
    """Raw and contractual uptime for [start, end) grouped `by` device|site|kind|district|fleet, ordered by key.

    Devices count only inside their periods in service (models/service.py: from in_service_from, else
    installed_on at local midnight, until taken out or retired; again once brought back). `kinds` limits
    the devices (`codes` to some devices); the fleet figure defaults to the contract kinds (U3). Kind labels
    are in `locale` (default: the reader's language)."""
    stmt, params = _prepared("rows", start, end, by, kinds, codes, local_tz)
    return _labelled([_row(r) for r in session.execute(stmt, params)], by, locale)


@dataclass
class UptimePage:
    """One page of an uptime table, worst first: `rows`, the number of groups in all (`total`), where it starts
    (`offset`, `limit`) and, when asked for, the `fleet` line (contract kinds) of the same period."""
    rows: list[UptimeRow]
    total: int
    offset: int
    limit: int
    fleet: UptimeRow | None = None


def uptime_page(session: Session, start: datetime, end: datetime, by: str = "device", *, limit: int = 50,
                offset: int = 0, kinds=None, locale: str | None = None, local_tz: str | None = None,
                with_fleet: bool = False) -> UptimePage:
    """Like uptime_rows, but worst first (lowest contractual, then raw online rate; groups with no measured time
    last) and one page of it, sorted and cut by the database; with the number of groups and (`with_fleet`, only
    for all kinds) the fleet line of the contract kinds — one statement and one pass over the intervals,
    whatever the fleet's size."""
    if with_fleet and kinds is not None:
        raise ValueError("the fleet line comes with a page of every kind")
    stmt, params = _prepared("page", start, end, by, kinds, None, local_tz)
    result = session.execute(stmt, {**params, "page_limit": int(limit), "page_offset": int(offset)}).all()
    # One row per group of the page, each carrying the totals; past the last page one row of totals only.
    rows = [_row(r) for r in result if r.key is not None]
    fleet = None
    if with_fleet and result and result[0].f_devices:
        t = result[0]
        fleet = UptimeRow("fleet", "fleet", int(t.f_in_service_s or 0), int(t.f_up_s or 0), int(t.f_down_s or 0),
                          int(t.f_excluded_s or 0), int(t.f_devices))
    total = int(result[0].total) if result else 0
    return UptimePage(_labelled(rows, by, locale), total, offset, limit, fleet)


def _row(r) -> UptimeRow:
    return UptimeRow(str(r.key), str(r.label or r.key), int(r.in_service_s or 0), int(r.up_s or 0),
                     int(r.down_s or 0), int(r.excluded_s or 0), int(r.devices or 0))


def _labelled(rows: list[UptimeRow], by: str, locale: str | None) -> list[UptimeRow]:
    if by == "kind":
        for r in rows:
            try:
                r.label = DeviceKind(r.key).label(locale)
            except ValueError:
                pass
    return rows


# Built once per shape (what, by, kinds, with codes, rolled) with the period as bound parameters: building this
# statement cost more CPU than running it, and the same object lets SQLAlchemy reuse its compiled form.
_STATEMENTS: dict = {}


def _prepared(what: str, start: datetime, end: datetime, by: str, kinds, codes, local_tz: str | None = None):
    if by not in GROUPS:
        raise ValidationFailed(Msg("--by must be one of %(groups)s", groups=", ".join(GROUPS)))
    if end <= start:
        raise ValidationFailed(Msg("The period's end must be after its start."))
    if kinds is None and by == "fleet":
        kinds = CONTRACT_KINDS
    kinds_key = tuple(sorted(str(k) for k in kinds)) if kinds else ()
    params = {"from_s": _to_s(start), "to_s": _to_s(end)}
    whole = whole_days(params["from_s"], params["to_s"], _zone(local_tz))
    rolled = None
    if whole is not None and whole[1] - whole[0] >= MIN_ROLLED_DAYS * 86400:
        params["roll_a"], params["roll_b"] = whole
        rolled = "aligned" if whole[0] == params["from_s"] else "edge"
    narrow = params["to_s"] - params["from_s"] < 2 ** 31
    key = (what, by, kinds_key, codes is not None, rolled, narrow)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = _statement(what, by, kinds_key, codes is not None, rolled, narrow)
    if codes is not None:
        params["codes"] = list(codes)
    return stmt, params


def _statement(what: str, by: str, kinds_key: tuple, with_codes: bool, rolled: str | None, narrow: bool = True):
    """"rows": every group by key, with its label. "page": one page of groups worst first (bound parameters
    page_limit, page_offset), each row also carrying the number of groups (`total`) and the contract kinds' figures
    of the same devices (`f_devices`, `f_in_service_s`, `f_up_s`, `f_down_s`, `f_excluded_s`): the groups and those
    totals come from the same aggregate (per group and contract kind or not), so the intervals are read once. Past
    the last page the statement still returns one row, of totals only (its group columns NULL)."""
    split = what == "page"
    agg = _aggregate(by, kinds_key, with_codes, rolled, split=split, narrow=narrow)
    if split and by != "device":  # a group of several kinds sits on up to two rows: add them up
        grp = (select(agg.c.gid, func.max(agg.c.key).label("key"),
                      *(_sum(agg.c[c]).label(c) for c in ("devices", "in_service_s", "up_s", "down_s", "excluded_s")))
               .group_by(agg.c.gid).cte("grp"))
    else:
        grp = agg
    if what == "rows":
        return _with_labels(select(grp), grp, by).order_by(grp.c.key)
    up, down, exc = (cast(grp.c.up_s, Float), cast(grp.c.down_s, Float), cast(grp.c.excluded_s, Float))
    den_c, den_r = up + down - exc, up + down
    contractual = case((den_c > 0, up / den_c), else_=None).label("ord_c")
    raw = case((den_r > 0, up / den_r), else_=None).label("ord_r")
    page = (select(grp.c.gid, grp.c.key, grp.c.devices, grp.c.in_service_s, grp.c.up_s, grp.c.down_s,
                   grp.c.excluded_s, contractual, raw)
            .order_by(contractual.asc().nulls_last(), raw.asc().nulls_last(), grp.c.key)
            .limit(bindparam("page_limit", type_=Integer)).offset(bindparam("page_offset", type_=Integer))
            .subquery("pg"))
    fleet = agg.alias("fleet_part")
    totals = (select(select(func.count()).select_from(grp).scalar_subquery().label("total"),
                     *(_sum(fleet.c[c]).label("f_" + c)
                       for c in ("devices", "in_service_s", "up_s", "down_s", "excluded_s")))
              .where(fleet.c.contract == 1).subquery("totals"))
    stmt = _with_labels(select(totals, page.c.key, page.c.devices, page.c.in_service_s, page.c.up_s, page.c.down_s,
                               page.c.excluded_s), page, by, base=totals.outerjoin(page, true()))
    return stmt.order_by(page.c.ord_c.asc().nulls_last(), page.c.ord_r.asc().nulls_last(), page.c.key)


def _sum(x, narrow: bool = False):
    """A sum of seconds as a BIGINT. `narrow`: each summed value is one device's seconds within a period shorter than
    2**31 s, so it is summed as a 4-byte integer and PostgreSQL adds in BIGINT (a BIGINT sum is NUMERIC there, and
    its NUMERIC to FLOAT conversions for the worst-first order cost ~10 of ~60 ms at 10,000 devices by device)."""
    return cast(func.sum(cast(x, Integer) if narrow else x), BigInteger)


def _with_labels(stmt, grp, by: str, base=None):
    """Each group's label: the device's or site's name, read for the rows returned only; the key itself otherwise."""
    base = grp if base is None else base
    if by == "device":
        return stmt.add_columns(Device.name.label("label")).select_from(
            base.outerjoin(Device, Device.id == grp.c.gid))
    if by == "site":
        return stmt.add_columns(Site.name.label("label")).select_from(base.outerjoin(Site, Site.id == grp.c.gid))
    return stmt.add_columns(grp.c.key.label("label")).select_from(base)


# Below two weeks of whole days the rollup's extra branches (its two rows per device, and the live rest before and
# after them) cost more than the intervals they save. Measured with the one-statement page (backend CPU per page at
# 10,000 devices, 40 days of history, two alternating rounds, load 6-8): this month on its 3rd day (2 whole days)
# live 40-53 ms vs 64-80 through the rollup; the last 7 days 54-63 vs 68-81; 7 and 10 whole days + today live
# 88-112 vs 91-137; 16 days mixed (96-142 vs 101-124); last month (30 closed days) live 107-124 vs 70-86. The tests
# lower it to 1.
MIN_ROLLED_DAYS = 14


def whole_days(from_s: int, to_s: int, zone: ZoneInfo) -> tuple[int, int] | None:
    """The local days wholly inside [from_s, to_s) as (first midnight, last midnight) in epoch seconds, or None
    when there is no whole day (nothing the rollup could answer)."""
    first = datetime.fromtimestamp(from_s, zone)
    a = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if a < first:
        a = _next_midnight(a, zone)
    b = datetime.fromtimestamp(to_s, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    a_s, b_s = _to_s(a), _to_s(b)
    return (a_s, b_s) if b_s > a_s else None


def _next_midnight(midnight: datetime, zone: ZoneInfo) -> datetime:
    d = midnight.date() + timedelta(days=1)
    return datetime(d.year, d.month, d.day, tzinfo=zone)


def _windows(by: str, kinds_key: tuple, with_codes: bool, from_s, to_s, *, all_devices: bool = False,
             split: bool = False):
    """Each device's in-service periods (models/service.py) clipped to [from_s, to_s), with its group: (device_id,
    gid, key, [contract,] lo, hi); a device without any period keeps a row with an empty window. `all_devices`:
    every device whatever its lifecycle (the rollup keeps them all; which ones count is decided when reading).
    `split`: also whether the device is of a contract kind (1) or not (0), the fleet line's devices."""
    sp = ServicePeriod
    lo = greatest(func.coalesce(epoch_s(sp.start_at), from_s), from_s)
    hi = least(func.coalesce(epoch_s(sp.end_at), case((sp.id.is_(None), from_s), else_=to_s)), to_s)
    gid, key, filters = _group_columns(by), _key_column(by), _device_filters(kinds_key, with_codes, all_devices)
    cols = [Device.id.label("device_id"), gid.label("gid"), key.label("key")]
    if split:
        cols.append(_contract().label("contract"))
    stmt = select(*cols, lo.label("lo"), hi.label("hi")).select_from(Device).outerjoin(sp, sp.device_id == Device.id)
    if by in ("site", "district"):
        stmt = stmt.join(Site, Site.id == Device.site_id)
    return stmt.where(*filters)


def _device_filters(kinds_key: tuple, with_codes: bool, all_devices: bool = False) -> list:
    filters = [] if all_devices else [Device.lifecycle != "planned"]
    if kinds_key:
        filters.append(Device.kind.in_(list(kinds_key)))
    if with_codes:
        filters.append(Device.code.in_(bindparam("codes", expanding=True)))
    return filters


def _contract():
    return case((Device.kind.in_(sorted(str(k) for k in CONTRACT_KINDS)), 1), else_=0)


def _aggregate(by: str, kinds_key: tuple, with_codes: bool, rolled: str | None = None, split: bool = False,
               narrow: bool = True):
    """The one aggregate (a CTE): per group — gid, key, devices, in_service_s, up_s, down_s, excluded_s — for the
    period given as the bound parameters from_s and to_s (and the device codes as `codes`); with `split`, per group
    and `contract` (1: the device is of a contract kind), so that the fleet line comes from the same pass.
    `narrow`: the period is shorter than 2**31 s, so a device's seconds fit a 4-byte integer (see _seconds).

    Each in-service period clipped to the period asked for is computed once (a materialised CTE). Up, down and
    excluded seconds come from one scan of status_intervals, the cause read through a semi-join on the excluded
    outages only (no second pass over outages). With `rolled` ("aligned": the period starts at a local midnight,
    "edge": inside a day; bound parameters roll_a, roll_b: the whole local days of the period), a device's days
    already rolled up (models/rollup.py) are read from two rows of running sums, and only the rest of the
    period — its edges, today, days not rolled up yet — from status_intervals."""
    from_s, to_s = bindparam("from_s", type_=BigInteger), bindparam("to_s", type_=BigInteger)
    win = _windows(by, kinds_key, with_codes, from_s, to_s, split=split).cte("win").prefix_with("MATERIALIZED")
    keys = ("gid", "contract") if split else ("gid",)
    # A device is one group (and one row of the window per period in service): it counts once.
    devices = literal(1, Integer) if by == "device" else func.count(win.c.device_id.distinct())
    ins = (select(*(win.c[k] for k in keys), func.max(win.c.key).label("key"), devices.label("devices"),
                  _sum(case((win.c.hi > win.c.lo, win.c.hi - win.c.lo), else_=0), narrow).label("in_service_s"))
           .group_by(*(win.c[k] for k in keys)).cte("ins"))
    zero = literal(0, BigInteger)
    if not rolled:
        st = _state_seconds(win, from_s, to_s, keys=keys, narrow=narrow).cte("st")
    else:
        roll = _rolled_days().cte("roll")
        # The live part, each piece its own scan of status_intervals so the database reads only the intervals
        # it needs: after the rolled days (today, mostly: the index on end_s), before them (when the period
        # starts inside a day), and all of the period for a device without rows up to its last whole day (its
        # days were just invalidated, or not rolled up yet).
        after = (select(win.c.device_id, *(win.c[k] for k in keys), greatest(win.c.lo, roll.c.sb).label("lo"),
                        win.c.hi)
                 .select_from(win).join(roll, roll.c.device_id == win.c.device_id).cte("after"))
        unrolled = (select(win.c.device_id, *(win.c[k] for k in keys), win.c.lo, win.c.hi).select_from(win)
                    .outerjoin(roll, roll.c.device_id == win.c.device_id).where(roll.c.device_id.is_(None))
                    .cte("unrolled"))
        roll_b = bindparam("roll_b", type_=BigInteger)
        pieces = [_state_seconds(after, from_s, to_s, StatusInterval.end_s > roll_b, keys=keys, narrow=narrow),
                  _state_seconds(unrolled, from_s, to_s, keys=keys, narrow=narrow)]
        if rolled == "edge":
            roll_a = bindparam("roll_a", type_=BigInteger)
            before = (select(win.c.device_id, *(win.c[k] for k in keys), win.c.lo,
                             least(win.c.hi, roll_a).label("hi"))
                      .select_from(win).join(roll, roll.c.device_id == win.c.device_id).cte("before"))
            pieces.append(_state_seconds(before, from_s, to_s, StatusInterval.start_s < roll_a, keys=keys,
                                         narrow=narrow))
        cols = [_group_columns(by).label("gid")] + ([_contract().label("contract")] if split else [])
        rolled_q = (select(*cols, roll.c.up_s, roll.c.down_s, roll.c.excluded_s)
                    .select_from(roll).join(Device, Device.id == roll.c.device_id))
        if by in ("site", "district"):
            rolled_q = rolled_q.join(Site, Site.id == Device.site_id)
        both = union_all(*pieces, rolled_q.where(*_device_filters(kinds_key, with_codes))).subquery("both")
        # Per device when grouping by device (each piece fits 4 bytes), else per group: summed wide.
        st = (select(*(both.c[k] for k in keys),
                     *(_sum(both.c[c], narrow and by == "device").label(c) for c in ("up_s", "down_s", "excluded_s")))
              .group_by(*(both.c[k] for k in keys)).cte("st"))
    on = and_(*(st.c[k] == ins.c[k] for k in keys))
    return (select(*(ins.c[k] for k in keys), ins.c.key, ins.c.devices, ins.c.in_service_s,
                   func.coalesce(st.c.up_s, zero).label("up_s"), func.coalesce(st.c.down_s, zero).label("down_s"),
                   func.coalesce(st.c.excluded_s, zero).label("excluded_s"))
            .select_from(ins).outerjoin(st, on)
            .cte("agg"))


def _rolled_days():
    """Per device whose rollup covers all the whole days [roll_a, roll_b): their seconds, the difference of two
    running sums (sb = roll_b). A device whose rows do not cover them (or do not line up with these midnights) is
    left out: all of its period is then read live."""
    a, b = bindparam("roll_a", type_=BigInteger), bindparam("roll_b", type_=BigInteger)
    rb, ra = aliased(UptimeDay, name="rb"), aliased(UptimeDay, name="ra")
    zero = literal(0, BigInteger)

    def base(col):
        return case((ra.device_id.is_not(None), col), else_=zero)

    return (select(rb.device_id, rb.day_end_s.label("sb"),
                   (rb.cum_up_s - base(ra.cum_up_s)).label("up_s"),
                   (rb.cum_down_s - base(ra.cum_down_s)).label("down_s"),
                   (rb.cum_excluded_s - base(ra.cum_excluded_s)).label("excluded_s"))
            .select_from(rb).outerjoin(ra, (ra.device_id == rb.device_id) & (ra.day_end_s == a))
            .where(rb.day_end_s == b, (rb.from_s == a) | ra.device_id.is_not(None)))


def _state_seconds(win, from_s, to_s, *extra, keys=("gid",), narrow: bool = True):
    """Up, down and excluded seconds per group (`keys` of `win`) from status_intervals, clipped to each window
    [lo, hi)."""
    si = StatusInterval
    clipped = greatest(least(si.end_s, win.c.hi) - greatest(si.start_s, win.c.lo), literal(0, BigInteger))
    # The excluded outages: a whole outage with an excluding cause, or the part before `excluded_before_s` of one
    # that outlasted its maintenance window (`upto`, NULL = all of it).
    whole = Outage.cause.in_(sorted(EXCLUDED_CAUSES))
    exc = (select(Outage.id, case((whole, literal(None, BigInteger)), else_=Outage.excluded_before_s).label("upto"))
           .where(whole | Outage.excluded_before_s.is_not(None)).subquery("exc"))
    excluded = greatest(least(si.end_s, win.c.hi, func.coalesce(exc.c.upto, si.end_s))
                        - greatest(si.start_s, win.c.lo), literal(0, BigInteger))
    zero = literal(0, BigInteger)
    return (select(*(win.c[k] for k in keys),
                   _sum(case((si.state == "up", clipped), else_=zero), narrow).label("up_s"),
                   _sum(case((si.state == "down", clipped), else_=zero), narrow).label("down_s"),
                   _sum(case(((si.state == "down") & exc.c.id.is_not(None), excluded), else_=zero), narrow)
                   .label("excluded_s"))
            .select_from(win)
            .join(si, si.device_id == win.c.device_id)
            .outerjoin(exc, exc.c.id == si.outage_id)
            .where(si.end_s > from_s, si.start_s < to_s, win.c.hi > win.c.lo,
                   si.end_s > win.c.lo, si.start_s < win.c.hi, *extra)
            .group_by(*(win.c[k] for k in keys)))


def day_seconds_statement():
    """Per device (gid = device id, every lifecycle): up, down and excluded seconds in [from_s, to_s) — what the
    rollup stores for one local day; the same arithmetic as the reports."""
    from_s, to_s = bindparam("from_s", type_=BigInteger), bindparam("to_s", type_=BigInteger)
    win = _windows("device", (), False, from_s, to_s, all_devices=True).cte("win").prefix_with("MATERIALIZED")
    return _state_seconds(win, from_s, to_s)


def _group_columns(by: str):
    """The group id: the device's or site's integer id (integers hash and sort faster than 10,000 text codes, and
    the name is read by id for the rows returned only), else the group key itself."""
    if by == "device":
        return Device.id
    if by == "site":
        return Site.id
    return _key_column(by)


def _key_column(by: str):
    if by == "device":
        return Device.code
    if by == "site":
        return Site.code
    if by == "kind":
        return Device.kind
    if by == "district":
        return Site.district
    return literal("fleet")


def target_pct(session: Session) -> float:
    return float(parameters.get(session, "uptime_target_pct"))


def period_bounds(kind: str, day: str | None = None, local_tz: str | None = None,
                  contract_start: str | None = None) -> tuple[datetime, datetime]:
    """U4 periods in local time: 'day' (YYYY-MM-DD), 'month' (YYYY-MM), 'year' (contract year from
    contract_start YYYY-MM-DD, default Jan 1). Returned as UTC datetimes."""
    tz = _zone(local_tz)
    try:
        if kind == "day":
            d = datetime.strptime(day, "%Y-%m-%d")
            a = d.replace(tzinfo=tz)
            return a.astimezone(timezone.utc), (a + timedelta(days=1)).astimezone(timezone.utc)
        if kind == "month":
            d = datetime.strptime(day[:7], "%Y-%m")
            a = d.replace(tzinfo=tz)
            b = (a.replace(year=a.year + 1, month=1) if a.month == 12 else a.replace(month=a.month + 1))
            return a.astimezone(timezone.utc), b.astimezone(timezone.utc)
        if kind == "year":
            s = datetime.strptime(contract_start or f"{day[:4]}-01-01", "%Y-%m-%d").replace(tzinfo=tz)
            return s.astimezone(timezone.utc), s.replace(year=s.year + 1).astimezone(timezone.utc)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(Msg("Not a valid date for a %(period)s: %(value)s", period=kind,
                                   value=repr(day))) from None
    raise ValidationFailed(Msg("Unknown period %(period)s", period=repr(kind)))

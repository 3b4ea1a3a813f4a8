"""Inspection and preventive-maintenance plans (P1–P3): periods, checklist items, the two contract presets, the
period a moment falls in (local time), and the crew's route (nearest neighbour from the depot).

Pure rules: no I/O. Labels are msgids (Chinese in translations/zh/inspections.po); items a supervisor types are
free text and shown as typed.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, tzinfo

from fleetops.domain.choices import DeviceKind, LabelledEnum
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.sla import great_circle_km
from fleetops.domain.text import Msg, N_


class Period(LabelledEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


Period._LABELS = {
    "daily": N_("Daily"),
    "weekly": N_("Weekly"),
    "monthly": N_("Monthly"),
    "quarterly": N_("Quarterly"),
}

# Units a measured value may carry (P3: voltage, temperature …).
UNITS = ("V", "A", "°C", "Ω", "%", "W", "lx", "dB")
MAX_ITEMS = 30
KEY_RX = re.compile(r"^[a-z0-9_]{1,40}$")


def period_bounds(period: str, at: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The [start, end) of the plan period that `at` falls in, as local midnights in `zone` (timezone-aware)."""
    local = at.astimezone(zone).date()
    if period == Period.DAILY:
        first, last = local, local + timedelta(days=1)
    elif period == Period.WEEKLY:
        first = local - timedelta(days=local.weekday())
        last = first + timedelta(days=7)
    elif period == Period.MONTHLY:
        first = local.replace(day=1)
        last = _add_months(first, 1)
    elif period == Period.QUARTERLY:
        first = date(local.year, 3 * ((local.month - 1) // 3) + 1, 1)
        last = _add_months(first, 3)
    else:
        raise ValueError(period)
    return datetime.combine(first, time(0), tzinfo=zone), datetime.combine(last, time(0), tzinfo=zone)


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


# ---------------------------------------------------------------- checklist items and plans

def _field(name: str, index: int | None = None) -> str:
    return f"items[{index}].{name}" if index is not None else name


def _bad(field: str, msg: Msg) -> ValidationFailed:
    return ValidationFailed(msg, field=field)


def _number_or_none(value, field: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _bad(field, Msg("%(field)s must be a number.", field=field))
    try:
        v = float(value.strip().replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise _bad(field, Msg("%(field)s must be a number.", field=field)) from None
    if not math.isfinite(v) or abs(v) > 1e9:
        raise _bad(field, Msg("%(field)s must be a number.", field=field))
    return v


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes", "y")
    return bool(value)


def validate_items(items) -> list[dict]:
    """Each item: key, label, needs_photo, needs_value, unit (with a value), min/max (optional allowed range)."""
    if not isinstance(items, list) or not items:
        raise _bad("items", Msg("A plan needs at least one checklist item."))
    if len(items) > MAX_ITEMS:
        raise _bad("items", Msg("A plan has at most %(n)s checklist items.", n=MAX_ITEMS))
    out, keys = [], set()
    for i, raw in enumerate(items):
        if not isinstance(raw, dict):
            raise _bad(_field("label", i), Msg("Item %(n)s is not a checklist item.", n=i + 1))
        label = raw.get("label")
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > 200:
            raise _bad(_field("label", i), Msg("Item %(n)s: the name is required (at most 200 characters).",
                                                n=i + 1))
        key = raw.get("key") or f"item{i + 1}"
        if not isinstance(key, str) or not KEY_RX.match(key):
            raise _bad(_field("key", i), Msg("Item %(n)s: the key may use a-z, 0-9 and _ only.", n=i + 1))
        if key in keys:
            key = f"{key}_{i + 1}"
        keys.add(key)
        needs_value = _flag(raw.get("needs_value"))
        unit = (raw.get("unit") or "").strip() if isinstance(raw.get("unit") or "", str) else None
        lo = _number_or_none(raw.get("min"), f"{_field('min', i)}")
        hi = _number_or_none(raw.get("max"), f"{_field('max', i)}")
        if needs_value:
            if unit not in UNITS:
                raise _bad(_field("unit", i), Msg("Item %(n)s: choose the unit of the measured value (%(units)s).",
                                                  n=i + 1, units=", ".join(UNITS)))
        else:
            if lo is not None or hi is not None:
                raise _bad(_field("min", i), Msg("Item %(n)s: an allowed range needs a measured value.", n=i + 1))
            unit = ""
        if lo is not None and hi is not None and lo > hi:
            raise _bad(_field("max", i), Msg("Item %(n)s: the lowest allowed value is above the highest.", n=i + 1))
        out.append({"key": key, "label": label.strip(), "needs_photo": _flag(raw.get("needs_photo")),
                    "needs_value": needs_value, "unit": unit, "min": lo, "max": hi})
    return out


def validate_plan(data: dict) -> dict:
    """A plan's fields checked one by one (each error names its field): name, device_kinds, period, at_night,
    key_sites_only, site_code, active, items."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise _bad("name", Msg("The plan name is required (at most 200 characters)."))
    kinds = data.get("device_kinds")
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k.strip()]
    if not isinstance(kinds, list) or not kinds:
        raise _bad("device_kinds", Msg("Choose at least one device kind."))
    parsed = []
    for k in kinds:
        try:
            parsed.append(DeviceKind.parse(k).value if isinstance(k, str) else DeviceKind(k).value)
        except ValueError:
            raise _bad("device_kinds", Msg("Unknown device kind %(kind)s.", kind=repr(k))) from None
    period = data.get("period")
    try:
        period = Period(period).value
    except ValueError:
        raise _bad("period", Msg("The period is daily, weekly, monthly or quarterly.")) from None
    site_code = data.get("site_code") or ""
    if not isinstance(site_code, str) or len(site_code) > 40:
        raise _bad("site_code", Msg("The site code is at most 40 characters."))
    return {"name": name.strip(), "device_kinds": sorted(set(parsed), key=parsed.index), "period": period,
            "at_night": _flag(data.get("at_night")), "key_sites_only": _flag(data.get("key_sites_only")),
            "site_code": site_code.strip(), "active": _flag(data.get("active", True)),
            "items": validate_items(data.get("items"))}


def value_in_range(item: dict, value: float | None) -> bool:
    if value is None:
        return True
    return (item.get("min") is None or value >= item["min"]) and (item.get("max") is None or value <= item["max"])


def range_text(item: dict) -> str:
    lo, hi, unit = item.get("min"), item.get("max"), item.get("unit") or ""
    if lo is None and hi is None:
        return ""
    if lo is None:
        return f"≤ {hi:g} {unit}".strip()
    if hi is None:
        return f"≥ {lo:g} {unit}".strip()
    return f"{lo:g}–{hi:g} {unit}".strip()


# ---------------------------------------------------------------- the route (nearest neighbour from the depot)

def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Straight-line (great-circle) distance."""
    return great_circle_km(a[0], a[1], b[0], b[1])


def route_order(start: tuple[float, float] | None, stops: dict) -> list:
    """The keys of `stops` ({key: (lat, lon)}) in visiting order: nearest first from `start` (the depot), then the
    nearest unvisited from each stop. Without a start, from the first stop by key. Ties go by key."""
    todo = dict(stops)
    if not todo:
        return []
    order = []
    here = start
    if here is None:
        first = min(todo)
        order.append(first)
        here = todo.pop(first)
    while todo:
        nxt = min(todo, key=lambda k: (_km(here, todo[k]), k))
        order.append(nxt)
        here = todo.pop(nxt)
    return order


# ---------------------------------------------------------------- the two contract presets (P1, P2)

CAMERAS = ["checkpoint_camera", "epolice_camera", "security_checkpoint", "speed_camera"]


def _item(key, label, photo=False, unit="", lo=None, hi=None):
    return {"key": key, "label": label, "needs_photo": photo, "needs_value": bool(unit), "unit": unit,
            "min": lo, "max": hi}


KEY_SITE_PATROL = {
    "key": "key_site_patrol", "name": N_("Daily patrol of key assessment sites"), "device_kinds": CAMERAS,
    "period": "daily", "at_night": False, "key_sites_only": True, "items": [
        _item("capturing", N_("Device online and capturing")),
        _item("picture", N_("Picture clear, plate readable"), photo=True),
        _item("mounting", N_("Pole, bracket and housing intact")),
    ]}
LENS_CLEANING = {
    "key": "lens_cleaning", "name": N_("Lens and housing cleaning"), "device_kinds": CAMERAS,
    "period": "monthly", "at_night": False, "key_sites_only": False, "items": [
        _item("lens", N_("Lens cleaned"), photo=True),
        _item("housing", N_("Housing and window cleaned")),
        _item("seals", N_("Seals and cable glands intact")),
    ]}
LIGHTS_AT_NIGHT = {
    "key": "lights_night_check", "name": N_("Fill light and strobe check by night"),
    "device_kinds": ["fill_light", "strobe_light"], "period": "monthly", "at_night": True, "key_sites_only": False,
    "items": [
        _item("fires", N_("Light fires with each capture"), photo=True),
        _item("lamp_face", N_("Lamp face clean, no dead LEDs")),
        _item("supply", N_("Supply voltage"), unit="V", lo=198, hi=242),
    ]}
CABINET_CHECK = {
    "key": "cabinet_quarterly", "name": N_("Cabinet check"), "device_kinds": ["cabinet"],
    "period": "quarterly", "at_night": False, "key_sites_only": False, "items": [
        _item("mains", N_("Mains input voltage"), unit="V", lo=198, hi=242),
        _item("surge", N_("Surge protection indicator normal"), photo=True),
        _item("fans", N_("Fans running, filters clean")),
        _item("lock", N_("Door lock works, door seals")),
        _item("grounding", N_("Grounding resistance"), unit="Ω", lo=0, hi=4),
        _item("temperature", N_("Temperature inside the cabinet"), unit="°C", lo=-20, hi=55),
    ]}
ENFORCEMENT_CHECK = {
    "key": "enforcement_monthly", "name": N_("Enforcement device inspection"),
    "device_kinds": ["epolice_camera", "speed_camera"], "period": "monthly", "at_night": False,
    "key_sites_only": False, "items": [
        _item("capture", N_("Violation capture complete (all pictures of a case)"), photo=True),
        _item("clock", N_("Device clock in step with the platform")),
        _item("lens", N_("Lens cleaned"), photo=True),
    ]}

# The two contracts: the city checkpoints' O&M contract (daily key-site patrol, monthly cleaning and night light
# check, quarterly cabinets) and the off-site enforcement service contract (regular inspections with reports).
PRESETS = {
    "checkpoint_om": (KEY_SITE_PATROL, LENS_CLEANING, LIGHTS_AT_NIGHT, CABINET_CHECK),
    "offsite_enforcement": (ENFORCEMENT_CHECK, LIGHTS_AT_NIGHT, CABINET_CHECK),
}
PRESET_LABELS = {
    "checkpoint_om": N_("Checkpoint operation and maintenance contract"),
    "offsite_enforcement": N_("Off-site enforcement service contract"),
}

"""Maintenance windows and public fault reports (U3, A1, P4): causes, recurrence and the report's choice list.

Pure rules: which outage cause a window gives the outages inside it (only the power utility's and the network
provider's are excluded from the contractual figure), and the occurrences of a recurring window in local time."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from fleetops.domain.choices import LabelledEnum
from fleetops.domain.text import N_


class WindowCause(LabelledEnum):
    """Why a window is planned; the stored value never changes."""

    POWER_UTILITY = "power_utility"  # 计划停电
    NETWORK_PROVIDER = "network_provider"
    CONTRACTOR = "contractor"  # the contractor's own planned works
    OWNER = "owner"  # the owner's works, relocations (迁移)


WindowCause._LABELS = {
    "power_utility": N_("Power utility's planned cut"),
    "network_provider": N_("Network provider's planned works"),
    "contractor": N_("Contractor's planned works"),
    "owner": N_("Owner's works or relocation"),
}

# The outage cause (domain/uptime.OutageCause) the outages inside a window take: the contract excludes only the
# power utility's and the network provider's (EXCLUDED_CAUSES); planned works count against the contractor.
OUTAGE_CAUSE = {"power_utility": "power_utility", "network_provider": "network_provider",
                "contractor": "planned_work", "owner": "planned_work"}


class Recurrence(LabelledEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


Recurrence._LABELS = {"none": N_("Once"), "daily": N_("Every day"), "weekly": N_("Every week")}

STEP = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
MAX_OCCURRENCES = 366


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # UTC
    end: datetime


def occurrences(starts_at: datetime, ends_at: datetime, recurrence: str = "none", count: int | None = None,
                until: date | None = None, tz: ZoneInfo | None = None) -> list[Occurrence]:
    """Every occurrence, repeated on the local wall clock (a daily 09:00–17:00 cut stays 09:00–17:00 local).
    A recurring window needs a count or an until-date (inclusive, local); at most MAX_OCCURRENCES."""
    if recurrence not in STEP:
        return [Occurrence(starts_at, ends_at)]
    tz = tz or timezone.utc
    local_start, length = starts_at.astimezone(tz), ends_at - starts_at
    out = []
    limit = min(count or MAX_OCCURRENCES, MAX_OCCURRENCES)
    last = datetime.combine(until + timedelta(days=1), time(0), tzinfo=tz) if until else None
    for k in range(limit):
        wall = (local_start.replace(tzinfo=None) + STEP[recurrence] * k).replace(tzinfo=tz)
        start = wall.astimezone(timezone.utc)
        if last is not None and start >= last:
            break
        out.append(Occurrence(start, start + length))
    return out


def occurrence_at(occs: list[Occurrence], at: datetime) -> Occurrence | None:
    """The occurrence that contains `at` (start inclusive, end exclusive)."""
    for o in occs:
        if o.start <= at < o.end:
            return o
    return None


class FaultProblem(LabelledEnum):
    """What a passer-by can say is wrong at the pole (the public fault report's choice list)."""

    DAMAGED = "damaged"
    KNOCKED = "knocked"
    LIGHT = "light"
    CABINET_OPEN = "cabinet_open"
    WIRES = "wires"
    OTHER = "other"


FaultProblem._LABELS = {
    "damaged": N_("Camera or housing damaged"),
    "knocked": N_("Camera knocked out of aim or fallen"),
    "light": N_("Fill light or strobe broken or dazzling"),
    "cabinet_open": N_("Cabinet door open"),
    "wires": N_("Cables hanging loose"),
    "other": N_("Something else"),
}

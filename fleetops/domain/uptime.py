"""Uptime arithmetic (pure, U3): up/down intervals × in-service time × excluded outages → raw and contractual figures.

raw = up / (in-service − unknown); contractual = up / (in-service − unknown − excluded), where unknown is
in-service time covered by no result and excluded is down time of outages with an excluding cause.
This module defines the numbers; services/monitoring/uptime.py computes the same in SQL.
"""
from dataclasses import dataclass
from datetime import datetime

from fleetops.domain.choices import LabelledEnum
from fleetops.domain.text import N_


class OutageCause(LabelledEnum):
    """U3: why a device was down; the stored value never changes."""

    DEVICE_FAULT = "device_fault"
    POWER_UTILITY = "power_utility"
    NETWORK_PROVIDER = "network_provider"
    PLANNED_WORK = "planned_work"
    UNKNOWN = "unknown"


OutageCause._LABELS = {
    "device_fault": N_("Device fault"),
    "power_utility": N_("Power utility"),
    "network_provider": N_("Network provider"),
    "planned_work": N_("Planned work"),
    "unknown": N_("Unknown"),
}

# U3: outages caused by the power utility or the network provider do not count against the contractor.
EXCLUDED_CAUSES = frozenset({OutageCause.POWER_UTILITY.value, OutageCause.NETWORK_PROVIDER.value})


class UptimeArithmetic:
    """U3: raw = up / (in service − unknown); contractual also leaves the excluded outages out.

    Mixed into anything with in_service_s, up_s, down_s and excluded_s (excluded_s is part of down_s).
    """

    @property
    def unknown_s(self):
        return max(0, self.in_service_s - self.up_s - self.down_s)

    @property
    def raw_pct(self) -> float | None:
        return pct(self.up_s, self.up_s + self.down_s)

    @property
    def contractual_pct(self) -> float | None:
        return pct(self.up_s, self.up_s + self.down_s - self.excluded_s)


@dataclass(frozen=True)
class Figures(UptimeArithmetic):
    in_service_s: float
    up_s: float
    down_s: float
    excluded_s: float  # part of down_s

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(self.in_service_s + other.in_service_s, self.up_s + other.up_s,
                       self.down_s + other.down_s, self.excluded_s + other.excluded_s)


def pct(num: float, den: float) -> float | None:
    """A percentage, or None when nothing was measured (0/0 is not 100 %)."""
    return None if den <= 0 else 100.0 * num / den


def overlap_s(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> float:
    return max(0.0, (min(a_end, b_end) - max(a_start, b_start)).total_seconds())


def figures(period: tuple[datetime, datetime], in_service: tuple[datetime | None, datetime | None],
            intervals: list[tuple[datetime, datetime, str, bool]]) -> Figures:
    """One device over `period`: `in_service` is (from, until) with None for open ends; each interval is
    (start, end, "up"|"down", excluded). Everything is clipped to the period ∩ in-service time."""
    start = max(period[0], in_service[0]) if in_service[0] else period[0]
    end = min(period[1], in_service[1]) if in_service[1] else period[1]
    if end <= start:
        return Figures(0.0, 0.0, 0.0, 0.0)
    up = down = excluded = 0.0
    for s, e, state, is_excluded in intervals:
        secs = overlap_s(s, e, start, end)
        if state == "up":
            up += secs
        elif state == "down":
            down += secs
            if is_excluded:
                excluded += secs
    return Figures((end - start).total_seconds(), up, down, excluded)


def meets_target(value_pct: float | None, target_pct: float) -> bool | None:
    return None if value_pct is None else value_pct >= target_pct

"""What an ingest works with: the detection settings, the batch summary, and the small helpers every step uses."""
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from fleetops.domain import availability as av

PROBES = ("ping", "snmp", "tcp")  # what a stored result may be (tcp: a TCP liveness check)
CHUNK = 900  # ids per IN (...) — well under SQLite's parameter limit
FUTURE_SLACK = timedelta(minutes=5)
# Devices whose anchor lies further back than this are recomputed one by one, not in the bulk query.
BULK_LOOKBACK = timedelta(hours=6)
LAST_SEEN_STEP = timedelta(minutes=5)
# Hung (U6): an SNMP result pairs with the ping result of the same poll — same time ± this, or the nearest
# ping result at most one poll interval older (av.same_poll_ping).
SAME_POLL_SLACK = timedelta(seconds=5)
DETAIL_MAX = 200  # ProbeResultRow.detail and DeviceEvent.detail are String(200)


@dataclass
class IngestConfig:
    """Detection settings (infrastructure config, not contract numbers)."""

    poll_interval_s: int = 60
    interval_by_kind: dict = field(default_factory=dict)  # per-kind override of poll_interval_s
    down_after: int = 3  # U2: N consecutive failed liveness results
    retention_days: int = 30  # raw results older than this are pruned later (never refused)
    late_after_h: float | None = None  # None: the `late_import_after_h` parameter (read at ingest)
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


REJECT_EXAMPLES = 5  # line numbers shown per rejection reason in a summary


@dataclass
class IngestSummary:
    """What one batch did. `rejected` holds every refused line ({"index", "device", "reason": Msg});
    `as_dict()` gives the summary a person reads: counts, and the reasons with their first few line numbers."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    unknown_devices: list[str] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # {"index": n, "device": code, "reason": Msg}
    outages_opened: int = 0
    outages_closed: int = 0
    incidents_opened: int = 0
    reboots: int = 0
    hung: int = 0
    flapping: int = 0
    imported_late: int = 0  # outages that had ended long before their results arrived: no ticket, no alert
    incidents_imported_late: int = 0  # the same for site incidents
    written: bool = True  # False when a strict batch was refused whole

    def by_reason(self) -> list[dict]:
        """The rejections grouped by reason (most frequent first), each with its first few line numbers."""
        groups: dict = {}
        for r in self.rejected:
            g = groups.setdefault(r["reason"], {"reason": r["reason"], "count": 0, "lines": []})
            g["count"] += 1
            if len(g["lines"]) < REJECT_EXAMPLES:
                g["lines"].append(r["index"])
        return sorted(groups.values(), key=lambda g: (-g["count"], g["lines"][0]))

    def as_dict(self, with_lines: bool = False) -> dict:
        """The summary; `with_lines` adds every rejected line (`rejected_lines`)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "rejected"}
        out["rejected"] = len(self.rejected)
        out["rejected_by_reason"] = [{**g, "reason": str(g["reason"])} for g in self.by_reason()]
        if with_lines:
            out["rejected_lines"] = [{**r, "reason": str(r["reason"])} for r in self.rejected]
        return out


def chunks(seq, n=CHUNK):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def epoch_s(at: datetime) -> int:
    return int(math.floor((at - av.EPOCH).total_seconds()))


def overlaps(a_start, a_end, b_start, b_end) -> bool:
    far = datetime.max.replace(tzinfo=timezone.utc)
    return a_start < (b_end or far) and b_start < (a_end or far)

"""The one path every probe result enters by (poll, file replay, API): store once, then recompute.

Results are stored idempotently keyed by (device, probe, at); each affected device's outages, status intervals
and events are then recomputed (`recompute.py`) from the stored results starting at the last success before the
earliest new result (or, for an in-order batch, from the device's saved counter state). So the same results
applied twice, or in any order, give the same outages.
"""
import gc
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from operator import itemgetter

from sqlalchemy import String, select
from sqlalchemy.orm import Session

from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.monitoring import ProbeResultRow
from fleetops.platform import events, parameters
from fleetops.services.monitoring import bulk, locks, quiet, steady
from fleetops.services.monitoring.batch import Dev
from fleetops.services.monitoring.parse import BadResult, parse_result
from fleetops.services.monitoring.recompute import recompute
from fleetops.services.monitoring.settings import FUTURE_SLACK, IngestConfig, IngestSummary

UNKNOWN_DEVICE = "unknown device %(code)s"  # msgid: a device not (yet) in the inventory; not the sender's error


def ingest_results(session: Session, results, config: IngestConfig | None = None, now: datetime | None = None,
                   strict: bool = False, write: bool = True) -> IngestSummary:
    """Store a batch of results and bring outages, intervals, events and Device.status up to date.

    Results of any age are stored (the retention only prunes raw rows later). Unknown device codes and bad
    results are reported in the summary (`rejected`, by line), not fatal for the rest — unless `strict`, when
    one refused result means nothing is written (`summary.written` is False); `write=False` only checks.
    The caller commits."""
    with _no_gc_pauses():
        return _ingest(session, results, config, now, strict, write)


@contextmanager
def _no_gc_pauses():
    """A 100,000-result batch allocates millions of short-lived objects (rows, tuples, datetimes): left on,
    the cyclic garbage collector walks the whole heap again and again (a third of the time). Reference counting
    still frees them; the collector runs once at the end instead."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _ingest(session: Session, results, config: IngestConfig | None, now: datetime | None, strict: bool,
            write: bool) -> IngestSummary:
    cfg = config or IngestConfig()
    now = now or utcnow()
    if cfg.late_after_h is None:
        cfg = replace(cfg, late_after_h=float(parameters.get(session, "late_import_after_h", 48)))
    summary = IngestSummary()
    parsed: list[tuple[int, dict]] = []
    for index, raw in enumerate(results, start=1):
        summary.received += 1
        try:
            row = parse_result(raw)
        except (ValueError, OverflowError) as err:  # BadResult says why in words
            reason = err.msg if isinstance(err, BadResult) else Msg("Not a valid result: %(error)s", error=str(err))
            summary.rejected.append({"index": index, "device": _code_of(raw), "reason": reason})
            continue
        if row["at"] > now + FUTURE_SLACK:
            summary.rejected.append({"index": index, "device": row["device"],
                                     "reason": Msg("'at' is in the future")})
            continue
        parsed.append((index, row))
    devices = _devices_by_code(session, {r["device"] for _, r in parsed}) if parsed else {}
    summary.unknown_devices = sorted({r["device"] for _, r in parsed if r["device"] not in devices})
    for index, r in parsed:
        if r["device"] not in devices:
            summary.rejected.append({"index": index, "device": r["device"], "reason": Msg(
                "unknown device %(code)s", code=r["device"])})  # == UNKNOWN_DEVICE
    if (strict and summary.rejected) or not write:
        summary.written = False
        return summary
    summary.rejected.sort(key=lambda r: r["index"])
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
    # Two ingests touching the same sites (poll vs. an agent's push) take turns: each recomputes from the saved
    # state. Batches of other districts run at once (locks.py).
    locks.lock_sites(session, {dev.site_id for dev in devices.values()})
    fast = bulk.is_pg(session) and quiet.ENABLED
    if fast:
        steady.ensure_tables(session)
    inserted = _insert_new(session, rows, steady.NEW if fast else None)
    summary.stored = len(inserted)
    summary.duplicates += len(rows) - len(inserted)
    if not inserted:
        return summary

    up, down = steady.run(session, cfg, len(inserted)) if fast else (set(), set())
    by_device: dict[int, dict[str, list[dict]]] = {}
    for r in inserted:
        d = r["device_id"]
        if d not in up:
            by_device.setdefault(d, {}).setdefault(r["probe"], []).append(r)
    settled = {d: by_device.pop(d) for d in down}
    dev_by_id = {d.id: d for d in devices.values() if d.id in by_device or d.id in settled}
    if dev_by_id:
        recompute(session, cfg, now, dev_by_id, by_device, summary, settled)
    _report_mains_loss(session, parsed, devices, {(r["device_id"], r["probe"], r["at"]) for r in inserted})
    return summary


def _report_mains_loss(session: Session, parsed, devices: dict[str, Dev], new_keys: set) -> None:
    """A cabinet power supply answering with its mains input below `mains_lost_below_v` reports a mains loss:
    `cabinet_mains_lost` once per site and batch (its earliest new reading), after the outages and site
    incidents are up to date — the exclusions area then asks, by itself, to exclude the site's blackout."""
    below = None
    first: dict[int, tuple] = {}
    for _index, r in parsed:
        volts = r.get("input_voltage_v")
        dev = devices.get(r["device"])
        if volts is None or dev is None or not r["ok"] or (dev.id, r["probe"], r["at"]) not in new_keys:
            continue
        if below is None:
            below = float(parameters.get(session, "mains_lost_below_v", 150))
        if volts < below and (dev.site_id not in first or r["at"] < first[dev.site_id][0]):
            first[dev.site_id] = (r["at"], volts)
    for site_id, (at, volts) in sorted(first.items()):
        events.emit(session, "cabinet_mains_lost", site_id=site_id, at=at, input_voltage_v=volts)


def _code_of(raw) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("device"), str):
        return raw["device"]
    return getattr(raw, "target", "") or ""


def _devices_by_code(session: Session, codes: set[str]) -> dict[str, Dev]:
    out = {}
    t = Device.__table__
    cols = (t.c.id, t.c.code, t.c.kind, t.c.site_id, t.c.liveness_probe, t.c.snmp_version, t.c.status,
            t.c.status_since, t.c.last_seen_at)
    session.flush()  # what session.execute would do before reading; then a Core read, no ORM row loading
    conn = session.connection()
    if bulk.is_pg(session):
        # 100,000 codes as one text split by the server (not a text[] of 100,000 items to adapt), rows straight from
        # the driver (its timestamptz turned to UTC here, as UTCDateTime would). A code with a newline in it is
        # looked up by its parts too, and finds nothing by its whole: only the codes asked for are kept.
        utc = timezone.utc
        names = ", ".join(c.name for c in cols)
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(f"SELECT {names} FROM devices WHERE code = ANY(string_to_array(%s, E'\\n'))",
                        ["\n".join(codes)])
            for i, code, kind, site, live, snmp, status, since, seen in cur:
                if code in codes:
                        out[code] = Dev(i, code, kind, site, live, snmp, status, since and since.astimezone(utc),
                                    seen and seen.astimezone(utc))
        return out
    for chunk in bulk.id_chunks(session, codes):
        for row in conn.execute(select(*cols).where(bulk.in_ids(session, t.c.code, chunk, String))).all():
            out[row[1]] = Dev(*row)
    return out


RESULT_COLUMNS = ("device_id", "probe", "at", "ok", "rtt_ms", "sys_uptime_s", "detail")
NEW_COLUMNS = ("device_id", "probe", "at", "ok", "sys_uptime_s")  # what steady.py judges


def _insert_new(session: Session, rows: list[dict], copy_to: str | None = None) -> list[dict]:
    """Insert results (COPY through a staging table on PostgreSQL), skipping those already stored; return the
    ones that were new. `copy_to`: a table that also receives the new rows (steady.NEW)."""
    if not rows:
        return []
    skipped = bulk.insert_new(session, ProbeResultRow.__table__, RESULT_COLUMNS, ("device_id", "probe", "at"),
                              list(map(itemgetter(*RESULT_COLUMNS), rows)),
                              copy_to=(copy_to, NEW_COLUMNS) if copy_to else None)
    if not skipped:
        return rows
    return [r for r in rows if (r["device_id"], r["probe"], r["at"]) not in skipped]

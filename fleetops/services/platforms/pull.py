"""U7: one pull from a platform — the allow-list (contract parameter platform_networks), an HTTP GET of the counts
since the last good pull, the platform's JSON mapped to {"device", "slot_start", "count"} rows, validated per camera,
stored through monitoring.detectors.record_pass_counts.

Failure rules: a refused address, a connection error or timeout, an HTTP error status, a body that is not JSON or not
shaped as the mapping says → nothing is written, the connector keeps the reason (a stored Msg, shown to admins) and
one log line says it. A bad row (unknown camera, bad time or count) drops only that camera's rows from this pull;
every other camera's counts are stored. The job pulls each enabled connector that is due, each in its own
transaction, so one platform failing never stops another."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.records import PlatformConnector
from fleetops.platform import netpolicy, parameters
from fleetops.services.monitoring import detectors
from fleetops.services.platforms.connectors import DEFAULT_MAPPING

log = logging.getLogger(__name__)

MAX_BODY = 20 * 1024 * 1024


class PullFailed(Exception):
    def __init__(self, msg: Msg):
        super().__init__(msg)
        self.msg = msg


def _dig(data, path: str):
    for part in [p for p in (path or "").split(".") if p]:
        if not isinstance(data, dict) or part not in data:
            raise PullFailed(Msg("The platform's answer has no field %(field)s.", field=path))
        data = data[part]
    return data


@dataclass(frozen=True)
class PullPlan:
    """One pull as read from the database (the connector's settings, the window, the allow-list's verdict), so the
    platform is asked with no transaction open."""

    connector_id: int
    name: str
    url: str
    username: str
    password: str
    timeout_s: float
    start: datetime
    end: datetime
    interval_s: int
    mapping: dict
    refusal: Msg | None


def plan_pull(session: Session, c: PlatformConnector, now: datetime | None = None) -> PullPlan:
    """Reads only: what to ask the platform for (counts since the last good pull, at most the baseline's days)."""
    now = now or utcnow()
    interval = int(parameters.get(session, "alerts.pass_count_interval_s"))
    days = int(parameters.get(session, "alerts.no_data_baseline_days"))
    start = now - timedelta(days=days, seconds=interval)
    if c.last_ok_at is not None:
        start = max(start, c.last_ok_at - timedelta(seconds=2 * interval))
    refusal = netpolicy.url_refusal(c.url, netpolicy.PLATFORMS, netpolicy.networks(session, netpolicy.PLATFORMS))
    return PullPlan(c.id, c.name, c.url, c.username or "", c.password or "", c.timeout_s, start, now, interval,
                    {**DEFAULT_MAPPING, **(c.mapping or {})}, refusal)


def fetch(plan: PullPlan):
    """Ask the platform (no database here); the parsed JSON, or PullFailed with the reason."""
    if plan.refusal is not None:
        raise PullFailed(plan.refusal)
    try:
        resp = requests.get(plan.url, params={"from": plan.start.isoformat(), "to": plan.end.isoformat()},
                            auth=(plan.username, plan.password) if plan.username else None,
                            timeout=plan.timeout_s, stream=True, allow_redirects=False,
                            headers={"Accept": "application/json"})
    except requests.Timeout:
        raise PullFailed(Msg("The platform did not answer within %(s)s s.", s=plan.timeout_s)) from None
    except requests.RequestException as err:
        raise PullFailed(Msg("Cannot reach the platform (%(error)s).", error=type(err).__name__)) from None
    try:
        if resp.status_code != 200:
            raise PullFailed(Msg("The platform answered HTTP %(status)s.", status=resp.status_code))
        body = resp.raw.read(MAX_BODY + 1, decode_content=True)
    except requests.RequestException as err:
        raise PullFailed(Msg("Cannot reach the platform (%(error)s).", error=type(err).__name__)) from None
    except OSError as err:  # a read timeout inside the body
        raise PullFailed(Msg("Cannot reach the platform (%(error)s).", error=type(err).__name__)) from None
    finally:
        resp.close()
    if len(body) > MAX_BODY:
        raise PullFailed(Msg("The platform's answer is larger than %(mb)s MB.", mb=MAX_BODY // (1024 * 1024)))
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        raise PullFailed(Msg("The platform's answer is not JSON.")) from None


def _slot(value) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 10**11:
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo is not None else None
    return None


def _rows(session: Session, data, mapping: dict) -> tuple[list[dict], dict[str, str]]:
    """The platform's items → clean rows, and per camera that was dropped the reason (text for the log)."""
    items = _dig(data, mapping.get("items", ""))
    if not isinstance(items, list):
        raise PullFailed(Msg("The platform's answer has no list at %(field)s.", field=mapping.get("items") or "/"))
    f_dev, f_slot, f_count = mapping["device"], mapping["slot_start"], mapping["count"]
    codes = {str(i.get(f_dev)) for i in items if isinstance(i, dict) and i.get(f_dev) is not None}
    known = set(session.scalars(select(Device.code).where(Device.code.in_(codes or [""]))))
    by_cam: dict[str, list[dict]] = {}
    bad: dict[str, str] = {}
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or item.get(f_dev) is None:
            bad[f"#{n}"] = "not an object with a camera"
            continue
        code = str(item[f_dev])
        slot, count = _slot(item.get(f_slot)), item.get(f_count)
        if code not in known:
            bad[code] = "unknown camera"
        elif slot is None:
            bad[code] = f"bad {f_slot} {item.get(f_slot)!r}"[:200]
        elif not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 2**31 - 1:
            bad[code] = f"bad {f_count} {count!r}"[:200]
        else:
            by_cam.setdefault(code, []).append({"device": code, "slot_start": slot, "count": count})
    rows = [r for code, rs in by_cam.items() if code not in bad for r in rs]
    return rows, bad


def store_pull(session: Session, c: PlatformConnector, plan: PullPlan, fetched) -> dict:
    """Write what one pull brought: the counts, or (`fetched` a PullFailed) only the reason. Returns {"ok", "stored",
    "cameras", "skipped"} (and "error" on failure)."""
    c.last_pull_at = plan.end
    try:
        if isinstance(fetched, PullFailed):
            raise fetched
        rows, bad = _rows(session, fetched, plan.mapping)
        with session.begin_nested():
            stored = detectors.record_pass_counts(session, rows, plan.interval_s) if rows else 0
    except (PullFailed, ValidationFailed) as err:
        err = err if isinstance(err, PullFailed) else PullFailed(err.msg)
        c.last_error = err.msg.stored()
        log.warning("job=platform_pull connector=%s ok=0 error=%s", c.name, err.msg.render("en"))
        return {"ok": False, "stored": 0, "cameras": 0, "skipped": {}, "error": err.msg}
    for code, why in sorted(bad.items()):
        log.warning("job=platform_pull connector=%s camera=%s skipped=%s", c.name, code, why)
    c.last_ok_at, c.last_error = plan.end, ""
    if bad:
        c.last_error = Msg("%(n)s cameras skipped (unknown camera or bad values): %(codes)s", n=len(bad),
                           codes=", ".join(sorted(bad)[:10])).stored()
    cameras = len({r["device"] for r in rows})
    log.info("job=platform_pull connector=%s ok=1 rows=%s cameras=%s skipped=%s", c.name, stored, cameras, len(bad))
    return {"ok": True, "stored": stored, "cameras": cameras, "skipped": bad}


def _fetched(plan: PullPlan):
    try:
        return fetch(plan)
    except PullFailed as err:
        return err


def pull_connector(session: Session, c: PlatformConnector, now: datetime | None = None) -> dict:
    """Pull once in the caller's transaction; on failure nothing is written but the reason. The platform is asked
    before this writes anything: a caller that has written already holds the write lock meanwhile (SQLite), so the
    scheduled job reads, asks and writes in transactions of their own (job_platform_pull)."""
    plan = plan_pull(session, c, now)
    return store_pull(session, c, plan, _fetched(plan))


def pull_due(session: Session, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return [c.id for c in session.scalars(select(PlatformConnector).where(PlatformConnector.enabled.is_(True)))
            if c.last_pull_at is None or c.last_pull_at + timedelta(seconds=c.interval_s) <= now]


def job_platform_pull(ctx) -> None:
    """Every enabled connector that is due, each on its own (one platform failing stops no other). No transaction is
    open while a platform answers: the settings are read first, the answer written after in a short transaction
    that takes the write lock as it begins (SQLite), so a slow platform holds back no other job."""
    with ctx.session() as s:
        due = pull_due(s)
    for cid in due:
        with ctx.session() as s:
            c = s.get(PlatformConnector, cid)
            plan = plan_pull(s, c) if c is not None else None
        if plan is None:
            continue
        fetched = _fetched(plan)
        with ctx.session(write=True) as s:
            c = s.get(PlatformConnector, cid)
            if c is not None:
                store_pull(s, c, plan, fetched)

"""U7: one pull from a platform — the allow-list (contract parameter platform_networks), an HTTP GET of the counts
since the last good pull, the platform's JSON mapped to {"device", "slot_start", "count"} rows, validated per camera,
stored through monitoring.detectors.record_pass_counts.

Failure rules: a refused address, a connection error or timeout, an HTTP error status, a body that is not JSON or not
shaped as the mapping says → nothing is written, the connector keeps the reason (a stored Msg, shown to admins) and
one log line says it. A bad row (unknown camera, bad time or count) drops only that camera's rows from this pull;
every other camera's counts are stored. The job pulls each enabled connector that is due, each in its own
transaction, so one platform failing never stops another."""
from __future__ import annotations

import logging
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


def _fetch(session: Session, c: PlatformConnector, start: datetime, end: datetime):
    refusal = netpolicy.url_refusal(c.url, netpolicy.PLATFORMS, netpolicy.networks(session, netpolicy.PLATFORMS))
    if refusal is not None:
        raise PullFailed(refusal)
    try:
        resp = requests.get(c.url, params={"from": start.isoformat(), "to": end.isoformat()},
                            auth=(c.username, c.password or "") if c.username else None,
                            timeout=c.timeout_s, stream=True, allow_redirects=False,
                            headers={"Accept": "application/json"})
    except requests.Timeout:
        raise PullFailed(Msg("The platform did not answer within %(s)s s.", s=c.timeout_s)) from None
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
        import json

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


def pull_connector(session: Session, c: PlatformConnector, now: datetime | None = None) -> dict:
    """Pull once; returns {"ok", "stored", "cameras", "skipped"}; on failure nothing is written but the reason."""
    now = now or utcnow()
    interval = int(parameters.get(session, "alerts.pass_count_interval_s"))
    days = int(parameters.get(session, "alerts.no_data_baseline_days"))
    start = now - timedelta(days=days, seconds=interval)
    if c.last_ok_at is not None:
        start = max(start, c.last_ok_at - timedelta(seconds=2 * interval))
    c.last_pull_at = now
    mapping = {**DEFAULT_MAPPING, **(c.mapping or {})}
    try:
        data = _fetch(session, c, start, now)
        rows, bad = _rows(session, data, mapping)
        with session.begin_nested():
            stored = detectors.record_pass_counts(session, rows, interval) if rows else 0
    except (PullFailed, ValidationFailed) as err:
        err = err if isinstance(err, PullFailed) else PullFailed(err.msg)
        c.last_error = err.msg.stored()
        log.warning("job=platform_pull connector=%s ok=0 error=%s", c.name, err.msg.render("en"))
        return {"ok": False, "stored": 0, "cameras": 0, "skipped": {}, "error": err.msg}
    for code, why in sorted(bad.items()):
        log.warning("job=platform_pull connector=%s camera=%s skipped=%s", c.name, code, why)
    c.last_ok_at, c.last_error = now, ""
    if bad:
        c.last_error = Msg("%(n)s cameras skipped (unknown camera or bad values): %(codes)s", n=len(bad),
                           codes=", ".join(sorted(bad)[:10])).stored()
    cameras = len({r["device"] for r in rows})
    log.info("job=platform_pull connector=%s ok=1 rows=%s cameras=%s skipped=%s", c.name, stored, cameras, len(bad))
    return {"ok": True, "stored": stored, "cameras": cameras, "skipped": bad}


def pull_due(session: Session, now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    return [c.id for c in session.scalars(select(PlatformConnector).where(PlatformConnector.enabled.is_(True)))
            if c.last_pull_at is None or c.last_pull_at + timedelta(seconds=c.interval_s) <= now]


def job_platform_pull(ctx) -> None:
    """Every enabled connector that is due, each in its own transaction (one platform failing stops no other)."""
    with ctx.session() as s:
        due = pull_due(s)
    for cid in due:
        with ctx.session() as s:
            c = s.get(PlatformConnector, cid)
            if c is not None:
                pull_connector(s, c)

"""One probe result, checked: a ProbeResult (our own poll) or a result-line dict (file replay, API) → a row.

A bad result raises `BadResult` whose `msg` says why in the reader's language (`docs/results-format.md`).
A failed ProbeResult keeps its reason code as a stored `Msg` in `detail` (shown with `|msg`); lines from files
and the API keep their free-text detail as it is.
"""
import math
from functools import lru_cache
from datetime import datetime, timezone

from fleetops.domain.probe_reasons import reason_msg, result_msg
from fleetops.domain.text import Msg
from fleetops.services.monitoring.settings import DETAIL_MAX, PROBES

EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)  # before epoch seconds begin: a clock that was never set
METRIC_MAX = 1e15  # a metric beyond this is a garbled value, not a measurement


class BadResult(ValueError):
    """A result that cannot be stored; `msg` is the sentence (str(err) renders it)."""

    def __init__(self, msg: Msg):
        super().__init__(msg)
        self.msg = msg

    def __str__(self) -> str:
        return str(self.msg)


def parse_result(obj) -> dict:
    """A ProbeResult or a result-line dict → {device, probe, ok, at, rtt_ms, sys_uptime_s, input_voltage_v,
    detail}; BadResult. input_voltage_v is a cabinet power supply's mains input (not stored; see ingest)."""
    if hasattr(obj, "probe") and hasattr(obj, "target"):
        obj = {"device": obj.target, "probe": obj.probe, "ok": obj.ok, "at": obj.at,
               "metrics": obj.metrics, "detail": stored_reason(obj) if not obj.ok else (obj.detail or "")}
    if not isinstance(obj, dict):
        raise BadResult(Msg("not a JSON object"))
    device = obj.get("device")
    if not isinstance(device, str) or not device.strip():
        raise BadResult(Msg("'device' is missing"))
    probe = obj.get("probe")
    if probe not in PROBES:
        raise BadResult(Msg("'probe' must be ping, snmp or tcp, not %(probe)s", probe=repr(probe)))
    ok = obj.get("ok")
    if not isinstance(ok, bool):
        raise BadResult(Msg("'ok' must be true or false"))
    at = obj.get("at")
    at = _at_text(at) if isinstance(at, str) else _at(at, at)
    metrics = obj.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise BadResult(Msg("'metrics' must be an object"))
    values = {}
    for key in ("rtt_ms", "sys_uptime_s", "input_voltage_v"):
        v = metrics.get(key)
        if v is not None:
            try:
                number = None if isinstance(v, bool) or not isinstance(v, (int, float)) else float(v)
            except OverflowError:  # a 400-digit integer
                number = None
            if number is None or not math.isfinite(number) or number < 0 or number > METRIC_MAX:
                raise BadResult(Msg("metrics.%(key)s must be a number ≥ 0", key=key))
            values[key] = number
    detail = obj.get("detail") or ""
    if not isinstance(detail, str):
        raise BadResult(Msg("'detail' must be text"))
    return {"device": device.strip(), "probe": probe, "ok": ok, "at": at,
            "rtt_ms": values.get("rtt_ms"), "sys_uptime_s": values.get("sys_uptime_s"),
            "input_voltage_v": values.get("input_voltage_v"), "detail": detail[:DETAIL_MAX]}


@lru_cache(maxsize=1024)
def _at_text(raw: str) -> datetime:
    """An ISO 8601 text time → UTC; the texts of one batch repeat (a poll stamps its results alike): parsed once."""
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadResult(Msg("'at' is not an ISO 8601 time: %(value)s", value=repr(raw))) from None
    return _at(at, raw)


def _at(at, raw_at) -> datetime:
    if not isinstance(at, datetime):
        raise BadResult(Msg("'at' is missing"))
    if at.tzinfo is None or at.utcoffset() is None:
        raise BadResult(Msg("'at' must carry a UTC offset, e.g. +08:00"))
    try:
        at = at.astimezone(timezone.utc)
    except (OverflowError, ValueError):  # year 1 at +08:00, year 9999 at -08:00
        at = None
    if at is None or at < EARLIEST:
        raise BadResult(Msg("'at' is out of range (1970 to now): %(value)s", value=repr(str(raw_at))))
    return at


def stored_reason(result) -> str:
    """The stored Msg of a failed ProbeResult's reason, at most DETAIL_MAX characters and never cut JSON:
    long parameters are shortened first, then dropped."""
    text = result_msg(result).stored()
    if len(text) <= DETAIL_MAX:
        return text
    params = {k: (_clip(v) if isinstance(v, str) else v) for k, v in (result.params or {}).items()}
    code = result.reason
    for msg in (reason_msg(code, params, _clip(result.detail or "")), reason_msg(code, {}, "?")):
        text = msg.stored()
        if len(text) <= DETAIL_MAX:
            return text
    return reason_msg("error", {"error": "?"}).stored()


def _clip(value: str, n: int = 60) -> str:
    return value if len(value) <= n else value[:n - 1] + "…"

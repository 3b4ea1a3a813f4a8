"""What every channel sender shares: the one error type (its text safe to store and show), secret scrubbing,
the per-send timeout, and the robots' JSON POST (DingTalk and WeCom answer the same way)."""
import json
import urllib.parse

import requests

from fleetops.domain.text import Msg, stored


class ChannelError(Exception):
    """One failed attempt; the message is safe to store and show (secrets scrubbed).

    `message` is a `Msg` (our own sentence) or the peer's/library's English text; `str(err)` is its stored form
    (a stored Msg or that text), the value kept in `AlertDelivery.last_error` and the attempt log."""

    def __init__(self, message):
        super().__init__(stored(message))
        self.msg = message


def scrub(text: str, secrets: dict) -> str:
    """Replace every secret value (and its URL-encoded forms) in `text` by ••••."""
    for value in (secrets or {}).values():
        if isinstance(value, str) and len(value) >= 3:
            for form in {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}:
                text = text.replace(form, "••••")
    return text


def timeout_of(settings) -> float:
    return float(settings.get("timeout_s") or 10)


def as_list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    return [str(v) for v in value]


def robot_post(url: str, body: dict, settings: dict) -> str:
    """POST a robot message; a robot answers HTTP 200 with {"errcode": 0} when it accepted it."""
    resp = requests.post(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                         headers={"Content-Type": "application/json; charset=utf-8"}, timeout=timeout_of(settings),
                         allow_redirects=False)
    if resp.status_code != 200:
        raise ChannelError(status_reason(resp))
    try:
        answer = resp.json()
    except ValueError:
        raise ChannelError(Msg("The robot answered something other than JSON.")) from None
    if not isinstance(answer, dict):
        raise ChannelError(Msg("The robot answered something other than JSON."))
    if answer.get("errcode", 0) != 0:
        raise ChannelError(Msg("The robot refused the message (code %(code)s): %(message)s",
                               code=short(answer.get("errcode"), 20), message=short(answer.get("errmsg", ""))))
    return "errcode 0"


def short(value, limit: int = 80) -> str:
    """A peer's field, made safe to store and show: printable, one line, at most `limit` characters."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value if value is not None else ""))
    return text[:limit]


def status_reason(resp) -> str:
    """The status of a refused request — never the peer's body (it may be anything the far side chose to say)."""
    return f"HTTP {resp.status_code} {short(resp.reason or '', 40)}".strip()

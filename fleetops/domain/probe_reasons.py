"""What a probe's reason code means to a person: one msgid per code in `probes.base.REASONS`.

Stored rows (probe results, snapshot samples, device events) keep the `Msg` built here in its stored form
(msgid + parameters), so the history page shows it in the reader's language.
"""
from fleetops.domain.text import Msg, N_

REASON_MSGIDS = {
    "timeout": N_("No answer within %(timeout_s)s s"),
    "refused": N_("Connection refused"),
    "unreachable": N_("Host or network unreachable"),
    "not_permitted": N_("This probe host may not send the probe (permission denied)"),
    "socket_error": N_("Socket error on the probe host: %(error)s"),
    "bad_address": N_("Not a valid address: %(address)s"),
    "bad_reply": N_("Garbled reply: %(error)s"),
    "agent_error": N_("The SNMP agent answered with error %(status)s"),
    "auth_failed": N_("Authentication failed: wrong user name, password or community"),
    "http_error": N_("The camera answered HTTP %(status)s"),
    "too_large": N_("Snapshot too large (over %(mb)s MB)"),
    "empty": N_("The camera returned an empty image"),
    "cannot_connect": N_("Cannot connect"),
    "request_failed": N_("Request failed: %(error)s"),
    "no_source": N_("No snapshot source configured"),
    "unsupported_source": N_("Unsupported snapshot source: %(scheme)s"),
    "read_error": N_("Cannot read: %(error)s"),
    "no_image": N_("No image in the upload folder"),
    "bad_image": N_("Not a readable image: %(error)s"),
    "error": N_("Probe failed: %(error)s"),
}


def reason_msg(reason: str, params: dict | None = None, detail: str = "") -> Msg:
    """The sentence for a reason code; an unknown or missing code falls back to the English detail."""
    msgid = REASON_MSGIDS.get(reason or "")
    if msgid is None:
        return Msg(REASON_MSGIDS["error"], error=detail or reason or "?")
    params = dict(params or {})
    if "%(" in msgid:
        import re

        for name in re.findall(r"%\((\w+)\)s", msgid):
            params.setdefault(name, "?")
    return Msg(msgid, **params)


def result_msg(result) -> Msg | None:
    """The sentence for a failed ProbeResult (None when it succeeded)."""
    if getattr(result, "ok", False):
        return None
    return reason_msg(getattr(result, "reason", ""), getattr(result, "params", None), getattr(result, "detail", ""))

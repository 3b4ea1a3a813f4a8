"""What a probe's reason code means to a person: one msgid per code in `probes.base.REASONS`.

Stored rows (probe results, snapshot samples, device events) keep the `Msg` built here in its stored form
(msgid + parameters), so the history page shows it in the reader's language.
"""
from fleetops.domain.text import Msg, N_

REASON_MSGIDS = {
    "timeout": N_("No answer within %(timeout_s)s s"),
    "refused": N_("Connection refused"),
    "unreachable": N_("Host or network unreachable"),
    "no_route": N_("This probe host has no route to the address"),
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
    # images (snapshots, pass records, score-image)
    "not_an_image": N_("Not a recognised image (JPEG/PNG/BMP)"),
    "image_header_damaged": N_("The %(format)s header is damaged or incomplete"),
    "file_empty": N_("The file is empty"),
    "file_too_large": N_("File too large (%(size_mb)s MB > %(limit_mb)s MB)"),
    "image_size_invalid": N_("Invalid image size %(width)s×%(height)s"),
    "image_too_many_pixels": N_("Image has too many pixels: %(width)s×%(height)s = %(mpx)s Mpx (limit %(limit_mpx)s Mpx)"),
    "image_truncated": N_("The image is incomplete (truncated)"),
    "image_undecodable": N_("The image data cannot be decoded"),
    "encode_failed": N_("JPEG encoding failed"),
    "stream_not_opened": N_("The video stream could not be opened"),
    "stream_no_frame": N_("The video stream gave no picture"),
    "empty_crop": N_("The crop region is empty"),
    # crew photos
    "photo_type": N_("Only JPEG or PNG photos are accepted."),
    "photo_no_size": N_("The photo has no valid size."),
    "photo_too_large": N_("The photo has too many pixels (%(width)s×%(height)s)."),
    # probe configuration
    "bad_oid": N_("Not a numeric OID: %(oid)s"),
    "bad_port": N_("Invalid SNMP port (1–65535): %(port)s"),
    "bad_snmp_version": N_("Unsupported SNMP version %(version)s (v2c or v3)"),
    "bad_interfaces": N_("Interfaces must be 0–64, not %(interfaces)s"),
    "missing_community": N_("SNMP v2c needs a community"),
    "missing_user": N_("SNMPv3 needs a user name"),
    "unknown_auth_protocol": N_("Unknown SNMPv3 authentication protocol %(protocol)s"),
    "unknown_priv_protocol": N_("Unknown SNMPv3 privacy protocol %(protocol)s"),
    "auth_key_short": N_("The SNMPv3 authentication key needs at least 8 characters"),
    "priv_needs_auth": N_("SNMPv3 privacy needs authentication too"),
    "priv_key_short": N_("The SNMPv3 privacy key needs at least 8 characters"),
    "unknown_probe_kind": N_("Unknown probe kind %(kind)s; one of: %(known)s"),
    "unknown_settings": N_("Unknown SNMP settings: %(names)s"),
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


def error_msg(err) -> Msg:
    """The sentence for a probe exception (ImageError, PhotoError, ConfigError: `code` + `params`), or its text."""
    code = getattr(err, "code", "")
    if code in REASON_MSGIDS:
        return reason_msg(code, getattr(err, "params", None), str(err))
    return reason_msg("error", {"error": str(err)})

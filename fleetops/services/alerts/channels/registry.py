"""The channel kinds and their field tables, assembled from the sender modules; `send` runs one attempt.

To add a channel: a module here with KIND, PLAIN, SECRETS, DEFAULTS, REQUIRED, REQUIRED_SECRETS, ERRORS and
`send(settings, secrets, payload) -> str`, listed in MODULES; a label in `domain/alerts.ChannelKind`."""
import logging
import smtplib
import socket
import ssl

import requests

from fleetops.domain.text import N_, Msg
from fleetops.platform import netpolicy
from fleetops.services.alerts.channels import dingtalk, email, mqtt, webhook, wecom
from fleetops.services.alerts.channels.base import ChannelError, scrub

MODULES = (email, webhook, dingtalk, wecom, mqtt)

CHANNEL_KINDS = tuple(m.KIND for m in MODULES)
SECRET_FIELDS = {m.KIND: m.SECRETS for m in MODULES}
PLAIN_FIELDS = {m.KIND: m.PLAIN for m in MODULES}
CHANNEL_DEFAULTS = {m.KIND: m.DEFAULTS for m in MODULES}
REQUIRED_FIELDS = {m.KIND: m.REQUIRED for m in MODULES}
REQUIRED_SECRETS = {m.KIND: m.REQUIRED_SECRETS for m in MODULES if m.REQUIRED_SECRETS}
INT_FIELDS = ("port", "qos", "timeout_s")
_SENDERS = {m.KIND: m.send for m in MODULES}
log = logging.getLogger(__name__)
_ERRORS = (OSError, requests.RequestException, ValueError, KeyError) + tuple(e for m in MODULES for e in m.ERRORS)


# What a person reads for each kind of failure, most specific class first (issue 13: Chinese throughout).
ERROR_MESSAGES = (
    (smtplib.SMTPAuthenticationError, N_("The mail server refused the user name or password.")),
    (smtplib.SMTPRecipientsRefused, N_("The mail server refused the recipients.")),
    (smtplib.SMTPSenderRefused, N_("The mail server refused the sender address.")),
    (smtplib.SMTPServerDisconnected, N_("The mail server closed the connection.")),
    (smtplib.SMTPNotSupportedError, N_("The mail server does not support what the channel asks (e.g. STARTTLS).")),
    (smtplib.SMTPException, N_("The mail server refused the message.")),
    (ssl.SSLError, N_("The encrypted connection (TLS) failed: check the port and the TLS setting.")),
    (socket.gaierror, N_("The server's name cannot be resolved on this network.")),
    (ConnectionRefusedError, N_("Connection refused")),
    (TimeoutError, N_("No answer in time.")),
    (requests.exceptions.InvalidURL, N_("The address is not valid.")),
    (requests.exceptions.MissingSchema, N_("The address is not valid.")),
    (requests.exceptions.TooManyRedirects, N_("The server answered with too many redirects.")),
    (requests.RequestException, N_("The request failed.")),
    (OSError, N_("A network error on this server.")),
    (ValueError, N_("The channel's settings are not valid.")),
    (KeyError, N_("The channel's settings are not valid.")),
)


def error_msg(err: BaseException) -> Msg:
    """The catalogue sentence for a failed attempt's exception (by class); an unknown one: "Sending failed."."""
    for cls, msgid in ERROR_MESSAGES:
        if isinstance(err, cls):
            code = getattr(err, "smtp_code", None)
            if isinstance(code, int):  # the mail server's reply code helps its administrator
                return Msg("%(reason)s (SMTP %(code)s)", reason=Msg(msgid), code=code)
            return Msg(msgid)
    return Msg("Sending failed.")


def target_refusal(kind: str, settings: dict, networks: list) -> Msg | None:
    """Why a channel must not connect where its settings point (outside the allowed alert networks), or None."""
    merged = {**CHANNEL_DEFAULTS.get(kind, {}), **{k: v for k, v in (settings or {}).items() if v not in (None, "")}}
    if "url" in PLAIN_FIELDS.get(kind, ()) or "base_url" in PLAIN_FIELDS.get(kind, ()):
        return netpolicy.url_refusal(merged.get("url") or merged.get("base_url") or "", netpolicy.ALERTS, networks)
    if "host" in PLAIN_FIELDS.get(kind, ()):
        return netpolicy.refusal(str(merged.get("host") or ""), merged.get("port"), netpolicy.ALERTS, networks)
    return None


def send(kind: str, settings: dict, secrets: dict, payload: dict, *, networks: list) -> str:
    """Send `payload` through one channel; returns the peer's answer in words, raises ChannelError.

    `networks`: the allowed alert networks (netpolicy.networks); a target outside them is not contacted."""
    merged = {**CHANNEL_DEFAULTS.get(kind, {}), **{k: v for k, v in (settings or {}).items() if v not in (None, "")}}
    sender = _SENDERS.get(kind)
    if sender is None:
        raise ChannelError(Msg("Unknown channel kind %(kind)s", kind=kind))
    refused = target_refusal(kind, merged, networks)
    if refused is not None:
        raise ChannelError(refused)
    try:
        return sender(merged, secrets or {}, payload)
    except ChannelError as err:
        raise ChannelError(scrub(str(err), secrets)) from None
    except requests.Timeout:
        raise ChannelError(Msg("No answer in time.")) from None
    except (requests.ConnectionError, ConnectionError):
        raise ChannelError(Msg("Cannot connect")) from None
    except _ERRORS as err:
        # A sentence from the catalogue by the error's class, never Python's text (it may name hosts and ports, and
        # it is English); the technical detail goes to the log for the administrator, secrets scrubbed.
        log.warning("channel=%s error=%s detail=%s", kind, type(err).__name__, scrub(str(err)[:200], secrets))
        raise ChannelError(error_msg(err)) from None

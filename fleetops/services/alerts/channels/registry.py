"""The channel kinds and their field tables, assembled from the sender modules; `send` runs one attempt.

To add a channel: a module here with KIND, PLAIN, SECRETS, DEFAULTS, REQUIRED, REQUIRED_SECRETS, ERRORS and
`send(settings, secrets, payload) -> str`, listed in MODULES; a label in `domain/alerts.ChannelKind`."""
import requests

from fleetops.domain.text import Msg
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
_ERRORS = (OSError, requests.RequestException, ValueError, KeyError) + tuple(e for m in MODULES for e in m.ERRORS)


def send(kind: str, settings: dict, secrets: dict, payload: dict) -> str:
    """Send `payload` through one channel; returns the peer's answer in words, raises ChannelError."""
    merged = {**CHANNEL_DEFAULTS.get(kind, {}), **{k: v for k, v in (settings or {}).items() if v not in (None, "")}}
    sender = _SENDERS.get(kind)
    if sender is None:
        raise ChannelError(Msg("Unknown channel kind %(kind)s", kind=kind))
    try:
        return sender(merged, secrets or {}, payload)
    except ChannelError as err:
        raise ChannelError(scrub(str(err), secrets)) from None
    except _ERRORS as err:
        raise ChannelError(scrub(f"{type(err).__name__}: {err}", secrets)) from None

"""The channel kinds and their field tables, assembled from the sender modules; `send` runs one attempt.

To add a channel: a module here with KIND, PLAIN, SECRETS, DEFAULTS, REQUIRED, REQUIRED_SECRETS, ERRORS and
`send(settings, secrets, payload) -> str`, listed in MODULES; a label in `domain/alerts.ChannelKind`."""
import requests

from fleetops.domain.text import Msg
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
_ERRORS = (OSError, requests.RequestException, ValueError, KeyError) + tuple(e for m in MODULES for e in m.ERRORS)


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
        # A short reason, never the peer's body or the library's long text (it may name hosts and ports).
        raise ChannelError(scrub(f"{type(err).__name__}: {str(err)[:120]}", secrets)) from None

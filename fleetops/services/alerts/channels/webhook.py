"""A JSON webhook: the whole payload POSTed, with a Bearer token when one is set."""
import json

import requests

from fleetops.services.alerts.channels.base import ChannelError, status_reason, timeout_of

KIND = "webhook"
PLAIN = ("url", "timeout_s")
SECRETS = ("token",)
DEFAULTS = {"timeout_s": 10}
REQUIRED = ("url",)
REQUIRED_SECRETS = ()
ERRORS = ()


def send(settings: dict, secrets: dict, payload: dict) -> str:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if secrets.get("token"):
        headers["Authorization"] = f"Bearer {secrets['token']}"
    resp = requests.post(settings["url"], data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                         headers=headers, timeout=timeout_of(settings), allow_redirects=False)
    if not 200 <= resp.status_code < 300:
        raise ChannelError(status_reason(resp))
    return f"HTTP {resp.status_code}"

"""A DingTalk group robot (markdown; optional signing secret; @-mentions the route's people by phone)."""
import base64
import hashlib
import hmac
import time
import urllib.parse

from fleetops.services.alerts.channels.base import robot_post

KIND = "dingtalk"
PLAIN = ("base_url", "timeout_s")
SECRETS = ("access_token", "secret")
DEFAULTS = {"base_url": "https://oapi.dingtalk.com/robot/send", "timeout_s": 10}
REQUIRED = ("base_url",)
REQUIRED_SECRETS = ("access_token",)
ERRORS = ()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk signed robot: base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")), URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def send(settings: dict, secrets: dict, payload: dict) -> str:
    query = f"access_token={urllib.parse.quote_plus(secrets.get('access_token', ''))}"
    if secrets.get("secret"):
        ts = int(time.time() * 1000)
        query += f"&timestamp={ts}&sign={dingtalk_sign(secrets['secret'], ts)}"
    mobiles = list(payload.get("at_mobiles") or [])
    text = payload["markdown"] + ("\n\n" + " ".join(f"@{m}" for m in mobiles) if mobiles else "")
    body = {"msgtype": "markdown", "markdown": {"title": payload["title"][:60], "text": text},
            "at": {"atMobiles": mobiles, "isAtAll": False}}
    return robot_post(f"{settings['base_url']}?{query}", body, settings)

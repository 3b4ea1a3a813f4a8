"""A WeCom (企业微信) group robot: markdown, at most 4096 bytes."""
import urllib.parse

from fleetops.services.alerts.channels.base import robot_post

KIND = "wecom"
PLAIN = ("base_url", "timeout_s")
SECRETS = ("key",)
DEFAULTS = {"base_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "timeout_s": 10}
REQUIRED = ("base_url",)
REQUIRED_SECRETS = ("key",)
ERRORS = ()


def send(settings: dict, secrets: dict, payload: dict) -> str:
    url = f"{settings['base_url']}?key={urllib.parse.quote_plus(secrets.get('key', ''))}"
    content = payload["markdown"].encode("utf-8")[:4000].decode("utf-8", "ignore")  # WeCom: ≤ 4096 bytes
    return robot_post(url, {"msgtype": "markdown", "markdown": {"content": content}}, settings)

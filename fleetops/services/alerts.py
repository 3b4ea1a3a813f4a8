"""Alerts (A1, U7, F5): events → deduplicated, grouped, routed alerts; the delivery outbox and its worker; the
channel senders (SMTP, JSON webhook, DingTalk, WeCom, MQTT); repeats, escalations, U7 and certificate checks.

Events listened to: outage_opened/closed, site_incident_opened/closed, outage_cause_set, device_rebooted,
device_flapping, device_hung, stock_below_minimum, quality_finding_opened/cleared,
plate_accuracy_below_target(device_id, accuracy, target), deadline_approaching/deadline_breached(ticket_id, which,
due_at), ticket_transitioned, and — for a remote probe agent that reports its own heartbeat —
probe_agent_silent(agent, last_seen_at) / probe_agent_back(agent). Without those, check_probe_silence() finds a
district whose devices produced no probe result for N minutes.
Events emitted: alert_raised(alert_id, key, kind), alert_resolved(alert_id, key, kind).
"""
import base64
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import statistics
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from fleetops.domain.choices import CAMERA_KINDS, IN_SERVICE, DeviceKind
from fleetops.domain.errors import NotFound, PermissionDenied, ValidationFailed
from fleetops.models import Device, MetrologyCertificate, Site, User
from fleetops.models.alerts import (
    Alert, AlertChannel, AlertDelivery, AlertDeliveryAttempt, AlertRoute, NotificationPreference, PassCount,
)
from fleetops.models.base import utcnow
from fleetops.platform import audit, events, parameters

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "critical")
SEVERITY_LABELS = {"info": "提示", "warning": "警告", "critical": "严重"}
STATES = ("open", "acknowledged", "resolved")

# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
PARAMETERS = {
    "alerts.repeat_interval_min": (30,
        "A1: repeat an unacknowledged alert every N minutes"),
    "alerts.max_repeats": (6,
        "A1: stop repeating after N repeats"),
    "alerts.escalate_after_min": (60,
        "A1: escalate an unacknowledged critical alert to supervisors after N minutes"),
    "alerts.group_hold_s": (90,
        "U5: hold a device-down message N seconds so a site blackout can absorb it"),
    "alerts.quiet_causes": (["power_utility", "network_provider", "planned_work"],
        "A1: outage causes that make an alert quiet (no repeats, no escalation)"),
    "alerts.no_data_ratio": (0.2,
        "U7: a slot below this share of the usual count is 'online but no data'"),
    "alerts.no_data_min_baseline": (10,
        "U7: judge only cameras that usually upload at least N records per slot"),
    "alerts.no_data_baseline_days": (7,
        "U7: compare with the same slot on N previous days"),
    "alerts.no_data_min_history_days": (3,
        "U7: need at least N previous days with counts"),
    "alerts.pass_count_interval_s": (3600,
        "U7: length of one pass-count slot"),
    "alerts.certificate_warn_days": (30,
        "F5: warn N days before a certificate expires"),
    "alerts.probe_silent_min": (10,
        "U2: no probe result from a district for N minutes means its probe agent is silent"),
}


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 1


# --------------------------------------------------------------------------------------------------------------
# Channel senders (one attempt each, own timeout; errors scrubbed of secrets)
# --------------------------------------------------------------------------------------------------------------
CHANNEL_KINDS = ("email", "webhook", "dingtalk", "wecom", "mqtt")
CHANNEL_KIND_LABELS = {"email": "电子邮件", "webhook": "Webhook", "dingtalk": "钉钉机器人", "wecom": "企业微信机器人",
                       "mqtt": "MQTT"}
SECRET_FIELDS = {"email": ("password",), "webhook": ("token",), "dingtalk": ("access_token", "secret"),
                 "wecom": ("key",), "mqtt": ("password",)}
PLAIN_FIELDS = {
    "email": ("host", "port", "starttls", "username", "from_addr", "to_addrs", "ca_file", "timeout_s"),
    "webhook": ("url", "timeout_s"),
    "dingtalk": ("base_url", "timeout_s"),
    "wecom": ("base_url", "timeout_s"),
    "mqtt": ("host", "port", "topic", "username", "qos", "timeout_s"),
}
CHANNEL_DEFAULTS = {
    "email": {"port": 587, "starttls": True, "timeout_s": 10},
    "webhook": {"timeout_s": 10},
    "dingtalk": {"base_url": "https://oapi.dingtalk.com/robot/send", "timeout_s": 10},
    "wecom": {"base_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "timeout_s": 10},
    "mqtt": {"port": 1883, "topic": "fleetops/alerts", "qos": 1, "timeout_s": 10},
}
REQUIRED_FIELDS = {"email": ("host", "from_addr"), "webhook": ("url",), "dingtalk": ("base_url",),
                   "wecom": ("base_url",), "mqtt": ("host", "topic")}
REQUIRED_SECRETS = {"dingtalk": ("access_token",), "wecom": ("key",)}
INT_FIELDS = ("port", "qos", "timeout_s")


class ChannelError(Exception):
    """One failed attempt; the message is safe to store and show (secrets scrubbed)."""


def scrub(text: str, secrets: dict) -> str:
    """Replace every secret value (and its URL-encoded forms) in `text` by ••••."""
    for value in (secrets or {}).values():
        if isinstance(value, str) and len(value) >= 3:
            for form in {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}:
                text = text.replace(form, "••••")
    return text


def send(kind: str, settings: dict, secrets: dict, payload: dict) -> str:
    """Send `payload` through one channel; returns the peer's answer in words, raises ChannelError."""
    merged = {**CHANNEL_DEFAULTS.get(kind, {}), **{k: v for k, v in (settings or {}).items() if v not in (None, "")}}
    sender = _SENDERS.get(kind)
    if sender is None:
        raise ChannelError(f"未知通道类型 {kind} / unknown channel kind {kind}")
    try:
        return sender(merged, secrets or {}, payload)
    except ChannelError as err:
        raise ChannelError(scrub(str(err), secrets)) from None
    except (OSError, smtplib.SMTPException, requests.RequestException, ValueError, KeyError) as err:
        raise ChannelError(scrub(f"{type(err).__name__}: {err}", secrets)) from None


def _timeout(settings) -> float:
    return float(settings.get("timeout_s") or 10)


def _send_email(settings: dict, secrets: dict, payload: dict) -> str:
    recipients = sorted(set(payload.get("to") or []) | set(_as_list(settings.get("to_addrs"))))
    if not recipients:
        raise ChannelError("没有收件人 / no recipients")
    msg = EmailMessage()
    msg["Subject"] = payload["title"]
    msg["From"] = settings["from_addr"]
    msg["To"] = ", ".join(recipients)
    msg.set_content(payload["text"])
    with smtplib.SMTP(settings["host"], int(settings.get("port") or 25), timeout=_timeout(settings)) as smtp:
        smtp.ehlo()
        if settings.get("starttls"):
            smtp.starttls(context=ssl.create_default_context(cafile=settings.get("ca_file") or None))
            smtp.ehlo()
        if settings.get("username"):
            smtp.login(settings["username"], secrets.get("password", ""))
        refused = smtp.send_message(msg, to_addrs=recipients)
    if refused:
        raise ChannelError(f"部分收件人被拒 / refused: {', '.join(refused)}")
    return f"250 accepted for {len(recipients)} recipient(s)"


def _send_webhook(settings: dict, secrets: dict, payload: dict) -> str:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if secrets.get("token"):
        headers["Authorization"] = f"Bearer {secrets['token']}"
    resp = requests.post(settings["url"], data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                         headers=headers, timeout=_timeout(settings))
    if not 200 <= resp.status_code < 300:
        raise ChannelError(f"HTTP {resp.status_code}: {resp.text[:200]}")
    return f"HTTP {resp.status_code}"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk signed robot: base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")), URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def _send_dingtalk(settings: dict, secrets: dict, payload: dict) -> str:
    query = f"access_token={urllib.parse.quote_plus(secrets.get('access_token', ''))}"
    if secrets.get("secret"):
        ts = int(time.time() * 1000)
        query += f"&timestamp={ts}&sign={dingtalk_sign(secrets['secret'], ts)}"
    mobiles = list(payload.get("at_mobiles") or [])
    text = payload["markdown"] + ("\n\n" + " ".join(f"@{m}" for m in mobiles) if mobiles else "")
    body = {"msgtype": "markdown", "markdown": {"title": payload["title"][:60], "text": text},
            "at": {"atMobiles": mobiles, "isAtAll": False}}
    return _robot_post(f"{settings['base_url']}?{query}", body, settings)


def _send_wecom(settings: dict, secrets: dict, payload: dict) -> str:
    url = f"{settings['base_url']}?key={urllib.parse.quote_plus(secrets.get('key', ''))}"
    content = payload["markdown"].encode("utf-8")[:4000].decode("utf-8", "ignore")  # WeCom: ≤ 4096 bytes
    return _robot_post(url, {"msgtype": "markdown", "markdown": {"content": content}}, settings)


def _robot_post(url: str, body: dict, settings: dict) -> str:
    resp = requests.post(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                         headers={"Content-Type": "application/json; charset=utf-8"}, timeout=_timeout(settings))
    if resp.status_code != 200:
        raise ChannelError(f"HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        answer = resp.json()
    except ValueError:
        raise ChannelError(f"机器人返回非 JSON / robot answered non-JSON: {resp.text[:200]}") from None
    if answer.get("errcode", 0) != 0:
        raise ChannelError(f"errcode {answer.get('errcode')}: {answer.get('errmsg', '')}")
    return "errcode 0"


def _send_mqtt(settings: dict, secrets: dict, payload: dict) -> str:
    import paho.mqtt.client as mqtt

    timeout = _timeout(settings)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect_timeout = timeout
    if settings.get("username"):
        client.username_pw_set(settings["username"], secrets.get("password") or None)
    client.connect(settings["host"], int(settings.get("port") or 1883), keepalive=30)
    client.loop_start()
    try:
        info = client.publish(settings["topic"], json.dumps(payload, ensure_ascii=False),
                              qos=int(settings.get("qos", 1)))
        info.wait_for_publish(timeout=timeout)
        if not info.is_published():
            raise ChannelError(f"MQTT 发布未确认 / publish not acknowledged (rc={info.rc})")
    finally:
        client.disconnect()
        client.loop_stop()
    return f"published to {settings['topic']}"


def _as_list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    return [str(v) for v in value]


_SENDERS = {"email": _send_email, "webhook": _send_webhook, "dingtalk": _send_dingtalk, "wecom": _send_wecom,
            "mqtt": _send_mqtt}


# --------------------------------------------------------------------------------------------------------------
# Channels and routes (data; secrets write-only)
# --------------------------------------------------------------------------------------------------------------
def save_channel(session: Session, actor, *, name: str, kind: str, settings: dict, secrets: dict | None = None,
                 enabled: bool = True, channel_id: int | None = None) -> AlertChannel:
    """Create or update a channel. A blank secret keeps the stored one (write-only fields). Audited."""
    name = (name or "").strip()
    if kind not in CHANNEL_KINDS:
        raise ValidationFailed(f"未知通道类型 {kind!r} / Unknown channel kind {kind!r}.")
    if not name:
        raise ValidationFailed("通道名称不能为空 / A channel name is required.")
    clean = {}
    for key in PLAIN_FIELDS[kind]:
        value = (settings or {}).get(key)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            continue
        if key in INT_FIELDS:
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ValidationFailed(f"{key} 必须是整数 / {key} must be a whole number.") from None
        if key == "starttls":
            value = value in (True, "1", "true", "on", "yes", 1)
        if key == "to_addrs":
            value = _as_list(value)
        clean[key] = value
    missing = [k for k in REQUIRED_FIELDS[kind] if k not in clean and k not in CHANNEL_DEFAULTS[kind]]
    if missing:
        raise ValidationFailed(f"缺少设置 {', '.join(missing)} / Missing settings: {', '.join(missing)}.")
    for key in ("url", "base_url"):
        if key in clean and not str(clean[key]).startswith(("http://", "https://")):
            raise ValidationFailed(f"{key} 必须以 http:// 或 https:// 开头 / {key} must start with http(s)://.")
    same_name = select(AlertChannel.id).where(AlertChannel.name == name)
    if channel_id is not None:
        same_name = same_name.where(AlertChannel.id != channel_id)
    if session.scalar(same_name):
        raise ValidationFailed(f"通道名称 {name} 已存在 / A channel named {name} already exists.")
    if channel_id is not None:
        channel = session.get(AlertChannel, channel_id)
        if channel is None:
            raise NotFound("找不到该通道 / Channel not found.")
        before = {"name": channel.name, "kind": channel.kind, "enabled": channel.enabled, **channel.settings}
    else:
        channel = AlertChannel(name=name, kind=kind, settings={}, secrets={})
        session.add(channel)
        before = None
    stored = dict(channel.secrets or {}) if channel.kind == kind else {}
    for key in SECRET_FIELDS[kind]:
        value = (secrets or {}).get(key)
        if value:  # blank = keep what is stored
            stored[key] = str(value).strip()
    missing = [k for k in REQUIRED_SECRETS.get(kind, ()) if not stored.get(k)]
    if missing:
        raise ValidationFailed(f"缺少密钥 {', '.join(missing)} / Missing secret: {', '.join(missing)}.")
    channel.name, channel.kind, channel.enabled = name, kind, bool(enabled)
    channel.settings, channel.secrets = clean, stored
    session.flush()
    audit.record(session, actor, "alert_channel_saved", "alert_channel", channel.id, summary=f"{name} ({kind})",
                 before=before, after={"name": name, "kind": kind, "enabled": channel.enabled, **clean})
    return channel


def channel_view(channel: AlertChannel) -> dict:
    """What may be shown of a channel: settings, and for each secret only whether it is set."""
    return {"id": channel.id, "name": channel.name, "kind": channel.kind, "enabled": channel.enabled,
            "settings": dict(channel.settings or {}),
            "secrets_set": {k: bool((channel.secrets or {}).get(k)) for k in SECRET_FIELDS.get(channel.kind, ())}}


def save_route(session: Session, actor, *, channel_id: int, district: str = "", device_kind: str = "",
               min_severity: str = "info", role: str = "", enabled: bool = True) -> AlertRoute:
    if session.get(AlertChannel, channel_id) is None:
        raise ValidationFailed("请选择一个通道 / Choose a channel.")
    if min_severity not in SEVERITIES:
        raise ValidationFailed(f"未知级别 {min_severity!r} / Unknown severity {min_severity!r}.")
    if role not in ("", "crew", "supervisor"):
        raise ValidationFailed(f"未知角色 {role!r} / Unknown role {role!r}.")
    if device_kind:
        try:
            device_kind = DeviceKind.parse(device_kind).value
        except ValueError:
            raise ValidationFailed(f"未知设备类型 {device_kind!r} / Unknown device kind {device_kind!r}.") from None
    route = AlertRoute(channel_id=channel_id, district=(district or "").strip(), device_kind=device_kind,
                       min_severity=min_severity, role=role, enabled=enabled)
    session.add(route)
    session.flush()
    audit.record(session, actor, "alert_route_added", "alert_route", route.id,
                 after={"channel_id": channel_id, "district": route.district, "device_kind": device_kind,
                        "min_severity": min_severity, "role": role})
    return route


def delete_route(session: Session, actor, route_id: int) -> None:
    route = session.get(AlertRoute, route_id)
    if route is None:
        raise NotFound("找不到该路由规则 / Routing rule not found.")
    audit.record(session, actor, "alert_route_deleted", "alert_route", route.id,
                 before={"channel_id": route.channel_id, "district": route.district, "role": route.role})
    session.delete(route)


# --------------------------------------------------------------------------------------------------------------
# Raising, routing, resolving
# --------------------------------------------------------------------------------------------------------------
def _local(dt: datetime | None, tz: str = "Asia/Shanghai") -> str:
    if dt is None:
        return ""
    try:
        zone = ZoneInfo(tz or "Asia/Shanghai")
    except (KeyError, ValueError):
        zone = ZoneInfo("Asia/Shanghai")
    return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _kind_label(kind: str) -> str:
    try:
        return DeviceKind(kind).label("zh")
    except ValueError:
        return kind or ""


def _device_line(device: Device | None) -> str:
    if device is None:
        return ""
    return f"{device.code} {device.name or ''}（{_kind_label(device.kind)}）".replace("  ", " ")


def _site_line(site: Site | None) -> str:
    if site is None:
        return ""
    return f"{site.code} {site.name}" + (f"，{site.district}" if site.district else "")


def get_open(session: Session, key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.open_key == key))


def raise_alert(session: Session, key: str, kind: str, severity: str, title: str, body: str = "", *,
                device: Device | None = None, site: Site | None = None, audience=("crew", "supervisor"),
                source_type: str = "", source_id="", now: datetime | None = None, quiet_reason: str = "",
                group: Alert | None = None, hold_s: int = 0, district: str | None = None) -> tuple[Alert, bool]:
    """Open an alert for `key`, or count one more occurrence of the open one (A1: dedup). Returns (alert, new)."""
    now = now or utcnow()
    existing = get_open(session, key)
    if existing is not None:
        existing.occurrences += 1
        return existing, False
    if site is None and device is not None:
        site = device.site
    alert = Alert(key=key, open_key=key, kind=kind, severity=severity, state="open", title=title[:300], body=body,
                  device_id=device.id if device else None, site_id=site.id if site else None,
                  district=district if district is not None else ((site.district if site else "") or ""),
                  device_kind=device.kind if device else "",
                  audience=list(audience), source_type=source_type, source_id=str(source_id or ""),
                  quiet_reason=quiet_reason, group_id=group.id if group else None, opened_at=now,
                  occurrences=1, notify_count=0)
    try:
        with session.begin_nested():  # another process may raise the same incident at the same moment
            session.add(alert)
    except IntegrityError:
        existing = get_open(session, key)
        if existing is None:
            raise
        existing.occurrences += 1
        return existing, False
    if not quiet_reason and group is None:
        enqueue(session, alert, "opened", now=now, due=now + timedelta(seconds=hold_s))
    events.emit(session, "alert_raised", alert_id=alert.id, key=key, kind=kind)
    return alert, True


def matching_routes(session: Session, alert: Alert, audience=None) -> list[AlertRoute]:
    audience = set(audience or alert.audience or ())
    routes = session.scalars(select(AlertRoute).join(AlertChannel).where(
        AlertRoute.enabled.is_(True), AlertChannel.enabled.is_(True)).order_by(AlertRoute.id)).all()
    out = []
    for r in routes:
        if r.district and r.district != alert.district:
            continue
        if r.device_kind and r.device_kind != alert.device_kind:
            continue
        if _rank(alert.severity) < _rank(r.min_severity):
            continue
        if r.role and r.role not in audience:
            continue
        out.append(r)
    return out


def _people_for(session: Session, role: str, alert: Alert, email: bool = True) -> list[User]:
    """Active users with `role` who want this alert: a crew only for its district, each person's own minimum
    severity, and (for e-mail) whether they want alert e-mail at all."""
    users = session.scalars(select(User).where(User.role == role, User.active.is_(True))).all()
    prefs = {p.user_id: p for p in session.scalars(select(NotificationPreference).where(
        NotificationPreference.user_id.in_([u.id for u in users] or [0]))).all()}
    out = []
    for u in users:
        if role == "crew" and u.district and alert.district and u.district != alert.district:
            continue  # a crew hears only about its district
        pref = prefs.get(u.id)
        if pref is not None and ((email and not pref.email_enabled) or
                                 _rank(alert.severity) < _rank(pref.min_severity)):
            continue
        out.append(u)
    return out


PURPOSE_PREFIX = {"opened": "", "repeated": "【重复提醒】", "escalated": "【升级】", "resolved": "【已恢复】"}


def render(alert: Alert, purpose: str, now: datetime) -> dict:
    """The message every channel sends: a title, plain text, markdown, and the alert's facts as JSON."""
    tz = alert.site.timezone if alert.site is not None else "Asia/Shanghai"
    title = PURPOSE_PREFIX.get(purpose, "") + alert.title
    lines = [f"级别：{SEVERITY_LABELS.get(alert.severity, alert.severity)}"]
    if alert.site is not None:
        lines.append(f"点位：{_site_line(alert.site)}")
    if alert.device is not None:
        lines.append(f"设备：{_device_line(alert.device)}")
    lines.append(f"发生时间：{_local(alert.opened_at, tz)}")
    if purpose == "resolved":
        end = alert.resolved_at or now
        minutes = int((end - alert.opened_at).total_seconds() // 60)
        lines.append(f"恢复时间：{_local(end, tz)}（持续 {minutes // 60} 小时 {minutes % 60} 分钟）")
    if alert.cause:
        lines.append(f"原因：{alert.cause}")
    if alert.body:
        lines.append(alert.body)
    if alert.occurrences > 1:
        lines.append(f"累计发生：{alert.occurrences} 次")
    text = "\n".join(lines)
    markdown = f"### {title}\n\n" + "\n".join(f"- {line}" for line in lines)
    return {"purpose": purpose, "title": title, "text": text, "markdown": markdown, "alert_id": alert.id,
            "key": alert.key, "kind": alert.kind, "severity": alert.severity, "state": alert.state,
            "district": alert.district, "site": alert.site.code if alert.site is not None else None,
            "device": alert.device.code if alert.device is not None else None,
            "opened_at": alert.opened_at.isoformat(), "sent_at": now.isoformat()}


def enqueue(session: Session, alert: Alert, purpose: str, now: datetime | None = None, due: datetime | None = None,
            audience=None) -> list[AlertDelivery]:
    """Put one message per matching channel in the outbox, in the caller's transaction (nothing lost on restart)."""
    now = now or utcnow()
    per_channel: dict[int, dict] = {}
    for route in matching_routes(session, alert, audience):
        payload = per_channel.get(route.channel_id)
        if payload is None:
            payload = per_channel[route.channel_id] = render(alert, purpose, now)
            payload["to"], payload["at_mobiles"] = [], []
        if route.role and route.channel.kind in ("email", "dingtalk"):
            people = _people_for(session, route.role, alert, email=route.channel.kind == "email")
            if route.channel.kind == "email":
                payload["to"] = sorted(set(payload["to"]) | {u.email for u in people if u.email})
            else:  # DingTalk mentions the people of the route's role by their phone numbers
                payload["at_mobiles"] = sorted(set(payload["at_mobiles"]) | {u.phone for u in people if u.phone})
    out = []
    for channel_id, payload in per_channel.items():
        d = AlertDelivery(alert_id=alert.id, channel_id=channel_id, purpose=purpose, payload=payload,
                          state="pending", attempts=0, next_attempt_at=due or now, created_at=now)
        session.add(d)
        out.append(d)
    alert.notify_count += 1
    alert.last_notified_at = now
    session.flush()
    return out


def resolve(session: Session, alert: Alert, now: datetime | None = None, notify: bool = True, actor=None) -> None:
    """Close an alert; A1: the recovery is ALWAYS sent (even when the alert was quiet), unless superseded."""
    if alert.state == "resolved":
        return
    now = now or utcnow()
    alert.state, alert.open_key, alert.resolved_at = "resolved", None, now
    # Children of a grouped site alert recover with it, silently.
    for child in session.scalars(select(Alert).where(Alert.group_id == alert.id, Alert.open_key.is_not(None))):
        resolve(session, child, now, notify=False)
    if notify and alert.group_id is None:
        enqueue(session, alert, "resolved", now=now)
    if actor is not None:
        audit.record(session, actor, "alert_resolved", "alert", alert.id, summary=alert.title)
    events.emit(session, "alert_resolved", alert_id=alert.id, key=alert.key, kind=alert.kind)


def _cancel_unsent(session: Session, alert: Alert, reason: str) -> int:
    """Withdraw messages never attempted (a grouped or quietened alert); the ones already tried stay."""
    rows = session.scalars(select(AlertDelivery).where(
        AlertDelivery.alert_id == alert.id, AlertDelivery.state == "pending", AlertDelivery.attempts == 0,
        AlertDelivery.purpose != "resolved")).all()
    for d in rows:
        d.state, d.last_error = "cancelled", reason
    return len(rows)


def acknowledge(session: Session, alert_id: int, user: User, now: datetime | None = None) -> Alert:
    """A person takes the alert: repeats and escalations stop. A crew may only take alerts of its district."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("找不到该告警 / Alert not found.")
    if not can_see(user, alert):
        raise PermissionDenied("这条告警不属于您的辖区 / This alert is outside your district.")
    if alert.state != "open":
        raise ValidationFailed("该告警已被确认或已恢复 / The alert is already acknowledged or resolved.")
    alert.state, alert.acknowledged_at, alert.acknowledged_by_id = "acknowledged", now or utcnow(), user.id
    audit.record(session, user, "alert_acknowledged", "alert", alert.id, summary=alert.title)
    return alert


def resolve_by_hand(session: Session, alert_id: int, user: User, now: datetime | None = None) -> Alert:
    """For alerts without a recovery event (a reboot, low stock): a supervisor closes them."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("找不到该告警 / Alert not found.")
    if user.role not in ("supervisor", "admin"):
        raise PermissionDenied("只有监管人员可以关闭告警 / Only supervisors can close alerts.")
    resolve(session, alert, now, notify=True, actor=user)
    return alert


def save_preference(session: Session, user: User, *, email_enabled: bool, min_severity: str) -> NotificationPreference:
    """A person's own choice: alert e-mail on or off, and from which severity."""
    if min_severity not in SEVERITIES:
        raise ValidationFailed(f"未知级别 {min_severity!r} / Unknown severity {min_severity!r}.")
    pref = session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    if pref is None:
        pref = NotificationPreference(user_id=user.id)
        session.add(pref)
    pref.email_enabled, pref.min_severity = bool(email_enabled), min_severity
    audit.record(session, user, "notification_preference_saved", "user", user.id,
                 after={"email_enabled": pref.email_enabled, "min_severity": min_severity})
    return pref


def preference_of(session: Session, user: User) -> NotificationPreference:
    pref = session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    return pref or NotificationPreference(user_id=user.id, email_enabled=True, min_severity="warning")


def delivery_log(session: Session, limit: int = 200, state: str = "") -> list[AlertDelivery]:
    q = select(AlertDelivery).order_by(AlertDelivery.id.desc()).limit(limit)
    if state:
        q = q.where(AlertDelivery.state == state)
    return list(session.scalars(q))


def attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[AlertDeliveryAttempt]]:
    out: dict[int, list[AlertDeliveryAttempt]] = {}
    for a in session.scalars(select(AlertDeliveryAttempt).where(AlertDeliveryAttempt.delivery_id.in_(
            delivery_ids or [0])).order_by(AlertDeliveryAttempt.id)):
        out.setdefault(a.delivery_id, []).append(a)
    return out


def alert_dict(alert: Alert) -> dict:
    return {"id": alert.id, "key": alert.key, "kind": alert.kind, "severity": alert.severity, "state": alert.state,
            "title": alert.title, "body": alert.body, "district": alert.district,
            "site": alert.site.code if alert.site is not None else None,
            "device": alert.device.code if alert.device is not None else None,
            "quiet_reason": alert.quiet_reason, "cause": alert.cause, "occurrences": alert.occurrences,
            "escalated": alert.escalated, "ticket_id": alert.ticket_id,
            "opened_at": alert.opened_at.isoformat(),
            "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None}


def can_see(user: User, alert: Alert) -> bool:
    if user.role != "crew" or not user.district:
        return True
    return alert.district in ("", user.district) and "crew" in (alert.audience or ["crew"])


def visible_alerts(session: Session, user: User, states=("open", "acknowledged"), limit: int = 200) -> list[Alert]:
    q = select(Alert).where(Alert.state.in_(states), Alert.group_id.is_(None))
    if user.role == "crew" and user.district:
        q = q.where(Alert.district.in_(["", user.district]))
    rows = session.scalars(q.order_by(Alert.opened_at.desc()).limit(limit)).all()
    return [a for a in rows if can_see(user, a)]


# --------------------------------------------------------------------------------------------------------------
# Event subscribers
# --------------------------------------------------------------------------------------------------------------
def _quiet_causes(session: Session) -> set[str]:
    return set(parameters.get(session, "alerts.quiet_causes") or ())


def _known_cause_at_site(session: Session, site_id: int | None) -> str:
    """A1: an open alert at the site whose cause is already known and quiet (e.g. a recorded power cut)."""
    if site_id is None:
        return ""
    quiet = _quiet_causes(session)
    rows = session.scalars(select(Alert).where(Alert.site_id == site_id, Alert.open_key.is_not(None),
                                               Alert.cause != "")).all()
    for a in rows:
        if a.cause in quiet:
            return a.cause
    from fleetops.models.monitoring import Outage

    recorded = session.scalar(select(Outage.cause).join(Device, Device.id == Outage.device_id).where(
        Device.site_id == site_id, Outage.ended_at.is_(None), Outage.retracted_at.is_(None),
        Outage.cause.in_(quiet or [""])).limit(1))
    return recorded or ""


def _hold_s(session: Session) -> int:
    return int(parameters.get(session, "alerts.group_hold_s") or 0)


def on_outage_opened(session: Session, outage_id, device_id, started_at=None, detected_at=None, **_):
    device = session.get(Device, device_id)
    if device is None:
        return
    now = detected_at or started_at or utcnow()
    site_alert = get_open(session, f"site:{device.site_id}:dark")
    cause = _known_cause_at_site(session, device.site_id)
    alert, new = raise_alert(
        session, f"device:{device.id}:down", "device_down", "critical",
        f"设备离线：{device.site.name} {device.code}", f"检测到离线，开始于 {_local(started_at or now, device.site.timezone)}",
        device=device, source_type="outage", source_id=outage_id, now=now,
        quiet_reason=f"已知原因：{cause}" if cause else "", group=site_alert, hold_s=_hold_s(session))
    if not new:
        alert.source_type, alert.source_id = "outage", str(outage_id)
    elif cause:
        alert.cause = cause


def on_outage_closed(session: Session, outage_id, device_id, ended_at=None, **_):
    alert = get_open(session, f"device:{device_id}:down")
    if alert is not None:
        resolve(session, alert, ended_at or utcnow())


def on_site_incident_opened(session: Session, incident_id, site_id, started_at=None, detected_at=None, **_):
    """U5: a site blackout is ONE message; device alerts at the site not yet sent are folded into it."""
    site = session.get(Site, site_id)
    if site is None:
        return
    now = detected_at or started_at or utcnow()
    children = session.scalars(select(Alert).where(Alert.site_id == site_id, Alert.open_key.is_not(None),
                                                   Alert.kind.in_(("device_down", "device_hung")),
                                                   Alert.group_id.is_(None))).all()
    from fleetops.models.monitoring import SiteIncident

    incident = session.get(SiteIncident, incident_id)
    n_devices = (incident.device_count if incident is not None and incident.device_count else
                 session.scalar(select(func.count()).select_from(Device).where(
                     Device.site_id == site_id, Device.lifecycle.in_([s.value for s in IN_SERVICE]))))
    cause = _known_cause_at_site(session, site_id)
    alert, new = raise_alert(
        session, f"site:{site_id}:dark", "site_dark", "critical", f"点位整体离线：{site.code} {site.name}",
        f"点位 {n_devices} 台设备同时失联（交换机、光纤或供电故障），开始于 {_local(started_at or now, site.timezone)}",
        site=site, source_type="site_incident", source_id=incident_id, now=now,
        quiet_reason=f"已知原因：{cause}" if cause else "", hold_s=0)
    if new and cause:
        alert.cause = cause
    for child in children:
        child.group_id = alert.id
        if _cancel_unsent(session, child, "并入点位整体离线告警 / folded into the site blackout"):
            child.notify_count = 0
        if child.cause in _quiet_causes(session) and not alert.quiet_reason:
            alert.cause, alert.quiet_reason = child.cause, f"已知原因：{child.cause}"
            _cancel_unsent(session, alert, "已知原因 / cause already known")


def on_site_incident_closed(session: Session, incident_id, site_id, ended_at=None, **_):
    alert = get_open(session, f"site:{site_id}:dark")
    if alert is None:
        return
    now = ended_at or utcnow()
    # A device still down after its site came back is its own incident again: ungroup and announce it.
    for child in session.scalars(select(Alert).where(Alert.group_id == alert.id, Alert.open_key.is_not(None))):
        if child.device is not None and child.device.status in ("down", "hung"):
            child.group_id = None
            if not child.quiet_reason:
                enqueue(session, child, "opened", now=now)
    resolve(session, alert, now)


def on_outage_cause_set(session: Session, outage_id, cause, by=None, **_):
    """A1: quiet when the cause is known — no repeats, no escalations; unsent messages withdrawn. The cause of an
    outage inside a site blackout is the blackout's cause too (U5)."""
    from fleetops.models.monitoring import Outage

    outage = session.get(Outage, outage_id)
    if outage is None:
        return
    targets = [a for a in (get_open(session, f"device:{outage.device_id}:down"),) if a is not None]
    site_id = outage.device.site_id if outage.device is not None else None
    site_alert = get_open(session, f"site:{site_id}:dark") if site_id is not None else None
    if site_alert is not None and (outage.site_incident_id is not None or any(a.group_id == site_alert.id
                                                                             for a in targets)):
        targets.append(site_alert)
    quiet = cause in _quiet_causes(session)
    for a in targets:
        a.cause = cause or ""
        if quiet:
            a.quiet_reason = f"已知原因：{cause}"
            _cancel_unsent(session, a, "已知原因 / cause already known")
        elif a.quiet_reason.startswith("已知原因"):
            a.quiet_reason = ""


def _device_event(session, device_id, kind, severity, title, now):
    device = session.get(Device, device_id)
    if device is None:
        return None
    alert, _new = raise_alert(session, f"device:{device.id}:{kind}", kind, severity,
                              f"{title}：{device.site.name} {device.code}", device=device, now=now or utcnow(),
                              quiet_reason=("已知原因：" + c) if (c := _known_cause_at_site(session, device.site_id))
                              else "")
    return alert


def on_device_rebooted(session: Session, device_id, at=None, **_):
    _device_event(session, device_id, "device_rebooted", "warning", "设备重启", at)  # U6


def on_device_flapping(session: Session, device_id, at=None, **_):
    _device_event(session, device_id, "device_flapping", "warning", "设备频繁掉线", at)  # U6


def on_device_hung(session: Session, device_id, at=None, **_):
    _device_event(session, device_id, "device_hung", "critical", "设备假死（ping 通、服务无响应）", at)


def on_stock_below_minimum(session: Session, part_type_id, location_id=None, on_hand=0, minimum=0, **_):
    name = str(part_type_id)
    from fleetops.models.tickets import PartType, StockLocation

    part = session.get(PartType, part_type_id)
    name = part.name if part is not None else name
    place = session.get(StockLocation, location_id) if location_id is not None else None
    if place is not None:
        name = f"{name}（{place.name}）"
    raise_alert(session, f"stock:{part_type_id}:{location_id}", "stock_below_minimum", "warning",
                f"备件不足：{name} 库存 {on_hand}，最低 {minimum}", "S1：每类备件至少保有 3 套",
                audience=("supervisor",), source_type="part_type", source_id=part_type_id)


def on_quality_finding_opened(session: Session, finding_id, device_id, kind="", **_):
    device = session.get(Device, device_id)
    if device is None:
        return
    from fleetops.services.reports import FINDING_LABELS

    raise_alert(session, f"quality:{finding_id}", "quality_finding", "warning",
                f"图像质量问题：{device.site.name} {device.code} {FINDING_LABELS.get(kind, kind)}", device=device,
                source_type="quality_finding", source_id=finding_id)


def on_quality_finding_cleared(session: Session, finding_id, device_id=None, **_):
    alert = get_open(session, f"quality:{finding_id}")
    if alert is not None:
        resolve(session, alert)


def on_plate_accuracy_below_target(session: Session, device_id, accuracy, target, **_):
    device = session.get(Device, device_id)
    if device is None:
        return
    raise_alert(session, f"device:{device_id}:plate_accuracy", "plate_accuracy", "warning",
                f"车牌识别率低于目标：{device.site.name} {device.code} {accuracy:.1%} < {target:.0%}", device=device)


def _ticket_context(session: Session, ticket_id):
    from fleetops.models.tickets import Ticket

    ticket = session.get(Ticket, ticket_id)
    device = ticket.device if ticket is not None else None
    return ticket, device


WHICH_LABELS = {"respond": "响应", "arrive": "到场", "repair": "修复"}  # T2, T3, T5


def _deadline(session: Session, ticket_id, which, due_at, breached: bool):
    ticket, device = _ticket_context(session, ticket_id)
    label = WHICH_LABELS.get(str(which), str(which))
    where = f"{device.site.name} {device.code}" if device is not None else ""
    number = getattr(ticket, "number", None) or ticket_id
    if breached:
        title, severity, kind = f"工单 {number} {label}时限已超时：{where}", "critical", "deadline_breached"
    else:
        title, severity, kind = f"工单 {number} {label}时限即将到期：{where}", "warning", "deadline_approaching"
    due_text = _local(due_at, device.site.timezone if device is not None else "Asia/Shanghai") if due_at else ""
    alert, new = raise_alert(session, f"ticket:{ticket_id}:{which}:{kind}", kind, severity, title,
                             f"截止时间：{due_text}（T2/T3 合同时限）", device=device, audience=("supervisor",),
                             source_type="ticket", source_id=ticket_id)
    alert.escalated = True
    if breached:  # the approaching warning is superseded by the breach
        older = get_open(session, f"ticket:{ticket_id}:{which}:deadline_approaching")
        if older is not None:
            resolve(session, older, notify=False)


def on_deadline_approaching(session: Session, ticket_id, which, due_at=None, **_):
    _deadline(session, ticket_id, which, due_at, breached=False)


def on_deadline_breached(session: Session, ticket_id, which, due_at=None, **_):
    _deadline(session, ticket_id, which, due_at, breached=True)


def on_ticket_transitioned(session: Session, ticket_id, from_state=None, to_state=None, **_):
    """A deadline warning ends, quietly, once what it warned about has happened (or the ticket is cancelled)."""
    from fleetops.domain.tickets import NOT_ARRIVED, NOT_RESOLVED

    for alert in session.scalars(select(Alert).where(Alert.source_type == "ticket",
                                                     Alert.source_id == str(ticket_id),
                                                     Alert.open_key.is_not(None))).all():
        which = alert.key.split(":")[2]
        done = (to_state not in NOT_RESOLVED or (which == "arrive" and to_state not in NOT_ARRIVED)
                or (which == "respond" and to_state not in ("new", "dispatched")))
        if done:
            resolve(session, alert, notify=False)


def on_probe_agent_silent(session: Session, agent, last_seen_at=None, **_):
    raise_alert(session, f"agent:{agent}:silent", "probe_agent_silent", "critical",
                f"探测程序无响应：{agent}", f"最后一次上报：{_local(last_seen_at)}",
                audience=("supervisor",), source_type="agent", source_id=agent)


def on_probe_agent_back(session: Session, agent, **_):
    alert = get_open(session, f"agent:{agent}:silent")
    if alert is not None:
        resolve(session, alert)


# --------------------------------------------------------------------------------------------------------------
# Periodic work: repeats, escalations, U7, certificates, silent poller
# --------------------------------------------------------------------------------------------------------------
def repeat_and_escalate(session: Session, now: datetime | None = None) -> dict:
    """A1: repeat unacknowledged alerts at the set interval; escalate old critical ones to supervisors."""
    now = now or utcnow()
    every = timedelta(minutes=float(parameters.get(session, "alerts.repeat_interval_min")))
    max_repeats = int(parameters.get(session, "alerts.max_repeats"))
    escalate_after = timedelta(minutes=float(parameters.get(session, "alerts.escalate_after_min")))
    repeated = escalated = 0
    # A hung device has no "recovered" event: it is back when monitoring says it is up again.
    for alert in session.scalars(select(Alert).where(Alert.open_key.is_not(None), Alert.kind == "device_hung")):
        if alert.device is not None and alert.device.status == "up":
            resolve(session, alert, now)
    rows = session.scalars(select(Alert).where(Alert.state == "open", Alert.group_id.is_(None),
                                               Alert.quiet_reason == "")).all()
    for alert in rows:
        if not alert.escalated and alert.severity == "critical" and now - alert.opened_at >= escalate_after:
            enqueue(session, alert, "escalated", now=now, audience=["supervisor"])
            alert.escalated = True
            escalated += 1
        elif (alert.last_notified_at is not None and now - alert.last_notified_at >= every
              and alert.notify_count <= max_repeats):
            enqueue(session, alert, "repeated", now=now)
            repeated += 1
    return {"repeated": repeated, "escalated": escalated}


def record_pass_counts(session: Session, rows: list[dict], interval_s: int | None = None) -> int:
    """U7: store pass-record counts [{"device": code, "slot_start": datetime, "count": n}]; all or nothing."""
    interval_s = int(interval_s or parameters.get(session, "alerts.pass_count_interval_s"))
    errors, clean = [], []
    codes = {r.get("device") for r in rows if isinstance(r, dict)}
    devices = {d.code: d for d in session.scalars(select(Device).where(Device.code.in_(codes or [""]))).all()}
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict):
            errors.append(f"#{i}: 不是对象 / not an object")
            continue
        device = devices.get(r.get("device"))
        slot = r.get("slot_start")
        if isinstance(slot, str):
            try:
                slot = datetime.fromisoformat(slot.replace("Z", "+00:00"))
            except ValueError:
                slot = None
        count = r.get("count")
        if device is None:
            errors.append(f"#{i}: 未知设备 {r.get('device')!r} / unknown device")
        elif not isinstance(slot, datetime) or slot.tzinfo is None:
            errors.append(f"#{i}: slot_start 须为带时区的 ISO 时间 / slot_start must be an ISO time with zone")
        elif not isinstance(count, int) or isinstance(count, bool) or count < 0:
            errors.append(f"#{i}: count 须为非负整数 / count must be a whole number ≥ 0")
        else:
            clean.append((device.id, slot.astimezone(timezone.utc), count))
    if errors:
        raise ValidationFailed("过车计数有误，未保存 / Pass counts rejected, nothing saved.", errors=errors)
    for device_id, slot, count in clean:
        row = session.scalar(select(PassCount).where(PassCount.device_id == device_id, PassCount.slot_start == slot))
        if row is None:
            session.add(PassCount(device_id=device_id, slot_start=slot, interval_s=interval_s, count=count))
        else:
            row.count, row.interval_s, row.received_at = count, interval_s, utcnow()
    session.flush()
    return len(clean)


def _open_ticket_for(session: Session, device: Device, summary: str, detected_at: datetime):
    """T1/U7: "online but no data" is a fault with its own ticket (an open one for the same fault is reused)."""
    from fleetops.services import tickets

    ticket = tickets.open_ticket(session, device_id=device.id, category="no_records", source="no_data",
                                 opened_by="system", detected_at=detected_at, summary=summary, now=detected_at)
    return ticket.id


def _record_counts(session: Session, slots: list[datetime], interval_s: int) -> dict[tuple[int, datetime], int]:
    """U7: pass records per camera per slot, from the counts pushed through the API and from the quality area's
    individual pass records (the larger of the two, as both may describe the same uploads)."""
    counts: dict[tuple[int, datetime], int] = {}
    for r in session.execute(select(PassCount.device_id, PassCount.slot_start, PassCount.count).where(
            PassCount.slot_start.in_(slots))):
        counts[(r.device_id, r.slot_start)] = r.count
    from fleetops.models.quality import PassRecord

    for start in slots:
        end = start + timedelta(seconds=interval_s)
        for device_id, n in session.execute(select(PassRecord.device_id, func.count()).where(
                PassRecord.captured_at >= start, PassRecord.captured_at < end).group_by(PassRecord.device_id)):
            counts[(device_id, start)] = max(n, counts.get((device_id, start), 0))
    return counts


def check_no_data(session: Session, now: datetime | None = None) -> dict:
    """U7: cameras that answer ping but upload nothing, or far less than the same slot on previous days."""
    now = now or utcnow()
    interval = int(parameters.get(session, "alerts.pass_count_interval_s"))
    ratio = float(parameters.get(session, "alerts.no_data_ratio"))
    min_base = float(parameters.get(session, "alerts.no_data_min_baseline"))
    days = int(parameters.get(session, "alerts.no_data_baseline_days"))
    min_days = int(parameters.get(session, "alerts.no_data_min_history_days"))
    epoch = int(now.timestamp())
    slot = datetime.fromtimestamp(epoch - epoch % interval - interval, timezone.utc)  # last complete slot
    history_slots = [slot - timedelta(days=d) for d in range(1, days + 1)]
    cams = session.scalars(select(Device).where(Device.kind.in_([k.value for k in CAMERA_KINDS]),
                                                Device.lifecycle.in_([s.value for s in IN_SERVICE]))).all()
    counts = _record_counts(session, [slot, *history_slots], interval)
    opened = resolved = 0
    for cam in cams:
        history = [counts[(cam.id, s)] for s in history_slots if (cam.id, s) in counts]
        if len(history) < min_days:
            continue
        baseline = statistics.median(history)
        current = counts.get((cam.id, slot), 0)  # nothing pushed for the slot = nothing uploaded
        key = f"device:{cam.id}:no_data"
        starving = baseline >= min_base and current < ratio * baseline
        if starving and cam.status == "up":
            alert, new = raise_alert(
                session, key, "no_data", "critical", f"在线但无数据：{cam.site.name} {cam.code}",
                f"U7：{_local(slot, cam.site.timezone)} 起 {interval // 60} 分钟内过车 {current} 条，"
                f"往日同时段中位数 {baseline:g} 条", device=cam, source_type="pass_counts",
                source_id=slot.isoformat(), now=now)
            if new:
                opened += 1
                alert.ticket_id = _open_ticket_for(session, cam, f"{alert.title}。{alert.body}", now)
        elif not starving:
            alert = get_open(session, key)
            if alert is not None:
                resolve(session, alert, now)
                resolved += 1
    return {"opened": opened, "resolved": resolved, "slot": slot.isoformat()}


def check_certificates(session: Session, today: date | None = None, now: datetime | None = None) -> dict:
    """F5: a device's newest metrology certificate expired, failed, or due within the warning window → alert."""
    now = now or utcnow()
    today = today or now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    warn = int(parameters.get(session, "alerts.certificate_warn_days"))
    newest = select(MetrologyCertificate.device_id, func.max(MetrologyCertificate.valid_until).label("until")) \
        .group_by(MetrologyCertificate.device_id).subquery()
    rows = session.execute(select(Device, MetrologyCertificate).join(
        newest, newest.c.device_id == Device.id).join(MetrologyCertificate, and_(
            MetrologyCertificate.device_id == Device.id, MetrologyCertificate.valid_until == newest.c.until)).where(
        Device.lifecycle.in_([s.value for s in IN_SERVICE]))).all()
    out = {"expired": 0, "due": 0, "resolved": 0}
    seen = set()
    for device, cert in rows:
        if device.id in seen:
            continue
        seen.add(device.id)
        expired_key, due_key = f"device:{device.id}:cert_expired", f"device:{device.id}:cert_due"
        if cert.valid_until < today or cert.result == "fail":
            why = "检定不合格，须更换设备" if cert.result == "fail" else f"已于 {cert.valid_until} 过期"
            _a, new = raise_alert(session, expired_key, "cert_expired", "critical",
                                  f"计量检定证书失效：{device.site.name} {device.code}",
                                  f"F5：证书 {cert.certificate_no} {why}", device=device, audience=("supervisor",),
                                  source_type="certificate", source_id=cert.id, now=now)
            out["expired"] += new
            due = get_open(session, due_key)
            if due is not None:
                resolve(session, due, now, notify=False)  # superseded by the expiry
        elif cert.valid_until <= today + timedelta(days=warn):
            _a, new = raise_alert(session, due_key, "cert_due", "warning",
                                  f"计量检定即将到期：{device.site.name} {device.code}",
                                  f"F5：证书 {cert.certificate_no} 有效期至 {cert.valid_until}，请安排检定",
                                  device=device, audience=("supervisor",), source_type="certificate",
                                  source_id=cert.id, now=now)
            out["due"] += new
        else:
            for key in (expired_key, due_key):
                alert = get_open(session, key)
                if alert is not None:
                    resolve(session, alert, now)
                    out["resolved"] += 1
    return out


def check_probe_silence(session: Session, now: datetime | None = None) -> dict:
    """U2: a district whose in-service devices produced no probe result at all for N minutes has a silent probe
    agent (or poller) — nobody would notice its devices going down. One alert per district; cleared when results
    arrive again. Only the recent window of the results index is read."""
    from fleetops.models.monitoring import ProbeResultRow

    now = now or utcnow()
    window = timedelta(minutes=float(parameters.get(session, "alerts.probe_silent_min")))
    watched = set(session.scalars(select(Site.district).join(Device, Device.site_id == Site.id).where(
        Device.lifecycle.in_([s.value for s in IN_SERVICE]), Device.ip_address.is_not(None)).distinct()))
    def districts_heard(since: datetime, until: datetime) -> set:
        return set(session.scalars(select(Site.district).select_from(ProbeResultRow)
                                   .join(Device, Device.id == ProbeResultRow.device_id)
                                   .join(Site, Site.id == Device.site_id)
                                   .where(ProbeResultRow.at >= since, ProbeResultRow.at < until).distinct()))

    heard = districts_heard(now - window, now + timedelta(days=1))
    # A district is silent only if it was heard before the window: a fresh system (or a new district) whose
    # first poll has not run yet is not an outage of the poller. An alert already open stays until results return.
    heard_before = districts_heard(now - window - timedelta(days=1), now - window)
    open_keys = {a.key for a in session.scalars(select(Alert).where(Alert.kind == "probe_agent_silent",
                                                                    Alert.state != "resolved"))}
    opened = resolved = 0
    for district in sorted(watched):
        if district not in heard and district not in heard_before and \
                f"agent:{district or '-'}:silent" not in open_keys:
            continue
        key = f"agent:{district or '-'}:silent"
        if district in heard:
            alert = get_open(session, key)
            if alert is not None:
                resolve(session, alert, now)
                resolved += 1
            continue
        _a, new = raise_alert(session, key, "probe_agent_silent", "critical",
                              f"探测中断：{district or '未分区'} 已 {int(window.total_seconds() // 60)} 分钟没有探测结果",
                              "该辖区设备离线将无法被发现（U2），请检查探测程序及其网络", audience=("supervisor",),
                              source_type="agent", source_id=district, now=now, district=district)
        opened += new
    silent = {d for d in watched - heard if d in heard_before or f"agent:{d or '-'}:silent" in open_keys}
    return {"silent": len(silent), "opened": opened, "resolved": resolved}


# --------------------------------------------------------------------------------------------------------------
# The outbox worker
# --------------------------------------------------------------------------------------------------------------
def backoff_s(attempts: int, base_s: float = 30, max_s: float = 3600) -> float:
    """Exponential back-off after `attempts` failures: base, 2·base, 4·base … capped."""
    return min(max_s, base_s * 2 ** max(0, attempts - 1))


def deliver_due(session: Session, now: datetime | None = None, limit: int = 100, base_s: float = 30,
                max_s: float = 3600, max_attempts: int = 15, workers: int = 8) -> dict:
    """Send due outbox messages. Each channel is a lane of its own thread (channels run in parallel, each send
    with its own timeout), so a dead channel never holds up the others; within a lane the first failure opens
    the circuit: that channel's remaining messages wait for its back-off without an attempt. Every attempt is
    logged; failures back off exponentially. Commits its own work."""
    now = now or utcnow()
    lease = now + timedelta(minutes=5)
    due = session.scalars(select(AlertDelivery).where(
        AlertDelivery.state == "pending", AlertDelivery.next_attempt_at <= now,
        or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now))
        .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id).limit(limit)).all()
    # Keep each alert's messages in order on a channel: a recovery never overtakes its pending "down" message.
    earlier = {(a, c): i for a, c, i in session.execute(select(
        AlertDelivery.alert_id, AlertDelivery.channel_id, func.min(AlertDelivery.id)).where(
        AlertDelivery.state == "pending").group_by(AlertDelivery.alert_id, AlertDelivery.channel_id))}
    claimed = []
    for d in due:
        if earlier.get((d.alert_id, d.channel_id), d.id) < d.id:
            continue
        got = session.execute(update(AlertDelivery).where(
            AlertDelivery.id == d.id, AlertDelivery.state == "pending",
            or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now))
            .values(claimed_until=lease).execution_options(synchronize_session=False)).rowcount
        if got:
            set_committed_value(d, "claimed_until", lease)  # the UPDATE bypassed the ORM
            claimed.append(d)
    lanes: dict[int, list[tuple[int, tuple]]] = {}
    for d in claimed:
        lanes.setdefault(d.channel_id, []).append(
            (d.id, (d.channel.kind, dict(d.channel.settings or {}), dict(d.channel.secrets or {}), dict(d.payload))))
    session.commit()  # the claims are visible to other workers; no transaction stays open while sending
    if not claimed:
        return {"sent": 0, "failed": 0, "deferred": 0}

    def run_lane(jobs):
        out = {}
        for did, job in jobs:
            started = time.monotonic()
            try:
                out[did] = (True, send(*job), time.monotonic() - started)
            except ChannelError as err:
                out[did] = (False, str(err), time.monotonic() - started)
                break  # circuit open for this round
        return out

    results: dict[int, tuple] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(lanes)))) as pool:
        for lane_result in pool.map(run_lane, lanes.values()):
            results.update(lane_result)
    sent = failed = deferred = 0
    retry_at: dict[int, datetime] = {}
    for d in claimed:
        d.claimed_until = None
        if d.id not in results:
            continue
        ok, result, duration = results[d.id]
        session.add(AlertDeliveryAttempt(delivery_id=d.id, at=now, ok=ok, duration_ms=int(duration * 1000),
                                         result=result[:2000]))
        d.attempts += 1
        if ok:
            d.state, d.delivered_at, d.last_error = "delivered", now, ""
            sent += 1
        else:
            d.last_error = result[:2000]
            d.next_attempt_at = now + timedelta(seconds=backoff_s(d.attempts, base_s, max_s))
            retry_at[d.channel_id] = d.next_attempt_at
            if d.attempts >= max_attempts:
                d.state = "failed"
            failed += 1
            log.warning("alert delivery=%s channel=%s attempt=%s failed: %s", d.id, d.channel.name, d.attempts,
                        result[:200])
    for d in claimed:
        if d.id not in results:  # not attempted: its channel just failed; wait with it
            d.next_attempt_at = retry_at.get(d.channel_id, now + timedelta(seconds=base_s))
            d.last_error = "通道故障，本轮未发送 / channel failing, not attempted this round"
            deferred += 1
    session.commit()
    return {"sent": sent, "failed": failed, "deferred": deferred}


def retry_delivery(session: Session, delivery_id: int, actor) -> AlertDelivery:
    """Put a message that gave up (or was withdrawn) back in the outbox, due now. Audited."""
    d = session.get(AlertDelivery, delivery_id)
    if d is None:
        raise NotFound("找不到该消息 / Message not found.")
    if d.state not in ("failed", "cancelled"):
        raise ValidationFailed("只有发送失败或已撤回的消息可以重发 / Only failed or withdrawn messages can be resent.")
    before = d.state
    d.state, d.next_attempt_at, d.claimed_until = "pending", utcnow(), None
    audit.record(session, actor, "alert_delivery_retried", "alert_delivery", d.id,
                 before={"state": before}, after={"state": "pending"})
    return d


def send_test_message(session: Session, channel_id: int, actor=None) -> str:
    """Send a test message through one channel now; the answer (or the error, scrubbed) in words."""
    channel = session.get(AlertChannel, channel_id)
    if channel is None:
        raise NotFound("找不到该通道 / Channel not found.")
    now = utcnow()
    payload = {"purpose": "test", "title": "fleetops 测试消息", "text": "这是一条测试消息。",
               "markdown": "### fleetops 测试消息\n\n这是一条测试消息。", "sent_at": now.isoformat(), "to": []}
    try:
        return "OK " + send(channel.kind, channel.settings, channel.secrets, payload)
    except ChannelError as err:
        raise ValidationFailed(f"发送失败 / Sending failed: {err}") from None


# --------------------------------------------------------------------------------------------------------------
# Scheduled jobs
# --------------------------------------------------------------------------------------------------------------
def _with_session(app, func):
    from fleetops.db import session_scope

    with session_scope(app.extensions["fleetops.sessionmaker"]) as s:
        return func(s)


def job_deliver(app) -> None:
    stats = _with_session(app, lambda s: deliver_due(
        s, base_s=float(app.config.get("ALERT_RETRY_BASE_S", 30)),
        max_s=float(app.config.get("ALERT_RETRY_MAX_S", 3600))))
    if stats["sent"] or stats["failed"]:
        log.info("job=alerts_deliver sent=%s failed=%s deferred=%s", stats["sent"], stats["failed"],
                 stats["deferred"])


def job_repeat(app) -> None:
    stats = _with_session(app, repeat_and_escalate)
    log.info("job=alerts_repeat repeated=%s escalated=%s", stats["repeated"], stats["escalated"])


def job_no_data(app) -> None:
    stats = _with_session(app, check_no_data)
    log.info("job=alerts_no_data opened=%s resolved=%s slot=%s", stats["opened"], stats["resolved"], stats["slot"])


def job_probe_silence(app) -> None:
    stats = _with_session(app, check_probe_silence)
    if stats["silent"] or stats["resolved"]:
        log.info("job=alerts_probe_silence silent=%s opened=%s resolved=%s", stats["silent"], stats["opened"],
                 stats["resolved"])


def job_certificates(app) -> None:
    stats = _with_session(app, check_certificates)
    log.info("job=alerts_certificates expired=%s due=%s resolved=%s", stats["expired"], stats["due"],
             stats["resolved"])

"""An alert in words, in the reader's language (Chinese by default, English on request).

Alert rows keep their title, body and quiet reason as stored `Msg` values (msgid + parameters), so pages show
them in either language; `render` turns one alert into the message every channel sends, in `locale`."""
from datetime import datetime
from zoneinfo import ZoneInfo

from fleetops.domain.alerts import AlertSeverity
from fleetops.domain.choices import DeviceKind, LabelledEnum
from fleetops.domain.text import Msg, render_stored
from fleetops.models import Device, Site
from fleetops.models.alerts import Alert
from fleetops.platform.clock import zone_name
from fleetops.platform.i18n import DEFAULT_LOCALE

TITLE_MAX = 300  # Alert.title column

PURPOSE_TITLE = {"repeated": Msg("[Repeat] %(title)s"), "escalated": Msg("[Escalated] %(title)s"),
                 "resolved": Msg("[Recovered] %(title)s")}


def label(enum: type[LabelledEnum], value) -> Msg | str:
    """An enum value's label as a Msg parameter (rendered with the sentence); an unknown value as it is."""
    try:
        return Msg(enum._LABELS[enum(value).value], context=enum.__name__)
    except (ValueError, KeyError):
        return "" if value is None else str(value)


def local_time(dt: datetime | None, tz: str | None = None) -> str:
    """A time as people at the site read it (the site's zone, else the configured TIMEZONE)."""
    if dt is None:
        return ""
    try:
        zone = ZoneInfo(tz or zone_name())
    except (KeyError, ValueError):
        zone = ZoneInfo(zone_name())
    return dt.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def site_tz(site: Site | None) -> str | None:
    return site.timezone if site is not None else None


def stored_title(title) -> str:
    """The value for Alert.title: a stored Msg; when too long for the column, its Chinese text cut to fit."""
    if isinstance(title, Msg):
        kept = title.stored()
        return kept if len(kept) <= TITLE_MAX else title.render(DEFAULT_LOCALE)[:TITLE_MAX]
    return str(title or "")[:TITLE_MAX]


def text(value, locale: str | None = None) -> str:
    """A stored title/body/reason in `locale` (default: the reader's); free text unchanged."""
    return render_stored(value, locale)


def known_cause(cause: str) -> Msg:
    return Msg("Known cause: %(cause)s", cause=cause)


def is_known_cause(quiet_reason: str) -> bool:
    msg = Msg.from_stored(quiet_reason)
    return msg is not None and msg.msgid == "Known cause: %(cause)s"


def _device_line(device: Device | None) -> Msg | str:
    if device is None:
        return ""
    kind = label(DeviceKind, device.kind)
    if device.name:
        return Msg("%(code)s %(name)s (%(kind)s)", code=device.code, name=device.name, kind=kind)
    return Msg("%(code)s (%(kind)s)", code=device.code, kind=kind)


def _site_line(site: Site | None) -> Msg | str:
    if site is None:
        return ""
    if site.district:
        return Msg("%(code)s %(name)s, %(district)s", code=site.code, name=site.name, district=site.district)
    return f"{site.code} {site.name}"


def render(alert: Alert, purpose: str, now: datetime, locale: str = DEFAULT_LOCALE) -> dict:
    """The message every channel sends: a title, plain text, markdown, and the alert's facts as JSON."""
    tz = site_tz(alert.site)
    title = text(alert.title, locale)
    if purpose in PURPOSE_TITLE:
        title = Msg(PURPOSE_TITLE[purpose].msgid, title=title).render(locale)
    lines = [Msg("Severity: %(severity)s", severity=label(AlertSeverity, alert.severity))]
    if alert.site is not None:
        lines.append(Msg("Site: %(site)s", site=_site_line(alert.site)))
    if alert.device is not None:
        lines.append(Msg("Device: %(device)s", device=_device_line(alert.device)))
    lines.append(Msg("Occurred: %(at)s", at=local_time(alert.opened_at, tz)))
    if purpose == "resolved":
        end = alert.resolved_at or now
        minutes = int((end - alert.opened_at).total_seconds() // 60)
        lines.append(Msg("Recovered: %(at)s (lasted %(hours)s h %(minutes)s min)", at=local_time(end, tz),
                         hours=minutes // 60, minutes=minutes % 60))
    if alert.cause:
        lines.append(Msg("Cause: %(cause)s", cause=alert.cause))
    if alert.body:
        lines.append(text(alert.body, locale))
    if alert.occurrences > 1:
        lines.append(Msg("Occurrences so far: %(n)s", n=alert.occurrences))
    lines = [line.render(locale) if isinstance(line, Msg) else line for line in lines]
    body = "\n".join(lines)
    markdown = f"### {title}\n\n" + "\n".join(f"- {line}" for line in lines)
    return {"purpose": purpose, "title": title, "text": body, "markdown": markdown, "alert_id": alert.id,
            "key": alert.key, "kind": alert.kind, "severity": alert.severity, "state": alert.state,
            "district": alert.district, "site": alert.site.code if alert.site is not None else None,
            "device": alert.device.code if alert.device is not None else None,
            "opened_at": alert.opened_at.isoformat(), "sent_at": now.isoformat()}


def trial_payload(now: datetime, locale: str = DEFAULT_LOCALE) -> dict:
    """The test message a channel page sends."""
    title = Msg("fleetops test message").render(locale)
    line = Msg("This is a test message.").render(locale)
    return {"purpose": "test", "title": title, "text": line, "markdown": f"### {title}\n\n{line}",
            "sent_at": now.isoformat(), "to": []}

"""U7: a connector's settings — URL, credentials (the password encrypted at rest, write-only in forms) and the field
mapping from the platform's JSON to ours — as data, edited by admins and audited."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.records import PlatformConnector
from fleetops.platform import audit
from fleetops.services.inventory.parsers import _text, message_of, parse_bool

DEFAULT_MAPPING = {"items": "data", "device": "camera", "slot_start": "slot_start", "count": "count"}
MAPPING_FIELDS = tuple(DEFAULT_MAPPING)
FIELDS = ("name", "url", "username", "password", "interval_s", "timeout_s", "enabled",
          *(f"map_{k}" for k in MAPPING_FIELDS))


def _url(text) -> str:
    from urllib.parse import urlsplit

    t = str(text or "").strip()
    parts = urlsplit(t)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(Msg("%(text)r is not an http(s) URL.", text=t))
    if parts.password or parts.username:
        raise ValueError(Msg("Put the password in its own field, not in the URL."))
    return t


def _int_between(low: int, high: int):
    def parse(text) -> int:
        t = str(text or "").strip()
        if not t.isdigit() or not low <= int(t) <= high:
            raise ValueError(Msg("A whole number from %(low)s to %(high)s.", low=low, high=high))
        return int(t)
    return parse


def _key(text) -> str:
    t = str(text or "").strip()
    if len(t) > 100 or any(c.isspace() for c in t):
        raise ValueError(Msg("A JSON field name (dots for nesting), without spaces."))
    return t


PARSERS = {"name": _text(100), "url": _url, "username": _text(100), "password": _text(200),
           "interval_s": _int_between(30, 86400), "timeout_s": _int_between(1, 120), "enabled": parse_bool,
           **{f"map_{k}": _key for k in MAPPING_FIELDS}}


def get_connector(session: Session, connector_id) -> PlatformConnector:
    c = session.get(PlatformConnector, int(connector_id)) if str(connector_id).isdigit() else None
    if c is None:
        raise NotFound(Msg("No connector %(id)s.", id=connector_id))
    return c


def list_connectors(session: Session) -> list[PlatformConnector]:
    return list(session.scalars(select(PlatformConnector).order_by(PlatformConnector.name)))


def connector_form(c: PlatformConnector | None) -> dict:
    """What the edit form shows — never the password."""
    if c is None:
        return {"interval_s": "300", "timeout_s": "10", "enabled": "1",
                **{f"map_{k}": v for k, v in DEFAULT_MAPPING.items()}}
    mapping = {**DEFAULT_MAPPING, **(c.mapping or {})}
    return {"name": c.name, "url": c.url, "username": c.username, "interval_s": str(c.interval_s),
            "timeout_s": str(c.timeout_s), "enabled": "1" if c.enabled else "",
            "password_set": bool(c.password), **{f"map_{k}": mapping[k] for k in MAPPING_FIELDS}}


def save_connector(session: Session, connector_id, raw: dict, actor) -> PlatformConnector:
    """Create (connector_id None) or edit a connector; an empty password keeps the stored one. Audited (no secret)."""
    values, errors = {}, {}
    for field in FIELDS:
        text = raw.get(field, "")
        if field == "enabled":
            text = text if text not in (None,) else ""
        try:
            values[field] = PARSERS[field](text)
        except ValueError as err:
            errors[field] = message_of(err)
    for field in ("name", "map_device", "map_slot_start", "map_count"):
        if field not in errors and not values.get(field):
            errors[field] = Msg("Required.")
    c = get_connector(session, connector_id) if connector_id is not None else None
    if "name" not in errors and session.scalar(select(PlatformConnector.id).where(
            PlatformConnector.name == values["name"], PlatformConnector.id != (c.id if c else 0))):
        errors["name"] = Msg("Another connector is called %(name)s.", name=values["name"])
    if errors:
        raise ValidationFailed(next(iter(errors.values())), errors={k: str(v) for k, v in errors.items()})
    before = _snapshot(c) if c else None
    if c is None:
        c = PlatformConnector(name=values["name"], url=values["url"], last_error="")
        session.add(c)
    c.name, c.url, c.username = values["name"], values["url"], values["username"]
    if values["password"]:
        c.password = values["password"]
    c.interval_s, c.timeout_s, c.enabled = values["interval_s"], values["timeout_s"], values["enabled"]
    c.mapping = {k: values[f"map_{k}"] for k in MAPPING_FIELDS}
    session.flush()
    audit.record(session, actor, "platform_connector_saved", "platform_connector", c.id, summary=c.name,
                 before=before, after=_snapshot(c))
    return c


def _snapshot(c: PlatformConnector) -> dict:
    return {"name": c.name, "url": c.url, "username": c.username, "password_set": bool(c.password),
            "interval_s": c.interval_s, "timeout_s": c.timeout_s, "enabled": c.enabled, "mapping": dict(c.mapping or {})}


SIMULATED_NAME = "simulated-platform"


def ensure_simulated_connector(session: Session, url: str) -> PlatformConnector:
    """The demo: a connector to the loopback platform simulator (`fleetops simulate`), pulling every minute."""
    c = session.scalar(select(PlatformConnector).where(PlatformConnector.name == SIMULATED_NAME))
    if c is None:
        c = PlatformConnector(name=SIMULATED_NAME, url=url, username="", password="", mapping=dict(DEFAULT_MAPPING),
                              enabled=True, interval_s=60, timeout_s=10, last_error="")
        session.add(c)
        session.flush()
        audit.record(session, "demo", "platform_connector_saved", "platform_connector", c.id, summary=c.name,
                     after=_snapshot(c))
    elif c.url != url:
        c.url = url
    return c

"""The navigation bar: each area lists its entries in a `NAV` list; `fleetops.wiring` registers them."""
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str  # English msgid, translated at render time
    roles: tuple[str, ...]
    order: int
    home_for: tuple[str, ...] = ()

    @classmethod
    def of(cls, endpoint: str, label: str, roles=("crew", "supervisor", "admin"), order: int = 50,
           home_for=()) -> "NavItem":
        return cls(endpoint, label, tuple(roles), order, tuple(home_for))


_items: list[NavItem] = []


def register(item: NavItem) -> None:
    """Add a nav entry (idempotent); `home_for` names the roles that land on it after logging in."""
    if any(i.endpoint == item.endpoint for i in _items):
        return
    _items.append(item)
    _items.sort(key=lambda i: i.order)


def items_for() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    role = current_user.role
    return [{"url": url_for(i.endpoint), "label": gettext(i.label), "endpoint": i.endpoint}
            for i in _items if role in i.roles or role == "admin"]


def home_for(role: str) -> str:
    for i in _items:
        if role in i.home_for:
            return url_for(i.endpoint)
    for i in _items:
        if role in i.roles:
            return url_for(i.endpoint)
    return url_for("auth.account")

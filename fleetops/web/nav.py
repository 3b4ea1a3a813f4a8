"""The navigation bar: each area lists its entries in a `NAV` list; `fleetops.wiring` registers them.

Entries are shown in groups (运维 / 监控 / 质量 / 报表 / 管理) so a tablet in portrait gets one row, not six.
An entry names its group with `group=` (one of GROUPS' keys, or "" for a top-level link such as 总览 and
我的工单); without one it takes its blueprint's default from DEFAULT_GROUP (below), so an area that adds an
entry need not know the grouping.
"""
from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user

from fleetops.domain.text import N_, Msg

# The menu's groups, in the order shown: key → English msgid (Chinese in the .po).
GROUPS = (
    ("ops", N_("Operations")),
    ("monitoring", N_("Monitoring")),
    ("quality", N_("Quality")),
    ("reports", N_("Reports")),
    ("admin", N_("Management")),
)
# The group of an entry that does not say: by endpoint first, then by blueprint.
DEFAULT_GROUP = {
    "tickets.mine": "", "reports.dashboard": "",
    "monitoring.uptime_table": "reports", "admin.audit_log": "admin", "alerts.channels": "admin",
    "tickets": "ops", "spares": "ops", "exclusions": "ops", "inspections": "ops",
    "monitoring": "monitoring", "alerts": "monitoring", "inventory": "monitoring", "map": "monitoring",
    "quality": "quality", "reports": "reports", "admin": "admin",
    # This round's areas (issue 13): the wall-screen tokens are an admin setting though the wall is monitoring.
    "map.tokens": "admin", "maintenance": "ops", "fault_reports": "ops", "traps": "monitoring",
    "discovery": "admin", "agents": "admin",
}
# What a crew member uses on the tablet (U/T areas they act in); other entries open to crew stay reachable by
# link but do not crowd the crew's menu.
CREW_MENU_GROUPS = ("", "ops", "monitoring")


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str  # English msgid (or a Msg), translated at render time
    roles: tuple[str, ...]
    order: int
    home_for: tuple[str, ...] = ()
    group: str | None = None  # None: DEFAULT_GROUP decides

    @classmethod
    def of(cls, endpoint: str, label: str, roles=("crew", "supervisor", "admin"), order: int = 50,
           home_for=(), group: str | None = None) -> "NavItem":
        return cls(endpoint, label, tuple(roles), order, tuple(home_for), group)

    @property
    def group_key(self) -> str:
        if self.group is not None:
            return self.group
        if self.endpoint in DEFAULT_GROUP:
            return DEFAULT_GROUP[self.endpoint]
        return DEFAULT_GROUP.get(self.endpoint.split(".", 1)[0], "ops")


_items: list[NavItem] = []
# The menu as built for (role, language, the app's URL root): the same for every request that shares them, so it is
# built once (issue 14 part 4: 23 url_for and gettext calls on every page view); emptied when an entry is added.
_built: dict[tuple, tuple[list[dict], list[dict]]] = {}


def register(item: NavItem) -> None:
    """Add a nav entry (idempotent); `home_for` names the roles that land on it after logging in."""
    if any(i.endpoint == item.endpoint for i in _items):
        return
    _items.append(item)
    _items.sort(key=lambda i: i.order)
    _built.clear()


def _label(item: NavItem) -> str:
    return item.label.render() if isinstance(item.label, Msg) else gettext(item.label)


def _visible(item: NavItem, role: str) -> bool:
    if role == "admin":
        return True
    if role not in item.roles:
        return False
    return role != "crew" or item.group_key in CREW_MENU_GROUPS


def items_for() -> list[dict]:
    """The flat list of the user's entries (kept for pages and tests that look for one link)."""
    return _menu()[0]


def groups_for() -> list[dict]:
    """The menu as shown: top-level links first, then each group with its entries (empty groups left out)."""
    return _menu()[1]


def _menu() -> tuple[list[dict], list[dict]]:
    if not current_user.is_authenticated:
        return [], []
    key = (current_user.role, str(get_locale()), request.script_root, current_app.name)
    built = _built.get(key)
    if built is None:
        flat = _build_items(current_user.role)
        built = _built[key] = (flat, _build_groups(flat))
    return built


def _build_items(role: str) -> list[dict]:
    return [{"url": url_for(i.endpoint), "label": _label(i), "endpoint": i.endpoint, "group": i.group_key}
            for i in _items if _visible(i, role)]


def _build_groups(flat: list[dict]) -> list[dict]:
    out = [{"key": "", "label": "", "items": [e]} for e in flat if e["group"] == ""]
    for key, msgid in GROUPS:
        entries = [e for e in flat if e["group"] == key]
        if entries:
            out.append({"key": key, "label": gettext(msgid), "items": entries})
    known = {k for k, _ in GROUPS} | {""}
    stray = [e for e in flat if e["group"] not in known]  # a group name nobody declared: still reachable
    if stray:
        out.append({"key": "other", "label": gettext("More"), "items": stray})
    return out


def home_for(role: str) -> str:
    """Where a role lands after logging in: crew → 我的工单, supervisor → 总览, admin → the supervisor's home."""
    for r in (role, "supervisor") if role == "admin" else (role,):
        for i in _items:
            if r in i.home_for:
                return url_for(i.endpoint)
    for i in _items:
        if role in i.roles:
            return url_for(i.endpoint)
    return url_for("auth.account")

"""Where the server may connect on someone's behalf (server-side request forgery): an allow-list of networks.

A supervisor types a camera's snapshot URL and an admin an alert channel's target; the server then connects there.
Without a limit, anyone who can set such an address makes the server probe loopback, link-local (cloud metadata)
or the database port. Two contract parameters, edited by an admin, list the networks (CIDR) each purpose may reach:
`camera_networks` (snapshots) and `alert_networks` (webhooks, robots, MQTT, SMTP). A host name is resolved and every
address it resolves to must be inside a listed network. Loopback, link-local, unspecified and multicast addresses
pass only when a listed network lies inside that range itself ("127.0.0.0/8" — as the demo lists — not "0.0.0.0/0").
"""
import ipaddress
import logging
import socket
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from fleetops.domain.text import Msg
from fleetops.platform import parameters

log = logging.getLogger(__name__)

CAMERAS = "camera_networks"
ALERTS = "alert_networks"
PLATFORMS = "platform_networks"  # U7: the police platforms the pass-count connectors pull from
PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
LOOPBACK = ["127.0.0.0/8", "::1/128"]

PARAMETERS = {
    CAMERAS: (list(PRIVATE), "Networks (CIDR) the server may fetch camera snapshots from; loopback and link-local "
                             "only when listed themselves, e.g. 127.0.0.0/8"),
    ALERTS: (list(PRIVATE), "Networks (CIDR) alert channels may reach: webhook, DingTalk/WeCom robots, MQTT, SMTP; "
                            "add the internet gateway's or the robots' addresses when they are used"),
    PLATFORMS: (list(PRIVATE), "Networks (CIDR) the pass-count connectors may pull from (the integrated command "
                               "platform); loopback only when listed, e.g. 127.0.0.0/8 for the demo's simulator"),
}

def networks(session: Session, purpose: str) -> list:
    """The allowed networks for `purpose` (CAMERAS or ALERTS); an unreadable entry is skipped with a warning."""
    out = []
    for entry in parameters.get(session, purpose) or []:
        try:
            out.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            log.warning("contract parameter %s: %r is not a network, ignored", purpose, entry)
    return out


def _special(addr) -> bool:
    return addr.is_loopback or addr.is_link_local or addr.is_unspecified or addr.is_multicast


def _inside_special(net) -> bool:
    """The whole listed network is loopback (or link-local …), so it names such addresses on purpose."""
    first, last = net.network_address, net.broadcast_address
    return any(getattr(first, p) and getattr(last, p) for p in ("is_loopback", "is_link_local", "is_multicast"))


def address_allowed(address: str, allowed: list) -> bool:
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    if getattr(addr, "ipv4_mapped", None):
        addr = addr.ipv4_mapped
    for net in allowed:
        if addr.version == net.version and addr in net and (not _special(addr) or _inside_special(net)):
            return True
    return False


def refusal(host: str, port, purpose: str, allowed: list) -> Msg | None:
    """Why the server must not connect to `host` for `purpose` (a Msg), or None when every address is allowed."""
    host = (host or "").strip().strip("[]")
    if not host:
        return Msg("No address is configured.")
    try:
        infos = socket.getaddrinfo(host, port or None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return Msg("The address %(host)s cannot be resolved.", host=host)
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(address_allowed(a, allowed) for a in addresses):
        if purpose == CAMERAS:
            return Msg("The camera address %(host)s is outside the camera networks an administrator allowed "
                       "(contract parameter %(key)s).", host=host, key=purpose)
        if purpose == PLATFORMS:
            return Msg("The platform address %(host)s is outside the platform networks an administrator allowed "
                       "(contract parameter %(key)s).", host=host, key=purpose)
        return Msg("The alert target %(host)s is outside the alert networks an administrator allowed "
                   "(contract parameter %(key)s).", host=host, key=purpose)
    return None


def url_refusal(url: str, purpose: str, allowed: list) -> Msg | None:
    """`refusal` for a URL's host (http, https, rtsp …); a URL without a host is refused."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return Msg("The address %(host)s cannot be resolved.", host=str(url)[:100])
    if not parts.hostname:
        return Msg("No address is configured.")
    return refusal(parts.hostname, port, purpose, allowed)

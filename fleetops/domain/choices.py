"""Stored enumerations with their labels: device kinds, lifecycle, status, roles.

The value is what the database stores; never rename one (STYLE §6). A label is an English msgid
(`N_`), translated through the one catalogue (`translations/zh/domain.po`) by `member.label(locale)`.
"""
from enum import StrEnum

from fleetops.domain.text import Msg, N_


class LabelledEnum(StrEnum):
    """A StrEnum whose members carry a label msgid in the class's `_LABELS`.

    In the catalogue a label may carry `msgctxt "<ClassName>"` when the same English word needs another
    Chinese word elsewhere ("Open" alert vs "Open" finding); without one, the plain msgid is used."""

    def label(self, locale: str | None = None) -> str:
        """The label in `locale` (default: the reader's language)."""
        return Msg(type(self)._LABELS[self.value], context=type(self).__name__).render(locale)

    @classmethod
    def label_of(cls, value, locale: str | None = None) -> str:
        """The label of a stored value; an unknown value is shown as it is."""
        try:
            return cls(value).label(locale)
        except ValueError:
            return "" if value is None else str(value)

    @classmethod
    def choices(cls, locale: str | None = None) -> list[tuple[str, str]]:
        return [(m.value, m.label(locale)) for m in cls]

    @classmethod
    def parse(cls, text: str):
        """Accept the stored value, the Chinese label or the English label (case-insensitive)."""
        t = (text or "").strip()
        for m in cls:
            en = cls._LABELS[m.value]
            if t.lower() in (m.value.lower(), en.lower()) or t == m.label("zh"):
                return m
        raise ValueError(t)


def enum_by_name(name: str) -> type[LabelledEnum] | None:
    """The labelled enum called `name` (DeviceKind, TicketState, OutageCause …), wherever the domain defines it."""
    todo = list(LabelledEnum.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls.__name__ == name:
            return cls
        todo.extend(cls.__subclasses__())
    return None


class DeviceKind(LabelledEnum):
    """F1: the cameras and the equipment around them."""

    CHECKPOINT_CAMERA = "checkpoint_camera"
    EPOLICE_CAMERA = "epolice_camera"
    SECURITY_CHECKPOINT = "security_checkpoint"
    SPEED_CAMERA = "speed_camera"
    FILL_LIGHT = "fill_light"
    STROBE_LIGHT = "strobe_light"
    CAPTURE_UNIT = "capture_unit"
    SPEED_RADAR = "speed_radar"
    TERMINAL = "terminal"
    SWITCH = "switch"
    FIBRE_TRANSCEIVER = "fibre_transceiver"
    CABINET = "cabinet"
    POWER_SUPPLY = "power_supply"
    PLATFORM_SERVER = "platform_server"  # U7: the integrated command platform's server
    VIDEO_PLATFORM = "video_platform"  # U7: the video-network platform


DeviceKind._LABELS = {
    "checkpoint_camera": N_("Checkpoint camera"),
    "epolice_camera": N_("E-police camera"),
    "security_checkpoint": N_("Security checkpoint"),
    "speed_camera": N_("Fixed speed camera"),
    "fill_light": N_("Fill light"),
    "strobe_light": N_("Strobe light"),
    "capture_unit": N_("Capture unit"),
    "speed_radar": N_("Speed radar"),
    "terminal": N_("Terminal"),
    "switch": N_("Switch"),
    "fibre_transceiver": N_("Fibre transceiver"),
    "cabinet": N_("Control cabinet"),
    "power_supply": N_("Power supply"),
    "platform_server": N_("Command platform server"),
    "video_platform": N_("Video network platform"),
}

# U3: the kinds whose online rate the contract measures.
CONTRACT_KINDS = frozenset({
    DeviceKind.CHECKPOINT_CAMERA, DeviceKind.SECURITY_CHECKPOINT,
    DeviceKind.EPOLICE_CAMERA, DeviceKind.SPEED_CAMERA,
})
CAMERA_KINDS = CONTRACT_KINDS
# Devices that carry other devices' traffic or power: their loss darkens a site (U5).
INFRASTRUCTURE_KINDS = frozenset({
    DeviceKind.SWITCH, DeviceKind.FIBRE_TRANSCEIVER, DeviceKind.CABINET, DeviceKind.POWER_SUPPLY,
})


class Lifecycle(LabelledEnum):
    """F3: where a device is in its life."""

    PLANNED = "planned"
    INSTALLED = "installed"
    ONLINE = "online"
    RELOCATED = "relocated"
    REPLACED = "replaced"
    RETIRED = "retired"


Lifecycle._LABELS = {
    "planned": N_("Planned"),
    "installed": N_("Installed"),
    "online": N_("Online"),
    "relocated": N_("Relocated"),
    "replaced": N_("Replaced"),
    "retired": N_("Retired"),
}

# Devices in these states are polled and count towards uptime.
IN_SERVICE = frozenset({Lifecycle.INSTALLED, Lifecycle.ONLINE, Lifecycle.RELOCATED})


class DeviceStatus(LabelledEnum):
    """What monitoring last concluded about a device."""

    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"
    UNREACHABLE = "unreachable"  # U5: its parent (switch, power) is down
    HUNG = "hung"  # answers ping, its SNMP agent does not


DeviceStatus._LABELS = {
    "unknown": N_("Unknown"),
    "up": N_("Online"),
    "down": N_("Offline"),
    "unreachable": N_("Unreachable via parent"),
    "hung": N_("Hung"),
}


class Role(LabelledEnum):
    CREW = "crew"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


Role._LABELS = {
    "crew": N_("Crew"),
    "supervisor": N_("Supervisor"),
    "admin": N_("Administrator"),
}


class LivenessProbe(LabelledEnum):
    PING = "ping"  # ICMP (raw, else unprivileged); a TCP connect when this host may not send ICMP
    SNMP = "snmp"
    TCP = "tcp"  # TCP connect to the device's port (ICMP blocked on the way); an SNMP answer counts too


LivenessProbe._LABELS = {"ping": N_("Ping"), "snmp": N_("SNMP"), "tcp": N_("TCP connect")}

# The port a TCP liveness check connects to when the device has none of its own: RTSP for cameras, else HTTP.
LIVENESS_TCP_PORT_DEFAULT = 80
LIVENESS_TCP_PORTS = {"checkpoint_camera": 554, "epolice_camera": 554, "security_checkpoint": 554,
                      "speed_camera": 554}


def liveness_tcp_port(kind: str, port: int | None = None) -> int:
    """The device's own TCP liveness port, else its kind's (RTSP 554 for cameras, HTTP 80 for the rest)."""
    return int(port) if port else LIVENESS_TCP_PORTS.get(kind, LIVENESS_TCP_PORT_DEFAULT)


class SnmpVersion(LabelledEnum):
    NONE = ""
    V2C = "v2c"
    V3 = "v3"


SnmpVersion._LABELS = {"": N_("None"), "v2c": N_("v2c"), "v3": N_("v3")}

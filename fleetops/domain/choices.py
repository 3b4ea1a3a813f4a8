"""Stored enumerations with their labels (Chinese, English): device kinds, lifecycle, status, roles.

The value is what the database stores; never rename one (STYLE §6). Labels are looked up
through `label(value, locale)`.
"""
from enum import StrEnum


class LabelledEnum(StrEnum):
    """A StrEnum whose members carry a (zh, en) label pair in the class's `_LABELS`."""

    def label(self, locale: str = "zh") -> str:
        zh, en = type(self)._LABELS[self.value]
        return en if locale.startswith("en") else zh

    @classmethod
    def choices(cls, locale: str = "zh") -> list[tuple[str, str]]:
        return [(m.value, m.label(locale)) for m in cls]

    @classmethod
    def parse(cls, text: str):
        """Accept the stored value, the Chinese label or the English label (case-insensitive)."""
        t = (text or "").strip()
        for m in cls:
            zh, en = cls._LABELS[m.value]
            if t.lower() in (m.value.lower(), en.lower()) or t == zh:
                return m
        raise ValueError(t)


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


DeviceKind._LABELS = {
    "checkpoint_camera": ("卡口相机", "Checkpoint camera"),
    "epolice_camera": ("电子警察", "E-police camera"),
    "security_checkpoint": ("治安卡口", "Security checkpoint"),
    "speed_camera": ("固定测速", "Fixed speed camera"),
    "fill_light": ("补光灯", "Fill light"),
    "strobe_light": ("爆闪灯", "Strobe light"),
    "capture_unit": ("抓拍单元", "Capture unit"),
    "speed_radar": ("测速雷达", "Speed radar"),
    "terminal": ("终端机", "Terminal"),
    "switch": ("交换机", "Switch"),
    "fibre_transceiver": ("光纤收发器", "Fibre transceiver"),
    "cabinet": ("控制机柜", "Control cabinet"),
    "power_supply": ("电源", "Power supply"),
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
    "planned": ("规划", "Planned"),
    "installed": ("已安装", "Installed"),
    "online": ("已联网", "Online"),
    "relocated": ("点位迁移", "Relocated"),
    "replaced": ("已更换", "Replaced"),
    "retired": ("已报废", "Retired"),
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
    "unknown": ("未知", "Unknown"),
    "up": ("在线", "Online"),
    "down": ("离线", "Offline"),
    "unreachable": ("上级设备故障", "Unreachable via parent"),
    "hung": ("假死", "Hung"),
}


class Role(LabelledEnum):
    CREW = "crew"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


Role._LABELS = {
    "crew": ("运维人员", "Crew"),
    "supervisor": ("监管人员", "Supervisor"),
    "admin": ("管理员", "Administrator"),
}


class LivenessProbe(LabelledEnum):
    PING = "ping"
    SNMP = "snmp"


LivenessProbe._LABELS = {"ping": ("Ping", "Ping"), "snmp": ("SNMP", "SNMP")}


class SnmpVersion(LabelledEnum):
    NONE = ""
    V2C = "v2c"
    V3 = "v3"


SnmpVersion._LABELS = {"": ("无", "None"), "v2c": ("v2c", "v2c"), "v3": ("v3", "v3")}

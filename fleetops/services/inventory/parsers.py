"""Field parsing shared by forms, the API and spreadsheets: text a person typed → a typed value.

A parser raises `ValueError(Msg(...))` for bad input; the Msg is shown in the reader's language
(`str(err)` renders it in the current one). `parse_values` collects them per field.
"""
import ipaddress
import math
import re
from datetime import date, datetime
from urllib.parse import urlsplit

from fleetops.domain.choices import DeviceKind, Lifecycle, LivenessProbe, SnmpVersion
from fleetops.domain.errors import ConflictError, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device

# Rough bounding box of the PRC (incl. Hainan and the southern islands); catches swapped or
# zero coordinates, which are the usual mistakes in platform exports (F6).
CHINA_LAT = (3.8, 53.6)
CHINA_LON = (73.4, 135.1)

# Names people actually type in spreadsheets for each kind, beyond the enum's own labels.
KIND_ALIASES = {
    "卡口": DeviceKind.CHECKPOINT_CAMERA, "卡口相机": DeviceKind.CHECKPOINT_CAMERA,
    "卡口摄像机": DeviceKind.CHECKPOINT_CAMERA, "电警": DeviceKind.EPOLICE_CAMERA,
    "电子警察相机": DeviceKind.EPOLICE_CAMERA, "闯红灯": DeviceKind.EPOLICE_CAMERA,
    "测速": DeviceKind.SPEED_CAMERA, "固定测速相机": DeviceKind.SPEED_CAMERA,
    "治安卡口相机": DeviceKind.SECURITY_CHECKPOINT, "雷达": DeviceKind.SPEED_RADAR,
    "终端": DeviceKind.TERMINAL, "工控机": DeviceKind.TERMINAL, "光端机": DeviceKind.FIBRE_TRANSCEIVER,
    "收发器": DeviceKind.FIBRE_TRANSCEIVER, "机柜": DeviceKind.CABINET, "电源箱": DeviceKind.POWER_SUPPLY,
    "爆闪": DeviceKind.STROBE_LIGHT, "补光": DeviceKind.FILL_LIGHT, "抓拍": DeviceKind.CAPTURE_UNIT,
}
TRUE_WORDS = {"1", "y", "yes", "true", "是", "√", "✓", "重要", "重点"}
FALSE_WORDS = {"", "0", "n", "no", "false", "否", "×", "一般"}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S")

# The device fields a person or a spreadsheet may set; secrets are write-only.
DEVICE_FIELDS = (
    "name", "kind", "site_code", "cabinet_code", "parent_code", "vendor", "model", "serial", "ip_address",
    "lifecycle", "installed_on", "in_service_from", "liveness_probe", "snmp_version", "snmp_port", "snmp_community",
    "snmp_v3_user", "snmp_v3_auth_protocol", "snmp_v3_auth_key", "snmp_v3_priv_protocol", "snmp_v3_priv_key",
    "snapshot_url", "snapshot_username", "snapshot_password", "notes",
)
SITE_FIELDS = ("name", "road", "direction", "district", "latitude", "longitude", "key_site",
               "road_distance_km", "notes")
SECRET_FIELDS = Device.SECRET_FIELDS
# Empty means "keep what is stored" for these (secrets: write-only; the rest have a default; an in-service date,
# once set, is corrected but never erased — the in-service history starts there).
KEEP_WHEN_EMPTY = set(SECRET_FIELDS) | {"lifecycle", "snmp_port", "liveness_probe", "in_service_from"}
AUTH_PROTOCOLS = ("", "MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("", "DES", "3DES", "AES", "AES128", "AES192", "AES256")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")

# What a code is called in a message ("Device code is required.").
CODE = Msg("Code")
DEVICE_CODE = Msg("Device code")
SITE_CODE = Msg("Site code")
REQUIRED = Msg("Required.")


# ---------------------------------------------------------------- field parsers (ValueError = bad input)

def parse_code(text: str, what: Msg = CODE) -> str:
    t = (text or "").strip()
    if not t:
        raise ValueError(Msg("%(what)s is required.", what=what))
    if len(t) > 60 or not CODE_RE.match(t):
        raise ValueError(Msg("The code %(text)r may only contain letters, digits and - _ . /", text=t))
    return t


def parse_kind(text: str) -> str:
    t = (text or "").strip()
    if not t:
        raise ValueError(Msg("The device kind is required."))
    if t in KIND_ALIASES:
        return KIND_ALIASES[t].value
    try:
        return DeviceKind.parse(t).value
    except ValueError:
        raise ValueError(Msg("Unknown device kind %(text)r.", text=t)) from None


def parse_lifecycle(text: str) -> str:
    try:
        return Lifecycle.parse(text).value
    except ValueError:
        raise ValueError(Msg("Unknown lifecycle state %(text)r.", text=text)) from None


def parse_ip(text: str) -> str | None:
    t = (text or "").strip()
    if not t:
        return None
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        raise ValueError(Msg("%(text)r is not an IP address.", text=t)) from None
    if ip.is_unspecified or ip.is_multicast or (ip.version == 4 and str(ip).endswith(".255")):
        raise ValueError(Msg("%(text)r cannot be a device's address.", text=t))
    return str(ip)


def _number(text, what: Msg) -> float:
    t = str(text).strip().replace("，", ".")
    try:
        value = float(t)
    except ValueError:
        raise ValueError(Msg("%(what)s %(text)r is not a number.", what=what, text=t)) from None
    if not math.isfinite(value):
        raise ValueError(Msg("%(what)s %(text)r is not a number.", what=what, text=t))
    return value


def parse_latitude(text) -> float:
    value = _number(text, Msg("Latitude"))
    if not CHINA_LAT[0] <= value <= CHINA_LAT[1]:
        raise ValueError(Msg("Latitude %(value)s is outside China (latitude and longitude swapped?).", value=value))
    return value


def parse_longitude(text) -> float:
    value = _number(text, Msg("Longitude"))
    if not CHINA_LON[0] <= value <= CHINA_LON[1]:
        raise ValueError(Msg("Longitude %(value)s is outside China (latitude and longitude swapped?).", value=value))
    return value


def parse_bool(text) -> bool:
    if isinstance(text, bool):
        return text
    t = str(text or "").strip().lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    raise ValueError(Msg("%(text)r should be yes or no.", text=text))


def parse_date(text) -> date | None:
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    t = str(text or "").strip()
    if not t:
        return None
    for fmt in DATE_FORMATS:
        try:
            value = datetime.strptime(t, fmt).date()
        except ValueError:
            continue
        if not 1990 <= value.year <= 2100:
            break
        return value
    raise ValueError(Msg("%(text)r is not a date; use 2024-05-01.", text=t))


def parse_snmp_version(text: str) -> str:
    t = (text or "").strip().lower()
    aliases = {"2": "v2c", "2c": "v2c", "v2": "v2c", "3": "v3", "无": "", "none": "", "-": ""}
    t = aliases.get(t, t)
    try:
        return SnmpVersion(t).value
    except ValueError:
        raise ValueError(Msg("SNMP version %(text)r should be v2c or v3.", text=text)) from None


def parse_port(text) -> int:
    t = str(text).strip()
    try:
        value = int(float(t)) if re.fullmatch(r"\d+(\.0+)?", t) else int(t)
    except ValueError:
        raise ValueError(Msg("Port %(text)r is not a whole number.", text=t)) from None
    if not 1 <= value <= 65535:
        raise ValueError(Msg("Port %(value)s must be 1–65535.", value=value))
    return value


def parse_liveness(text: str) -> str:
    try:
        return LivenessProbe.parse(text).value
    except ValueError:
        raise ValueError(Msg("Probe %(text)r should be ping or snmp.", text=text)) from None


def parse_url(text: str) -> str:
    t = (text or "").strip()
    if not t:
        return ""
    parts = urlsplit(t)
    if parts.scheme not in ("http", "https", "rtsp") or not parts.hostname:
        raise ValueError(Msg("%(text)r is not an http(s) URL.", text=t))
    if parts.password:
        raise ValueError(Msg("Put the password in its own field, not in the URL."))
    return t


def _choice(allowed):
    def parse(text: str) -> str:
        t = (text or "").strip().upper()
        if t not in allowed:
            raise ValueError(Msg("%(text)r should be one of %(allowed)s.", text=text,
                       allowed=", ".join(a for a in allowed if a)))
        return t
    return parse


def _text(limit: int):
    def parse(text) -> str:
        t = "" if text is None else str(text).strip()
        if len(t) > limit:
            raise ValueError(Msg("Longer than %(limit)s characters.", limit=limit))
        return t
    return parse


def _optional_code(text) -> str:
    t = (text or "").strip()
    return parse_code(t) if t else ""


def _optional_float(text) -> float | None:
    t = str(text or "").strip()
    if not t:
        return None
    value = _number(t, Msg("Road distance from depot (km)"))
    if value < 0:
        raise ValueError(Msg("%(value)s cannot be negative.", value=value))
    return value


DEVICE_PARSERS = {
    "name": _text(200), "kind": parse_kind, "site_code": lambda t: parse_code(t, SITE_CODE),
    "cabinet_code": _optional_code, "parent_code": _optional_code, "vendor": _text(100), "model": _text(100),
    "serial": _text(100), "ip_address": parse_ip, "lifecycle": parse_lifecycle, "installed_on": parse_date,
    "in_service_from": parse_date,  # a local date, stored as its local midnight
    "liveness_probe": parse_liveness, "snmp_version": parse_snmp_version, "snmp_port": parse_port,
    "snmp_community": _text(100), "snmp_v3_user": _text(100), "snmp_v3_auth_protocol": _choice(AUTH_PROTOCOLS),
    "snmp_v3_auth_key": _text(200), "snmp_v3_priv_protocol": _choice(PRIV_PROTOCOLS),
    "snmp_v3_priv_key": _text(200), "snapshot_url": parse_url, "snapshot_username": _text(100),
    "snapshot_password": _text(200), "notes": _text(2000),
}
SITE_PARSERS = {
    "name": _text(200), "road": _text(200), "direction": _text(50), "district": _text(50),
    "latitude": parse_latitude, "longitude": parse_longitude, "key_site": parse_bool,
    "road_distance_km": _optional_float, "notes": _text(2000),
}


def message_of(err: ValueError) -> Msg | str:
    """The Msg a parser raised (or the text of any other ValueError)."""
    return err.args[0] if err.args and isinstance(err.args[0], Msg) else str(err)


def parse_values(raw: dict, parsers: dict) -> tuple[dict, dict]:
    """Parse the fields present in `raw` → (typed values, {field: Msg}); empty keep-fields are dropped."""
    values, errors = {}, {}
    for field, text in raw.items():
        if field not in parsers:
            continue
        if field in KEEP_WHEN_EMPTY and (text is None or str(text).strip() == ""):
            continue
        try:
            values[field] = parsers[field](text if not isinstance(text, str) else text.strip())
        except ValueError as err:
            errors[field] = message_of(err)
    return values, errors


def check_device_rules(values: dict, stored: dict | None = None) -> dict:
    """Rules across fields of one device → {field: Msg}; `stored` holds what the database keeps."""
    merged = dict(stored or {})
    merged.update(values)
    errors = {}
    version = merged.get("snmp_version", "")
    if version == "v2c" and not merged.get("snmp_community"):
        errors["snmp_community"] = Msg("SNMP v2c needs a community.")
    if version == "v3" and not merged.get("snmp_v3_user"):
        errors["snmp_v3_user"] = Msg("SNMP v3 needs a user name.")
    if merged.get("liveness_probe") == "snmp" and not version:
        errors["liveness_probe"] = Msg("SNMP probing needs SNMP settings.")
    return errors


def check_version(entity, expected_version, what: Msg) -> None:
    """Optimistic locking for an edit form or API call that sent the version it started from."""
    if expected_version not in (None, "") and int(expected_version) != entity.version:
        raise ConflictError(Msg("Someone else changed this %(what)s while you were editing. Reload and try again.",
                                what=what))


def raise_if(errors: dict) -> None:
    """Raise ValidationFailed with every field's message (rendered for the form or the JSON answer)."""
    if errors:
        first = next(iter(errors.values()))
        raise ValidationFailed(first, errors={k: str(v) for k, v in errors.items()})

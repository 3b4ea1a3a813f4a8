"""Inventory use cases: field parsing shared with the import, create/edit/retire sites and devices (audited, optimistic locking), list queries."""
import ipaddress
import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload
from sqlalchemy.orm.exc import StaleDataError

from fleetops.domain.choices import DeviceKind, DeviceStatus, Lifecycle, LivenessProbe, SnmpVersion
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.models import Cabinet, Depot, Device, Site
from fleetops.models.base import utcnow
from fleetops.platform import audit

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
    "lifecycle", "installed_on", "liveness_probe", "snmp_version", "snmp_port", "snmp_community",
    "snmp_v3_user", "snmp_v3_auth_protocol", "snmp_v3_auth_key", "snmp_v3_priv_protocol", "snmp_v3_priv_key",
    "snapshot_url", "snapshot_username", "snapshot_password", "notes",
)
SITE_FIELDS = ("name", "road", "direction", "district", "latitude", "longitude", "key_site",
               "road_distance_km", "notes")
SECRET_FIELDS = Device.SECRET_FIELDS
# Empty means "keep what is stored" for these (secrets: write-only; the rest have a default).
KEEP_WHEN_EMPTY = set(SECRET_FIELDS) | {"lifecycle", "snmp_port", "liveness_probe"}
AUTH_PROTOCOLS = ("", "MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("", "DES", "3DES", "AES", "AES128", "AES192", "AES256")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")


# ---------------------------------------------------------------- field parsers (ValueError = bad input)

def parse_code(text: str, what: str = "编号 / code") -> str:
    t = (text or "").strip()
    if not t:
        raise ValueError(f"缺少{what.split(' / ')[0]} / The {what.split(' / ')[-1]} is required.")
    if len(t) > 60 or not CODE_RE.match(t):
        raise ValueError(f"编号 {t!r} 只能包含字母、数字和 - _ . / / The code {t!r} may only contain letters, "
                         "digits and - _ . /")
    return t


def parse_kind(text: str) -> str:
    t = (text or "").strip()
    if not t:
        raise ValueError("缺少设备类型 / The device kind is required.")
    if t in KIND_ALIASES:
        return KIND_ALIASES[t].value
    try:
        return DeviceKind.parse(t).value
    except ValueError:
        raise ValueError(f"未知设备类型 {t!r} / Unknown device kind {t!r}.") from None


def parse_lifecycle(text: str) -> str:
    try:
        return Lifecycle.parse(text).value
    except ValueError:
        raise ValueError(f"未知设备状态 {text!r}：应为规划、已安装、已联网、点位迁移、已更换或已报废 / "
                         f"Unknown lifecycle state {text!r}.") from None


def parse_ip(text: str) -> str | None:
    t = (text or "").strip()
    if not t:
        return None
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        raise ValueError(f"IP 地址 {t!r} 格式错误 / {t!r} is not an IP address.") from None
    if ip.is_unspecified or ip.is_multicast or (ip.version == 4 and str(ip).endswith(".255")):
        raise ValueError(f"IP 地址 {t!r} 不能分配给设备 / {t!r} cannot be a device's address.")
    return str(ip)


def _number(text, what: str) -> float:
    t = str(text).strip().replace("，", ".")
    try:
        value = float(t)
    except ValueError:
        raise ValueError(f"{what} {t!r} 不是数字 / {t!r} is not a number.") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {t!r} 不是数字 / {t!r} is not a number.")
    return value


def parse_latitude(text) -> float:
    value = _number(text, "纬度")
    if not CHINA_LAT[0] <= value <= CHINA_LAT[1]:
        raise ValueError(f"纬度 {value} 不在中国境内（经纬度是否填反？） / Latitude {value} is outside China "
                         "(latitude and longitude swapped?).")
    return value


def parse_longitude(text) -> float:
    value = _number(text, "经度")
    if not CHINA_LON[0] <= value <= CHINA_LON[1]:
        raise ValueError(f"经度 {value} 不在中国境内（经纬度是否填反？） / Longitude {value} is outside China "
                         "(latitude and longitude swapped?).")
    return value


def parse_bool(text) -> bool:
    if isinstance(text, bool):
        return text
    t = str(text or "").strip().lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} 应为“是”或“否” / {text!r} should be yes or no.")


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
    raise ValueError(f"日期 {t!r} 无法识别，请用 2024-05-01 格式 / {t!r} is not a date; use 2024-05-01.")


def parse_snmp_version(text: str) -> str:
    t = (text or "").strip().lower()
    aliases = {"2": "v2c", "2c": "v2c", "v2": "v2c", "3": "v3", "无": "", "none": "", "-": ""}
    t = aliases.get(t, t)
    try:
        return SnmpVersion(t).value
    except ValueError:
        raise ValueError(f"SNMP 版本 {text!r} 应为 v2c 或 v3 / SNMP version {text!r} should be v2c or v3.") from None


def parse_port(text) -> int:
    t = str(text).strip()
    try:
        value = int(float(t)) if re.fullmatch(r"\d+(\.0+)?", t) else int(t)
    except ValueError:
        raise ValueError(f"端口 {t!r} 不是整数 / Port {t!r} is not a whole number.") from None
    if not 1 <= value <= 65535:
        raise ValueError(f"端口 {value} 应在 1–65535 之间 / Port {value} must be 1–65535.")
    return value


def parse_liveness(text: str) -> str:
    try:
        return LivenessProbe.parse(text).value
    except ValueError:
        raise ValueError(f"探测方式 {text!r} 应为 ping 或 snmp / Probe {text!r} should be ping or snmp.") from None


def parse_url(text: str) -> str:
    t = (text or "").strip()
    if not t:
        return ""
    parts = urlsplit(t)
    if parts.scheme not in ("http", "https", "rtsp") or not parts.hostname:
        raise ValueError(f"抓图地址 {t!r} 应为 http(s):// 开头的网址 / {t!r} is not an http(s) URL.")
    if parts.password:
        raise ValueError("抓图地址中不能包含密码，请填在抓图密码栏 / Put the password in its own field, "
                         "not in the URL.")
    return t


def _choice(allowed):
    def parse(text: str) -> str:
        t = (text or "").strip().upper()
        if t not in allowed:
            raise ValueError(f"{text!r} 应为 {', '.join(a for a in allowed if a)} 之一 / "
                             f"{text!r} should be one of {', '.join(a for a in allowed if a)}.")
        return t
    return parse


def _text(limit: int):
    def parse(text) -> str:
        t = "" if text is None else str(text).strip()
        if len(t) > limit:
            raise ValueError(f"内容超过 {limit} 个字符 / Longer than {limit} characters.")
        return t
    return parse


def _optional_code(text) -> str:
    t = (text or "").strip()
    return parse_code(t) if t else ""


def _optional_float(text) -> float | None:
    t = str(text or "").strip()
    if not t:
        return None
    value = _number(t, "里程")
    if value < 0:
        raise ValueError(f"{value} 不能为负数 / {value} cannot be negative.")
    return value


DEVICE_PARSERS = {
    "name": _text(200), "kind": parse_kind, "site_code": lambda t: parse_code(t, "点位编号 / site code"),
    "cabinet_code": _optional_code, "parent_code": _optional_code, "vendor": _text(100), "model": _text(100),
    "serial": _text(100), "ip_address": parse_ip, "lifecycle": parse_lifecycle, "installed_on": parse_date,
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


def parse_values(raw: dict, parsers: dict) -> tuple[dict, dict]:
    """Parse the fields present in `raw` → (typed values, {field: message}); empty keep-fields are dropped."""
    values, errors = {}, {}
    for field, text in raw.items():
        if field not in parsers:
            continue
        if field in KEEP_WHEN_EMPTY and (text is None or str(text).strip() == ""):
            continue
        try:
            values[field] = parsers[field](text if not isinstance(text, str) else text.strip())
        except ValueError as err:
            errors[field] = str(err)
    return values, errors


def check_device_rules(values: dict, stored: dict | None = None) -> dict:
    """Rules across fields of one device → {field: message}; `stored` holds what the database keeps."""
    merged = dict(stored or {})
    merged.update(values)
    errors = {}
    version = merged.get("snmp_version", "")
    if version == "v2c" and not merged.get("snmp_community"):
        errors["snmp_community"] = "SNMP v2c 需要团体名 / SNMP v2c needs a community."
    if version == "v3" and not merged.get("snmp_v3_user"):
        errors["snmp_v3_user"] = "SNMP v3 需要用户名 / SNMP v3 needs a user name."
    if merged.get("liveness_probe") == "snmp" and not version:
        errors["liveness_probe"] = "用 SNMP 探测需要先配置 SNMP / SNMP probing needs SNMP settings."
    return errors


# ---------------------------------------------------------------- snapshots (what the audit log shows)

def device_snapshot(device: Device) -> dict:
    """The device's editable fields as plain values (codes for references), secrets included — redact before showing."""
    return {
        "name": device.name, "kind": device.kind, "site_code": device.site.code if device.site else "",
        "cabinet_code": device.cabinet.code if device.cabinet else "",
        "parent_code": device.parent.code if device.parent else "", "vendor": device.vendor,
        "model": device.model, "serial": device.serial, "ip_address": device.ip_address,
        "lifecycle": device.lifecycle, "installed_on": device.installed_on,
        "liveness_probe": device.liveness_probe, "snmp_version": device.snmp_version,
        "snmp_port": device.snmp_port, "snmp_community": device.snmp_community,
        "snmp_v3_user": device.snmp_v3_user, "snmp_v3_auth_protocol": device.snmp_v3_auth_protocol,
        "snmp_v3_auth_key": device.snmp_v3_auth_key, "snmp_v3_priv_protocol": device.snmp_v3_priv_protocol,
        "snmp_v3_priv_key": device.snmp_v3_priv_key, "snapshot_url": device.snapshot_url,
        "snapshot_username": device.snapshot_username, "snapshot_password": device.snapshot_password,
        "notes": device.notes,
    }


def site_snapshot(site: Site) -> dict:
    return {f: getattr(site, f) for f in SITE_FIELDS}


def public_device(device: Device) -> dict:
    """The device as shown to people and API clients: no secrets, only whether each is set."""
    snap = device_snapshot(device)
    for f in SECRET_FIELDS:
        snap.pop(f)
    snap.update(code=device.code, id=device.id, status=device.status, version=device.version,
                status_since=device.status_since, last_seen_at=device.last_seen_at,
                retired_at=device.retired_at, secrets_set=[f for f in SECRET_FIELDS if getattr(device, f)])
    return snap


def public_site(site: Site) -> dict:
    out = site_snapshot(site)
    out.update(code=site.code, id=site.id, version=site.version,
               depot=site.depot.name if site.depot else None, timezone=site.timezone)
    return out


# ---------------------------------------------------------------- device use cases

def get_device(session: Session, code: str) -> Device:
    device = session.scalar(select(Device).where(Device.code == code))
    if device is None:
        raise NotFound(f"没有设备 {code} / No device {code}.")
    return device


def get_site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound(f"没有点位 {code} / No site {code}.")
    return site


def _check_version(entity, expected_version, what: str) -> None:
    if expected_version not in (None, "") and int(expected_version) != entity.version:
        raise ConflictError(f"{what}已被他人修改，请刷新后重试 / Someone else changed this {what} while you were "
                            "editing. Reload and try again.")


def _raise_if(errors: dict) -> None:
    if errors:
        first = next(iter(errors.values()))
        raise ValidationFailed(first, errors=errors)


def save_device(session: Session, code: str | None, raw: dict, actor, expected_version=None,
                new_code: str | None = None) -> Device:
    """Create (code=None, new_code given) or update a device from form/API strings; audited. Caller commits."""
    creating = code is None
    device = None if creating else get_device(session, code)
    if device is not None:
        _check_version(device, expected_version, "设备")
    values, errors = parse_values(raw, DEVICE_PARSERS)
    if creating:
        try:
            new_code = parse_code(new_code or "", "设备编号 / device code")
        except ValueError as err:
            errors["code"] = str(err)
        else:
            if session.scalar(select(Device.id).where(Device.code == new_code)):
                errors["code"] = f"设备编号 {new_code} 已存在 / Device {new_code} already exists."
        for required in ("kind", "site_code"):
            if required not in raw and required not in errors:
                errors[required] = "必填 / Required."
    stored = device_snapshot(device) if device is not None else {}
    errors.update({k: v for k, v in check_device_rules(values, stored).items() if k not in errors})
    site = cabinet = parent = None
    if "site_code" in values:
        site = session.scalar(select(Site).where(Site.code == values["site_code"]))
        if site is None:
            errors["site_code"] = f"没有点位 {values['site_code']} / No site {values['site_code']}."
    if values.get("cabinet_code"):
        cabinet = session.scalar(select(Cabinet).where(Cabinet.code == values["cabinet_code"]))
        if cabinet is None:
            errors["cabinet_code"] = f"没有机柜 {values['cabinet_code']} / No cabinet {values['cabinet_code']}."
    if values.get("parent_code"):
        parent = session.scalar(select(Device).where(Device.code == values["parent_code"]))
        own = new_code if creating else device.code
        if parent is None:
            errors["parent_code"] = f"没有上级设备 {values['parent_code']} / No parent device {values['parent_code']}."
        elif parent.code == own or (device is not None and _is_ancestor(device, parent)):
            errors["parent_code"] = "上级设备形成循环 / The parent chain would loop back to this device."
    if values.get("ip_address"):
        other = session.scalar(select(Device).where(Device.ip_address == values["ip_address"]))
        if other is not None and other is not device:
            errors["ip_address"] = (f"IP {values['ip_address']} 已被设备 {other.code} 使用 / "
                                    f"{values['ip_address']} is already used by {other.code}.")
    _raise_if(errors)

    if creating:
        device = Device(code=new_code, site=site, kind=values["kind"], status=DeviceStatus.UNKNOWN.value,
                        lifecycle=Lifecycle.INSTALLED.value, liveness_probe="ping", snmp_port=161)
        session.add(device)
        before = None
    else:
        before = stored
    _apply_device(device, values, site, cabinet, parent)
    if creating and device.lifecycle in {"installed", "online", "relocated"}:
        device.in_service_from = utcnow()
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise ConflictError("设备已被他人修改，请刷新后重试 / Someone else changed this device at the same time. "
                            "Reload and try again.") from None
    after = device_snapshot(device)
    if creating:
        audit.record(session, actor, "device_created", "device", device.code, summary=f"{device.code} {device.name}",
                     after=after, secret_fields=SECRET_FIELDS)
    else:
        b, a = audit.diff(before, after)
        if a:
            audit.record(session, actor, "device_updated", "device", device.code,
                         summary=f"{device.code}: {', '.join(a)}", before=b, after=a, secret_fields=SECRET_FIELDS)
    return device


def _is_ancestor(device: Device, candidate: Device) -> bool:
    """True when `device` is on `candidate`'s parent chain (so making it the parent would loop)."""
    seen, node = set(), candidate
    while node is not None and node.id not in seen:
        if node.id == device.id:
            return True
        seen.add(node.id)
        node = node.parent
    return False


def _apply_device(device: Device, values: dict, site, cabinet, parent) -> None:
    for field, value in values.items():
        if field == "site_code":
            device.site = site
        elif field == "cabinet_code":
            device.cabinet = cabinet if value else None
        elif field == "parent_code":
            device.parent = parent if value else None
        elif field == "lifecycle":
            if value == Lifecycle.RETIRED.value and device.lifecycle != value:
                device.retired_at = utcnow()
            elif value != Lifecycle.RETIRED.value:
                device.retired_at = None
            device.lifecycle = value
        else:
            setattr(device, field, value)


def retire_device(session: Session, code: str, actor, expected_version=None) -> Device:
    """F3: take a device out of service; its IP is released so a replacement can take the address."""
    device = get_device(session, code)
    _check_version(device, expected_version, "设备")
    if device.lifecycle == Lifecycle.RETIRED.value:
        raise ConflictError(f"设备 {code} 已报废 / Device {code} is already retired.")
    before = device_snapshot(device)
    device.lifecycle = Lifecycle.RETIRED.value
    device.retired_at = utcnow()
    device.ip_address = None
    session.flush()
    b, a = audit.diff(before, device_snapshot(device))
    audit.record(session, actor, "device_retired", "device", device.code, summary=f"{device.code} {device.name}",
                 before=b, after=a, secret_fields=SECRET_FIELDS)
    return device


# ---------------------------------------------------------------- site use cases

def save_site(session: Session, code: str | None, raw: dict, actor, expected_version=None,
              new_code: str | None = None) -> Site:
    """Create (code=None) or update a site from form/API strings; audited. Caller commits."""
    creating = code is None
    site = None if creating else get_site(session, code)
    if site is not None:
        _check_version(site, expected_version, "点位")
    values, errors = parse_values(raw, SITE_PARSERS)
    if creating:
        try:
            new_code = parse_code(new_code or "", "点位编号 / site code")
        except ValueError as err:
            errors["code"] = str(err)
        else:
            if session.scalar(select(Site.id).where(Site.code == new_code)):
                errors["code"] = f"点位编号 {new_code} 已存在 / Site {new_code} already exists."
        for required in ("name", "latitude", "longitude"):
            if not str(raw.get(required) or "").strip() and required not in errors:
                errors[required] = "必填 / Required."
    elif "name" in values and not values["name"]:
        errors["name"] = "必填 / Required."
    depot = None
    if str(raw.get("depot") or "").strip():
        depot = session.scalar(select(Depot).where(Depot.name == raw["depot"].strip()))
        if depot is None:
            errors["depot"] = f"没有驻点 {raw['depot']} / No depot {raw['depot']}."
    _raise_if(errors)
    before = None
    if creating:
        site = Site(code=new_code, **values)
        session.add(site)
    else:
        before = site_snapshot(site)
        for field, value in values.items():
            setattr(site, field, value)
    if "depot" in raw:
        site.depot = depot
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise ConflictError("点位已被他人修改，请刷新后重试 / Someone else changed this site at the same time. "
                            "Reload and try again.") from None
    after = site_snapshot(site)
    if creating:
        audit.record(session, actor, "site_created", "site", site.code, summary=f"{site.code} {site.name}", after=after)
    else:
        b, a = audit.diff(before, after)
        if a:
            audit.record(session, actor, "site_updated", "site", site.code, summary=f"{site.code}: {', '.join(a)}",
                         before=b, after=a)
    return site


# ---------------------------------------------------------------- list queries (SQL does the filtering and counting)

@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _page_args(page, per_page) -> tuple[int, int]:
    try:
        page = max(1, int(page or 1))
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = min(200, max(1, int(per_page or 50)))
    except (TypeError, ValueError):
        per_page = 50
    return page, per_page


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def device_filters(q: str = "", kind: str = "", district: str = "", lifecycle: str = "", status: str = "",
                   key_site=None, site_code: str = "") -> list:
    conds = []
    q = (q or "").strip()
    if q:
        try:  # a whole address finds exactly that device (127.20.0.2 must not match 127.20.0.21)
            conds.append(Device.ip_address == str(ipaddress.ip_address(q)))
        except ValueError:
            pattern = _like(q)
            conds.append(or_(Device.code.ilike(pattern, escape="\\"), Device.name.ilike(pattern, escape="\\"),
                             Device.ip_address.like(q.replace("%", "").replace("_", "") + "%"),
                             Device.serial.ilike(pattern, escape="\\"), Site.name.ilike(pattern, escape="\\"),
                             Site.road.ilike(pattern, escape="\\")))
    if kind:
        conds.append(Device.kind == kind)
    if district:
        conds.append(Site.district == district)
    if lifecycle:
        conds.append(Device.lifecycle == lifecycle)
    if status:
        conds.append(Device.status == status)
    if key_site is not None and key_site != "":
        conds.append(Site.key_site.is_(bool(key_site) if isinstance(key_site, bool) else parse_bool(key_site)))
    if site_code:
        conds.append(Site.code == site_code)
    return conds


def list_devices(session: Session, page=1, per_page=50, **filters) -> Page:
    """One page of devices (with their site) matching the filters; the total is counted in SQL."""
    page, per_page = _page_args(page, per_page)
    try:
        conds = device_filters(**filters)
    except ValueError as err:
        raise ValidationFailed(str(err)) from None
    total = session.scalar(select(func.count(Device.id)).join(Device.site).where(*conds))
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    rows = session.scalars(
        select(Device).join(Device.site).options(contains_eager(Device.site)).where(*conds)
        .order_by(Device.code).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return Page(rows, total, page, per_page)


def list_sites(session: Session, page=1, per_page=50, q: str = "", district: str = "", key_site=None) -> Page:
    """One page of sites with their device counts (one grouped query)."""
    page, per_page = _page_args(page, per_page)
    conds = []
    q = (q or "").strip()
    if q:
        pattern = _like(q)
        conds.append(or_(Site.code.ilike(pattern, escape="\\"), Site.name.ilike(pattern, escape="\\"),
                         Site.road.ilike(pattern, escape="\\")))
    if district:
        conds.append(Site.district == district)
    if key_site is not None and key_site != "":
        try:
            conds.append(Site.key_site.is_(parse_bool(key_site)))
        except ValueError as err:
            raise ValidationFailed(str(err)) from None
    total = session.scalar(select(func.count(Site.id)).where(*conds))
    pages = max(1, -(-total // per_page))
    page = min(page, pages)
    sites = session.scalars(select(Site).where(*conds).order_by(Site.code)
                            .limit(per_page).offset((page - 1) * per_page)).all()
    counts = dict(session.execute(
        select(Device.site_id, func.count(Device.id)).where(Device.site_id.in_([s.id for s in sites]))
        .group_by(Device.site_id)).all()) if sites else {}
    return Page([(s, counts.get(s.id, 0)) for s in sites], total, page, per_page)


def districts(session: Session) -> list[str]:
    return [d for d in session.scalars(select(Site.district).distinct().order_by(Site.district)) if d]


def site_detail(session: Session, code: str) -> tuple[Site, list[Device]]:
    site = session.scalar(select(Site).where(Site.code == code).options(selectinload(Site.cabinets)))
    if site is None:
        raise NotFound(f"没有点位 {code} / No site {code}.")
    devices = session.scalars(select(Device).where(Device.site_id == site.id)
                              .options(selectinload(Device.parent)).order_by(Device.code)).all()
    return site, list(devices)

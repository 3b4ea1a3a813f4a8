"""F6: inventory spreadsheets in and out — CSV (UTF-8, BOM, GBK/GB18030) or XLSX, Chinese or English headers; all-or-nothing import, round-trip export."""
import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager

from fleetops.domain.choices import DeviceKind, DeviceStatus, Lifecycle
from fleetops.domain.errors import ValidationFailed
from fleetops.models import Cabinet, Device, Site
from fleetops.models.base import utcnow
from fleetops.platform import audit
from fleetops.services.inventory import (
    DEVICE_PARSERS, SECRET_FIELDS, SITE_PARSERS, check_device_rules, device_snapshot, parse_code, site_snapshot,
)


@dataclass(frozen=True)
class Column:
    field: str  # "site.<f>" for site fields, else a device field
    en: str
    zh: str
    aliases: tuple = ()
    secret: bool = False


# Export order. Aliases are the other spellings seen in police-platform exports (F6).
COLUMNS = (
    Column("code", "code", "设备编号", ("device_code", "设备代码", "编号")),
    Column("name", "name", "设备名称", ("device_name", "名称")),
    Column("kind", "kind", "设备类型", ("device_kind", "类型", "type")),
    Column("site.code", "site_code", "点位编号", ("site", "点位代码")),
    Column("site.name", "site_name", "点位名称", ("点位",)),
    Column("site.road", "road", "道路", ("道路名称", "所在道路")),
    Column("site.direction", "direction", "方向", ("行驶方向",)),
    Column("site.district", "district", "辖区", ("所属辖区", "区县", "行政区")),
    Column("site.longitude", "longitude", "经度", ("lon", "lng")),
    Column("site.latitude", "latitude", "纬度", ("lat",)),
    Column("site.key_site", "key_site", "重要点位", ("考核重要点位", "重点点位")),
    Column("cabinet_code", "cabinet", "机柜编号", ("cabinet_code", "机柜")),
    Column("ip_address", "ip_address", "IP地址", ("ip", "ip地址", "IP")),
    Column("parent_code", "parent", "上级设备", ("parent_code", "上级设备编号")),
    Column("vendor", "vendor", "厂商", ("品牌", "生产厂家")),
    Column("model", "model", "型号", ("设备型号",)),
    Column("serial", "serial", "序列号", ("serial_no", "sn")),
    Column("lifecycle", "lifecycle", "状态", ("设备状态", "lifecycle_state", "state")),
    Column("installed_on", "installed_on", "安装日期", ("install_date", "安装时间")),
    Column("liveness_probe", "liveness_probe", "探测方式", ("probe",)),
    Column("snmp_version", "snmp_version", "SNMP版本", ()),
    Column("snmp_port", "snmp_port", "SNMP端口", ()),
    Column("snmp_community", "snmp_community", "SNMP团体名", ("community",), secret=True),
    Column("snmp_v3_user", "snmp_v3_user", "SNMPv3用户", ()),
    Column("snmp_v3_auth_protocol", "snmp_v3_auth_protocol", "SNMPv3认证协议", ()),
    Column("snmp_v3_auth_key", "snmp_v3_auth_key", "SNMPv3认证密钥", (), secret=True),
    Column("snmp_v3_priv_protocol", "snmp_v3_priv_protocol", "SNMPv3加密协议", ()),
    Column("snmp_v3_priv_key", "snmp_v3_priv_key", "SNMPv3加密密钥", (), secret=True),
    Column("snapshot_url", "snapshot_url", "抓图地址", ()),
    Column("snapshot_username", "snapshot_username", "抓图用户", ("抓图用户名",)),
    Column("snapshot_password", "snapshot_password", "抓图密码", (), secret=True),
    Column("notes", "notes", "备注", ()),
)
REQUIRED = ("code", "kind", "site.code")
XLSX_MAGIC = b"PK\x03\x04"


def _norm(header) -> str:
    return "".join(str(header or "").split()).replace("\ufeff", "").replace("_", "").lower()


HEADER_INDEX = {}
for _c in COLUMNS:
    for _h in (_c.en, _c.zh, _c.field, *_c.aliases):
        HEADER_INDEX.setdefault(_norm(_h), _c)


@dataclass
class RowError:
    line: int  # the spreadsheet's line/row number, header = 1
    column: str  # the header as written in the file ("" for the whole row)
    message: str

    def __str__(self) -> str:
        col = f" 列/column「{self.column}」" if self.column else ""
        return f"第 {self.line} 行 / line {self.line}{col}: {self.message}"


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    sites_created: int = 0
    sites_updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    encoding: str = ""
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict:
        return {k: getattr(self, k) for k in ("rows", "created", "updated", "unchanged", "sites_created",
                                              "sites_updated", "encoding", "dry_run")} | {"errors": len(self.errors)}


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list]]  # (line number, cells)
    encoding: str


# ---------------------------------------------------------------- reading files

def decode_csv(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK); both strictly."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, ("utf-8-bom" if encoding == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf")
                      else "utf-8" if encoding == "utf-8-sig" else "gb18030")
    raise ValidationFailed("无法识别文件编码：请保存为 UTF-8 或 GBK 编码的 CSV / The file is neither UTF-8 nor "
                           "GBK/GB18030 text; save the CSV as UTF-8 or GBK.")


def read_table(data: bytes, filename: str = "") -> Table:
    """Bytes of a CSV or XLSX file → header + numbered rows (XLSX by content, not only by name)."""
    if not data:
        raise ValidationFailed("文件为空 / The file is empty.")
    if data.startswith(XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    if filename.lower().endswith(".xls"):
        raise ValidationFailed("不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV / Old .xls files are not supported; "
                               "save as .xlsx or CSV.")
    text, encoding = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    numbered, start = [], 1
    try:
        for row in reader:
            numbered.append((start, row))  # the physical line the record starts on (quoted newlines count)
            start = reader.line_num + 1
    except csv.Error as err:
        raise ValidationFailed(f"第 {reader.line_num} 行 CSV 格式错误：{err} / The CSV is malformed at line "
                               f"{reader.line_num}: {err}") from None
    if not numbered:
        raise ValidationFailed("文件为空 / The file is empty.")
    return Table(numbered[0][1], numbered[1:], encoding)


def _read_xlsx(data: bytes) -> Table:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as err:
        raise ValidationFailed(f"无法读取 XLSX 文件 / Cannot read the XLSX file ({type(err).__name__}).") from None
    try:
        ws = wb.worksheets[0]
        rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    if not rows:
        raise ValidationFailed("文件为空 / The file is empty.")
    headers = ["" if h is None else str(h) for h in rows[0]]
    return Table(headers, [(i + 2, list(r)) for i, r in enumerate(rows[1:])], "xlsx")


def _cell_text(value) -> str:
    """A cell as the text a person typed: 45.6 stays 45.6, 161.0 becomes 161, dates become ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


# ---------------------------------------------------------------- validating

@dataclass
class _Row:
    line: int
    code: str
    device: dict  # parsed device values (present columns only)
    site: dict  # parsed site values
    site_code: str


def _map_headers(headers: list[str], result: ImportResult) -> dict[int, Column]:
    mapping, seen = {}, {}
    for i, h in enumerate(headers):
        if not str(h or "").strip():
            continue
        col = HEADER_INDEX.get(_norm(h))
        if col is None:
            result.warnings.append(f"忽略未知列「{h}」 / Ignored unknown column “{h}”.")
            continue
        if col.field in seen:
            result.errors.append(RowError(1, str(h), f"与「{seen[col.field]}」重复 / The same column as "
                                                     f"“{seen[col.field]}”."))
            continue
        seen[col.field] = str(h).strip()
        mapping[i] = col
    for req in REQUIRED:
        if req not in seen:
            col = next(c for c in COLUMNS if c.field == req)
            result.errors.append(RowError(1, col.zh, f"缺少必需的列「{col.zh}」({col.en}) / The required column "
                                                     f"“{col.en}” ({col.zh}) is missing."))
    return mapping


def _parse_rows(table: Table, mapping: dict[int, Column], result: ImportResult) -> list[_Row]:
    header_of = {c.field: str(table.headers[i]).strip() for i, c in mapping.items()}
    rows = []
    for line, cells in table.rows:
        texts = {c.field: _cell_text(cells[i]) if i < len(cells) else "" for i, c in mapping.items()}
        if not any(texts.values()):
            continue  # blank line
        result.rows += 1
        errors = []
        try:
            code = parse_code(texts.get("code", ""), "设备编号 / device code")
        except ValueError as err:
            errors.append(RowError(line, header_of["code"], str(err)))
            code = ""
        try:
            site_code = parse_code(texts.get("site.code", ""), "点位编号 / site code")
        except ValueError as err:
            errors.append(RowError(line, header_of["site.code"], str(err)))
            site_code = ""
        device_raw = {f: t for f, t in texts.items() if not f.startswith("site.") and f != "code"}
        site_raw = {f[5:]: t for f, t in texts.items() if f.startswith("site.") and f != "site.code"}
        device = {}
        for f, t in device_raw.items():
            if f in SECRET_FIELDS or f in ("lifecycle", "snmp_port", "liveness_probe"):
                if t == "":
                    continue  # keep the stored value / take the default
            try:
                device[f] = DEVICE_PARSERS[f](t)
            except ValueError as err:
                errors.append(RowError(line, header_of[f], str(err)))
        site = {}
        for f, t in site_raw.items():
            if t == "" and f not in ("key_site",):
                continue  # an empty site cell: another row (or the database) says it
            try:
                site[f] = SITE_PARSERS[f](t)
            except ValueError as err:
                errors.append(RowError(line, header_of["site." + f], str(err)))
        result.errors.extend(errors)
        rows.append(_Row(line, code, device, site, site_code))
    return rows


def _plan(session: Session, rows: list[_Row], header_of: dict, result: ImportResult):
    """Cross-row and database checks; returns the loaded state the write step needs."""
    col = lambda f: header_of.get(f, next(c.zh for c in COLUMNS if c.field == f))  # noqa: E731
    devices = {d.code: d for d in session.scalars(select(Device))}
    sites = {s.code: s for s in session.scalars(select(Site))}
    cabinets = {c.code: c for c in session.scalars(select(Cabinet))}
    first_line: dict[str, int] = {}
    for r in rows:
        if not r.code:
            continue
        if r.code in first_line:
            result.errors.append(RowError(r.line, col("code"), f"设备编号 {r.code} 与第 {first_line[r.code]} 行重复 / "
                                                              f"Device {r.code} also on line {first_line[r.code]}."))
        else:
            first_line[r.code] = r.line
    # Site values: rows of one site must agree; a new site needs a name and coordinates.
    site_values: dict[str, dict] = {}
    site_line: dict[str, dict] = {}
    for r in rows:
        if not r.site_code:
            continue
        known = site_values.setdefault(r.site_code, {})
        lines = site_line.setdefault(r.site_code, {})
        for f, v in r.site.items():
            if f in known and known[f] != v:
                result.errors.append(RowError(r.line, col("site." + f), f"与第 {lines[f]} 行的点位 {r.site_code} 信息不一致 "
                                                                         f"/ Differs from line {lines[f]} for site {r.site_code}."))
            elif f not in known:
                known[f], lines[f] = v, r.line
    site_first_line: dict[str, int] = {}
    for r in rows:
        site_first_line.setdefault(r.site_code, r.line)
    for code, vals in site_values.items():
        if code in sites:
            continue
        line = site_first_line[code]
        already = {(e.line, e.column) for e in result.errors}
        for f in ("name", "latitude", "longitude"):
            if f not in vals and (line, col("site." + f)) not in already:  # a bad value was reported already
                result.errors.append(RowError(line, col("site." + f), f"新点位 {code} 缺少{next(c.zh for c in COLUMNS if c.field == 'site.' + f)} / "
                                                                       f"New site {code} needs its {f}."))
    # Device rules, parents, IP uniqueness over the final state.
    in_file = {r.code for r in rows if r.code}
    final_parent = {c: (d.parent.code if d.parent else "") for c, d in devices.items()}
    ip_owner: dict[str, str] = {d.ip_address: c for c, d in devices.items() if d.ip_address and c not in in_file}
    file_ip_line: dict[str, tuple[str, int]] = {}
    for r in rows:
        if not r.code:
            continue
        stored = device_snapshot(devices[r.code]) if r.code in devices else {}
        for f, msg in check_device_rules(r.device, stored).items():
            result.errors.append(RowError(r.line, col(f), msg))
        if r.code not in devices and "kind" not in r.device and not any(e.line == r.line for e in result.errors):
            result.errors.append(RowError(r.line, col("kind"), "缺少设备类型 / The device kind is required."))
        parent = r.device.get("parent_code", final_parent.get(r.code, ""))
        if parent:
            if parent == r.code:
                result.errors.append(RowError(r.line, col("parent_code"), "上级设备不能是自己 / A device cannot be its own parent."))
            elif parent not in in_file and parent not in devices:
                result.errors.append(RowError(r.line, col("parent_code"), f"未知上级设备 {parent} / Unknown parent device {parent}."))
        final_parent[r.code] = parent
        cab = r.device.get("cabinet_code")
        if cab and cab in cabinets and r.site_code and cabinets[cab].site.code != r.site_code:
            result.errors.append(RowError(r.line, col("cabinet_code"), f"机柜 {cab} 属于点位 {cabinets[cab].site.code} / "
                                                                       f"Cabinet {cab} belongs to site {cabinets[cab].site.code}."))
        ip = r.device["ip_address"] if "ip_address" in r.device else (devices[r.code].ip_address if r.code in devices else None)
        if ip:
            if ip in file_ip_line:
                other, line = file_ip_line[ip]
                result.errors.append(RowError(r.line, col("ip_address"), f"IP {ip} 与第 {line} 行（{other}）重复 / "
                                                                         f"{ip} is also used on line {line} ({other})."))
            elif ip in ip_owner:
                result.errors.append(RowError(r.line, col("ip_address"), f"IP {ip} 已被设备 {ip_owner[ip]} 使用 / "
                                                                         f"{ip} is already used by {ip_owner[ip]}."))
            else:
                file_ip_line[ip] = (r.code, r.line)
    # Parent loops over the final graph (a → b → a), reported once per row in a loop.
    line_of = {r.code: r.line for r in rows if r.code}
    for code in in_file:
        seen, node = set(), code
        while node and node not in seen:
            seen.add(node)
            node = final_parent.get(node, "")
        if node == code and final_parent.get(code) != code:
            result.errors.append(RowError(line_of[code], col("parent_code"), "上级设备形成循环 / The parent chain loops "
                                                                             "back to this device."))
    return devices, sites, cabinets, site_values


# ---------------------------------------------------------------- import

def import_inventory(session: Session, data: bytes, filename: str = "", actor=None, dry_run: bool = False,
                     progress=None) -> ImportResult:
    """Validate every row; if all are good (and not dry_run) create/update sites and devices, audited.

    Nothing is written when any row is bad. Devices are matched by code; the caller commits.
    `progress(done, total)` is called while writing.
    """
    result = ImportResult(dry_run=dry_run)
    try:
        table = read_table(data, filename)
    except ValidationFailed as err:
        result.errors.append(RowError(1, "", err.message))
        return result
    result.encoding = table.encoding
    mapping = _map_headers(table.headers, result)
    if result.errors:
        return result
    rows = _parse_rows(table, mapping, result)
    if result.rows == 0:
        result.errors.append(RowError(2, "", "文件中没有设备行 / The file has no device rows."))
        return result
    header_of = {c.field: str(table.headers[i]).strip() for i, c in mapping.items()}
    devices, sites, cabinets, site_values = _plan(session, rows, header_of, result)
    result.errors.sort(key=lambda e: e.line)
    if result.errors:
        return result
    _write(session, rows, devices, sites, cabinets, site_values, actor, result, dry_run, progress)
    if not dry_run:
        audit.record(session, actor, "inventory_imported", "inventory", filename or "upload",
                     summary=f"{filename}: {result.created} created, {result.updated} updated, "
                             f"{result.unchanged} unchanged, {result.sites_created} sites created",
                     after=result.summary())
    return result


def _write(session, rows, devices, sites, cabinets, site_values, actor, result, dry_run, progress):
    # Sites first: every device row refers to one.
    for code, vals in site_values.items():
        site = sites.get(code)
        if site is None:
            result.sites_created += 1
            if not dry_run:
                site = Site(code=code, **{"key_site": False, **vals})
                session.add(site)
                sites[code] = site
                audit.record(session, actor, "site_created", "site", code, summary=f"{code} {vals.get('name', '')} (import)",
                             after=vals)
            continue
        before = site_snapshot(site)
        b, a = audit.diff(before, {**before, **vals})
        if a:
            result.sites_updated += 1
            if not dry_run:
                for f, v in vals.items():
                    setattr(site, f, v)
                audit.record(session, actor, "site_updated", "site", code, summary=f"{code}: {', '.join(a)} (import)",
                             before=b, after=a)
    if not dry_run:
        session.flush()
    pending_parent: list[tuple[Device, str]] = []
    now = utcnow()
    total = len(rows)
    for n, r in enumerate(rows, 1):
        device = devices.get(r.code)
        vals = dict(r.device)
        vals.pop("site_code", None)
        parent_code = vals.pop("parent_code", None)
        cabinet_code = vals.pop("cabinet_code", None)
        if device is None:
            result.created += 1
            if not dry_run:
                device = Device(code=r.code, site=sites[r.site_code], status=DeviceStatus.UNKNOWN.value,
                                lifecycle=Lifecycle.INSTALLED.value)
                for f, v in vals.items():
                    setattr(device, f, v)
                if device.lifecycle in ("installed", "online", "relocated"):
                    device.in_service_from = now
                if device.lifecycle == Lifecycle.RETIRED.value:
                    device.retired_at = now
                if cabinet_code:
                    device.cabinet = _cabinet(session, cabinets, cabinet_code, sites[r.site_code])
                session.add(device)
                devices[r.code] = device
                if parent_code:
                    pending_parent.append((device, parent_code))
                audit.record(session, actor, "device_created", "device", r.code,
                             summary=f"{r.code} {vals.get('name', '')} (import)",
                             after={"site_code": r.site_code, **vals, "parent_code": parent_code or "",
                                    "cabinet_code": cabinet_code or ""}, secret_fields=SECRET_FIELDS)
        else:
            before = device_snapshot(device)
            wanted = {**before, **vals, "site_code": r.site_code}
            if parent_code is not None:
                wanted["parent_code"] = parent_code
            if cabinet_code is not None:
                wanted["cabinet_code"] = cabinet_code
            b, a = audit.diff(before, wanted)
            if not a:
                result.unchanged += 1
            else:
                result.updated += 1
                if not dry_run:
                    _update_device(session, device, a, sites, cabinets, pending_parent, now)
                    audit.record(session, actor, "device_updated", "device", r.code,
                                 summary=f"{r.code}: {', '.join(a)} (import)", before=b, after=a,
                                 secret_fields=SECRET_FIELDS)
        if progress and (n % 200 == 0 or n == total):
            progress(n, total)
    if dry_run:
        return
    # Parents as objects before the one flush: the unit of work inserts parents first (no UPDATE per row).
    for device, code in pending_parent:
        device.parent = devices[code] if code else None
    session.flush()


def _update_device(session, device, changes, sites, cabinets, pending_parent, now):
    if "ip_address" in changes and changes["ip_address"]:
        # Two devices may swap addresses in one file; free the address first so the unique index holds.
        holder = session.scalar(select(Device).where(Device.ip_address == changes["ip_address"]))
        if holder is not None and holder is not device:
            holder.ip_address = None
            session.flush()
    for f, v in changes.items():
        if f == "site_code":
            device.site = sites[v]
        elif f == "cabinet_code":
            device.cabinet = _cabinet(session, cabinets, v, sites[changes.get("site_code", device.site.code)]) if v else None
        elif f == "parent_code":
            pending_parent.append((device, v))
        elif f == "lifecycle":
            device.retired_at = now if v == Lifecycle.RETIRED.value else None
            device.lifecycle = v
        else:
            setattr(device, f, v)


def _cabinet(session, cabinets, code, site) -> Cabinet:
    cab = cabinets.get(code)
    if cab is None:
        cab = Cabinet(code=code, site=site)
        session.add(cab)
        cabinets[code] = cab
    return cab


# ---------------------------------------------------------------- export

def export_columns() -> list[Column]:
    """Secrets are never exported (STYLE §4); an empty secret cell on import keeps the stored one."""
    return [c for c in COLUMNS if not c.secret]


def export_rows(session: Session, language: str = "zh"):
    """Header + one list per device (ordered by site, code); labels in `language` so people can read it."""
    cols = export_columns()
    yield [c.zh if language == "zh" else c.en for c in cols]
    query = select(Device).join(Device.site).options(contains_eager(Device.site)).order_by(Site.code, Device.code)
    parents = dict(session.execute(select(Device.id, Device.code)).all())
    cab_codes = dict(session.execute(select(Cabinet.id, Cabinet.code)).all())
    for device in session.scalars(query):
        site = device.site
        out = []
        for c in cols:
            if c.field.startswith("site."):
                value = getattr(site, c.field[5:])
            elif c.field == "parent_code":
                value = parents.get(device.parent_id, "")
            elif c.field == "cabinet_code":
                value = cab_codes.get(device.cabinet_id, "")
            else:
                value = getattr(device, c.field)
            out.append(_export_value(c.field, value, language))
        yield out


def _export_value(field_name, value, language):
    if value is None:
        return ""
    if field_name == "kind":
        return DeviceKind(value).label(language)
    if field_name == "lifecycle":
        return Lifecycle(value).label(language)
    if isinstance(value, bool):
        return ("是" if value else "否") if language == "zh" else ("yes" if value else "no")
    if isinstance(value, date):
        return value.isoformat()
    return value


def export_inventory(session: Session, fmt: str = "xlsx", language: str = "zh") -> bytes:
    """The whole inventory as XLSX or CSV (UTF-8 with BOM, which Excel opens correctly)."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf)
        for row in export_rows(session, language):
            writer.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row])
        return buf.getvalue().encode("utf-8-sig")
    if fmt != "xlsx":
        raise ValidationFailed(f"不支持的导出格式 {fmt!r}：应为 xlsx 或 csv / Unsupported export format {fmt!r}; "
                               "use xlsx or csv.")
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("设备清单" if language == "zh" else "inventory")
    for row in export_rows(session, language):
        ws.append([_text_cell(ws, v) if isinstance(v, str) and v.startswith("=") else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _text_cell(ws, value: str):
    """A cell that stays text: openpyxl would store "=…" as a formula (and Excel would run it)."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


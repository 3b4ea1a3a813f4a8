"""F6: checking an inventory file before anything is written — headers, every cell, rows against each other
and against the database. Every problem is a RowError (line, column, reason) in the reader's language."""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.text import Msg
from fleetops.models import Cabinet, Device, Site
from fleetops.services.inventory.columns import HEADER_INDEX, REQUIRED, Column, column, norm
from fleetops.services.inventory.parsers import (
    DEVICE_CODE, DEVICE_PARSERS, SECRET_FIELDS, SITE_CODE, SITE_PARSERS, check_device_rules, message_of, parse_code,
)
from fleetops.services.inventory.records import device_snapshot
from fleetops.services.inventory.spreadsheet import Table, cell_text


@dataclass
class RowError:
    line: int  # the spreadsheet's line/row number, header = 1
    column: str  # the header as written in the file ("" for the whole row)
    message: Msg | str

    def msg(self) -> Msg:
        if self.column:
            return Msg("Line %(line)s, column “%(column)s”: %(message)s", line=self.line, column=self.column,
                       message=self.message)
        return Msg("Line %(line)s: %(message)s", line=self.line, message=self.message)

    def __str__(self) -> str:
        return str(self.msg())

    def to_json(self) -> dict:
        """The JSON form (`--json`, unchanged field names); the reason in the current language."""
        return {"line": self.line, "column": self.column, "message": str(self.message)}


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    sites_created: int = 0
    sites_updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[Msg] = field(default_factory=list)
    encoding: str = ""
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict:
        return {k: getattr(self, k) for k in ("rows", "created", "updated", "unchanged", "sites_created",
                                              "sites_updated", "encoding", "dry_run")} | {"errors": len(self.errors)}


@dataclass
class Row:
    line: int
    code: str
    device: dict  # parsed device values (present columns only)
    site: dict  # parsed site values
    site_code: str


def map_headers(headers: list[str], result: ImportResult) -> dict[int, Column]:
    mapping, seen = {}, {}
    for i, h in enumerate(headers):
        if not str(h or "").strip():
            continue
        col = HEADER_INDEX.get(norm(h))
        if col is None:
            result.warnings.append(Msg("Ignored unknown column “%(header)s”.", header=h))
            continue
        if col.field in seen:
            result.errors.append(RowError(1, str(h), Msg("The same column as “%(header)s”.",
                                                         header=seen[col.field])))
            continue
        seen[col.field] = str(h).strip()
        mapping[i] = col
    for req in REQUIRED:
        if req not in seen:
            col = column(req)
            result.errors.append(RowError(1, col.zh, Msg("The required column “%(en)s” (%(zh)s) is missing.",
                                                         en=col.en, zh=col.zh)))
    return mapping


def parse_rows(table: Table, mapping: dict[int, Column], result: ImportResult, progress=None) -> list[Row]:
    header_of = {c.field: str(table.headers[i]).strip() for i, c in mapping.items()}
    rows = []
    total = len(table.rows)
    for n, (line, cells) in enumerate(table.rows, 1):
        if progress and (n % 500 == 0 or n == total):
            progress(n, total)
        texts = {c.field: cell_text(cells[i]) if i < len(cells) else "" for i, c in mapping.items()}
        if not any(texts.values()):
            continue  # blank line
        result.rows += 1
        errors = []
        try:
            code = parse_code(texts.get("code", ""), DEVICE_CODE)
        except ValueError as err:
            errors.append(RowError(line, header_of["code"], message_of(err)))
            code = ""
        try:
            site_code = parse_code(texts.get("site.code", ""), SITE_CODE)
        except ValueError as err:
            errors.append(RowError(line, header_of["site.code"], message_of(err)))
            site_code = ""
        device_raw = {f: t for f, t in texts.items() if not f.startswith("site.") and f != "code"}
        site_raw = {f[5:]: t for f, t in texts.items() if f.startswith("site.") and f != "site.code"}
        device = {}
        for f, t in device_raw.items():
            if f in SECRET_FIELDS or f in ("lifecycle", "snmp_port", "liveness_probe", "in_service_from"):
                if t == "":
                    continue  # keep the stored value / take the default
            try:
                device[f] = DEVICE_PARSERS[f](t)
            except ValueError as err:
                errors.append(RowError(line, header_of[f], message_of(err)))
        site = {}
        for f, t in site_raw.items():
            if t == "" and f not in ("key_site",):
                continue  # an empty site cell: another row (or the database) says it
            try:
                site[f] = SITE_PARSERS[f](t)
            except ValueError as err:
                errors.append(RowError(line, header_of["site." + f], message_of(err)))
        result.errors.extend(errors)
        rows.append(Row(line, code, device, site, site_code))
    return rows


def plan(session: Session, rows: list[Row], header_of: dict, result: ImportResult):
    """Cross-row and database checks; returns the loaded state the write step needs."""
    col = lambda f: header_of.get(f, column(f).zh)  # noqa: E731
    devices = {d.code: d for d in session.scalars(select(Device))}
    sites = {s.code: s for s in session.scalars(select(Site))}
    cabinets = {c.code: c for c in session.scalars(select(Cabinet))}
    first_line: dict[str, int] = {}
    for r in rows:
        if not r.code:
            continue
        if r.code in first_line:
            result.errors.append(RowError(r.line, col("code"), Msg("Device %(code)s also on line %(other)s.",
                                                                  code=r.code, other=first_line[r.code])))
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
                result.errors.append(RowError(r.line, col("site." + f), Msg(
                    "Differs from line %(other)s for site %(site)s.", other=lines[f], site=r.site_code)))
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
                result.errors.append(RowError(line, col("site." + f), Msg(
                    "New site %(site)s needs its %(field)s.", site=code, field=f,
                    header=column("site." + f).zh)))
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
            result.errors.append(RowError(r.line, col("kind"), Msg("The device kind is required.")))
        parent = r.device.get("parent_code", final_parent.get(r.code, ""))
        if parent:
            if parent == r.code:
                result.errors.append(RowError(r.line, col("parent_code"), Msg("A device cannot be its own parent.")))
            elif parent not in in_file and parent not in devices:
                result.errors.append(RowError(r.line, col("parent_code"),
                                              Msg("Unknown parent device %(code)s.", code=parent)))
        final_parent[r.code] = parent
        cab = r.device.get("cabinet_code")
        if cab and cab in cabinets and r.site_code and cabinets[cab].site.code != r.site_code:
            result.errors.append(RowError(r.line, col("cabinet_code"), Msg(
                "Cabinet %(cabinet)s belongs to site %(site)s.", cabinet=cab, site=cabinets[cab].site.code)))
        ip = r.device["ip_address"] if "ip_address" in r.device else (devices[r.code].ip_address if r.code in devices else None)
        if ip:
            if ip in file_ip_line:
                other, line = file_ip_line[ip]
                result.errors.append(RowError(r.line, col("ip_address"), Msg(
                    "%(ip)s is also used on line %(other_line)s (%(other)s).", ip=ip, other_line=line, other=other)))
            elif ip in ip_owner:
                result.errors.append(RowError(r.line, col("ip_address"), Msg(
                    "%(ip)s is already used by %(code)s.", ip=ip, code=ip_owner[ip])))
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
            result.errors.append(RowError(line_of[code], col("parent_code"),
                                          Msg("The parent chain loops back to this device.")))
    return devices, sites, cabinets, site_values


"""F5: metrology records — certificates entered, edited and imported (CSV/XLSX) by admins and supervisors, with an
attachment (PDF or photo); which enforcement devices lack a valid certificate today; and the evidence flag: the
stretches in which such a device was in service but covered by no valid certificate ("records from these periods
may not be usable as evidence").

A certificate covers the local days valid_from (core's `issued_on`) … valid_until inclusive when its result is
"pass". A certificate stored without a start date is taken to cover the year before its end (verification is
yearly). Alerts and renewal tickets: certificates.py."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain.choices import IN_SERVICE, DeviceKind
from fleetops.domain.errors import NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device, MetrologyCertificate
from fleetops.models.base import utcnow
from fleetops.models.records import CertificateRecord
from fleetops.models.service import ServicePeriod
from fleetops.platform import audit, clock
from fleetops.services.inventory.parsers import _text, message_of, parse_code, parse_date
from fleetops.services.inventory.spreadsheet import cell_text, read_table

# F5: the speed and red-light enforcement devices whose measurements must be verified (检定); a speed radar is
# verified as part of its speed camera's system, which carries the certificate.
METROLOGY_KINDS = frozenset({DeviceKind.SPEED_CAMERA.value, DeviceKind.EPOLICE_CAMERA.value})
RESULTS = ("pass", "fail")
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = ((b"%PDF-", "application/pdf", ".pdf"), (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
                    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"))

FIELDS = ("device", "regulation", "certificate_no", "issuer", "valid_from", "valid_until", "result")
FIELD_LABELS = {
    "device": Msg("Device code"), "regulation": Msg("Regulation"), "certificate_no": Msg("Certificate number"),
    "issuer": Msg("Issuer"), "valid_from": Msg("Valid from"), "valid_until": Msg("Valid until"),
    "result": Msg("Result"),
}
# Spreadsheet headers people write (Chinese and English) → field.
HEADER_ALIASES = {
    "device": "device", "device code": "device", "设备编号": "device", "设备编码": "device", "设备": "device",
    "regulation": "regulation", "检定规程": "regulation", "规程": "regulation",
    "certificate no": "certificate_no", "certificate number": "certificate_no", "certificate_no": "certificate_no",
    "证书编号": "certificate_no", "证书号": "certificate_no",
    "issuer": "issuer", "检定机构": "issuer", "发证机构": "issuer",
    "valid from": "valid_from", "valid_from": "valid_from", "检定日期": "valid_from", "有效期起": "valid_from",
    "valid until": "valid_until", "valid_until": "valid_until", "有效期至": "valid_until", "有效期止": "valid_until",
    "result": "result", "检定结论": "result", "结论": "result",
}
RESULT_WORDS = {"pass": "pass", "合格": "pass", "通过": "pass", "": "pass", "fail": "fail", "不合格": "fail"}


def _parse_result(text) -> str:
    t = str(text or "").strip().lower()
    if t not in RESULT_WORDS:
        raise ValueError(Msg("%(text)r should be pass or fail.", text=text))
    return RESULT_WORDS[t]


def _required(parse):
    def check(text):
        value = parse(text)
        if value in (None, ""):
            raise ValueError(Msg("Required."))
        return value
    return check


PARSERS = {
    "device": _required(lambda t: parse_code(str(t or "").strip()) if str(t or "").strip() else ""),
    "regulation": _text(100), "certificate_no": _required(_text(100)), "issuer": _text(200),
    "valid_from": _required(parse_date), "valid_until": _required(parse_date), "result": _parse_result,
}


def _parse(session: Session, raw: dict) -> tuple[dict, dict]:
    """Raw text per field → (values, {field: Msg}); the device must exist, the dates must be in order."""
    values, errors = {}, {}
    for field in FIELDS:
        try:
            values[field] = PARSERS[field](raw.get(field, ""))
        except ValueError as err:
            errors[field] = message_of(err)
    if "device" in values:
        device = session.scalar(select(Device).where(Device.code == values["device"]))
        if device is None:
            errors["device"] = Msg("No device %(code)s.", code=values["device"])
        values["device"] = device
    if not errors and values["valid_from"] > values["valid_until"]:
        errors["valid_until"] = Msg("The certificate ends before it starts.")
    return values, errors


def _snapshot(cert: MetrologyCertificate, rec: CertificateRecord | None) -> dict:
    return {"device_id": cert.device_id, "regulation": cert.regulation, "certificate_no": cert.certificate_no,
            "issuer": rec.issuer if rec else "", "valid_from": cert.issued_on, "valid_until": cert.valid_until,
            "result": cert.result}


def _record(session: Session, cert: MetrologyCertificate) -> CertificateRecord:
    rec = session.get(CertificateRecord, cert.id) if cert.id else None
    if rec is None:
        rec = CertificateRecord(certificate_id=cert.id, issuer="", attachment_path="", attachment_type="",
                                attachment_size=0)
        session.add(rec)
    return rec


def _apply(session: Session, cert: MetrologyCertificate | None, values: dict) -> MetrologyCertificate:
    if cert is None:
        cert = MetrologyCertificate(device_id=values["device"].id, certificate_no=values["certificate_no"],
                                    valid_until=values["valid_until"])
        session.add(cert)
    cert.device_id, cert.device = values["device"].id, values["device"]
    cert.regulation, cert.certificate_no = values["regulation"], values["certificate_no"]
    cert.issued_on, cert.valid_until, cert.result = values["valid_from"], values["valid_until"], values["result"]
    session.flush()
    rec = _record(session, cert)
    rec.issuer, rec.updated_at = values["issuer"], utcnow()
    return cert


def _duplicate(session: Session, values: dict, cert_id: int | None) -> MetrologyCertificate | None:
    other = session.scalar(select(MetrologyCertificate).where(
        MetrologyCertificate.device_id == values["device"].id,
        MetrologyCertificate.certificate_no == values["certificate_no"]))
    return other if other is not None and other.id != cert_id else None


def get_certificate(session: Session, cert_id) -> MetrologyCertificate:
    cert = session.get(MetrologyCertificate, int(cert_id)) if str(cert_id).isdigit() else None
    if cert is None:
        raise NotFound(Msg("No certificate %(id)s.", id=cert_id))
    return cert


def save_certificate(session: Session, cert_id: int | None, raw: dict, actor) -> MetrologyCertificate:
    """F5: enter (cert_id None) or edit a certificate from the form's text; audited. Bad input → 422 per field."""
    values, errors = _parse(session, raw)
    if not errors and _duplicate(session, values, cert_id) is not None:
        errors["certificate_no"] = Msg("This device already has certificate %(no)s.", no=values["certificate_no"])
    if errors:
        first = next(iter(errors.values()))
        raise ValidationFailed(first, errors={k: str(v) for k, v in errors.items()})
    cert = get_certificate(session, cert_id) if cert_id is not None else None
    before = _snapshot(cert, session.get(CertificateRecord, cert.id)) if cert else None
    cert = _apply(session, cert, values)
    audit.record(session, actor, "certificate_saved" if before else "certificate_added", "certificate", cert.id,
                 summary=f"{values['device'].code}: {cert.certificate_no} → {cert.valid_until}", before=before,
                 after=_snapshot(cert, session.get(CertificateRecord, cert.id)))
    return cert


@dataclass
class ImportOutcome:
    added: int
    updated: int


def import_certificates(session: Session, data: bytes, filename: str, actor) -> ImportOutcome:
    """F5: a CSV/XLSX of certificates, all or nothing: any bad row → 422 naming each row and field, nothing written.
    A row whose device already has that certificate number updates it."""
    table = read_table(data, filename)
    columns = {}
    for i, header in enumerate(table.headers):
        field = HEADER_ALIASES.get(str(header or "").strip().lower())
        if field and field not in columns:
            columns[field] = i
    missing = [f for f in ("device", "certificate_no", "valid_from", "valid_until") if f not in columns]
    if missing:
        raise ValidationFailed(Msg("The file has no column for: %(fields)s", fields=", ".join(missing)),
                               errors=[str(Msg("Missing column: %(field)s", field=FIELD_LABELS[f]))
                                       for f in missing])
    errors, parsed, seen = [], [], {}
    for line, cells in table.rows:
        raw = {f: cell_text(cells[i]) if i < len(cells) else "" for f, i in columns.items()}
        if not any(str(v).strip() for v in raw.values()):
            continue
        values, row_errors = _parse(session, raw)
        if not row_errors:
            key = (values["device"].id, values["certificate_no"])
            if key in seen:
                row_errors["certificate_no"] = Msg("Same certificate as row %(row)s.", row=seen[key])
            seen[key] = line
        for field, msg in row_errors.items():
            errors.append({"row": line, "field": field,
                           "message": str(Msg("Row %(row)s, %(field)s: %(reason)s", row=line,
                                              field=FIELD_LABELS[field], reason=msg))})
        parsed.append((line, values))
    if errors:
        raise ValidationFailed(Msg("Certificates rejected, nothing saved: %(first)s", first=errors[0]["message"]),
                               errors=[e["message"] for e in errors], rows=errors)
    if not parsed:
        raise ValidationFailed(Msg("The file has no certificates."))
    added = updated = 0
    for _line, values in parsed:
        existing = _duplicate(session, values, None)
        _apply(session, existing, values)
        added, updated = (added, updated + 1) if existing else (added + 1, updated)
    audit.record(session, actor, "certificates_imported", "certificate", "",
                 summary=f"{filename}: {added} added, {updated} updated", after={"added": added, "updated": updated})
    return ImportOutcome(added, updated)


def attach_file(session: Session, cert_id, data: bytes, upload_dir, actor) -> CertificateRecord:
    """F5: the scanned certificate (PDF, JPEG or PNG, at most 10 MB), stored under UPLOAD_DIR/certificates/."""
    cert = get_certificate(session, cert_id)
    if not data:
        raise ValidationFailed(Msg("No file was received."), errors={"attachment": str(Msg("No file was received."))})
    if len(data) > ATTACHMENT_MAX_BYTES:
        msg = Msg("The file is larger than %(mb)s MB.", mb=ATTACHMENT_MAX_BYTES // (1024 * 1024))
        raise ValidationFailed(msg, errors={"attachment": str(msg)})
    kind = next(((ctype, ext) for magic, ctype, ext in ATTACHMENT_TYPES if data.startswith(magic)), None)
    if kind is None:
        msg = Msg("The attachment must be a PDF, JPEG or PNG file.")
        raise ValidationFailed(msg, errors={"attachment": str(msg)})
    folder = Path(upload_dir) / "certificates"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{cert.id}-{uuid.uuid4().hex[:12]}{kind[1]}"
    (folder / name).write_bytes(data)
    rec = _record(session, cert)
    rec.attachment_path, rec.attachment_type, rec.attachment_size = f"certificates/{name}", kind[0], len(data)
    rec.updated_at = utcnow()
    audit.record(session, actor, "certificate_attached", "certificate", cert.id,
                 summary=f"{cert.certificate_no}: {kind[0]} {len(data)} B")
    return rec


def attachment(session: Session, cert_id, upload_dir) -> tuple[Path, str]:
    rec = session.get(CertificateRecord, get_certificate(session, cert_id).id)
    if rec is None or not rec.attachment_path:
        raise NotFound(Msg("This certificate has no attachment."))
    return Path(upload_dir) / rec.attachment_path, rec.attachment_type


def list_certificates(session: Session, device_id: int | None = None) -> list[dict]:
    q = select(MetrologyCertificate).options(selectinload(MetrologyCertificate.device)) \
        .order_by(MetrologyCertificate.valid_until.desc(), MetrologyCertificate.id.desc())
    if device_id is not None:
        q = q.where(MetrologyCertificate.device_id == device_id)
    certs = session.scalars(q).all()
    recs = {r.certificate_id: r for r in session.scalars(select(CertificateRecord).where(
        CertificateRecord.certificate_id.in_([c.id for c in certs] or [0])))}
    today = clock.local_today()
    return [{"id": c.id, "device": c.device.code, "device_id": c.device_id, "regulation": c.regulation,
             "certificate_no": c.certificate_no, "issuer": recs[c.id].issuer if c.id in recs else "",
             "valid_from": c.issued_on, "valid_until": c.valid_until, "result": c.result,
             "valid_today": covers(c, today),
             "attachment": bool(c.id in recs and recs[c.id].attachment_path)} for c in certs]


def certificate_form(session: Session, cert_id) -> dict:
    c = get_certificate(session, cert_id)
    rec = session.get(CertificateRecord, c.id)
    return {"device": c.device.code, "regulation": c.regulation, "certificate_no": c.certificate_no,
            "issuer": rec.issuer if rec else "", "valid_from": c.issued_on.isoformat() if c.issued_on else "",
            "valid_until": c.valid_until.isoformat(), "result": c.result}


# ------------------------------------------------------------------ validity and the evidence flag

def first_day(cert: MetrologyCertificate) -> date:
    return cert.issued_on or (cert.valid_until - timedelta(days=364))


def covers(cert: MetrologyCertificate, day: date) -> bool:
    return cert.result == "pass" and first_day(cert) <= day <= cert.valid_until


def uncertified(session: Session, device_ids=None, day: date | None = None) -> set[int]:
    """F5: the in-service enforcement devices (of `device_ids`, else all) without a certificate valid on `day`.

    One query (issue 14 part 4: the status page asks for the whole fleet): a device is covered when a passed
    certificate's days (`covers`: its first day … valid_until) hold `day` — the first day is issued_on, else the year
    before valid_until, i.e. valid_until <= day + 364 days."""
    q = _uncertified_ids(day)
    if device_ids is not None:
        ids = [int(i) for i in device_ids]
        if not ids:
            return set()
        q = q.where(Device.id.in_(ids))
    return set(session.scalars(q))


def uncertified_count(session: Session, day: date | None = None) -> int:
    """len(uncertified(session, day=day)), counted by the database (the status page's badge shows only the number)."""
    return int(session.scalar(_uncertified_count(day or clock.local_today())) or 0)


@lru_cache(maxsize=4)
def _uncertified_count(day: date):
    """The count's statement, built once a day (building it and deriving its cache key cost twice its run)."""
    return select(func.count()).select_from(_uncertified_ids(day).subquery())


def _uncertified_ids(day: date | None):
    day = day or clock.local_today()
    C = MetrologyCertificate
    covered = select(C.id).where(
        C.device_id == Device.id, C.result == "pass", C.valid_until >= day,
        or_(C.issued_on <= day, and_(C.issued_on.is_(None), C.valid_until <= day + timedelta(days=364))))
    return select(Device.id).where(Device.kind.in_(sorted(METROLOGY_KINDS)),
                                   Device.lifecycle.in_([s.value for s in IN_SERVICE]), ~covered.exists())


def needs_certificate(device: Device) -> bool:
    return device.kind in METROLOGY_KINDS


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.local_zone())


def evidence_gaps(session: Session, device: Device, start: datetime | None = None,
                  end: datetime | None = None) -> list[tuple[datetime, datetime]]:
    """F5: the stretches (UTC, [start, end)) in which `device` was in service and covered by no valid certificate,
    within [start, end) (default: since its records begin, until now). Empty for a device that needs none."""
    if not needs_certificate(device):
        return []
    end = end or utcnow()
    cover = sorted((_midnight(first_day(c)), _midnight(c.valid_until + timedelta(days=1)))
                   for c in session.scalars(select(MetrologyCertificate).where(
                       MetrologyCertificate.device_id == device.id, MetrologyCertificate.result == "pass")))
    merged: list[list[datetime]] = []
    for a, b in cover:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    gaps = []
    periods = session.scalars(select(ServicePeriod).where(ServicePeriod.device_id == device.id)).all()
    for p in periods:
        a = p.start_at or start or (merged[0][0] if merged else None)
        b = p.end_at or end
        if a is None:
            continue
        if start is not None:
            a = max(a, start)
        b = min(b, end)
        for ca, cb in merged:
            if a >= b:
                break
            if cb <= a or ca >= b:
                continue
            if ca > a:
                gaps.append((a, ca))
            a = max(a, cb)
        if a < b:
            gaps.append((a, b))
    return sorted(gaps)


def evidence_report(session: Session, start: datetime, end: datetime) -> list[dict]:
    """F5: every enforcement device with stretches in [start, end) of service without a valid certificate."""
    rows = []
    for device in session.scalars(select(Device).where(Device.kind.in_(METROLOGY_KINDS)).order_by(Device.code)):
        for a, b in evidence_gaps(session, device, start, end):
            rows.append({"device": device.code, "device_id": device.id, "site": device.site.name,
                         "kind": device.kind, "start": a, "end": b,
                         "hours": round((b - a).total_seconds() / 3600, 1)})
    return rows


def uncertified_rows(session: Session) -> list[dict]:
    """F5: the enforcement devices in service without a certificate valid today, for the certificates page."""
    ids = uncertified(session)
    return [{"code": d.code, "site": d.site.name, "kind": d.kind}
            for d in session.scalars(select(Device).where(Device.id.in_(ids or [0])).order_by(Device.code))]


def evidence_section(_, session: Session, start: datetime, end: datetime):
    """F5: the monthly report's section (XLSX sheet, PDF table): each stretch of the month in which an enforcement
    device was in service without a valid certificate. `_` is the report's Words (its language)."""
    from fleetops.services.reports.sections import Section

    rows = evidence_report(session, start, end)
    fmt = "%Y-%m-%d %H:%M"
    return Section("metrology_evidence", _("Periods without a valid certificate"), [
        _("Device code"), _("Site"), _("Kind"), _("From"), _("Until"), _("Hours")],
        [[r["device"], r["site"], _.kind(r["kind"]), clock.to_local(r["start"]).strftime(fmt),
          clock.to_local(r["end"]).strftime(fmt), r["hours"]] for r in rows],
        note=_("Records from these periods may not be usable as evidence."), pdf_limit=40)


def device_evidence_panel(session: Session, device: Device) -> dict:
    """F5: the device page's panel — this device's stretches without a valid certificate (last 365 days)."""
    if not needs_certificate(device):
        return {"evidence_gaps": None}
    end = utcnow()
    return {"evidence_gaps": evidence_gaps(session, device, end - timedelta(days=365), end)}

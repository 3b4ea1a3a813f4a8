"""F5 (issue 12 part 3): metrology records — import all or nothing naming row and field, the evidence flag (a gap
between two certificates of a device in service is listed exactly), a renewal ticket opened once per certificate,
enforcement devices without a valid certificate flagged."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fleetops.domain.errors import ValidationFailed
from fleetops.models import Device, MetrologyCertificate, Site
from fleetops.models.records import CertificateRecord, CertificateRenewal
from fleetops.models.tickets import Ticket
from fleetops.services import inventory
from fleetops.services.inventory import certificates, metrology

LOCAL = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(LOCAL).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL)


@pytest.fixture
def fleet(db, users):
    db.add(Site(code="K201", name="K201 世纪大道测速", district="克拉玛依区", latitude=45.6, longitude=84.87))
    db.commit()
    start = TODAY - timedelta(days=100)
    for code, kind in (("K201-SPD1", "speed_camera"), ("K201-EP1", "epolice_camera"),
                       ("K201-CAM1", "checkpoint_camera")):
        inventory.save_device(db, None, {"kind": kind, "site_code": "K201", "lifecycle": "online",
                                         "installed_on": str(start), "in_service_from": str(start)},
                              users["admin"], new_code=code)
    db.commit()
    return start


def csv(rows) -> bytes:
    head = "设备编号,检定规程,证书编号,检定机构,有效期起,有效期至,检定结论\n"
    return (head + "".join(",".join(r) + "\n" for r in rows)).encode("utf-8")


def test_import_good_file_then_edit(db, users, fleet):
    data = csv([["K201-SPD1", "JJG 527-2015", "JD-2026-001", "克拉玛依市计量所", str(TODAY - timedelta(days=30)),
                 str(TODAY + timedelta(days=300)), "合格"],
                ["K201-EP1", "JJG 527-2015", "JD-2026-002", "克拉玛依市计量所", str(TODAY - timedelta(days=30)),
                 str(TODAY + timedelta(days=300)), "合格"]])
    out = metrology.import_certificates(db, data, "certs.csv", users["supervisor"])
    db.commit()
    assert (out.added, out.updated) == (2, 0)
    rows = metrology.list_certificates(db)
    assert {r["certificate_no"] for r in rows} == {"JD-2026-001", "JD-2026-002"}
    assert all(r["issuer"] == "克拉玛依市计量所" and r["valid_today"] for r in rows)
    # the same file again updates, never doubles
    out = metrology.import_certificates(db, data, "certs.csv", users["supervisor"])
    db.commit()
    assert (out.added, out.updated) == (0, 2)
    assert db.scalar(select(func.count()).select_from(MetrologyCertificate)) == 2
    cert = db.scalar(select(MetrologyCertificate).where(MetrologyCertificate.certificate_no == "JD-2026-001"))
    form = metrology.certificate_form(db, cert.id)
    form["issuer"] = "新疆计量院"
    metrology.save_certificate(db, cert.id, form, users["admin"])
    db.commit()
    assert db.get(CertificateRecord, cert.id).issuer == "新疆计量院"


def test_import_bad_rows_names_row_and_field_and_writes_nothing(db, users, fleet):
    data = csv([["K201-SPD1", "JJG 527-2015", "JD-1", "所", "2026-01-01", "2026-12-31", "合格"],
                ["K999-NONE", "JJG 527-2015", "JD-2", "所", "2026-01-01", "2026-12-31", "合格"],
                ["K201-EP1", "JJG 527-2015", "JD-3", "所", "2026-01-01", "31/12/2026", "合格"],
                ["K201-EP1", "JJG 527-2015", "", "所", "2026-01-01", "2026-12-31", "maybe"]])
    with pytest.raises(ValidationFailed) as err:
        metrology.import_certificates(db, data, "certs.csv", users["supervisor"])
    db.rollback()
    rows = {(e["row"], e["field"]) for e in err.value.details["rows"]}
    assert rows == {(3, "device"), (4, "valid_until"), (5, "certificate_no"), (5, "result")}
    assert err.value.status_code == 422
    assert db.scalar(select(func.count()).select_from(MetrologyCertificate)) == 0


def test_import_through_the_page_answers_4xx(app, db, users, fleet, client_as):
    client = client_as("supervisor")
    bad = csv([["K201-SPD1", "JJG", "JD-9", "所", "2026-05-01", "2026-04-01", "合格"]])
    from io import BytesIO

    resp = client.post("/records/certificates/import", data={"file": (BytesIO(bad), "c.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "2" in resp.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(MetrologyCertificate)) == 0
    good = csv([["K201-SPD1", "JJG", "JD-9", "所", "2026-04-01", "2027-04-01", "合格"]])
    resp = client.post("/records/certificates/import", data={"file": (BytesIO(good), "c.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    assert db.scalar(select(func.count()).select_from(MetrologyCertificate)) == 1
    crew = client_as("crew")
    assert crew.post("/records/certificates/import", data={"file": (BytesIO(good), "c.csv")},
                     content_type="multipart/form-data").status_code == 403


def test_attachment_size_and_type(db, users, fleet, tmp_path):
    cert = metrology.save_certificate(db, None, {
        "device": "K201-SPD1", "regulation": "JJG 527-2015", "certificate_no": "JD-7", "issuer": "所",
        "valid_from": str(TODAY), "valid_until": str(TODAY + timedelta(days=365)), "result": "合格"}, users["admin"])
    with pytest.raises(ValidationFailed):
        metrology.attach_file(db, cert.id, b"MZ\x90\x00 not a pdf", tmp_path, users["admin"])
    with pytest.raises(ValidationFailed):
        metrology.attach_file(db, cert.id, b"%PDF-" + b"0" * metrology.ATTACHMENT_MAX_BYTES, tmp_path, users["admin"])
    rec = metrology.attach_file(db, cert.id, b"%PDF-1.4\n%%EOF\n", tmp_path, users["admin"])
    db.commit()
    path, ctype = metrology.attachment(db, cert.id, tmp_path)
    assert ctype == "application/pdf" and path.read_bytes().startswith(b"%PDF") and rec.attachment_size == 15


def _cert(db, code, no, start, end, result="pass"):
    dev = db.scalar(select(Device).where(Device.code == code))
    db.add(MetrologyCertificate(device_id=dev.id, regulation="JJG 527-2015", certificate_no=no, issued_on=start,
                                valid_until=end, result=result))
    db.commit()
    return dev


def test_evidence_gap_between_certificates_listed_exactly(db, users, fleet):
    start = fleet
    _cert(db, "K201-SPD1", "A", start, start + timedelta(days=29))
    _cert(db, "K201-SPD1", "F", start + timedelta(days=30), start + timedelta(days=39), result="fail")
    dev = _cert(db, "K201-SPD1", "B", start + timedelta(days=40), TODAY + timedelta(days=200))
    now = midnight(TODAY) + timedelta(hours=10)
    gaps = metrology.evidence_gaps(db, dev, end=now)
    assert gaps == [(midnight(start + timedelta(days=30)), midnight(start + timedelta(days=40)))]
    # no certificate at all: the whole stretch in service up to now
    ep = db.scalar(select(Device).where(Device.code == "K201-EP1"))
    assert metrology.evidence_gaps(db, ep, end=now) == [(midnight(start), now)]
    # a checkpoint camera needs no certificate
    cam = db.scalar(select(Device).where(Device.code == "K201-CAM1"))
    assert metrology.evidence_gaps(db, cam, end=now) == []
    # the monthly report's rows, clipped to the month window
    w0, w1 = midnight(start + timedelta(days=35)), midnight(start + timedelta(days=45))
    rows = [r for r in metrology.evidence_report(db, w0, w1) if r["device"] == "K201-SPD1"]
    assert [(r["start"], r["end"]) for r in rows] == [(w0, midnight(start + timedelta(days=40)))]
    assert metrology.uncertified(db) == {ep.id}


def test_renewal_ticket_opened_once_and_alerts(db, users, fleet):
    dev = _cert(db, "K201-SPD1", "JD-OLD", TODAY - timedelta(days=360), TODAY + timedelta(days=5))
    _cert(db, "K201-EP1", "JD-GONE", TODAY - timedelta(days=400), TODAY - timedelta(days=2))
    for _ in range(3):
        out = certificates.check_certificates(db)
        db.commit()
    tickets = db.scalars(select(Ticket).where(Ticket.category == "metrology_renewal")).all()
    assert sorted(t.device.code for t in tickets) == ["K201-EP1", "K201-SPD1"]
    assert db.scalar(select(func.count()).select_from(CertificateRenewal)) == 2
    assert out["renewals"] == 0
    # the ticket is closed by hand later; a later run still does not reopen one for the same certificate
    for t in tickets:
        t.state = "cancelled"
    db.commit()
    certificates.check_certificates(db)
    db.commit()
    assert db.scalar(select(func.count()).select_from(Ticket).where(Ticket.category == "metrology_renewal")) == 2
    from fleetops.models.alerts import Alert

    kinds = {(a.kind, a.device_id) for a in db.scalars(select(Alert))}
    assert ("cert_due", dev.id) in kinds and any(k == "cert_expired" for k, _d in kinds)


def test_uncertified_flag_on_device_list_device_page_status_and_monthly_report(app, db, users, fleet, client_as):
    _cert(db, "K201-EP1", "JD-OK", fleet, TODAY + timedelta(days=300))
    client = client_as("supervisor")
    listing = client.get("/devices").get_data(as_text=True)
    row = lambda code: next(line for line in listing.splitlines() if f">{code}</a>" in line)  # noqa: E731
    assert "cert-flag" in row("K201-SPD1") and "cert-flag" not in row("K201-EP1")
    assert "cert-flag" not in row("K201-CAM1")
    page = client.get("/devices/K201-SPD1").get_data(as_text=True)
    assert "cert-flag" in page and 'id="evidence-gaps-device"' in page
    assert "cert-flag" not in client.get("/devices/K201-EP1").get_data(as_text=True)
    status = client.get("/monitoring/").get_data(as_text=True)
    assert 'id="uncertified-badge"' in status
    from fleetops.services.reports.monthly import monthly_report

    month = TODAY.strftime("%Y-%m")
    sec = monthly_report(db, month).section("metrology_evidence")
    assert [r[0] for r in sec.rows] == ["K201-SPD1"]


def test_uncertified_in_sql_agrees_with_covers_day_by_day(db, users, fleet):
    """Issue 14 part 4: `uncertified` asks the database (one query, no certificate loaded); on every day around the
    certificates' edges it names exactly the devices no certificate `covers` — a dated one, one without a start
    date (the year before its end), a failed one, and one that starts in the future."""
    spd = _cert(db, "K201-SPD1", "A", TODAY - timedelta(days=10), TODAY + timedelta(days=5))
    dev = db.scalar(select(Device).where(Device.code == "K201-EP1"))
    db.add_all([MetrologyCertificate(device_id=dev.id, regulation="JJG", certificate_no="N", issued_on=None,
                                     valid_until=TODAY + timedelta(days=20)),
                MetrologyCertificate(device_id=dev.id, regulation="JJG", certificate_no="F", issued_on=None,
                                     valid_until=TODAY + timedelta(days=400), result="fail")])
    _cert(db, "K201-SPD1", "B", TODAY + timedelta(days=30), TODAY + timedelta(days=60))
    certs = list(db.scalars(select(MetrologyCertificate)))
    seen = set()
    for k in range(-360, 70):
        day = TODAY + timedelta(days=k)
        expected = {spd.id, dev.id} - {c.device_id for c in certs if metrology.covers(c, day)}
        assert metrology.uncertified(db, day=day) == expected, day
        assert metrology.uncertified(db, [dev.id], day=day) == expected & {dev.id}, day
        seen.add(frozenset(expected))
    assert len(seen) == 4  # every combination occurred: the loop crossed each edge


def test_import_xlsx_with_real_date_cells(db, users, fleet):
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Device code", "Regulation", "Certificate number", "Issuer", "Valid from", "Valid until", "Result"])
    ws.append(["K201-SPD1", "JJG 527-2015", "JD-X1", "所", datetime(2026, 3, 1), datetime(2027, 2, 28), "pass"])
    ws.append(["K201-EP1", "JJG 1123-2016", "JD-X2", "所", date(2026, 4, 1), date(2027, 3, 31), "合格"])
    buf = io.BytesIO()
    wb.save(buf)
    out = metrology.import_certificates(db, buf.getvalue(), "certs.xlsx", users["admin"])
    db.commit()
    assert (out.added, out.updated) == (2, 0)
    got = {c.certificate_no: (c.issued_on, c.valid_until) for c in db.scalars(select(MetrologyCertificate))}
    assert got == {"JD-X1": (date(2026, 3, 1), date(2027, 2, 28)), "JD-X2": (date(2026, 4, 1), date(2027, 3, 31))}

"""A2/U3/T2/T3/T9/F5: the monthly report for a month of inserted results has the right figures in its XLSX, and its
PDF renders Chinese text; the weekly quality summary likewise; bad periods are refused in words."""
import io
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from fleetops.domain.errors import ValidationFailed
from fleetops.models import Cabinet, Device, MetrologyCertificate, Site
from fleetops.models.monitoring import OnlineRateSample, Outage, StatusInterval
from fleetops.models.quality import QualityFinding
from fleetops.models.tickets import PartType, StockLevel, StockLocation, StockMovement, Ticket, TicketBreach
from fleetops.platform import parameters

# October 2026 in Beijing time: 2026-09-30 16:00 UTC → 2026-10-31 16:00 UTC, 744 hours.
from fleetops.services import reports

# October 2026 in Beijing time: 2026-09-30 16:00 UTC → 2026-10-31 16:00 UTC, 744 hours.
START = datetime(2026, 9, 30, 16, 0, tzinfo=timezone.utc)
END = datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc)
H = 3600


def epoch(dt):
    return int(dt.timestamp())


def _device(db, site, code, kind):
    d = Device(code=code, name=f"{site.name}{code[-4:]}", kind=kind, site_id=site.id, lifecycle="online",
               status="up", in_service_from=START - timedelta(days=60), ip_address=f"10.1.{site.id}.{len(code)}{code[-1]}")
    db.add(d)
    db.flush()
    return d


def _down(db, device, start, hours, cause="device_fault"):
    """One outage and the status intervals around it (the rest of the month up)."""
    o = Outage(device_id=device.id, started_at=start, detected_at=start + timedelta(minutes=3),
               ended_at=start + timedelta(hours=hours), cause=cause,
               cause_reason="供电局计划停电通知" if cause != "device_fault" else "")
    db.add(o)
    db.flush()
    db.add(StatusInterval(device_id=device.id, start_s=epoch(start), end_s=epoch(start) + int(hours * H),
                          state="down", outage_id=o.id))
    return o


def _up_rest(db, device, downs):
    """Up intervals covering the month outside the given (start, hours) outages."""
    cursor = epoch(START)
    for start, hours in sorted(downs):
        if epoch(start) > cursor:
            db.add(StatusInterval(device_id=device.id, start_s=cursor, end_s=epoch(start), state="up"))
        cursor = epoch(start) + int(hours * H)
    db.add(StatusInterval(device_id=device.id, start_s=cursor, end_s=epoch(END), state="up"))


@pytest.fixture
def october(db, users):
    """Three contract cameras at two sites; cam1 fails 3 times (10 h, contractor's fault), cam2 loses 20 h to a
    power-utility cut (excluded), cam3 never fails; two tickets (one arrival late by 2 h), one spare issued."""
    a = Site(code="K105", name="北门卡口", district="天山区", latitude=43.82, longitude=87.61, key_site=True)
    b = Site(code="S210", name="外环测速", district="沙依巴克区", latitude=43.79, longitude=87.55)
    db.add_all([a, b])
    db.flush()
    db.add_all([Cabinet(site_id=a.id, code="K105-CAB"), Cabinet(site_id=b.id, code="S210-CAB")])
    cam1 = _device(db, a, "K105-CAM1", "checkpoint_camera")
    cam2 = _device(db, a, "K105-CAM2", "checkpoint_camera")
    cam3 = _device(db, b, "S210-SPD1", "speed_camera")
    cam1_downs = [(START + timedelta(days=2), 4), (START + timedelta(days=9), 3), (START + timedelta(days=20), 3)]
    outs = [_down(db, cam1, s, h) for s, h in cam1_downs]
    _up_rest(db, cam1, cam1_downs)
    cam2_downs = [(START + timedelta(days=5), 20)]
    _down(db, cam2, cam2_downs[0][0], 20, cause="power_utility")
    _up_rest(db, cam2, cam2_downs)
    _up_rest(db, cam3, [])

    t0 = outs[0].detected_at
    on_time = Ticket(device_id=cam1.id, site_id=a.id, outage_id=outs[0].id, source="outage", category="offline",
                     state="closed", opened_at=t0, detected_at=t0, arrive_by=t0 + timedelta(hours=2),
                     arrived_at=t0 + timedelta(hours=1), repair_by=t0 + timedelta(hours=5),
                     resolved_at=t0 + timedelta(hours=3), opened_by="system")
    t1 = outs[1].detected_at
    late = Ticket(device_id=cam1.id, site_id=a.id, outage_id=outs[1].id, source="outage", category="offline",
                  state="closed", opened_at=t1, detected_at=t1, arrive_by=t1 + timedelta(hours=2),
                  arrived_at=t1 + timedelta(hours=4), repair_by=t1 + timedelta(hours=8),
                  resolved_at=t1 + timedelta(hours=5), opened_by="system", requires_replacement=True,
                  replacement_reason="同一设备同一故障已连续维修 2 次")
    db.add_all([on_time, late])
    db.flush()
    db.add(TicketBreach(ticket_id=late.id, which="arrive", kind="breached", due_at=late.arrive_by,
                        recorded_at=late.arrive_by))
    parameters.set_value(db, "contract_total_yuan", 1_000_000, users["admin"])

    pt = PartType(code="FL-01", name="补光灯", device_kind="fill_light", minimum_stock=3)
    loc = StockLocation(code="WH1", name="中心库")
    db.add_all([pt, loc])
    db.flush()
    db.add(StockLevel(part_type_id=pt.id, location_id=loc.id, on_hand=2))
    db.add(StockMovement(kind="issued", part_type_id=pt.id, location_id=loc.id, quantity=-1, ticket_id=late.id,
                         at=t1 + timedelta(hours=4)))
    db.add(MetrologyCertificate(device_id=cam3.id, certificate_no="JL2025-118", valid_until=date(2026, 11, 15)))
    db.add(QualityFinding(device_id=cam1.id, kind="blur", state="open", first_seen_at=START + timedelta(days=3),
                          last_seen_at=START + timedelta(days=3)))
    for day in range(31):
        db.add(OnlineRateSample(at=START + timedelta(days=day, hours=6), in_service=3, online=3 if day != 5 else 2,
                                contract_in_service=3, contract_online=3 if day != 5 else 2))
    db.commit()
    return {"cam1": cam1, "cam2": cam2, "cam3": cam3}


def _sheet(wb, title) -> dict:
    ws = wb[title]
    rows = list(ws.iter_rows(values_only=True))
    return {"headers": rows[0], "rows": [r for r in rows[1:] if any(v is not None for v in r)]}


def test_monthly_xlsx_has_the_right_uptime_sla_penalty_and_spares_figures(db, october):
    report = reports.monthly_report(db, "2026-10", now=END)
    wb = load_workbook(io.BytesIO(reports.to_xlsx(report)))

    assert {"概要", "在线率-设备", "在线率-点位", "在线率-设备类型", "在线率-辖区", "高频故障设备", "服务时限",
            "备件使用", "计量检定", "罚款估算", "改进建议"} <= set(wb.sheetnames)
    summary = {r[0]: r[1] for r in _sheet(wb, "概要")["rows"]}
    month_h = 744
    # Fleet: up = 3×744 − 30 h, down = 30 h of which 20 h excluded (U3).
    assert summary["原始在线率(%)"] == pytest.approx(round(100 * (3 * month_h - 30) / (3 * month_h), 2))
    assert summary["合同在线率(%)"] == pytest.approx(round(100 * (3 * month_h - 30) / (3 * month_h - 20), 2))
    assert summary["离线次数"] == 4 and summary["工单数"] == 2
    assert summary["到场及时率(%)"] == 50.0 and summary["修复及时率(%)"] == 100.0
    assert summary["平均修复时长(小时)"] == 4.0
    assert summary["罚款估算(元)"] == 5000.0  # one day late × 0.5 % of 1,000,000 (T9)

    devices = {r[0]: r for r in _sheet(wb, "在线率-设备")["rows"]}
    headers = _sheet(wb, "在线率-设备")["headers"]
    raw_i, con_i = headers.index("原始在线率(%)"), headers.index("合同在线率(%)")
    assert devices["K105-CAM2"][raw_i] == pytest.approx(round(100 * (month_h - 20) / month_h, 2))
    assert devices["K105-CAM2"][con_i] == 100.0  # the power cut does not count against the contractor
    assert devices["K105-CAM1"][con_i] == pytest.approx(round(100 * (month_h - 10) / month_h, 2))
    assert devices["S210-SPD1"][con_i] == 100.0
    districts = {r[0]: r for r in _sheet(wb, "在线率-辖区")["rows"]}
    assert set(districts) == {"天山区", "沙依巴克区"}

    top = _sheet(wb, "高频故障设备")["rows"]
    assert top[0][1] == "K105-CAM1" and top[0][5] == 3 and top[0][6] == 10.0
    spares = {r[0]: r for r in _sheet(wb, "备件使用")["rows"]}
    assert spares["FL-01"][2:7] == (1, 1, 2, 3, "是")
    metrology = _sheet(wb, "计量检定")["rows"]
    assert metrology[0][0] == "S210-SPD1" and "到期" in metrology[0][5]
    advice = " ".join(r[1] for r in _sheet(wb, "改进建议")["rows"])
    assert "K105-CAM1" in advice and "补光灯" in advice and "计量检定" in advice and "到场" in advice
    assert "更换 K105-CAM1" in advice  # T4
    assert "重点点位" not in advice  # the key site K105 met the target (99.32 %)


def test_monthly_pdf_is_a4_and_renders_chinese_text(db, october, tmp_path):
    pdf = reports.to_pdf(reports.monthly_report(db, "2026-10", now=END))
    path = tmp_path / "monthly.pdf"
    path.write_bytes(pdf)
    assert pdf.startswith(b"%PDF") and b"FontFile2" in pdf and b"STSong-Light" not in pdf  # an embedded TrueType font
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftotext) is not installed")
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "pts (A4)" in info
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("交通技术监控设备运维月报", "合同在线率", "高频故障设备", "改进建议", "K105-CAM1", "北门卡口"):
        assert words in text, words
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(path), str(tmp_path / "page")],
                   check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 10_000


def test_weekly_quality_summary_counts_the_weeks_findings(db, october):
    report = reports.weekly_quality_report(db, "2026-W40", now=END)  # Mon 28 Sep – Sun 4 Oct (Beijing)
    findings = report.section("findings")
    assert findings.rows == [["图像模糊/镜头脏污", 1, 0]]
    assert report.section("cameras").rows[0][0] == "K105-CAM1"
    wb = load_workbook(io.BytesIO(reports.to_xlsx(report)))
    assert "问题类型" in wb.sheetnames
    assert reports.to_pdf(report).startswith(b"%PDF")


@pytest.mark.parametrize("month", ["2026-13", "10-2026", "", "2026/10"])
def test_a_bad_month_is_refused_in_words(db, month):
    with pytest.raises(ValidationFailed) as err:
        reports.monthly_report(db, month)
    assert "YYYY-MM" in err.value.message or "date" in err.value.message


def test_a_bad_week_is_refused_in_words(db):
    with pytest.raises(ValidationFailed):
        reports.weekly_quality_report(db, "2026-W60")


def test_an_empty_month_still_makes_a_report_without_inventing_figures(db, users):
    report = reports.monthly_report(db, "2026-10", now=END)
    summary = {r[0]: r[1] for r in report.section("summary").rows}
    assert summary["原始在线率(%)"] is None and summary["到场及时率(%)"] is None
    assert reports.to_pdf(report).startswith(b"%PDF") and reports.to_xlsx(report)[:2] == b"PK"


def test_a_key_site_below_target_is_named_first_for_attention(db, users, october):
    parameters.set_value(db, "uptime_target_pct", 99.5, users["admin"])  # K105 made 99.32 % this month
    db.commit()
    advice = reports.monthly_report(db, "2026-10", now=END).section("suggestions").rows
    assert any("重点点位 K105" in row[1] for row in advice)
    assert not any("重点点位 S210" in row[1] for row in advice)  # not a key site


def test_the_report_is_written_in_the_readers_language(db, october):
    """Report text is msgids: the same figures in English, with the domain's labels in English too."""
    import re

    zh = reports.monthly_report(db, "2026-10", now=END)
    en = reports.monthly_report(db, "2026-10", now=END, locale="en")
    assert en.title == "Traffic enforcement equipment maintenance monthly report"
    assert [s.key for s in en.sections] == [s.key for s in zh.sections]
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for sec in en.sections:
        assert not cjk.search(" ".join([sec.title, sec.note, *sec.headers])), sec.key
        assert [len(r) for r in sec.rows] == [len(r) for r in zh.section(sec.key).rows]
    summary = {r[0]: r[1] for r in en.section("summary").rows}
    assert summary["Contractual online rate (%)"] == {r[0]: r[1] for r in zh.section("summary").rows}["合同在线率(%)"]
    assert en.section("top_devices").rows[0][4] == "Checkpoint camera"
    assert en.section("quality").rows[0][0] == "Blurred image / dirty lens"
    advice = " ".join(r[1] for r in en.section("suggestions").rows)
    assert "Replace K105-CAM1" in advice and "metrology" in advice
    wb = load_workbook(io.BytesIO(reports.to_xlsx(en)))
    assert {"Summary", "Online rate by device", "Suggestions"} <= set(wb.sheetnames)
    assert reports.to_pdf(en).startswith(b"%PDF")
    weekly = reports.weekly_quality_report(db, "2026-W40", now=END, locale="en")
    assert weekly.section("findings").rows == [["Blurred image / dirty lens", 1, 0]]

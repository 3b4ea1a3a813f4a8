"""A2 "done when": a month of REPLAYED probe results (every 10 minutes, through monitoring's real ingest) gives a
monthly report whose uptime figures match the outages replayed, raw and contractual; plate accuracy comes from the
quality area's audit samples."""
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fleetops.models.monitoring import Outage
from fleetops.models.quality import AuditSample, PassRecord
from fleetops.services import monitoring as polling, reports
from fleetops.services import monitoring as uptime
from tests.services.test_reports_monthly import END, START, _device

STEP = timedelta(minutes=10)


def _replay(db, devices, failing: dict) -> None:
    """Results for every device every 10 minutes of October, one day per ingest call; `failing` maps a device
    code to the [start, end) it does not answer."""
    cfg = polling.IngestConfig(poll_interval_s=600)
    day = START
    while day < END:
        batch, t = [], day
        while t < min(day + timedelta(days=1), END):
            for d in devices:
                lo, hi = failing.get(d.code, (END, END))
                batch.append({"device": d.code, "probe": "ping", "ok": not lo <= t < hi, "at": t.isoformat(),
                              "metrics": {"rtt_ms": 1.5}})
            t += STEP
        polling.ingest_results(db, batch, cfg, now=t)
        db.commit()
        day += timedelta(days=1)


def test_a_replayed_month_gives_the_uptime_the_outages_imply(db, users):
    from fleetops.models import Site

    site = Site(code="K105", name="北门卡口", district="天山区", latitude=43.82, longitude=87.61)
    db.add(site)
    db.flush()
    cam1 = _device(db, site, "K105-CAM1", "checkpoint_camera")
    cam2 = _device(db, site, "K105-CAM2", "epolice_camera")
    db.commit()
    # cam1: 6 h down on Oct 3 (its own fault); cam2: 12 h down on Oct 10 (a power-utility cut, excluded).
    cam1_off = (START + timedelta(days=2, hours=4), START + timedelta(days=2, hours=10))
    cam2_off = (START + timedelta(days=9, hours=1), START + timedelta(days=9, hours=13))
    _replay(db, [cam1, cam2], {cam1.code: cam1_off, cam2.code: cam2_off})

    outages = {o.device_id: o for o in db.scalars(select(Outage))}
    assert set(outages) == {cam1.id, cam2.id}
    uptime.set_outage_cause(db, outages[cam2.id].id, "power_utility", "供电局 10kV 线路检修通知", actor=users["supervisor"])
    db.commit()

    wb = load_workbook(io.BytesIO(reports.to_xlsx(reports.monthly_report(db, "2026-10", now=END))))
    rows = list(wb["在线率-设备"].iter_rows(values_only=True))
    head, by_code = rows[0], {r[0]: r for r in rows[1:] if r[0]}
    up_i, down_i = head.index("在线时长(小时)"), head.index("离线时长(小时)")
    raw_i, con_i = head.index("原始在线率(%)"), head.index("合同在线率(%)")
    assert by_code["K105-CAM1"][down_i] == pytest.approx(6.0)
    assert by_code["K105-CAM2"][down_i] == pytest.approx(12.0)
    measured1 = by_code["K105-CAM1"][up_i] + 6.0
    assert by_code["K105-CAM1"][raw_i] == pytest.approx(round(100 * (measured1 - 6) / measured1, 2))
    assert by_code["K105-CAM1"][con_i] == by_code["K105-CAM1"][raw_i]
    assert by_code["K105-CAM2"][raw_i] < 99 and by_code["K105-CAM2"][con_i] == 100.0
    summary = {r[0]: r[1] for r in wb["概要"].iter_rows(min_row=2, values_only=True)}
    assert summary["离线次数"] == 2 and summary["合同在线率(%)"] > summary["原始在线率(%)"]


def test_plate_accuracy_section_reports_the_audit(db, users):
    from fleetops.models import Site

    site = Site(code="K105", name="北门卡口", district="天山区", latitude=43.82, longitude=87.61)
    db.add(site)
    db.flush()
    cam = _device(db, site, "K105-CAM1", "checkpoint_camera")
    for i in range(40):  # 39 read right, 1 wrong by day in October
        rec = PassRecord(device_id=cam.id, captured_at=START + timedelta(days=1, minutes=i), period="day",
                         reported_plate=f"新A·{2000 + i}", external_id=f"p{i}")
        db.add(rec)
        db.flush()
        db.add(AuditSample(pass_record_id=rec.id, device_id=cam.id, month="2026-10", period="day",
                           auto_result="agree", outcome="wrong" if i == 0 else "correct"))
    db.commit()
    plates = reports.monthly_report(db, "2026-10", now=END).section("plates")
    assert plates.rows == [["K105-CAM1", "白天", 39, 40, 0, 97.5, 98.0, "否"]]

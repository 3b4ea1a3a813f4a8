"""A2/U4 in the UI, the API and the CLI: the dashboard with its charts, report downloads (XLSX opens, PDF is a PDF),
bad periods refused in words, /metrics in Prometheus text format."""
import io

from click.testing import CliRunner
from openpyxl import load_workbook

import fleetops.cli as cli
from tests.services.test_alerts_delivery import make_site
from tests.services.test_reports_monthly import END, october  # noqa: F401 - the month of data as a fixture


def test_supervisor_dashboard_shows_figures_and_its_charts(db, users, client_as, october):  # noqa: F811
    october["cam1"].status = "down"
    db.commit()
    html = client_as("supervisor").get("/reports/").get_data(as_text=True)
    # Issue 13: the charts are drawn by the vendored ECharts from JSON data islands.
    assert "总览" in html and 'data-chart="chart-online-rate"' in html and "未完成工单（按时限）" in html
    assert 'id="stat-down">1<' in html and "K105-CAM1" in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_the_crew_cannot_open_the_dashboard(client_as):
    assert client_as("crew").get("/reports/").status_code == 403


def test_monthly_report_downloads_as_xlsx_and_pdf(db, users, client_as, october):  # noqa: F811
    c = client_as("supervisor")
    x = c.get("/reports/monthly.xlsx?month=2026-10")
    assert x.status_code == 200 and "attachment" in x.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(x.data))
    summary = {r[0]: r[1] for r in wb["概要"].iter_rows(min_row=2, values_only=True)}
    assert summary["工单数"] == 2
    p = c.get("/reports/monthly.pdf?month=2026-10")
    assert p.status_code == 200 and p.data.startswith(b"%PDF") and p.mimetype == "application/pdf"
    w = c.get("/reports/weekly.xlsx?week=2026-W40")
    assert w.status_code == 200 and "问题类型" in load_workbook(io.BytesIO(w.data)).sheetnames


def test_a_bad_month_in_the_url_is_a_message_not_a_500(users, client_as):
    resp = client_as("supervisor").get("/reports/monthly.xlsx?month=2026-13", follow_redirects=True)
    assert resp.status_code == 200 and "YYYY-MM" in resp.get_data(as_text=True)
    assert client_as("supervisor").get("/reports/monthly.doc?month=2026-10").status_code == 404


def test_metrics_are_in_prometheus_text_format(db, users, app):
    from datetime import datetime, timedelta, timezone

    from fleetops.models.monitoring import ProbeResultRow

    _s, (a, b) = make_site(db, n=2)
    a.status, b.status = "up", "down"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for cycle_start in (now - timedelta(seconds=70), now - timedelta(seconds=10)):  # two poll cycles
        db.add(ProbeResultRow(device_id=a.id, probe="ping", at=cycle_start, ok=True))
        db.add(ProbeResultRow(device_id=b.id, probe="ping", at=cycle_start + timedelta(seconds=4), ok=False))
    db.commit()
    resp = app.test_client().get("/metrics")
    assert resp.status_code == 401  # bind address unknown: a token is needed
    app.config["BIND_HOST"] = "127.0.0.1"  # served on loopback only: open
    resp = app.test_client().get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    assert "# TYPE fleetops_devices_down gauge" in text and "fleetops_devices_down 1" in text
    assert 'fleetops_online_ratio{scope="contract"} 0.5' in text
    assert "fleetops_poll_cycle_duration_seconds 4.0" in text  # the latest cycle probed for 4 s
    assert "fleetops_tickets_open 0" in text and 'fleetops_deadline_breaches_total{which="arrive"} 0' in text
    for line in text.splitlines():  # every sample line is "name{labels} number"
        if line and not line.startswith("#"):
            name_part, value = line.rsplit(" ", 1)
            float(value)
            assert name_part.split("{")[0].startswith("fleetops_")


def test_metrics_can_require_a_token(make_app, users):
    app = make_app(METRICS_TOKEN="scrape-me")
    c = app.test_client()
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200
    app.config["BIND_HOST"] = "127.0.0.1"  # a configured token is required on loopback too
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    for host, status in (("0.0.0.0", 401), ("10.1.2.3", 401), ("::1", 200), ("localhost", 200), ("127.8.0.1", 200)):
        open_app = make_app(BIND_HOST=host)
        assert open_app.test_client().get("/metrics").status_code == status, host


def test_api_monthly_report_and_dashboard(db, users, api_headers, app, october):  # noqa: F811
    c = app.test_client()
    body = c.get("/api/v1/reports/monthly?month=2026-10", headers=api_headers("supervisor")).get_json()
    summary = {r[0]: r[1] for r in next(s for s in body["sections"] if s["key"] == "summary")["rows"]}
    assert summary["到场及时率(%)"] == 50.0
    assert c.get("/api/v1/reports/monthly?month=oct", headers=api_headers("supervisor")).status_code == 422
    dash = c.get("/api/v1/reports/dashboard", headers=api_headers("supervisor")).get_json()
    assert dash["stock_below_minimum"] == [{"part": "FL-01", "on_hand": 2, "minimum": 3}]


def test_cli_writes_the_monthly_report_by_extension(db, users, app, october, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(cli, "_app", app)
    r = CliRunner()
    out = r.invoke(cli.main, ["report", "monthly", "--month", "2026-10", "--out", str(tmp_path / "m.xlsx")])
    assert out.exit_code == 0, out.output
    assert "概要" in load_workbook(tmp_path / "m.xlsx").sheetnames
    out = r.invoke(cli.main, ["report", "monthly", "--month", "2026-10", "--out", str(tmp_path / "m.pdf")])
    assert out.exit_code == 0 and (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")
    out = r.invoke(cli.main, ["report", "weekly", "--week", "2026-W40", "--out", str(tmp_path / "w.pdf")])
    assert out.exit_code == 0, out.output


def test_cli_refuses_bad_input_with_a_sentence(db, users, app, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_app", app)
    r = CliRunner()
    out = r.invoke(cli.main, ["report", "monthly", "--month", "2026-10", "--out", str(tmp_path / "m.doc")])
    assert out.exit_code == 1 and ".xlsx" in out.output and "Traceback" not in out.output
    out = r.invoke(cli.main, ["report", "monthly", "--month", "10/2026", "--out", str(tmp_path / "m.pdf")])
    assert out.exit_code == 1 and "YYYY-MM" in out.output and not (tmp_path / "m.pdf").exists()
    out = r.invoke(cli.main, ["report", "monthly", "--month", "2026-10", "--out", str(tmp_path / "no" / "m.pdf")])
    assert out.exit_code == 1 and "目录不存在" in out.output


def test_the_dashboards_tallies_in_one_statement_equal_the_separate_counts(db, users, october):  # noqa: F811
    """Issue 14 part 4: the dashboard reads breaches, findings, alerts and deliveries in one statement; each tally is
    the count the separate functions (the API's and the metrics') give."""
    from fleetops.models.alerts import Alert
    from fleetops.services.reports import queries
    from tests.services.test_reports_monthly import START

    lead = Alert(key="device:1:down", kind="device_down", title="K105-CAM1 离线", state="open")
    db.add(lead)
    db.flush()
    db.add_all([Alert(key="device:2:down", kind="device_down", title="K105-CAM2 离线", state="open", group_id=lead.id),
                Alert(key="device:3:down", kind="device_down", title="K105-CAM3 离线", state="resolved")])
    db.commit()
    got = queries.dashboard_counts(db, START)
    assert got == {"breaches": queries.count_breaches_since(db, START), "findings": queries.count_open_findings(db),
                   "alerts": queries.count_open_alerts(db), "deliveries": queries.count_pending_deliveries(db)}
    assert got["alerts"] == 1 and got["breaches"] >= 1 and got["findings"] >= 1


def test_the_dashboard_counts_tickets_by_deadline_and_open_site_incidents_as_the_lists_do(db, users,
                                                                                          october):  # noqa: F811
    """Issue 14 part 4: every count of the dashboard comes from one statement; the deadline buckets are those of
    deadline_buckets over the open tickets (the arrival deadline until arrival, then the repair deadline; a deadline
    at `now` is overdue, one at now + 1 h is within the hour), and the open site incidents are open_incidents'."""
    from datetime import timedelta

    from sqlalchemy import select

    from fleetops.models import Device
    from fleetops.models.monitoring import SiteIncident
    from fleetops.models.tickets import Ticket
    from fleetops.services import monitoring
    from fleetops.services.reports import queries
    from fleetops.services.reports.dashboard import dashboard, dashboard_tallies, deadline_buckets

    now = END + timedelta(days=3)
    cam = db.scalar(select(Device).where(Device.code == "K105-CAM1"))
    h = timedelta(hours=1)
    deadlines = [  # (arrive_by, arrived_at, repair_by, state)
        (now - h, None, now + 5 * h, "dispatched"), (now, None, None, "new"),  # overdue
        (now + 2 * h, now - 2 * h, now - h / 2, "repairing"),  # arrived: the repair deadline is past
        (now + h / 2, None, None, "on_the_way"), (now + h, None, now - h, "dispatched"),  # within the hour
        (now - h, now - 2 * h, now + h, "arrived"),  # arrived, repair due at the hour's edge
        (now + 3 * h, None, None, "new"), (now - h, now - 2 * h, now + 2 * h, "repairing"),  # later
        (None, None, None, "new"), (now - h, now - 2 * h, None, "arrived"),  # no deadline
        (now - 5 * h, None, now - 5 * h, "closed"), (now - 5 * h, None, None, "cancelled")]  # not open: not counted
    for arrive_by, arrived_at, repair_by, state in deadlines:
        db.add(Ticket(device_id=cam.id, site_id=cam.site_id, source="supervisor", category="offline", state=state,
                      opened_at=now - 3 * h, detected_at=now - 3 * h, arrive_by=arrive_by, arrived_at=arrived_at,
                      repair_by=repair_by, opened_by="督导"))
    db.add_all([SiteIncident(site_id=cam.site_id, started_at=now - 2 * h, detected_at=now - 2 * h, device_count=2),
                SiteIncident(site_id=cam.site_id, started_at=now - 9 * h, detected_at=now - 9 * h, device_count=2),
                SiteIncident(site_id=cam.site_id, started_at=now - 8 * h, detected_at=now - 8 * h, device_count=3,
                             ended_at=now - 7 * h),
                SiteIncident(site_id=cam.site_id, started_at=now - 6 * h, detected_at=now - 6 * h, device_count=2,
                             retracted_at=now - 5 * h)])
    db.commit()

    open_tickets = db.scalars(select(Ticket).where(Ticket.state.in_(queries.OPEN_STATES))).all()
    expected = deadline_buckets(open_tickets, now)
    assert expected == {"overdue": 3, "within_1h": 3, "later": 2, "no_deadline": 2}  # the data covers each bucket
    from tests.services.test_reports_monthly import START

    month_start = START  # October's breach is counted
    got = dashboard_tallies(db, now, month_start, "2026-11")
    assert {k: got[k] for k in expected} == expected
    assert got["incidents"] == len(monitoring.open_incidents(db)) == 2
    assert (got["judged"], got["correct"]) == queries.plate_audit_totals(db, "2026-11")
    assert {k: got[k] for k in ("breaches", "findings", "alerts", "deliveries")} == \
        queries.dashboard_counts(db, month_start) and got["breaches"] == 1
    d = dashboard(db, now)
    assert d["tickets_by_deadline"] == expected and d["open_tickets"] == 10 and d["open_incidents"] == 2

"""Report a fault from the pole (T1, T7): the QR landing, the public form (no login; CSRF; per-address limit with a
Chinese 429; size, image, phone and honeypot checks; duplicates folded), the supervisor's triage (ticket with the
photo as evidence, or dismissal with a reason; both audited) and the A4 labels sheet with absolute QR URLs."""
import io
import itertools

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from fleetops.models import AuditLog
from fleetops.models.maintenance import FaultReport
from fleetops.models.tickets import Ticket
from tests.tickets_fixtures import make_fleet

_addresses = itertools.count(10)


def jpeg(w=64, h=48) -> bytes:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 1] = 200
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


@pytest.fixture
def fleet(db, users):
    f = make_fleet(db, users["crew"])
    db.commit()
    return f


def anon(app):
    """A client from its own loopback address (the limit is per address)."""
    return app.test_client(), {"REMOTE_ADDR": f"127.0.9.{next(_addresses)}"}


def post(client, env, code="K105-CAM1", **data):
    form = {"problem": "knocked", "details": "相机被撞歪了", "phone": "139 1234 5678", **data}
    return client.post(f"/r/{code}", data=form, environ_base=env, content_type="multipart/form-data")


def _reports(db):
    db.rollback()
    return db.scalars(select(FaultReport).order_by(FaultReport.id)).all()


def test_the_qr_url_opens_the_form_for_anyone_and_the_device_page_for_a_logged_in_tablet(app, fleet, client_as):
    c, env = anon(app)
    page = c.get("/r/K105-CAM1", environ_base=env)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "报告故障" in html and "K105-CAM1" in html and 'name="website"' in html
    assert c.get("/r/NOPE-1", environ_base=env).status_code == 404
    tablet = client_as("crew").get("/r/K105-CAM1")
    assert tablet.status_code == 302 and tablet.headers["Location"].endswith("/devices/K105-CAM1")


def test_a_cabinet_known_only_as_a_cabinet_gets_a_label_that_reports_on_its_feed(make_app, db, fleet):
    from fleetops.models import Cabinet
    from tests.conftest import login

    cab = Cabinet(site_id=fleet["near"].id, code="K-105-JG", power_feed="市电 户号 650212345678")
    db.add(cab)
    db.flush()
    fleet["cabinet"].cabinet_id = fleet["cam"].cabinet_id = cab.id
    db.commit()
    app = make_app(PUBLIC_BASE_URL="https://fleet.example.gov.cn")
    html = login(app.test_client(), "supervisor").get("/labels/K-105").get_data(as_text=True)
    assert 'data-url="https://fleet.example.gov.cn/r/K-105-JG"' in html and html.count("<svg") == 4
    c, env = anon(app)
    assert post(c, env, code="K-105-JG", problem="cabinet_open").status_code == 201
    [r] = _reports(db)
    assert (r.device_id, r.problem) == (fleet["cabinet"].id, "cabinet_open")


def test_a_report_lands_in_the_triage_queue_and_becomes_a_ticket_with_its_photo(app, db, fleet, client_as):
    c, env = anon(app)
    resp = post(c, env, photo=(io.BytesIO(jpeg()), "pole.jpg"))
    assert resp.status_code == 201, resp.get_data(as_text=True)[:500]
    assert "已收到" in resp.get_data(as_text=True)
    [r] = _reports(db)
    assert (r.problem, r.phone, r.state, r.details) == ("knocked", "13912345678", "new", "相机被撞歪了")
    assert r.photo_path and r.client_hash and "127.0.9" not in r.client_hash
    sup = client_as("supervisor")
    queue = sup.get("/fault-reports/").get_data(as_text=True)
    assert f"report-{r.id}" in queue and "13912345678" in queue
    assert sup.get(f"/fault-reports/{r.id}/photo").data[:3] == b"\xff\xd8\xff"
    assert client_as("crew").post(f"/fault-reports/{r.id}/ticket").status_code == 403
    done = sup.post(f"/fault-reports/{r.id}/ticket")
    assert done.status_code == 302
    [t] = db.scalars(select(Ticket)).all()
    db.refresh(r)
    assert (r.state, r.ticket_id, t.source, t.device_id, t.category) == (
        "ticketed", t.id, "public_report", fleet["cam"].id, "aim")
    assert t.evidence_path == r.photo_path
    assert sup.get(f"/fault-reports/ticket/{t.id}/photo").data[:3] == b"\xff\xd8\xff"
    assert 'id="report-evidence"' in sup.get(f"/tickets/{t.id}").get_data(as_text=True)
    assert db.scalar(select(AuditLog.actor_name).where(AuditLog.action == "fault_report_ticketed")) == "supervisor"
    assert sup.post(f"/fault-reports/{r.id}/dismiss", data={"reason": "x"}).status_code == 302  # already handled
    db.refresh(r)
    assert r.state == "ticketed"


def test_dismissal_needs_a_reason_and_is_audited(app, db, fleet, client_as):
    c, env = anon(app)
    assert post(c, env).status_code == 201
    [r] = _reports(db)
    sup = client_as("supervisor")
    sup.post(f"/fault-reports/{r.id}/dismiss", data={"reason": ""})
    assert _reports(db)[0].state == "new"
    sup.post(f"/fault-reports/{r.id}/dismiss", data={"reason": "重复恶作剧"})
    [r] = _reports(db)
    assert (r.state, r.decision_note) == ("dismissed", "重复恶作剧")
    assert db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "fault_report_dismissed")) == 1
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_second_report_of_the_same_device_is_folded(app, db, fleet):
    c, env = anon(app)
    assert post(c, env).status_code == 201
    c2, env2 = anon(app)
    again = post(c2, env2, problem="damaged")
    assert again.status_code == 200 and "已追加" in again.get_data(as_text=True)
    [r] = _reports(db)
    assert r.repeats == 2
    assert post(c2, env2, code="K105-CAM2").status_code == 201  # another device: its own item
    assert len(_reports(db)) == 2


@pytest.mark.parametrize("data, field", [
    ({"phone": "12345"}, "phone"),
    ({"problem": "aliens"}, "problem"),
    ({"details": "长" * 501}, "details"),
    ({"photo": (io.BytesIO(b"\xff\xd8\xff\xe0" + b"not a jpeg" * 50), "x.jpg")}, "photo"),
    ({"photo": (io.BytesIO(b"%PDF-1.4 hello"), "x.jpg")}, "photo"),
    ({"photo": (io.BytesIO(b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024 + 10)), "big.jpg")}, "photo"),
])
def test_bad_input_is_a_4xx_naming_the_field_and_nothing_is_stored(app, db, fleet, data, field):
    c, env = anon(app)
    resp = post(c, env, **data)
    assert resp.status_code == 422, resp.status_code
    assert f'data-field="{field}"' in resp.get_data(as_text=True)
    assert _reports(db) == []


def test_a_filled_honeypot_stores_nothing_but_thanks(app, db, fleet):
    c, env = anon(app)
    resp = post(c, env, website="http://spam.example")
    assert resp.status_code == 200 and "已收到" in resp.get_data(as_text=True)
    assert _reports(db) == []


def test_the_per_address_limit_answers_429_in_chinese(make_app, db, fleet):
    app = make_app(PUBLIC_REPORT_LIMIT="2 per minute")
    c, env = anon(app)
    assert post(c, env).status_code == 201
    assert post(c, env, code="K105-CAM2").status_code == 201
    third = post(c, env, code="K230-CAM1")
    assert third.status_code == 429
    assert "提交过于频繁" in third.get_data(as_text=True)
    assert len(_reports(db)) == 2
    other, env2 = anon(app)
    assert post(other, env2, code="K230-CAM1").status_code == 201  # another address is not affected


def test_the_form_is_csrf_protected(make_app, db, fleet):
    app = make_app(WTF_CSRF_ENABLED=True)
    c, env = anon(app)
    assert post(c, env).status_code == 400
    assert _reports(db) == []


def test_the_labels_sheet_has_an_absolute_qr_url_per_device(make_app, db, fleet, client_as):
    app = make_app(PUBLIC_BASE_URL="https://fleet.example.gov.cn/")
    from tests.conftest import login

    c = login(app.test_client(), "supervisor")
    html = c.get("/labels/K-105").get_data(as_text=True)
    for code in ("K105-CAM1", "K105-CAM2", "K105-CAB"):
        assert f'data-url="https://fleet.example.gov.cn/r/{code}"' in html
    assert html.count("<svg") == 3 and "@page { size: A4" in html
    relative = make_app(PUBLIC_BASE_URL="/fleet")
    c2 = login(relative.test_client(), "supervisor")
    assert c2.get("/labels/K-105").status_code == 302  # refused with a message naming PUBLIC_BASE_URL
    assert login(app.test_client(), "supervisor").get("/labels/NOPE").status_code in (302, 404)

"""Settings in forms (issue 13 part 6; T5, A1, A3): SLA policies as forms with a message at each wrong field and
never raw JSON; contract parameters grouped by area with a Chinese label per input and the input by value type;
alert channels deleted softly (history kept); users edited, disabled (cannot log in, sessions ended) and given a
new password by an admin; districts chosen from the inventory's list, and the channel test's errors in Chinese."""
import re
import smtplib
import socket

import pytest
from sqlalchemy import select

from fleetops.models import AuditLog, User
from fleetops.models.alerts import AlertChannel, AlertRoute
from fleetops.models.tickets import SlaPolicyRow
from fleetops.services import accounts, alerts
from fleetops.services.alerts.channels import registry
from tests.conftest import PASSWORDS
from tests.tickets_fixtures import make_fleet

FULL = {"name": "城区合同", "arrive_day_h": "2", "arrive_night_h": "3", "near_km": "100", "arrive_far_h": "4",
        "repair_h": "4", "swap_h": "4", "respond_h": "", "resolve_h.ordinary": "", "resolve_h.complex": "",
        "penalty.late_daily_pct": "0.5", "penalty.not_to_spec_pct": "5", "penalty.terminate_above_pct": "10",
        "penalty.late_basis": "contract_total", "key_sites_first": "1"}


# ---------------------------------------------------------------- SLA policies

def test_policy_page_is_forms_not_json(client_as):
    html = client_as("admin").get("/tickets/policies").get_data(as_text=True)
    assert 'name="rules"' not in html and "{&#34;" not in html and '{"' not in html
    for words in ("白天到场时限（小时）", "夜间到场时限（小时）", "近距离点位", "到场后修复时限（小时）", "一般故障解决时限（小时）",
                  "每逾期一天扣除"):
        assert words in html, words
    assert re.search(r'<input type="number"[^>]*name="arrive_day_h"[^>]*value="2"', html)


def test_a_new_policy_is_saved_from_its_fields_and_audited(client_as, db):
    c = client_as("admin")
    resp = c.post("/tickets/policies", data={"new": "1", "key": "city_2027", **FULL})
    assert resp.status_code == 302
    row = db.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == "city_2027"))
    assert row.rules["arrive_day_h"] == 2 and row.rules["near_km"] == 100 and row.rules["key_sites_first"] is True
    assert row.rules["penalty"]["terminate_above_pct"] == 10 and "respond_h" not in row.rules
    assert db.scalar(select(AuditLog).where(AuditLog.action == "sla_policy_saved", AuditLog.entity_id == "city_2027"))


@pytest.mark.parametrize("field,value,words", [
    ("repair_h", "abc", "请输入数字"),
    ("repair_h", "0", "请输入大于 0 且不超过 720 的数字"),
    ("near_km", "99999", "请输入大于 0 且不超过 5000 的数字"),
    ("penalty.late_daily_pct", "150", "请输入 0 到 100 之间的数字"),
    ("arrive_night_h", "", "填写了白天时限，也请填写夜间时限"),
    ("near_km", "", "请填写多远以内算近距离点位"),
    ("name", "", "请填写策略名称"),
])
def test_each_wrong_field_is_named_at_the_field_and_nothing_is_saved(client_as, db, field, value, words):
    c = client_as("admin")
    c.get("/tickets/policies")  # the presets
    before = dict(db.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == "checkpoint_om")).rules)
    resp = c.post("/tickets/policies", data={"key": "checkpoint_om", **FULL, field: value})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and words in html
    fid = "checkpoint_om-" + field.replace(".", "-")
    assert re.search(rf'id="{re.escape(fid)}"[^>]*aria-invalid="true"', html), fid  # at that field
    assert f'id="{fid}-err"' in html
    db.expire_all()
    assert db.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == "checkpoint_om")).rules == before


def test_supervisors_read_policies_but_cannot_change_them(client_as):
    c = client_as("supervisor")
    html = c.get("/tickets/policies").get_data(as_text=True)
    assert "readonly" in html and "保存策略" not in html
    assert c.post("/tickets/policies", data={"key": "checkpoint_om", **FULL}).status_code == 403


# ---------------------------------------------------------------- contract parameters

def test_parameters_are_grouped_described_in_chinese_and_typed(client_as):
    html = client_as("admin").get("/admin/parameters").get_data(as_text=True)
    for group in ("监控与在线率", "工单与时限", "合同与违约金", "图像质量", "服务器可访问的网络"):
        assert f"<h2>{group}</h2>" in html, group
    assert html.index("<h2>工单与时限</h2>") < html.index("平板上传照片的大小上限（MB）") < html.index("<h2>合同与违约金</h2>")
    assert "largest photo accepted" not in html and "T7:" not in html
    assert re.search(r'<input type="number" step="1"[^>]*name="value" id="p-photo_max_mb-value"', html)
    assert re.search(r'<input type="number" step="any"[^>]*id="p-uptime_target_pct-value"', html)
    assert re.search(r'<select name="value" id="p-photo_keep_location-value">', html)
    assert re.search(r'<input type="date" name="value" id="p-contract_start_date-value"', html)
    assert '<label for="p-photo_max_mb-value"' in html


def test_a_parameter_is_saved_by_its_type(client_as, db):
    from fleetops.platform import parameters

    c = client_as("admin")
    c.post("/admin/parameters", data={"key": "photo_keep_location", "value": "1"})
    c.post("/admin/parameters", data={"key": "camera_networks", "value": "10.1.0.0/16\n\n127.0.0.0/8\n"})
    resp = c.post("/admin/parameters", data={"key": "photo_max_mb", "value": "2.5"}, follow_redirects=True)
    assert "平板上传照片的大小上限（MB）：请输入整数" in resp.get_data(as_text=True)
    db.expire_all()
    assert parameters.get(db, "photo_keep_location") is True
    assert parameters.get(db, "camera_networks") == ["10.1.0.0/16", "127.0.0.0/8"]
    assert parameters.get(db, "photo_max_mb") == 10


# ---------------------------------------------------------------- alert channels

def test_a_channel_is_deleted_softly_and_its_history_kept(client_as, db, users):
    ch = alerts.save_channel(db, users["admin"], name="值班群", kind="webhook",
                             settings={"url": "http://127.0.0.1:9/hook"}, secrets={})
    alerts.save_route(db, users["admin"], channel_id=ch.id)
    db.commit()
    c = client_as("admin")
    assert f'id="delete-channel-{ch.id}"' in c.get("/alerts/channels").get_data(as_text=True)
    assert c.post(f"/alerts/channels/{ch.id}/delete").status_code == 302
    db.expire_all()
    row = db.get(AlertChannel, ch.id)
    assert row is not None and row.deleted_at is not None and not row.enabled  # kept, not sending
    assert all(not r.enabled for r in db.scalars(select(AlertRoute).where(AlertRoute.channel_id == ch.id)))
    html = c.get("/alerts/channels").get_data(as_text=True)
    assert "值班群" not in html
    assert c.get(f"/alerts/channels/{ch.id}/edit").status_code == 404
    assert db.scalar(select(AuditLog).where(AuditLog.action == "alert_channel_deleted")).summary
    # The name is free again for a new channel; deleting twice is a clear "not found".
    alerts.save_channel(db, users["admin"], name="值班群", kind="webhook", settings={"url": "http://127.0.0.1:9/h"},
                        secrets={})
    db.commit()
    resp = c.post(f"/alerts/channels/{ch.id}/delete", headers={"Referer": "/alerts/channels"}, follow_redirects=True)
    assert "flash-error" in resp.get_data(as_text=True)


def test_channel_test_errors_are_catalogue_sentences_not_python_text(client_as, db, users):
    # A real refused connection on loopback: a port nothing listens on.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ch = alerts.save_channel(db, users["admin"], name="邮件", kind="email",
                             settings={"host": "127.0.0.1", "port": port, "from_addr": "a@fleet.example",
                                       "to_addrs": ["b@fleet.example"], "timeout_s": 2}, secrets={})
    db.commit()
    resp = client_as("admin").post(f"/alerts/channels/{ch.id}/test", headers={"Referer": "/alerts/channels"},
                                   follow_redirects=True)
    html = resp.get_data(as_text=True)
    flash = re.search(r'class="flash flash-error"[^>]*>([^<]*)<', html).group(1)
    assert re.search(r"[\u4e00-\u9fff]", flash) and "Error" not in flash and "Errno" not in flash, flash
    # Every class the senders can raise maps to a sentence from the catalogue.
    for err in (smtplib.SMTPAuthenticationError(535, b"no"), socket.gaierror(-2, "x"), ConnectionRefusedError(),
                TimeoutError(), OSError("x"), ValueError("x")):
        assert registry.error_msg(err).render("zh") != registry.error_msg(err).msgid, err


# ---------------------------------------------------------------- users

def make_district(db):
    fleet = make_fleet(db)
    db.commit()
    return fleet["near"].district


def test_admin_edits_a_user_with_the_district_from_the_list(client_as, db, users):
    district = make_district(db)
    c = client_as("admin")
    html = c.get("/admin/users").get_data(as_text=True)
    crew = users["crew"]
    assert f'<select name="district" id="u{crew.id}-district">' in html and f'<option value="{district}"' in html
    assert '<input type="text" name="district"' not in html and 'id="district"' in html  # the new-user form: a select
    resp = c.post(f"/admin/users/{crew.id}", data={"display_name": "王师傅", "role": "crew", "district": district,
                                                   "active": "1"})
    assert resp.status_code == 302
    db.expire_all()
    assert (db.get(User, crew.id).display_name, db.get(User, crew.id).district) == ("王师傅", district)
    resp = c.post(f"/admin/users/{crew.id}", data={"display_name": "王师傅", "role": "crew", "district": "火星区",
                                                   "active": "1"}, headers={"Referer": "/admin/users"},
                  follow_redirects=True)
    assert "辖区：请从设备台账已有的辖区中选择" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(User, crew.id).district == district


def test_a_disabled_user_cannot_log_in_and_their_session_ends(app, client_as, db, users):
    crew_client = client_as("crew")
    assert crew_client.get("/tickets/mine").status_code == 200
    admin = client_as("admin")
    crew = users["crew"]
    admin.post(f"/admin/users/{crew.id}", data={"display_name": "x", "role": "crew", "district": "", "active": "0"})
    assert crew_client.get("/tickets/mine").status_code in (302, 401)  # the open session is over
    resp = app.test_client().post("/login", data={"username": "crew", "password": PASSWORDS["crew"]})
    assert resp.status_code != 302  # and a new sign-in is refused
    assert db.scalar(select(AuditLog).where(AuditLog.action == "user_disabled"))
    # An admin cannot lock themselves out.
    me = users["admin"]
    resp = admin.post(f"/admin/users/{me.id}", data={"display_name": "x", "role": "admin", "district": "",
                                                     "active": "0"}, headers={"Referer": "/admin/users"},
                      follow_redirects=True)
    assert "不能停用自己的账号" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(User, me.id).active


def test_admin_resets_a_password_shown_once(app, client_as, db, users):
    crew_client = client_as("crew")
    admin = client_as("admin")
    html = admin.post(f"/admin/users/{users['crew'].id}/reset-password").get_data(as_text=True)
    new = html.split('class="secret-once">')[1].split("<")[0]
    assert len(new) >= 12 and "crew 的新密码（仅显示一次）" in html
    assert crew_client.get("/tickets/mine").status_code in (302, 401)
    assert app.test_client().post("/login", data={"username": "crew", "password": PASSWORDS["crew"]}
                                  ).status_code != 302
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": "crew", "password": new}).status_code == 302
    assert new not in admin.get("/admin/users").get_data(as_text=True)
    assert db.scalar(select(AuditLog).where(AuditLog.action == "password_reset")).summary == "crew"
    db.expire_all()
    assert accounts.authenticate(db, "crew", new) is not None

"""A1: alerts reach REAL local peers — SMTP with STARTTLS + login (aiosmtpd), a JSON webhook, DingTalk (signed)
and WeCom robots (HTTP receivers on loopback), MQTT (the broker on 127.0.0.1:1883); retries, restarts, dead channels."""
import base64
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select

from fleetops.models import Cabinet, Device, Site
from fleetops.models.alerts import Alert, AlertDelivery, AlertDeliveryAttempt
from fleetops.platform import events

from fleetops.services import alerts

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(minutes=2)  # past the grouping hold


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """An HTTP server on loopback that records every POST and answers with `reply` (status, json)."""

    def __init__(self, port: int = 0, reply=(200, {"errcode": 0, "errmsg": "ok"}), delay_s: float = 0):
        self.requests, self.reply, self.delay_s = [], reply, delay_s
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "json": json.loads(body.decode("utf-8")), "at_ms": int(time.time() * 1000)})
                status, answer = outer.reply
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def factory(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield factory
    for r in made:
        r.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem"), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


class MailSink:
    def __init__(self):
        self.messages, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default),
                              session.ssl is not None))
        return "250 OK"


@pytest.fixture
def smtp_server(tls_files):
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    sink = MailSink()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"alerts@fleet.example", b"smtp-s3cret")
        sink.logins.append((auth_data.login, ok))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                     authenticator=authenticator, auth_require_tls=True)
    ctl.start()
    yield sink, port, cert
    ctl.stop()


@pytest.fixture
def mqtt_listener():
    topic = f"fleetops-test/{uuid.uuid4().hex}"
    got, ready = [], threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, m: got.append(json.loads(m.payload.decode("utf-8")))
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    assert ready.wait(5), "MQTT broker on 127.0.0.1:1883 did not confirm the subscription"
    yield topic, got
    client.disconnect()
    client.loop_stop()


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def make_site(db, code="K105", district="天山区", n=1, kind="checkpoint_camera"):
    site = Site(code=code, name=f"{code} 北门卡口", district=district, latitude=43.8, longitude=87.6)
    db.add(site)
    db.flush()
    cab = Cabinet(site_id=site.id, code=f"{code}-CAB")
    db.add(cab)
    db.flush()
    devs = []
    for i in range(n):
        d = Device(code=f"{code}-CAM{i + 1}", name=f"{code} 相机{i + 1}", kind=kind, site_id=site.id,
                   cabinet_id=cab.id, ip_address=f"10.9.{site.id}.{i + 10}", lifecycle="online", status="down")
        db.add(d)
        devs.append(d)
    db.flush()
    return site, devs


def channel(db, users, kind, settings, secrets=None, role="", district="", min_severity="info", name=None):
    ch = alerts.save_channel(db, users["admin"], name=name or f"{kind}-{uuid.uuid4().hex[:6]}", kind=kind,
                             settings=settings, secrets=secrets or {})
    alerts.save_route(db, users["admin"], channel_id=ch.id, role=role, district=district, min_severity=min_severity)
    return ch


def down(db, device, outage_id=None, at=T0):
    events.emit(db, "outage_opened", outage_id=outage_id or device.id * 100, device_id=device.id, started_at=at,
                detected_at=at)


def test_one_outage_reaches_smtp_webhook_dingtalk_wecom_and_mqtt(db, users, receiver, smtp_server, mqtt_listener):
    sink, smtp_port, cert = smtp_server
    topic, mqtt_got = mqtt_listener
    hook, ding, wecom = receiver(), receiver(), receiver()
    users["crew"].email, users["crew"].district, users["crew"].phone = "crew@fleet.example", "天山区", "13800000001"
    channel(db, users, "email", {"host": "127.0.0.1", "port": smtp_port, "starttls": True, "ca_file": str(cert),
                                 "username": "alerts@fleet.example", "from_addr": "alerts@fleet.example",
                                 "to_addrs": "duty@fleet.example"}, {"password": "smtp-s3cret"}, role="crew")
    channel(db, users, "webhook", {"url": hook.url}, {"token": "hook-token-9"})
    channel(db, users, "dingtalk", {"base_url": ding.url}, {"access_token": "ding-at-1", "secret": "SECdingsecret"},
            role="crew")
    channel(db, users, "wecom", {"base_url": wecom.url}, {"key": "wecom-key-1"})
    channel(db, users, "mqtt", {"host": "127.0.0.1", "port": 1883, "topic": topic})
    _site, (cam,) = make_site(db)
    down(db, cam)
    db.commit()

    stats = alerts.deliver_due(db, now=LATER)

    assert stats == {"sent": 5, "failed": 0, "deferred": 0}
    (rcpts, mail, tls_used), = sink.messages
    assert sorted(rcpts) == ["crew@fleet.example", "duty@fleet.example"] and tls_used
    assert "设备离线" in mail["Subject"] and "K105-CAM1" in mail.get_content()
    assert sink.logins == [(b"alerts@fleet.example", True)]
    (h,) = hook.requests
    assert h["headers"]["Authorization"] == "Bearer hook-token-9"
    assert h["json"]["kind"] == "device_down" and h["json"]["device"] == "K105-CAM1"
    (d,) = ding.requests
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(d["path"]).query)
    ts = q["timestamp"][0]
    expected = base64.b64encode(hmac.new(b"SECdingsecret", f"{ts}\nSECdingsecret".encode(), hashlib.sha256).digest())
    assert q["sign"][0] == expected.decode() and q["access_token"] == ["ding-at-1"]
    assert abs(int(ts) - d["at_ms"]) < 60_000  # DingTalk refuses signatures older than an hour
    assert d["json"]["msgtype"] == "markdown" and "K105-CAM1" in d["json"]["markdown"]["text"]
    assert d["json"]["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}  # the district's crew is @-ed
    assert "@13800000001" in d["json"]["markdown"]["text"]
    (w,) = wecom.requests
    assert "key=wecom-key-1" in w["path"] and w["json"]["msgtype"] == "markdown"
    assert "设备离线" in w["json"]["markdown"]["content"]
    assert wait_for(lambda: len(mqtt_got) == 1) and mqtt_got[0]["device"] == "K105-CAM1"
    attempts = db.scalars(select(AlertDeliveryAttempt)).all()
    assert len(attempts) == 5 and all(a.ok for a in attempts)


def test_a_dead_channel_is_retried_with_backoff_and_the_message_arrives_after_a_restart(make_app, db, users,
                                                                                       receiver):
    port = free_port()  # nothing listens here yet: the channel is down
    channel(db, users, "webhook", {"url": f"http://127.0.0.1:{port}/hook", "timeout_s": 2})
    _site, (cam,) = make_site(db)
    down(db, cam)
    db.commit()

    assert alerts.deliver_due(db, now=LATER) == {"sent": 0, "failed": 1, "deferred": 0}
    d = db.scalar(select(AlertDelivery))
    assert d.state == "pending" and d.attempts == 1 and "Cannot connect" in d.last_error
    assert d.next_attempt_at == LATER + timedelta(seconds=30)
    assert alerts.deliver_due(db, now=LATER + timedelta(seconds=10)) == {"sent": 0, "failed": 0, "deferred": 0}  # backing off
    assert alerts.deliver_due(db, now=LATER + timedelta(seconds=31)) == {"sent": 0, "failed": 1, "deferred": 0}
    assert db.scalar(select(AlertDelivery)).next_attempt_at == LATER + timedelta(seconds=31 + 60)
    db.close()

    # "Restart": a new app and session; the outbox is in the database. The receiver comes up.
    app2 = make_app()
    s2 = app2.extensions["fleetops.sessionmaker"]()
    hook = receiver(port=port)
    assert alerts.deliver_due(s2, now=LATER + timedelta(seconds=200)) == {"sent": 1, "failed": 0, "deferred": 0}
    assert len(hook.requests) == 1 and hook.requests[0]["json"]["device"] == "K105-CAM1"
    tries = s2.scalars(select(AlertDeliveryAttempt).order_by(AlertDeliveryAttempt.id)).all()
    assert [t.ok for t in tries] == [False, False, True]
    assert alerts.deliver_due(s2, now=LATER + timedelta(hours=1)) == {"sent": 0, "failed": 0, "deferred": 0}  # sent once only
    s2.close()


def test_one_dead_channel_never_blocks_the_others(db, users, receiver):
    stuck = receiver(delay_s=3)  # accepts, then answers too late
    healthy = receiver()
    channel(db, users, "webhook", {"url": stuck.url, "timeout_s": 1}, name="stuck")
    channel(db, users, "dingtalk", {"base_url": healthy.url, "timeout_s": 5}, {"access_token": "tok-123"},
            name="healthy")
    _site, cams = make_site(db, n=3)
    for cam in cams:
        down(db, cam)
    db.commit()

    stats = alerts.deliver_due(db, now=LATER)

    # The healthy robot got all three; the stuck webhook was tried once (timeout), its other two wait for its
    # back-off without an attempt instead of costing a timeout each.
    assert stats == {"sent": 3, "failed": 1, "deferred": 2}
    assert len(healthy.requests) == 3
    stuck_rows = [d for d in db.scalars(select(AlertDelivery)) if d.channel.name == "stuck"]
    assert sorted(d.attempts for d in stuck_rows) == [0, 0, 1]
    assert "no answer in time" in next(d for d in stuck_rows if d.attempts).last_error.lower()
    assert len({d.next_attempt_at for d in stuck_rows}) == 1 and all(d.state == "pending" for d in stuck_rows)
    assert db.scalar(select(func.count()).select_from(AlertDeliveryAttempt)) == 4


def test_robot_errcode_is_a_failure_and_secrets_never_reach_the_log(db, users, receiver):
    robot = receiver(reply=(200, {"errcode": 310000, "errmsg": "sign not match"}))
    dead = free_port()
    channel(db, users, "dingtalk", {"base_url": robot.url}, {"access_token": "AT-very-secret", "secret": "SECabc"},
            name="ding")
    channel(db, users, "wecom", {"base_url": f"http://127.0.0.1:{dead}/send", "timeout_s": 1},
            {"key": "wecom-secret-key"}, name="wecom")
    _site, (cam,) = make_site(db)
    down(db, cam)
    db.commit()

    assert alerts.deliver_due(db, now=LATER) == {"sent": 0, "failed": 2, "deferred": 0}
    errors = {d.channel.name: d.last_error for d in db.scalars(select(AlertDelivery))}
    assert "310000" in errors["ding"]
    logged = " ".join(errors.values()) + " ".join(a.result for a in db.scalars(select(AlertDeliveryAttempt)))
    assert "AT-very-secret" not in logged and "wecom-secret-key" not in logged and "SECabc" not in logged


def test_smtp_login_with_a_wrong_password_is_a_logged_failure(db, users, smtp_server):
    sink, smtp_port, cert = smtp_server
    channel(db, users, "email", {"host": "127.0.0.1", "port": smtp_port, "ca_file": str(cert),
                                 "username": "alerts@fleet.example", "from_addr": "alerts@fleet.example",
                                 "to_addrs": ["duty@fleet.example"]}, {"password": "wrong-password"})
    _site, (cam,) = make_site(db)
    down(db, cam)
    db.commit()

    assert alerts.deliver_due(db, now=LATER) == {"sent": 0, "failed": 1, "deferred": 0}
    assert sink.messages == [] and "535" in db.scalar(select(AlertDelivery)).last_error
    assert "wrong-password" not in db.scalar(select(AlertDelivery)).last_error


def test_mqtt_broker_down_is_retried(db, users):
    channel(db, users, "mqtt", {"host": "127.0.0.1", "port": free_port(), "topic": "x/y", "timeout_s": 1})
    _site, (cam,) = make_site(db)
    down(db, cam)
    db.commit()
    assert alerts.deliver_due(db, now=LATER) == {"sent": 0, "failed": 1, "deferred": 0}
    assert db.scalar(select(AlertDelivery)).state == "pending"


def test_a_worker_that_died_mid_send_leaves_its_messages_to_be_sent_after_the_lease(db, users, receiver):
    hook = receiver()
    channel(db, users, "webhook", {"url": hook.url})
    _site, (cam,) = make_site(db)
    down(db, cam)
    db.commit()
    d = db.scalar(select(AlertDelivery))
    d.claimed_until = LATER + timedelta(minutes=5)  # claimed by a worker that was killed before it finished
    db.commit()

    assert alerts.deliver_due(db, now=LATER + timedelta(minutes=1)) == {"sent": 0, "failed": 0, "deferred": 0}
    assert alerts.deliver_due(db, now=LATER + timedelta(minutes=6)) == {"sent": 1, "failed": 0, "deferred": 0}
    assert len(hook.requests) == 1

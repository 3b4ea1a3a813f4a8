"""Server-side requests stay inside the networks an admin allowed: snapshots (camera networks) and alert channels
(alert networks); loopback only when listed; no redirects followed; a channel test shows a short reason, never the
remote body. Real HTTP peers on loopback."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network

import pytest

from fleetops.db import make_sessionmaker
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import render_stored
from fleetops.models import Device, Site
from fleetops.platform import netpolicy, parameters
from fleetops.services import alerts, quality
from tests.conftest import login

NETS = [ip_network(n) for n in netpolicy.PRIVATE]


class Peer:
    """An HTTP peer on a loopback address that counts the requests it gets."""

    def __init__(self, host="127.0.0.1", status=200, body=b"", location=None):
        self.hits = 0
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                peer.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_port}/x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peers():
    made = []

    def make(**kw):
        made.append(Peer(**kw))
        return made[-1]

    yield make
    for p in made:
        p.close()


def test_the_shipped_lists_leave_out_loopback_and_link_local():
    for purpose in (netpolicy.CAMERAS, netpolicy.ALERTS):
        default = [ip_network(n) for n in netpolicy.PARAMETERS[purpose][0]]
        for address in ("127.0.0.1", "169.254.169.254", "::1", "0.0.0.0"):
            assert not netpolicy.address_allowed(address, default)
        assert netpolicy.address_allowed("10.65.1.11", default)


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "localhost", "169.254.169.254", "[::1]",
                                  "0.0.0.0", "[::ffff:127.0.0.1]", "8.8.8.8"])  # never a name that needs DNS: no traffic off loopback
def test_hostile_addresses_are_refused(host):
    assert netpolicy.url_refusal(f"http://{host}:5432/", netpolicy.CAMERAS, NETS) is not None


def test_everything_allowed_still_means_no_loopback_unless_listed():
    everything = [ip_network("0.0.0.0/0"), ip_network("::/0")]
    assert netpolicy.address_allowed("8.8.8.8", everything)
    assert not netpolicy.address_allowed("127.0.0.1", everything)
    assert not netpolicy.address_allowed("169.254.169.254", everything)
    assert netpolicy.address_allowed("127.0.0.1", everything + [ip_network("127.0.0.0/8")])


@pytest.fixture
def camera(db):
    site = Site(code="S1", name="S1", district="白碱滩区", latitude=45.65, longitude=84.95)
    db.add(site)
    db.flush()
    device = Device(code="S1-CAM1", name="S1 相机", kind="checkpoint_camera", site_id=site.id, ip_address="10.0.0.9")
    db.add(device)
    db.commit()
    return device


def test_a_snapshot_outside_the_camera_networks_is_never_fetched(db, users, camera, peers, tmp_path):
    peer = peers()
    camera.snapshot_url = peer.url
    parameters.set_value(db, netpolicy.CAMERAS, list(netpolicy.PRIVATE), users["admin"])
    db.commit()
    sample = quality.sample_device(db, camera, store_dir=tmp_path)
    assert not sample.ok and peer.hits == 0
    assert "不在管理员允许的相机网段内" in render_stored(sample.detail, "zh")
    db.commit()
    counts = quality.sample_cameras(make_sessionmaker(db.get_bind()), [camera], store_dir=tmp_path)
    assert counts["failed"] == 1 and peer.hits == 0
    parameters.set_value(db, netpolicy.CAMERAS, netpolicy.PRIVATE + ["127.0.0.1/32"], users["admin"])
    db.commit()
    quality.sample_device(db, camera, store_dir=tmp_path)
    assert peer.hits == 1  # listed: now it is contacted


def test_a_snapshot_redirect_is_not_followed(db, users, camera, peers, tmp_path):
    inner = peers(host="127.0.0.3")
    outer = peers(status=302, location=inner.url)
    camera.snapshot_url = outer.url
    parameters.set_value(db, netpolicy.CAMERAS, ["127.0.0.1/32"], users["admin"])
    db.commit()
    sample = quality.sample_device(db, camera, store_dir=tmp_path)
    assert not sample.ok and outer.hits == 1 and inner.hits == 0


def test_alert_targets_outside_the_alert_networks_are_not_contacted(app, db, users, peers):
    peer = peers()
    ch = alerts.save_channel(db, users["admin"], name="hook", kind="webhook", settings={"url": peer.url})
    mq = alerts.save_channel(db, users["admin"], name="mq", kind="mqtt", settings={"host": "127.0.0.1", "topic": "t"})
    parameters.set_value(db, netpolicy.ALERTS, list(netpolicy.PRIVATE), users["admin"])
    db.commit()
    for channel in (ch, mq):
        with pytest.raises(ValidationFailed) as err:
            alerts.send_test_message(db, channel.id, users["admin"])
        assert "alert networks" in render_stored(err.value.msg.stored(), "en")
    assert peer.hits == 0


def test_the_channel_test_shows_the_status_never_the_remote_body(app, db, users, peers):
    peer = peers(status=500, body=b"<html>db password is hunter2, internal trace</html>")
    ch = alerts.save_channel(db, users["admin"], name="hook", kind="webhook", settings={"url": peer.url})
    db.commit()
    c = login(app.test_client(), "admin")
    html = c.post(f"/alerts/channels/{ch.id}/test", follow_redirects=True).get_data(as_text=True)
    assert peer.hits == 1 and "HTTP 500" in html
    assert "hunter2" not in html and "internal trace" not in html

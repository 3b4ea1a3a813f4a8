"""Alert delivery under faults: the sending process SIGKILLed while the SMTP peer holds it, and an SMTP peer
that hangs. Afterwards every message arrives exactly once and the log says what happened."""
import logging
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.base import utcnow
from fleetops.services import alerts
from tests.faults.conftest import kill9, wait_for
from tests.faults.tcp_proxy import TcpProxy
from tests.services.test_alerts_delivery import channel, down, free_port, make_site


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def hung_smtp():
    """A real SMTP server (aiosmtpd) behind a loopback proxy that starts out hanging: connections are taken,
    no byte answered."""
    sink = Sink()
    ctl = Controller(sink, hostname="127.0.0.1", port=free_port())
    ctl.start()
    proxy = TcpProxy("127.0.0.1", ctl.port)
    proxy.hang()
    yield sink, proxy
    proxy.close()
    ctl.stop()


def three_alerts(db, users, smtp_port, timeout_s, webhook=None):
    """Three cameras down five minutes ago (past the grouping hold: due now), routed to e-mail (and a webhook)."""
    from fleetops.platform import netpolicy, parameters

    # The sender is another process: it reads the allowed alert networks from the database, so store the demo's
    # list (private ranges and loopback) there rather than only in this process's defaults.
    parameters.set_value(db, netpolicy.ALERTS, netpolicy.PRIVATE + netpolicy.LOOPBACK, "test")
    channel(db, users, "email", {"host": "127.0.0.1", "port": smtp_port, "starttls": False,
                                 "from_addr": "alerts@fleet.example", "to_addrs": "duty@fleet.example",
                                 "timeout_s": timeout_s})
    if webhook is not None:
        channel(db, users, "webhook", {"url": webhook.url}, {"token": "t"})
    _, devs = make_site(db, n=3)
    for d in devs:
        down(db, d, at=utcnow() - timedelta(minutes=5))
    db.commit()
    assert len(db.scalars(select(AlertDelivery)).all()) == 3 * (2 if webhook else 1)


def test_sigkill_mid_delivery_sends_every_alert_once_after_the_lease(db, users, hung_smtp, fleetops_cli):
    sink, proxy = hung_smtp
    three_alerts(db, users, proxy.port, timeout_s=60)
    sender = fleetops_cli("alerts", "deliver-once", name="deliver")
    assert wait_for(lambda: proxy.accepted >= 1), "the sender never reached the SMTP peer"
    kill9(sender)  # killed while the peer holds its first message

    db.expire_all()
    pending = db.scalars(select(AlertDelivery)).all()
    assert {d.state for d in pending} == {"pending"} and all(d.claimed_until for d in pending)
    assert sink.messages == []

    proxy.restore()
    assert alerts.deliver_due(db)["sent"] == 0  # still leased to the dead worker: nobody sends twice meanwhile
    after_lease = utcnow() + timedelta(minutes=6)
    assert alerts.deliver_due(db, now=after_lease)["sent"] == 3
    assert alerts.deliver_due(db, now=after_lease + timedelta(hours=1))["sent"] == 0
    assert len(sink.messages) == 3 and len(db.scalars(select(Alert)).all()) == 3
    assert {d.state for d in db.scalars(select(AlertDelivery))} == {"delivered"}


def test_a_hanging_smtp_peer_times_out_with_a_log_line_and_the_message_arrives_once_later(
        db, users, hung_smtp, receiver_for_faults, caplog):
    sink, proxy = hung_smtp
    hook = receiver_for_faults()
    three_alerts(db, users, proxy.port, timeout_s=1, webhook=hook)

    with caplog.at_level(logging.WARNING, logger="fleetops.services.alerts.outbox"):
        stats = alerts.deliver_due(db)
    assert stats["sent"] == 3 and len(hook.requests) == 3  # the hung peer held up nobody else
    assert stats["failed"] == 1 and stats["deferred"] == 2
    assert "failed: " in caplog.text and "timed out" in caplog.text
    assert sink.messages == []

    proxy.restore()
    later = utcnow() + timedelta(hours=2)
    assert alerts.deliver_due(db, now=later)["sent"] == 3
    assert alerts.deliver_due(db, now=later + timedelta(hours=2))["sent"] == 0
    assert len(sink.messages) == 3 and len(hook.requests) == 3


@pytest.fixture
def receiver_for_faults():
    from tests.services.test_alerts_delivery import Receiver

    made = []
    yield lambda **kw: made.append(Receiver(**kw)) or made[-1]
    for r in made:
        r.close()

"""Ping probe against real ICMP on loopback; dead addresses made inside a network namespace the test owns (U1, U2)."""
import json
import os
import subprocess
import sys

import pytest

from fleetops.simulator.faults import NetNamespace
from probes.ping import ping_many, ping_one, validate_address

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace (CI is root)")

DEAD = "127.0.0.9"


def test_ping_to_localhost_is_ok_with_a_round_trip_time():
    r = ping_one("127.0.0.1", timeout_s=1.0, target="K105-CAM1")
    assert r.ok, r.detail
    assert r.target == "K105-CAM1" and r.probe == "ping"
    assert 0 <= r.metrics["rtt_ms"] < 1000
    assert r.at.tzinfo is not None


def test_ping_many_answers_every_loopback_address_in_order():
    targets = [(f"K{i:03d}-CAM1", f"127.31.{i // 200}.{i % 200 + 1}") for i in range(600)]
    results = ping_many(targets, timeout_s=1.0, concurrency=100)
    assert [r.target for r in results] == [k for k, _ in targets]
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert all(r.metrics["rtt_ms"] >= 0 for r in results)


def test_a_bad_address_is_rejected_at_config_time():
    with pytest.raises(ValueError, match="not an IPv4 address"):
        ping_one("127.0.0.300", 1.0)
    with pytest.raises(ValueError, match="not an IPv4 address"):
        validate_address("camera.local")


def test_one_bad_address_in_a_batch_fails_only_that_device():
    results = ping_many([("K1", "127.0.0.1"), ("K2", "camera.local"), ("K3", "127.0.0.2")], 1.0)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].target == "K2" and results[1].detail.startswith("bad address:")


def test_ping_many_of_nothing_is_nothing():
    assert ping_many([], 1.0) == []


def _in_namespace(ns: NetNamespace, code: str) -> list[dict]:
    proc = subprocess.run(ns.argv(sys.executable, "-c", code), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


PROBE_CODE = """
import json
from probes.ping import ping_one, ping_many
one = [ping_one(a, 0.5) for a in ("127.0.0.1", "{dead}")]
many = ping_many([("alive", "127.0.0.1"), ("dead", "{dead}"), ("alive2", "127.0.0.2")], 0.5, 2)
print(json.dumps([dict(target=r.target, ok=r.ok, detail=r.detail, metrics=r.metrics) for r in one + many]))
"""


@pytest.mark.netns
@needs_root
def test_a_dead_address_times_out_and_never_raises():
    with NetNamespace("fo-test") as ns:
        ns.nft(f"""table inet t {{
  chain input {{ type filter hook input priority 0; policy accept; ip daddr {DEAD} icmp type echo-request drop; }}
}}
""")
        rows = _in_namespace(ns, PROBE_CODE.format(dead=DEAD))
    alive, dead, m_alive, m_dead, m_alive2 = rows
    assert alive["ok"] and "rtt_ms" in alive["metrics"]
    assert not dead["ok"] and dead["detail"] == "timeout after 0.5 s" and dead["metrics"] == {}
    assert m_alive["ok"] and m_alive2["ok"]
    assert not m_dead["ok"] and m_dead["detail"] == "timeout after 0.5 s"
    # the namespace is gone again
    assert ns.name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


UNPRIVILEGED_CODE = """
import json, os
from probes.ping import ping_one, ping_many
os.setgid(65534); os.setuid(65534)  # nobody, after the imports (it cannot read root's Python)
r = [ping_one("127.0.0.1", 0.5)] + ping_many([("K1", "127.0.0.1")], 0.5)
print(json.dumps([dict(ok=x.ok, detail=x.detail) for x in r]))
"""


@pytest.mark.netns
@needs_root
def test_without_privilege_ping_says_so_instead_of_crashing():
    with NetNamespace("fo-test") as ns:
        # forbid unprivileged ICMP sockets inside our namespace only
        subprocess.run(ns.argv("sysctl", "-qw", "net.ipv4.ping_group_range=1 0"), check=True)
        rows = _in_namespace(ns, UNPRIVILEGED_CODE)
    for row in rows:
        assert not row["ok"]
        assert "ICMP not permitted" in row["detail"] or "not permitted" in row["detail"].lower()

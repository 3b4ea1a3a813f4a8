"""TCP connect liveness (issue 16): real listeners on loopback; ICMP modes; local reasons."""
import socket

from probes import ping, registry, tcp
from probes.base import LOCAL_REASONS, is_local


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_open_port_is_up_closed_is_refused_and_bad_config_fails_one_target():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    try:
        up = srv.getsockname()[1]
        res = registry.run_many("tcp", [registry.build_target("tcp", "A", address="127.0.0.1", port=up),
                                        ("B", "127.0.0.1", _free_port()), ("C", "not-an-ip", 80),
                                        ("D", "127.0.0.1", 70000)], 0.5)
    finally:
        srv.close()
    assert [r.target for r in res] == ["A", "B", "C", "D"]
    assert res[0].ok and res[0].metrics["method"] == f"tcp:{up}" and res[0].probe == "tcp"
    assert (res[1].ok, res[1].reason) == (False, "refused") and not is_local(res[1])
    assert [r.reason for r in res[2:]] == ["bad_address", "bad_port"]


def test_icmp_off_is_a_local_failure_and_says_which_method_worked():
    off = ping.ping_many([("A", "127.0.0.1")], 0.5, mode="off")[0]
    assert off.reason == "not_permitted" and is_local(off) and "not_permitted" in LOCAL_REASONS
    assert ping.icmp_method("off") is None
    method = ping.icmp_method()
    if method is not None:  # root (raw) or a permissive ping_group_range (datagram)
        assert ping.ping_many([("A", "127.0.0.1")], 1.0)[0].metrics["method"] == method

"""SNMP probe (v2c and v3) against real agents on loopback, and against deliberately broken peers (U1, U6)."""
import asyncio
import shutil
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from pyasn1.codec.ber import decoder
from pysnmp.proto.api import v2c

from fleetops.simulator import Simulator
from fleetops.simulator.agents import DeviceMib, SimDevice
from probes import registry
from probes.snmp import (
    GET, NO_SUCH_OBJECT, NULL, RESPONSE, SYS_UPTIME, TIMETICKS, BerError, SnmpPoller, SnmpTarget, decode_message,
    encode_message, get_many_sync, get_one,
)

V3 = dict(user="yunwei", auth_protocol="SHA", auth_key="auth-key-K105", priv_protocol="AES", priv_key="priv-key-K105")


@pytest.fixture(scope="module")
def sim():
    devices = [
        SimDevice("K105-CAM1", "K105", "127.0.0.1", port=0, community="k105-secret", vendor="海康威视",
                  model="DS-2CD9131", kind="checkpoint_camera"),
        SimDevice("K105-SW", "K105", "127.0.0.1", port=0, kind="switch", version="v3", **V3),
        SimDevice("K106-CAM1", "K106", "127.0.0.1", port=0, community="k106-secret", kind="epolice_camera",
                  interfaces=3),
        SimDevice("K107-CAM1", "K107", "127.0.0.1", port=0, community="k107", uptime_s=2**32 / 100 - 1.0),
    ]
    with Simulator(devices, firewall=False, control_port=None, tick_s=0.05) as s:
        yield s


def target(sim, code, **over):
    d = sim.devices[code]
    cfg = dict(address="127.0.0.1", port=sim.address(code)[1], version=d.version, community=d.community,
               kind=d.kind, interfaces=d.interfaces)
    if d.version == "v3":
        cfg.update(V3)
        cfg.pop("community")
    cfg.update(over)
    return SnmpTarget(code, **cfg)


def test_v2c_get_reads_uptime_identity_interfaces_and_health(sim):
    r = get_one(target(sim, "K105-CAM1"), timeout=2.0)
    assert r.ok, r.detail
    assert r.probe == "snmp" and r.target == "K105-CAM1"
    m = r.metrics
    assert m["sys_uptime_s"] > 86400  # the simulator starts devices a few weeks after boot
    assert "海康威视 DS-2CD9131" in m["sys_descr"]
    assert m["sys_object_id"].startswith("1.3.6.1.4.1.8072.9999.2.")
    assert m["if_count"] == 2 and m["if_down"] == 0
    assert 20 <= m["temperature_c"] <= 60 and m["supply_voltage_v"] == 12.0
    assert m["rtt_ms"] >= 0


def test_v3_auth_priv_get_works(sim):
    r = get_one(target(sim, "K105-SW"), timeout=2.0)
    assert r.ok, r.detail
    assert r.metrics["sys_uptime_s"] > 0 and "switch" in r.metrics["sys_descr"]


def test_v3_with_a_wrong_key_is_a_failed_result_not_an_exception(sim):
    r = get_one(target(sim, "K105-SW", auth_key="wrong-key-123"), timeout=1.0)
    assert not r.ok
    assert r.detail  # pysnmp's reason, e.g. "Wrong SNMP PDU digest" or a timeout


def test_wrong_community_times_out_with_a_reason(sim):
    r = get_one(target(sim, "K105-CAM1", community="public"), timeout=0.3)
    assert not r.ok and r.detail == "timeout after 0.3 s (no SNMP reply)" and r.metrics == {}


def test_sys_uptime_really_advances(sim):
    t = target(sim, "K106-CAM1")
    w0 = time.monotonic()
    first = get_one(t, 2.0).metrics["sys_uptime_s"]
    time.sleep(1.1)
    second = get_one(t, 2.0).metrics["sys_uptime_s"]
    w1 = time.monotonic()
    assert 1.1 - 0.02 <= second - first <= (w1 - w0) + 0.02  # hundredths of a second, with the clock


def test_reboot_resets_uptime(sim):
    t = target(sim, "K106-CAM1")
    assert get_one(t, 2.0).metrics["sys_uptime_s"] > 86400
    sim.add_fault("reboot", device="K106-CAM1")
    assert get_one(t, 2.0).metrics["sys_uptime_s"] < 5


def test_uptime_counter_wraps_at_32_bits_like_real_timeticks(sim):
    # K107 started 10 ms short of 2^32 ticks (497.1 days): its counter must have wrapped to near zero.
    r = get_one(target(sim, "K107-CAM1"), 2.0)
    assert r.ok and r.metrics["sys_uptime_s"] < 60


def test_hung_agent_stops_answering_snmp_and_recovers(sim):
    t = target(sim, "K105-CAM1")
    sim.add_fault("hung", device="K105-CAM1")
    try:
        r = get_one(t, 0.3)
        assert not r.ok and r.detail.startswith("timeout after 0.3 s")
        assert get_one(target(sim, "K106-CAM1"), 2.0).ok  # the others keep answering
    finally:
        sim.remove_faults("K105-CAM1")
    assert get_one(t, 2.0).ok


def test_a_link_down_fault_is_counted_in_if_down(sim):
    sim.add_fault("link_down", device="K106-CAM1", interface=3)
    try:
        r = get_one(target(sim, "K106-CAM1"), 2.0)
        assert r.ok and r.metrics["if_down"] == 1 and r.metrics["if_down_index"] == [3]
    finally:
        sim.remove_faults("link_down:K106-CAM1")


def _udp_peer(reply):
    """A UDP 'agent' on 127.0.0.1 that answers every datagram with reply(request_bytes) (or nothing)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            out = reply(data)
            if out:
                sock.sendto(out, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close():
        stop.set()
        thread.join()
        sock.close()

    return sock.getsockname()[1], close


def test_garbage_reply_is_a_failed_result_with_a_reason():
    port, close = _udp_peer(lambda data: b"\x30\x82\xff\xffthis is not BER at all")
    try:
        r = get_one(SnmpTarget("K200-CAM1", "127.0.0.1", port, community="c"), 2.0)
    finally:
        close()
    assert not r.ok and r.detail.startswith("garbled reply")


def test_no_such_object_for_sys_uptime_is_a_failed_result():
    def reply(data):
        _v, community, _tag, rid, _a, _b, varbinds = decode_message(data)
        return encode_message(community, RESPONSE, rid, 0, 0, [(o, (NO_SUCH_OBJECT, None)) for o, _ in varbinds])

    port, close = _udp_peer(reply)
    try:
        r = get_one(SnmpTarget("K201-CAM1", "127.0.0.1", port, community="c"), 2.0)
    finally:
        close()
    assert not r.ok and "sysUpTime.0: noSuchObject" in r.detail


def test_agent_error_status_is_reported_in_words():
    def reply(data):
        _v, community, _tag, rid, _a, _b, varbinds = decode_message(data)
        return encode_message(community, RESPONSE, rid, 5, 1, varbinds)

    port, close = _udp_peer(reply)
    try:
        r = get_one(SnmpTarget("K202-CAM1", "127.0.0.1", port, community="c"), 2.0)
    finally:
        close()
    assert not r.ok and r.detail == "agent error genErr at variable 1"


def test_a_silent_device_does_not_delay_the_others(sim):
    port, close = _udp_peer(lambda data: None)  # swallows everything
    try:
        targets = [SnmpTarget("K300-CAM1", "127.0.0.1", port, community="c"), target(sim, "K105-CAM1"),
                   target(sim, "K106-CAM1"), target(sim, "K105-SW")]
        # two workers: one waits on the silent device, the other must get through all the rest meanwhile
        results = get_many_sync(targets, timeout=1.5, concurrency=2)
    finally:
        close()
    assert [r.target for r in results] == ["K300-CAM1", "K105-CAM1", "K106-CAM1", "K105-SW"]
    assert [r.ok for r in results] == [False, True, True, True]
    silent_gave_up = results[0].at + timedelta(seconds=1.5)
    assert all(r.at < silent_gave_up for r in results[1:])


def test_many_devices_through_one_long_lived_socket():
    devices = [SimDevice(f"K{400 + i}-CAM1", f"K{400 + i}", f"127.33.{i // 250}.{i % 250 + 1}", port=0,
                         community=f"c{i}") for i in range(300)]
    with Simulator(devices, firewall=False, control_port=None) as s:
        targets = [SnmpTarget(d.code, d.address, s.address(d.code)[1], community=d.community) for d in devices]

        async def twice():
            poller = SnmpPoller()
            try:
                first = await poller.get_many(targets, timeout=3.0, concurrency=100)
                transport = poller._transport
                second = await poller.get_many(targets, timeout=3.0, concurrency=100)
                return first, second, transport is poller._transport
            finally:
                poller.close()

        first, second, same_socket = asyncio.run(twice())
    assert all(r.ok for r in first + second), [r.detail for r in first + second if not r.ok][:3]
    assert [r.target for r in first] == [d.code for d in devices]
    assert same_socket


def test_our_encoding_is_read_identically_by_pyasn1():
    oids = [SYS_UPTIME, "1.3.6.1.4.1.8072.9999.1.300.4294967295", "2.999.1"]
    data = encode_message(b"k105", GET, 2147483647, 0, 0, [(o, (NULL, None)) for o in oids])
    msg, rest = decoder.decode(data, asn1Spec=v2c.Message())
    assert rest == b""
    pdu = v2c.apiMessage.get_pdu(msg)
    assert bytes(v2c.apiMessage.get_community(msg)) == b"k105"
    assert int(v2c.apiPDU.get_request_id(pdu)) == 2147483647
    assert [str(o) for o, _ in v2c.apiPDU.get_varbinds(pdu)] == oids
    back = decode_message(data)
    assert back[1] == b"k105" and back[3] == 2147483647 and [".".join(map(str, o)) for o, _ in back[6]] == oids


def test_negative_and_large_values_round_trip():
    vbs = [((1, 3, 6, 1), (0x02, v)) for v in (0, 127, 128, -1, -128, -129, 2**31 - 1, -(2**31))]
    vbs.append(((1, 3, 6, 2), (TIMETICKS, 2**32 - 1)))
    back = decode_message(encode_message(b"c", RESPONSE, 1, 0, 0, vbs))[6]
    assert [v for _o, v in back] == [v for _o, v in vbs]


@pytest.mark.parametrize("data", [b"", b"\x30", b"\x30\x03\x02\x01", b"\x04\x00", b"\x30\x84\xff\xff\xff\xff"])
def test_truncated_or_foreign_bytes_raise_a_ber_error(data):
    with pytest.raises(BerError):
        decode_message(data)


def test_mib_uptime_wraps_modulo_two_to_the_32():
    now = [1000.0]
    mib = DeviceMib(SimDevice("K1", "S", "127.0.0.1", uptime_s=2**32 / 100 - 0.5), clock=lambda: now[0])
    before = mib.uptime_ticks()
    now[0] += 1.0
    assert before > 2**32 - 100 and mib.uptime_ticks() < 100


@pytest.mark.skipif(shutil.which("snmpget") is None, reason="net-snmp snmpget not installed (Debian package snmp)")
def test_net_snmp_reads_our_agents_v2c_and_v3(sim):
    port = sim.address("K105-CAM1")[1]
    out = subprocess.run(["snmpget", "-v2c", "-c", "k105-secret", "-t", "2", "-r", "0", "-On",
                          f"127.0.0.1:{port}", SYS_UPTIME], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0 and "Timeticks" in out.stdout, out.stderr
    port = sim.address("K105-SW")[1]
    out = subprocess.run(["snmpget", "-v3", "-l", "authPriv", "-u", V3["user"], "-a", "SHA", "-A", V3["auth_key"],
                          "-x", "AES", "-X", V3["priv_key"], "-t", "2", "-r", "0", "-On",
                          f"127.0.0.1:{port}", SYS_UPTIME], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0 and "Timeticks" in out.stdout, out.stderr


@pytest.mark.parametrize("config, message", [
    (dict(address="127.0.0.1", version="v1", community="c"), "unsupported SNMP version"),
    (dict(address="127.0.0.1", version="v2c"), "v2c needs a community"),
    (dict(address="127.0.0.1", version="v3"), "v3 needs a user name"),
    (dict(address="127.0.0.1", version="v3", user="u", auth_protocol="SHA"), "at least 8 characters"),
    (dict(address="127.0.0.1", version="v3", user="u", priv_protocol="AES", priv_key="12345678"),
     "privacy needs authentication"),
    (dict(address="127.0.0.1", version="v3", user="u", auth_protocol="ROT13", auth_key="12345678"),
     "unknown v3 auth protocol"),
    (dict(address="300.1.1.1", community="c"), "not an IPv4 address"),
    (dict(address="127.0.0.1", port=70000, community="c"), "port"),
    (dict(address="127.0.0.1", community="c", bogus=1), "unknown SNMP settings"),
])
def test_a_bad_snmp_config_is_rejected_when_the_target_is_built(config, message):
    with pytest.raises(ValueError, match=message):
        registry.build_target("snmp", "K105-CAM1", **config)


def test_registry_knows_ping_and_snmp_and_rejects_unknown_kinds(sim):
    assert {"ping", "snmp"} <= set(registry.PROBES)
    with pytest.raises(ValueError, match="unknown probe kind"):
        registry.get("telnet")
    ping_t = registry.build_target("ping", "K105-CAM1", address="127.0.0.1")
    assert registry.run_many("ping", [ping_t], 1.0)[0].ok
    snmp_t = registry.build_target("snmp", "K105-CAM1", address="127.0.0.1", port=sim.address("K105-CAM1")[1],
                                   version="v2c", community="k105-secret", kind="checkpoint_camera")
    assert registry.run_many("snmp", [snmp_t], 2.0)[0].ok


def test_secrets_never_appear_in_a_target_repr():
    t = SnmpTarget("K105-SW", "127.0.0.1", version="v3", **V3)
    assert V3["auth_key"] not in repr(t) and V3["priv_key"] not in repr(t)
    assert "k105-secret" not in repr(SnmpTarget("K105-CAM1", "127.0.0.1", community="k105-secret"))

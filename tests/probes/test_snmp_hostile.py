"""Hostile SNMP replies (issue 11, High): whatever one device sends becomes that device's failed result.

Property-based (Hypothesis) fuzzing of the BER decoder and of `interpret`, and real UDP agents on 127.0.0.x
that answer garbage beside a good one, through the same `get_many_sync` the poll job uses."""
import json
import math
import socket
import threading
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes.base import REASONS, ProbeResult
from probes.snmp import (
    COUNTER32, COUNTER64, GAUGE32, INTEGER, IP_ADDRESS, NO_SUCH_OBJECT, NULL, OBJECT_ID, OCTET_STRING, OPAQUE,
    RESPONSE, SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, TIMETICKS, BerError, SnmpTarget, decode_message, decode_value,
    get_many_sync, interpret,
)
from probes.snmp.ber import _decode_oid, _oid_body, _tlv, oid_tuple
from probes.snmp.oids import PLAYPEN

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AT = datetime(2024, 5, 1, tzinfo=timezone.utc)
TARGET = SnmpTarget("K900-CAM1", "127.0.0.1", community="c", kind="checkpoint_camera", interfaces=2)
TAGS = [INTEGER, OCTET_STRING, NULL, OBJECT_ID, IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64,
        0x80, 0x81, 0x82, 0x30, 0x01, 0xFF]
ASKED = [oid_tuple(o) for o in TARGET.oids()]


def _check_result(r):
    assert isinstance(r, ProbeResult) and r.target == TARGET.key and r.probe == "snmp"
    if r.ok:
        assert r.reason == ""
        json.dumps(r.metrics)  # storable as it is
        for v in r.metrics.values():
            assert not isinstance(v, float) or math.isfinite(v)
        assert 0 <= r.metrics["sys_uptime_s"] < 2**32 / 100
    else:
        assert r.reason in REASONS and r.detail


# -- the decoder -------------------------------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=512))
def test_decoding_arbitrary_bytes_returns_a_message_or_raises_ber_error(data):
    try:
        decode_message(data)
    except BerError:
        pass


oids = st.one_of(st.sampled_from(ASKED), st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=12).map(
    lambda arcs: (min(arcs[0], 2), arcs[1] if arcs[0] >= 2 else min(arcs[1], 39), *arcs[2:])))
raw_varbind = st.tuples(oids, st.sampled_from(TAGS) | st.integers(0, 255), st.binary(max_size=160))


def _message(varbinds, envelope_noise=b""):
    vbl = b"".join(_tlv(0x30, _tlv(OBJECT_ID, _oid_body(o)) + _tlv(tag, body)) for o, tag, body in varbinds)
    pdu = _tlv(RESPONSE, _tlv(INTEGER, b"\x01") + _tlv(INTEGER, b"\x00") + _tlv(INTEGER, b"\x00") + _tlv(0x30, vbl))
    return _tlv(0x30, _tlv(INTEGER, b"\x01") + _tlv(OCTET_STRING, b"c") + pdu) + envelope_noise


@FUZZ
@given(st.lists(raw_varbind, max_size=12), st.binary(max_size=4), st.integers(0, 400), st.integers(0, 255))
def test_well_framed_messages_with_arbitrary_values_decode_and_interpret_without_raising(vbs, noise, cut, flip):
    """BER with the right frame and arbitrary tags and bodies, then cut or with one byte changed: the decoder
    answers or raises BerError; whatever it answers, interpret makes a result of it."""
    data = bytearray(_message(vbs, noise))
    variants = [bytes(data), bytes(data[:cut])]
    if data:
        data[cut % len(data)] = flip
        variants.append(bytes(data))
    for d in variants:
        try:
            msg = decode_message(d)
        except BerError:
            continue
        _check_result(interpret(TARGET, msg[6], AT, 0.5))


@FUZZ
@given(st.sampled_from(TAGS) | st.integers(0, 255), st.binary(max_size=300))
def test_decode_value_of_any_body_is_a_value_or_a_ber_error(tag, body):
    try:
        decode_value(tag, body)
    except BerError:
        pass


huge_ints = st.integers(-(2**1100), 2**1100) | st.sampled_from([2**1024, 2**1100, -(2**1100), 2**64, -1, 2**32])
values = st.one_of(huge_ints, st.binary(max_size=64), st.none(), st.text(max_size=20), st.floats(allow_nan=True),
                   st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)))


@FUZZ
@given(st.dictionaries(st.sampled_from(ASKED), st.tuples(st.sampled_from(TAGS), values), max_size=len(ASKED)),
       st.lists(st.tuples(oids, st.tuples(st.sampled_from(TAGS), values)), max_size=4))
def test_interpret_makes_a_result_of_any_values_however_wrong_or_large(asked, others):
    """interpret also reads v3 replies (pysnmp values), so it must hold for values no decoder of ours makes."""
    _check_result(interpret(TARGET, list(asked.items()) + others, AT, 0.5))


def _good(uptime=(TIMETICKS, 12345), temperature=(INTEGER, 41)):
    return [(SYS_UPTIME, uptime), (SYS_DESCR, (OCTET_STRING, b"cam")), (SYS_OBJECT_ID, (OBJECT_ID, (1, 3, 6, 1))),
            (f"{PLAYPEN}.1.1.0", temperature)]


@pytest.mark.parametrize("uptime", [(TIMETICKS, 1 << 1100), (TIMETICKS, 2**1024), (GAUGE32, 2**1024),
                                    (TIMETICKS, -5), (COUNTER64, 2**64), (TIMETICKS, 2**32), (INTEGER, -1),
                                    (TIMETICKS, "12"), (TIMETICKS, 1.5e308)])
def test_an_uptime_out_of_range_or_of_the_wrong_type_is_a_bad_reply(uptime):
    r = interpret(TARGET, _good(uptime=uptime), AT, 0.5)
    assert not r.ok and r.reason == "bad_reply", r


@pytest.mark.parametrize("temperature", [(GAUGE32, 2**1024), (INTEGER, 2**31), (COUNTER32, -1)])
def test_a_health_value_out_of_range_is_left_out_with_a_note(temperature):
    r = interpret(TARGET, _good(temperature=temperature), AT, 0.5)
    assert r.ok and "temperature_c" not in r.metrics and "temperature_c: out of range" in r.detail
    assert interpret(TARGET, _good(), AT, 0.5).metrics["temperature_c"] == 41  # and in range it is read


def test_an_integer_over_nine_bytes_is_not_snmp():
    body = b"\x7f" + b"\xff" * 129  # the >128-byte sysUpTime of the review
    with pytest.raises(BerError, match="integer of 130 bytes"):
        decode_value(TIMETICKS, body)


@pytest.mark.parametrize("body, message", [
    (b"\x2b" + b"\xff" * 65000 + b"\x01", "sub-identifier too long"),  # the 64 KB datagram of the review
    (b"\x2b\x90\x80\x80\x80\x00", "above 2\\^32-1"),
    (b"\x2b\x80\x01", "leading zero"),
    (b"\x2b" + b"\x01" * 200, "longer than 128"),
])
def test_the_oid_decoder_is_bounded(body, message):
    with pytest.raises(BerError, match=message):
        _decode_oid(body)


def test_the_largest_legal_oid_still_decodes():
    arcs = (1, 3) + (2**32 - 1,) * 126
    assert _decode_oid(_oid_body(arcs)) == arcs


# -- real agents on loopback ---------------------------------------------------------------------------------------

def _agent(address, reply):
    """A UDP 'agent' on `address` answering each request with reply(request) (bytes, or None for silence)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            for out in reply(data):
                sock.sendto(out, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def close():
        stop.set()
        thread.join()
        sock.close()

    return sock.getsockname()[1], close


def _answer(values):
    """A reply with the request's id and community, sysUpTime etc. taken from `values` (oid → raw (tag, body))."""
    def reply(data):
        _v, community, _t, rid, _a, _b, varbinds = decode_message(data)
        asked = [".".join(map(str, o)) for o, _ in varbinds]
        vbl = b"".join(_tlv(0x30, _tlv(OBJECT_ID, _oid_body(oid_tuple(o)))
                            + _tlv(*values.get(o, (NO_SUCH_OBJECT, b"")))) for o in asked)
        pdu = _tlv(RESPONSE, _tlv(INTEGER, rid.to_bytes(4, "big")) + b"\x02\x01\x00\x02\x01\x00" + _tlv(0x30, vbl))
        return [_tlv(0x30, b"\x02\x01\x01" + _tlv(OCTET_STRING, community) + pdu)]
    return reply


GOOD = {SYS_UPTIME: (TIMETICKS, (500000).to_bytes(3, "big")), SYS_DESCR: (OCTET_STRING, b"good camera"),
        SYS_OBJECT_ID: (OBJECT_ID, _oid_body((1, 3, 6, 1, 4, 1, 8072))), f"{PLAYPEN}.1.1.0": (INTEGER, b"\x29")}

HOSTILE = {
    # an integer body over 128 bytes for sysUpTime (the review's OverflowError)
    "huge_uptime": lambda: _answer({**GOOD, SYS_UPTIME: (TIMETICKS, b"\x01" + b"\x00" * 140)}),
    # a Counter64 sysUpTime of 9 bytes: legal BER, out of TimeTicks range
    "wide_uptime": lambda: _answer({**GOOD, SYS_UPTIME: (COUNTER64, b"\xff" * 9)}),
    # a health gauge beyond 2^1024 (not SNMP at all), and one of 9 bytes (legal BER, beyond Gauge32)
    "huge_gauge": lambda: _answer({**GOOD, f"{PLAYPEN}.1.1.0": (GAUGE32, b"\x01" + b"\x00" * 130)}),
    "wide_gauge": lambda: _answer({**GOOD, f"{PLAYPEN}.1.1.0": (GAUGE32, b"\xff" * 9)}),
    # a sysObjectID of one endless sub-identifier (the 64 KB datagram, cut to fit a UDP reply)
    "endless_oid": lambda: _answer({**GOOD, SYS_OBJECT_ID: (OBJECT_ID, b"\x2b" + b"\xff" * 60000 + b"\x01")}),
    "not_ber": lambda: (lambda data: [b"\x30\x82\xff\xffgarbage"]),
    "wrong_types": lambda: _answer({**GOOD, SYS_UPTIME: (OCTET_STRING, b"yesterday")}),
    "bad_ip": lambda: _answer({**GOOD, SYS_DESCR: (IP_ADDRESS, b"\x01\x02")}),
}


def test_hostile_agents_beside_a_good_one_fail_alone(tmp_path):
    """Each hostile agent gets its own failed result with a reason; the good agent's result is intact."""
    agents = [("good", "127.0.0.1", _answer(GOOD))]
    agents += [(name, f"127.0.9.{i + 1}", make()) for i, (name, make) in enumerate(HOSTILE.items())]
    agents.append(("good2", "127.0.8.1", _answer(GOOD)))
    closers, targets = [], []
    try:
        for name, address, reply in agents:
            port, close = _agent(address, reply)
            closers.append(close)
            targets.append(SnmpTarget(name, address, port, community="c", kind="checkpoint_camera"))
        results = get_many_sync(targets, timeout=2.0, concurrency=len(targets))
    finally:
        for close in closers:
            close()
    by = {r.target: r for r in results}
    assert [r.target for r in results] == [t.key for t in targets]
    for name in ("good", "good2"):
        assert by[name].ok, by[name].detail
        assert by[name].metrics["sys_uptime_s"] == 5000.0 and by[name].metrics["temperature_c"] == 41
        assert by[name].metrics["sys_descr"] == "good camera"
    wide = by["wide_gauge"]  # the device answers; only its gauge is unusable
    assert wide.ok and "temperature_c" not in wide.metrics and "temperature_c: out of range" in wide.detail
    for name in ("huge_uptime", "huge_gauge", "wide_uptime", "endless_oid", "not_ber", "wrong_types", "bad_ip"):
        assert not by[name].ok and by[name].reason == "bad_reply", (name, by[name])


def test_a_spoofed_garbage_datagram_from_another_address_changes_nothing():
    """Garbage from an address nobody asked is dropped: it cannot fail a request to some other device."""
    port, close = _agent("127.0.0.1", _answer(GOOD))
    spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoofer.bind(("127.0.7.1", 0))
    try:
        t = SnmpTarget("good", "127.0.0.1", port, community="c")
        assert get_many_sync([t], timeout=2.0)[0].ok
        # the poller's socket is the background loop's; aim garbage at it from a stranger while a request is out
        from probes.snmp import poller as poller_module

        bg = poller_module._background
        local = bg.poller._transport.get_extra_info("sockname")
        stop = threading.Event()

        def spray():
            while not stop.is_set():
                spoofer.sendto(b"\x30\x03\x02\x01\x01", ("127.0.0.1", local[1]))
                stop.wait(0.001)

        sprayer = threading.Thread(target=spray, daemon=True)
        sprayer.start()
        try:
            results = get_many_sync([t] * 20, timeout=2.0, concurrency=5)
        finally:
            stop.set()
            sprayer.join()
    finally:
        close()
        spoofer.close()
    assert all(r.ok for r in results), [r.detail for r in results if not r.ok]

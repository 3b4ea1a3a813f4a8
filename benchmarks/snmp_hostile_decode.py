"""How long the v2c decoder spends on hostile datagrams (issue 11): one 64 KB reply must not stall the event loop.

Peers: the review measured 0.54 s for one 64 KB OID before the sub-identifier bound; the poller's budget is ~30 µs
of CPU per normal reply (10,000 devices a minute)."""
import time

from probes.snmp.ber import (
    INTEGER, OBJECT_ID, OCTET_STRING, RESPONSE, TIMETICKS, BerError, _oid_body, _tlv, decode_message, encode_message,
)


def _frame(vbl: bytes) -> bytes:
    pdu = _tlv(RESPONSE, _tlv(INTEGER, b"\x01") + b"\x02\x01\x00\x02\x01\x00" + _tlv(0x30, vbl))
    return _tlv(0x30, b"\x02\x01\x01" + _tlv(OCTET_STRING, b"c") + pdu)


def _time(data: bytes, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        try:
            decode_message(data)
        except BerError:
            pass
    return (time.perf_counter() - start) / n


def main():
    endless = _frame(_tlv(0x30, _tlv(OBJECT_ID, b"\x2b" + b"\xff" * 65000 + b"\x01") + b"\x05\x00"))
    widest = _oid_body((1, 3) + (2**32 - 1,) * 126)  # 128 legal sub-identifiers of 5 bytes each
    many = _frame(b"".join(_tlv(0x30, _tlv(OBJECT_ID, widest) + _tlv(TIMETICKS, b"\x7f\xff\xff\xff"))
                           for _ in range(65000 // (len(widest) + 12))))
    normal = encode_message(b"c", RESPONSE, 1, 0, 0, [("1.3.6.1.2.1.1.3.0", (TIMETICKS, 123456))] * 8)
    for name, data, n, peer in [
        ("one endless OID", endless, 200, "0.54 s before the bound"),
        ("legal OIDs of 128 wide arcs", many, 20, "0.54 s before the bound"),
        ("a normal 8-varbind reply", normal, 20000, "~30 µs budget"),
    ]:
        print(f"decode {name:<28} {len(data):>6} bytes  {_time(data, n) * 1e6:>10.1f} µs   (peer: {peer})")


if __name__ == "__main__":
    main()

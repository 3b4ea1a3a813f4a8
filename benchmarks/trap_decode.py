"""How fast the trap receiver decodes (issue 17): a v2c trap with our codec, a v3 authPriv trap (HMAC + AES, key
localisation cached), a flood of garbage — beside pyasn1/pysnmp decoding the same v2c message (the peer our
codec was written to beat) and the 50 traps a second a city's worth of cabinets might send in a storm."""
import time

from probes.snmp.trap import TrapError, UsmUser, decode_notification

V2C = bytes.fromhex("3051020101040163a749020462c1895c020100020100303b300f06082b0601020101030043030274073017060a2b"
                    "06010603010104010006092b0601060301010503300f060a2b060102010202010102020102")
V3 = bytes.fromhex(
    "30819b02010330110204035254d3020300ffe30401030201030430302e040980001f8880c0ffee0102010102030284140401"
    "75040c4888a7ce60c92815fd4765350408432264ffa075ee860451261d36034c5eace825fd67f776a2b718097e7ad98bb813"
    "ed4d21b907e4c0ac56c1e5610737c792a8cd76fc1944133502a95063a4f53f8bfba6cd650c9d83b7075e4bc8fbf9b8580689"
    "81febbae02f5f002")
USERS = {"u": UsmUser("u", "SHA", "auth-pass-123", "AES", "priv-pass-123")}


def _per_call(fn, n: int) -> float:
    fn()  # warm (the v3 key is localised once)
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _garbage():
    try:
        decode_notification(bytes(range(256)) * 4, {"c"}, USERS)
    except TrapError:
        pass


def main():
    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api

    ours = _per_call(lambda: decode_notification(V2C, {"c"}, USERS), 5000)
    theirs = _per_call(lambda: decoder.decode(V2C, asn1Spec=api.PROTOCOL_MODULES[api.SNMP_VERSION_2C].Message()), 500)
    v3 = _per_call(lambda: decode_notification(V3, set(), USERS), 2000)
    junk = _per_call(_garbage, 5000)
    print(f"v2c trap, our codec          {ours * 1e6:>8.1f} µs   (peer: pyasn1 {theirs * 1e6:.1f} µs)")
    print(f"v3 authPriv trap (SHA/AES)   {v3 * 1e6:>8.1f} µs   (peer: a 50 traps/s storm needs < 20000 µs)")
    print(f"1 KB of garbage, refused     {junk * 1e6:>8.1f} µs   (peer: a 50 traps/s storm needs < 20000 µs)")


if __name__ == "__main__":
    main()

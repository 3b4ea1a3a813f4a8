"""Decoding received SNMP notifications: v1 Trap, v2c Trap/Inform (our BER codec), v3 with USM (issue 17).

v1/v2c are read with `probes.snmp.ber`'s bounded primitives; a v3 message's envelope is read the same way, and its
authentication and privacy use pysnmp's USM pieces (key localisation, HMAC check, DES/AES decryption), keyed with
the sender's own engine ID taken from the message — so a trap from any device whose user and keys are configured is
accepted, as a notification receiver must (the sender is the authoritative engine of a trap).

Whatever arrives, the answer is a `Notification` or a `TrapError` with a reason code, never another exception.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from probes.snmp.ber import (
    INTEGER, IP_ADDRESS, OBJECT_ID, OCTET_STRING, TIMETICKS, BerError, _decode_int, _decode_oid, _expect, _read,
    decode_value, encode_message, RESPONSE,
)

TRAP_V1, INFORM, TRAP_V2 = 0xA4, 0xA6, 0xA7
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAPS = "1.3.6.1.6.3.1.1.5"  # coldStart.1 warmStart.2 linkDown.3 linkUp.4 authenticationFailure.5
MAX_DATAGRAM = 65535
MAX_VARBINDS = 256
_TEXT_MAX = 255

REASONS = ("malformed", "unknown_community", "unknown_user", "auth_failed", "decrypt_failed", "unsupported",
           "not_a_notification")


class TrapError(ValueError):
    """A datagram that is not an acceptable notification; `reason` is one of REASONS."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class UsmUser:
    """A v3 user the receiver accepts (keys are pass phrases, as in net-snmp's createUser)."""

    name: str
    auth_protocol: str = ""  # MD5, SHA, SHA224, SHA256, SHA384, SHA512
    auth_key: str = field(default="", repr=False)
    priv_protocol: str = ""  # DES, AES (AES-128), AES192, AES256
    priv_key: str = field(default="", repr=False)


@dataclass
class Notification:
    version: str  # v1 | v2c | v3
    principal: str  # the v3 user; "" for v1/v2c (the community is a secret and is never kept)
    pdu: int
    request_id: int
    trap_oid: str
    uptime: int | None
    varbinds: list[dict]  # [{"oid", "type", "value"}] (JSON-ready; text cut at 255 characters)
    reply: bytes | None = None  # the Response to send back (a v2c inform)

    @property
    def inform(self) -> bool:
        return self.pdu == INFORM


_TYPES = {0x02: "integer", 0x04: "octets", 0x05: "null", 0x06: "oid", 0x40: "ipaddress", 0x41: "counter32",
          0x42: "gauge32", 0x43: "timeticks", 0x44: "opaque", 0x46: "counter64", 0x80: "noSuchObject",
          0x81: "noSuchInstance", 0x82: "endOfMibView"}


def _json_value(tag: int, value):
    if isinstance(value, bytes):
        try:
            return value[:_TEXT_MAX].decode("utf-8")
        except UnicodeDecodeError:
            try:
                return value[:_TEXT_MAX].decode("gb18030")
            except UnicodeDecodeError:
                return "0x" + value[:_TEXT_MAX // 2].hex()
    if tag == OBJECT_ID:
        return ".".join(map(str, value))[:_TEXT_MAX]
    return value


def _varbinds(data: bytes, i: int, end: int) -> list[tuple[str, int, object]]:
    vs, ve = _expect(data, i, end, 0x30)
    out = []
    i = vs
    while i < ve:
        if len(out) >= MAX_VARBINDS:
            raise BerError(f"more than {MAX_VARBINDS} variable bindings")
        s1, e1 = _expect(data, i, ve, 0x30)
        a, b = _expect(data, s1, e1, OBJECT_ID)
        oid = ".".join(map(str, _decode_oid(data[a:b])))
        tag, a, j = _read(data, b, e1)
        out.append((oid, tag, decode_value(tag, data[a:j])))
        i = e1
    return out


def _pdu(data: bytes, i: int, end: int):
    """(pdu tag, request id, trap OID, uptime, varbinds) of a v1 Trap-PDU or a v2 Trap/Inform PDU at `i`."""
    tag, ps, pe = _read(data, i, end)
    if tag == TRAP_V1:
        a, b = _expect(data, ps, pe, OBJECT_ID)
        enterprise = ".".join(map(str, _decode_oid(data[a:b])))
        a, b = _expect(data, b, pe, IP_ADDRESS)
        a, b = _expect(data, b, pe, INTEGER)
        generic = _decode_int(data[a:b], True)
        a, b = _expect(data, b, pe, INTEGER)
        specific = _decode_int(data[a:b], True)
        a, b = _expect(data, b, pe, TIMETICKS)
        uptime = _decode_int(data[a:b], False)
        vbs = _varbinds(data, b, pe)
        # RFC 3584 §3.1: the v2 snmpTrapOID of a v1 trap
        trap_oid = f"{SNMP_TRAPS}.{generic + 1}" if 0 <= generic < 6 else f"{enterprise}.0.{specific}"
        return tag, 0, trap_oid, uptime, vbs
    if tag not in (TRAP_V2, INFORM):
        raise TrapError("not_a_notification", f"PDU tag {tag:#x}")
    fields = []
    j = ps
    for _ in range(3):
        a, j = _expect(data, j, pe, INTEGER)
        fields.append(_decode_int(data[a:j], True))
    vbs = _varbinds(data, j, pe)
    values = {oid: (t, v) for oid, t, v in vbs}
    trap = values.get(SNMP_TRAP_OID)
    if trap is None or trap[0] != OBJECT_ID:
        raise TrapError("malformed", "no snmpTrapOID.0 in the variable bindings")
    up = values.get(SYS_UPTIME)
    uptime = up[1] if up is not None and isinstance(up[1], int) else None
    rest = [vb for vb in vbs if vb[0] not in (SNMP_TRAP_OID, SYS_UPTIME)]
    return tag, fields[0], ".".join(map(str, trap[1])), uptime, rest


def _rows(vbs) -> list[dict]:
    return [{"oid": oid, "type": _TYPES.get(tag, f"{tag:#x}"), "value": _json_value(tag, value)}
            for oid, tag, value in vbs]


def decode_notification(data: bytes, communities, users: dict[str, UsmUser]) -> Notification:
    """Decode one datagram. `communities`: the accepted v1/v2c communities (bytes or str); `users`: v3 users by
    name. Raises TrapError (reason code) for anything else."""
    if not data or len(data) > MAX_DATAGRAM:
        raise TrapError("malformed", "empty or oversized datagram")
    try:
        s, e = _expect(data, 0, len(data), 0x30)
        a, b = _expect(data, s, e, INTEGER)
        version = _decode_int(data[a:b], True)
        if version == 3:
            return _decode_v3(data, b, e, users)
        if version not in (0, 1):
            raise TrapError("unsupported", f"SNMP version number {version}")
        a, b2 = _expect(data, b, e, OCTET_STRING)
        community = bytes(data[a:b2])
        accepted = {c.encode() if isinstance(c, str) else bytes(c) for c in communities}
        if not any(hmac.compare_digest(community, c) for c in accepted):
            raise TrapError("unknown_community")
        tag, rid, trap_oid, uptime, vbs = _pdu(data, b2, e)
        if (version == 0) != (tag == TRAP_V1):
            raise TrapError("malformed", "PDU does not match the message version")
        reply = None
        if tag == INFORM:  # acknowledge: the same bindings in a Response-PDU (RFC 3416 §4.2.7)
            _t, ps, pe = _read(data, b2, e)
            reply = _inform_reply(community, rid, data, ps, pe)
        return Notification("v1" if version == 0 else "v2c", "", tag, rid, trap_oid, uptime, _rows(vbs), reply)
    except TrapError:
        raise
    except (BerError, ValueError, OverflowError, IndexError, TypeError, AttributeError, LookupError) as err:
        raise TrapError("malformed", str(err)[:200]) from None


def _inform_reply(community: bytes, rid: int, data: bytes, ps: int, pe: int) -> bytes:
    j = ps
    for _ in range(3):
        _a, j = _expect(data, j, pe, INTEGER)
    vbs = [(oid, (tag, value)) for oid, tag, value in _varbinds(data, j, pe)]
    return encode_message(community, RESPONSE, rid, 0, 0, vbs)


# ------------------------------------------------------------------------------------------------- v3 (USM)

_AUTH = {"MD5": (hashlib.md5, 12), "SHA": (hashlib.sha1, 12), "SHA224": (hashlib.sha224, 16),
         "SHA256": (hashlib.sha256, 24), "SHA384": (hashlib.sha384, 32), "SHA512": (hashlib.sha512, 48)}
_key_cache: dict[tuple, bytes] = {}


def _localized(pass_phrase: str, engine_id: bytes, hash_fn) -> bytes:
    """RFC 3414 §A.2 password-to-key, localised to `engine_id` (cached: it hashes a megabyte)."""
    key = (pass_phrase, engine_id, hash_fn().name)
    if key not in _key_cache:
        if len(_key_cache) > 4096:
            _key_cache.clear()
        phrase = pass_phrase.encode()
        if not phrase:
            raise TrapError("auth_failed", "empty pass phrase")
        ku = hash_fn((phrase * (1048576 // len(phrase) + 1))[:1048576]).digest()
        _key_cache[key] = hash_fn(ku + engine_id + ku).digest()
    return _key_cache[key]


def _decode_v3(data: bytes, i: int, end: int, users: dict[str, UsmUser]) -> Notification:
    gs, ge = _expect(data, i, end, 0x30)  # msgGlobalData
    j = gs
    for _ in range(2):  # msgID, msgMaxSize
        _a, j = _expect(data, j, ge, INTEGER)
    a, j = _expect(data, j, ge, OCTET_STRING)
    flags = data[a] if j > a else 0
    a, j = _expect(data, j, ge, INTEGER)
    if _decode_int(data[a:j], True) != 3:
        raise TrapError("unsupported", "security model is not USM")
    sp_s, sp_e = _expect(data, ge, end, OCTET_STRING)  # msgSecurityParameters
    us, ue = _expect(data, sp_s, sp_e, 0x30)
    a, k = _expect(data, us, ue, OCTET_STRING)
    engine_id = bytes(data[a:k])
    a, k = _expect(data, k, ue, INTEGER)
    boots = _decode_int(data[a:k], True)
    a, k = _expect(data, k, ue, INTEGER)
    etime = _decode_int(data[a:k], True)
    a, k = _expect(data, k, ue, OCTET_STRING)
    user_name = bytes(data[a:k]).decode("utf-8", "replace")
    auth_s, auth_e = _expect(data, k, ue, OCTET_STRING)
    priv_s, priv_e = _expect(data, auth_e, ue, OCTET_STRING)
    user = users.get(user_name)
    if user is None:
        raise TrapError("unknown_user", user_name[:60])
    wants_auth, wants_priv = bool(flags & 1), bool(flags & 2)
    if user.auth_protocol and not wants_auth:
        raise TrapError("auth_failed", "unauthenticated message for a user with authentication")
    if user.priv_protocol and not wants_priv:
        raise TrapError("auth_failed", "unencrypted message for a user with privacy")
    if wants_auth:
        if not user.auth_protocol:
            raise TrapError("auth_failed", "authenticated message for a user without authentication")
        hash_fn, mac_len = _AUTH[user.auth_protocol.upper()]
        got = bytes(data[auth_s:auth_e])
        if len(got) != mac_len:
            raise TrapError("auth_failed", "bad authentication parameter length")
        key = _localized(user.auth_key, engine_id, hash_fn)
        zeroed = data[:auth_s] + bytes(mac_len) + data[auth_e:]
        want = hmac.new(key, zeroed, hash_fn).digest()[:mac_len]
        if not hmac.compare_digest(got, want):
            raise TrapError("auth_failed", "wrong digest")
    if wants_priv:
        if not user.priv_protocol:
            raise TrapError("decrypt_failed", "encrypted message for a user without privacy")
        a, b = _expect(data, priv_e, end, OCTET_STRING)
        scoped = _decrypt(user, engine_id, boots, etime, bytes(data[priv_s:priv_e]), bytes(data[a:b]))
        s0, s1 = 0, len(scoped)
        try:
            cs, ce = _expect(scoped, s0, s1, 0x30)
        except BerError as err:
            raise TrapError("decrypt_failed", str(err)) from None
        buf = scoped
    else:
        cs, ce = _expect(data, priv_e, end, 0x30)
        buf = data
    _a, c = _expect(buf, cs, ce, OCTET_STRING)  # contextEngineID
    _a, c = _expect(buf, c, ce, OCTET_STRING)  # contextName
    tag, rid, trap_oid, uptime, vbs = _pdu(buf, c, ce)
    if tag == TRAP_V1:
        raise TrapError("malformed", "a v1 Trap-PDU inside a v3 message")
    # A v3 inform needs this receiver to be the authoritative engine (engine-ID discovery): it is stored, not
    # acknowledged (the sender retries, and each copy is stored).
    return Notification("v3", user_name, tag, rid, trap_oid, uptime, _rows(vbs), None)


def _decrypt(user: UsmUser, engine_id: bytes, boots: int, etime: int, salt: bytes, encrypted: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    hash_fn, _ = _AUTH[user.auth_protocol.upper()]
    proto = user.priv_protocol.upper()
    if len(salt) != 8:
        raise TrapError("decrypt_failed", "bad privacy parameter length")
    try:
        if proto in ("AES", "AES128", "AES192", "AES256"):
            size = {"AES": 16, "AES128": 16, "AES192": 24, "AES256": 32}[proto]
            key = _localized(user.priv_key, engine_id, hash_fn)
            while len(key) < size:  # Blumenthal extension (what net-snmp does for AES-192/256)
                key += hash_fn(key).digest()
            iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
            dec = Cipher(algorithms.AES(key[:size]), _cfb(iv)).decryptor()
            return dec.update(encrypted) + dec.finalize()
        if proto == "DES":
            from pysnmp.proto.secmod.rfc3414.priv.des import Des
            from pyasn1.type import univ

            key = _localized(user.priv_key, engine_id, hash_fn)
            out = Des().decrypt_data(univ.OctetString(key), (boots, etime, univ.OctetString(salt)),
                                     univ.OctetString(encrypted))
            return bytes(out)
    except TrapError:
        raise
    except Exception as err:  # noqa: BLE001 - a crypto library's complaint about one datagram
        raise TrapError("decrypt_failed", type(err).__name__) from None
    raise TrapError("unsupported", f"privacy protocol {proto}")


def _cfb(iv: bytes):
    try:  # cryptography ≥ 44 keeps CFB among its "decrepit" modes
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.modes import CFB
    return CFB(iv)

"""The trap decoder against hostile input (issue 17): whatever bytes arrive, the answer is a Notification or a
TrapError with a reason code — never another exception (the receiver counts and logs it and goes on). And the
`fleetops traps` command as a process: it stores a trap sent by net-snmp's snmptrap."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from probes.snmp.trap import REASONS, TrapError, UsmUser, decode_notification

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
USERS = {"u": UsmUser("u", "SHA", "auth-pass-123", "AES", "priv-pass-123")}
# A real v2c trap (linkDown, community "c") to mutate.
TRAP = bytes.fromhex("3051020101040163a749020462c1895c020100020100303b300f06082b0601020101030043030274073017060a2b"
                     "06010603010104010006092b0601060301010503300f060a2b060102010202010102020102")

# A real v3 authPriv trap (coldStart) from snmptrap: user "u", SHA / AES, engine 0x80001f8880c0ffee01.
TRAP_V3 = bytes.fromhex(
    "30819b02010330110204035254d3020300ffe30401030201030430302e040980001f8880c0ffee0102010102030284140401"
    "75040c4888a7ce60c92815fd4765350408432264ffa075ee860451261d36034c5eace825fd67f776a2b718097e7ad98bb813"
    "ed4d21b907e4c0ac56c1e5610737c792a8cd76fc1944133502a95063a4f53f8bfba6cd650c9d83b7075e4bc8fbf9b8580689"
    "81febbae02f5f002")


def _check(data: bytes) -> None:
    try:
        decode_notification(data, {"c"}, USERS)
    except TrapError as err:
        assert err.reason in REASONS


def test_the_unmutated_trap_decodes():
    note = decode_notification(TRAP, {"c"}, USERS)
    assert (note.version, note.trap_oid, note.varbinds) == \
        ("v2c", "1.3.6.1.6.3.1.1.5.3", [{"oid": "1.3.6.1.2.1.2.2.1.1.2", "type": "integer", "value": 2}])


def test_the_unmutated_v3_trap_decodes_and_any_changed_byte_is_refused():
    note = decode_notification(TRAP_V3, set(), USERS)
    assert (note.version, note.principal, note.trap_oid) == ("v3", "u", "1.3.6.1.6.3.1.1.5.1")
    for i in range(len(TRAP_V3)):  # the digest covers every byte
        changed = TRAP_V3[:i] + bytes([TRAP_V3[i] ^ 0x01]) + TRAP_V3[i + 1:]
        with pytest.raises(TrapError):
            decode_notification(changed, set(), USERS)


@FUZZ
@given(st.binary(min_size=1, max_size=40), st.integers(min_value=0, max_value=157))
def test_a_mutated_v3_trap_is_a_notification_or_a_reasoned_refusal(patch, at):
    _check(TRAP_V3[:at] + patch + TRAP_V3[at + len(patch):])


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_are_a_notification_or_a_reasoned_refusal(data):
    _check(data)


@FUZZ
@given(st.binary(min_size=1, max_size=40), st.integers(min_value=0, max_value=82))
def test_a_mutated_trap_is_a_notification_or_a_reasoned_refusal(patch, at):
    _check(TRAP[:at] + patch + TRAP[at + len(patch):])


@FUZZ
@given(st.binary(max_size=200))
def test_a_v3_envelope_with_arbitrary_security_parameters_is_refused_cleanly(tail):
    # SEQUENCE { version 3, msgGlobalData { id, maxSize, flags authPriv, model USM }, securityParameters … }
    head = bytes.fromhex("020103" "3010020101020300ffe3040103020103")
    body = head + bytes([0x04, len(tail) & 0x7F]) + tail[:127]
    _check(bytes([0x30, 0x81, len(body) & 0xFF]) + body)


@pytest.mark.skipif(shutil.which("snmptrap") is None, reason="net-snmp's snmptrap (package snmp)")
def test_the_traps_command_receives_and_stores_a_trap(schema, tmp_path):
    env = {**os.environ, "FLEETOPS_DATABASE_URL": schema, "FLEETOPS_INSTANCE_PATH": str(tmp_path),
           "FLEETOPS_SECRET_KEY": "traps-test", "PYTHONPATH": str(ROOT), "FLEETOPS_TRAP_COMMUNITIES": '["cli-comm"]'}
    out = open(tmp_path / "traps.out", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "fleetops.cli", "traps", "--host", "127.0.0.1", "--port", "0"],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    engine = create_engine(schema)
    try:
        deadline = time.monotonic() + 60
        port = None
        while port is None and time.monotonic() < deadline:
            m = re.search(r"127\.0\.0\.1:(\d+)", (tmp_path / "traps.out").read_text())
            port = int(m.group(1)) if m else None
            assert proc.poll() is None, (tmp_path / "traps.out").read_text()
            time.sleep(0.2)
        assert port, (tmp_path / "traps.out").read_text()
        subprocess.run(["snmptrap", "-v2c", "-c", "cli-comm", f"127.0.0.1:{port}", "", "1.3.6.1.4.1.99999.42"],
                       check=True, capture_output=True, timeout=20)
        rows = []
        while not rows and time.monotonic() < deadline:
            with engine.connect() as c:
                rows = c.execute(text("SELECT trap_oid, known FROM snmp_traps WHERE trap_oid = '1.3.6.1.4.1.99999.42'")
                                 ).all()
            time.sleep(0.2)
        assert [(r[0], bool(r[1])) for r in rows] == [("1.3.6.1.4.1.99999.42", False)]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()
        with engine.begin() as c:
            c.execute(text("DELETE FROM snmp_traps"))
        engine.dispose()

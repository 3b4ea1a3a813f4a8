"""Fault-injection helpers: real `fleetops` processes on the test database, killed with SIGKILL when asked."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/faults/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def fleetops_cli(schema, tmp_path):
    """fleetops_cli(*args, db_url=None) → a running `python -m fleetops.cli …` (Popen, output to files)."""
    procs = []

    def start(*args, db_url=None, name="cli", **env_extra):
        env = {**os.environ, "FLEETOPS_DATABASE_URL": db_url or schema, "FLEETOPS_INSTANCE_PATH": str(tmp_path),
               "FLEETOPS_SECRET_KEY": "fault-test", "PYTHONPATH": str(ROOT), **env_extra}
        out = open(tmp_path / f"{name}.out", "w+")  # noqa: SIM115 - closed below
        err = open(tmp_path / f"{name}.err", "w+")  # noqa: SIM115
        p = subprocess.Popen([sys.executable, "-m", "fleetops.cli", *args], cwd=ROOT, env=env, stdout=out,
                             stderr=err)
        p.out_path, p.err_path, p._files = tmp_path / f"{name}.out", tmp_path / f"{name}.err", (out, err)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        for f in p._files:
            f.close()


def wait_for(pred, timeout=20.0, step=0.1):
    """True as soon as pred() holds. The waits are for real processes to start and act: on a loaded machine (the
    two databases' suites side by side, each `fleetops` process taking 10–15 s to start) a short deadline fails a
    test that is right, so every deadline is at least 120 s — a quiet machine waits no longer than before."""
    end = time.monotonic() + max(timeout, 120.0)
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def kill9(proc) -> None:
    assert proc.poll() is None, "the process had already finished: it was not killed mid-way"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL

"""Benchmark: what encrypting the stored secrets costs (models/crypto.py, Fernet) at 10,000 devices.

    .venv/bin/python benchmarks/secrets_at_rest.py [--devices 10000]

Prints the raw Fernet cost per 10,000 values, then reading every device (what a poll cycle does) with the
secrets decrypted — cold, and warm (decrypted tokens are cached) — beside the same read without the secret
columns (the peer: what reading costs with no secrets at all). A temporary SQLite file is used.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import defer  # noqa: E402

from fleetops.db import make_engine, make_sessionmaker  # noqa: E402
from fleetops.models import Base, Device, crypto  # noqa: E402
from fleetops.services.inventory.demo import generate_fleet, write_fleet  # noqa: E402

SECRET_COLUMNS = (Device.snmp_community, Device.snmp_v3_auth_key, Device.snmp_v3_priv_key, Device.snapshot_password)


def ms(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=10_000)
    n = ap.parse_args().devices
    crypto.configure([Fernet.generate_key()])
    ring = crypto.KEYRING
    enc, tokens = ms(lambda: [ring.encrypt(f"community-{i}") for i in range(n)])
    ring.cache.clear()
    dec, _ = ms(lambda: [ring.decrypt(t) for t in tokens])
    warm, _ = ms(lambda: [ring.decrypt(t) for t in tokens])
    print(f"fernet {n} values: encrypt {enc:.0f} ms, decrypt {dec:.0f} ms, decrypt cached {warm:.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        Base.metadata.create_all(engine)
        sm = make_sessionmaker(engine)
        with sm() as s:
            fleet = generate_fleet(n, 7, date(2026, 6, 21))
            t_write, _ = ms(lambda: write_fleet(s, fleet))
            s.commit()
        print(f"write {n} devices (secrets encrypted on the way in): {t_write:.0f} ms")
        ring.cache.clear()
        with sm() as s:
            cold, rows = ms(lambda: s.scalars(select(Device)).all())
        with sm() as s:
            hot, _ = ms(lambda: s.scalars(select(Device)).all())
        with sm() as s:
            peer, _ = ms(lambda: s.scalars(select(Device).options(*(defer(c) for c in SECRET_COLUMNS))).all())
        print(f"read {len(rows)} devices with secrets: cold {cold:.0f} ms, warm {hot:.0f} ms "
              f"| peer, without the secret columns: {peer:.0f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()

"""SIGKILL a process in the middle of ingesting probe results, then run it again: nothing acknowledged is lost,
no outage, ticket or alert is doubled, and a replay changes nothing (ingest is one transaction, keyed results)."""
import json
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from fleetops.models import Device, Site
from fleetops.models.alerts import Alert
from fleetops.models.monitoring import Outage, ProbeResultRow
from fleetops.models.tickets import Ticket
from tests.conftest import _empty_tables
from tests.faults.conftest import kill9

MIN = timedelta(minutes=1)
SITES, PER_SITE, PATTERN = 40, 5, "....xxxx......xxxx......"


def make_fleet(db):
    for s in range(SITES):
        site = Site(code=f"K{s:03d}", name=f"K{s:03d} 北门卡口", district="天山区", latitude=43.8, longitude=87.6)
        db.add(site)
        db.flush()
        for i in range(PER_SITE):
            db.add(Device(code=f"K{s:03d}-CAM{i}", kind="checkpoint_camera", site_id=site.id, lifecycle="online"))
    db.commit()


def results_file(path):
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - len(PATTERN) * MIN
    with path.open("w", encoding="utf-8") as fh:
        for s in range(SITES):
            for i in range(PER_SITE):
                pattern = PATTERN if i == 0 else "." * len(PATTERN)  # one camera per site goes down twice
                for n, ch in enumerate(pattern):
                    fh.write(json.dumps({"device": f"K{s:03d}-CAM{i}", "probe": "ping", "ok": ch == ".",
                                         "at": (start + n * MIN).isoformat(),
                                         "detail": "" if ch == "." else "timeout after 1.0 s"}) + "\n")
    return path


def counts(db):
    db.expire_all()
    found = {m.__name__: db.scalar(select(func.count()).select_from(m)) for m in (ProbeResultRow, Outage, Ticket, Alert)}
    db.rollback()  # hold no lock: the next step may TRUNCATE (PostgreSQL) or another process write
    return found


def test_sigkill_mid_ingest_loses_nothing_acknowledged_and_doubles_nothing(app, db, fleetops_cli, tmp_path):
    path = results_file(tmp_path / "results.jsonl")
    make_fleet(db)
    started = time.monotonic()
    clean = fleetops_cli("ingest-results", str(path), name="clean")
    assert clean.wait(240) == 0, clean.err_path.read_text()
    full_s = time.monotonic() - started
    reference = counts(db)
    assert reference["ProbeResultRow"] == SITES * PER_SITE * len(PATTERN) and reference["Outage"] == 2 * SITES
    assert reference["Ticket"] >= SITES and reference["Alert"] >= SITES

    # Kill it past start-up and parsing, into the writing (the clean run took full_s). A second run can be quicker
    # than the first (warm caches): if it finished before the kill, start again and kill it sooner.
    for n, share in enumerate((0.7, 0.45, 0.3, 0.2, 0.12, 0.07, 0.04)):  # later shares: only on a loaded machine
        _empty_tables(app.extensions["fleetops.engine"])
        make_fleet(db)
        victim = fleetops_cli("ingest-results", str(path), name=f"victim{n}")
        time.sleep(full_s * share)
        if victim.poll() is not None:  # it finished before the kill (quicker than the clean run): kill sooner
            continue
        kill9(victim)
        if "stored" not in victim.out_path.read_text():
            break  # killed before it acknowledged anything
    assert "stored" not in victim.out_path.read_text(), "every run finished before the kill"  # never acknowledged …
    after_kill = counts(db)
    assert after_kill == dict.fromkeys(after_kill, 0), after_kill  # … and nothing half-written

    again = fleetops_cli("ingest-results", str(path), name="again")
    assert again.wait(240) == 0, again.err_path.read_text()
    assert json.loads(again.out_path.read_text())["stored"] == reference["ProbeResultRow"]
    assert counts(db) == reference
    replay = fleetops_cli("ingest-results", str(path), name="replay")
    assert replay.wait(240) == 0
    assert json.loads(replay.out_path.read_text())["stored"] == 0 and counts(db) == reference

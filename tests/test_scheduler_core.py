"""The scheduler: a failing job is logged and does not stop the others; one scheduler per database."""
import logging
import threading

from fleetops.scheduler import Job, SingleSchedulerLock, run_job


def test_a_failing_job_is_logged_not_raised(app, caplog):
    def boom(_app):
        raise RuntimeError("device table on fire")

    with caplog.at_level(logging.ERROR, logger="fleetops.scheduler"):
        run_job(app, Job("boom", boom))
    assert "job=boom failed" in caplog.text


def test_a_second_scheduler_waits_for_the_first(app, monkeypatch):
    first = SingleSchedulerLock(app)
    first.acquire()
    waited = threading.Event()
    monkeypatch.setattr("fleetops.scheduler.time.sleep", lambda _s: (waited.set(), (_ for _ in ()).throw(TimeoutError())))
    second = SingleSchedulerLock(app)
    try:
        second.acquire()
    except TimeoutError:
        pass
    assert waited.is_set(), "the second scheduler did not wait for the lock"
    first.release()

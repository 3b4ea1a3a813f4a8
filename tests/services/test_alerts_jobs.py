"""The alert jobs run from the scheduler table on a real app: each does its work in its own session and commits."""
from datetime import date, timedelta

from sqlalchemy import select

from fleetops.models import MetrologyCertificate
from fleetops.models.alerts import Alert
from fleetops.models.base import utcnow
from fleetops.models.monitoring import ProbeResultRow
from fleetops.scheduler import collect_jobs, run_job
from tests.services.test_alerts_delivery import make_site


def test_the_alert_jobs_are_scheduled_and_do_their_work(app, db, users):
    jobs = {j.id: j for j in collect_jobs(app)}
    assert {"alerts_deliver", "alerts_repeat", "alerts_no_data", "alerts_probe_silence",
            "alerts_certificates"} <= set(jobs)
    assert jobs["alerts_deliver"].interval_s == 10
    _s, (cam,) = make_site(db, kind="speed_camera")
    db.add(MetrologyCertificate(device_id=cam.id, certificate_no="JL-9", valid_until=date.today() - timedelta(days=3)))
    # Heard from 20 minutes ago, silent since (a district never heard from raises nothing).
    db.add(ProbeResultRow(device_id=cam.id, probe="ping", at=utcnow() - timedelta(minutes=20), ok=True))
    db.commit()
    for job_id in ("alerts_certificates", "alerts_probe_silence", "alerts_no_data", "alerts_repeat", "alerts_deliver"):
        run_job(app, jobs[job_id])
    kinds = sorted(a.kind for a in db.scalars(select(Alert)))
    assert kinds == ["cert_expired", "probe_agent_silent"]  # nothing has probed this district for 20 min

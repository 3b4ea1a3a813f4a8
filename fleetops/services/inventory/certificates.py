"""F5: metrology certificates — a device whose newest certificate expired or failed, or is due within the
warning window, raises an alert to supervisors (through the alerts area); a renewed one resolves it.
Job: job_certificates (alerts_certificates). The window keeps its stored key "alerts.certificate_warn_days"."""
import logging
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from fleetops.domain.choices import IN_SERVICE
from fleetops.domain.text import Msg
from fleetops.models import Device, MetrologyCertificate
from fleetops.models.base import utcnow
from fleetops.platform import parameters
from fleetops.platform.clock import local_zone
from fleetops.services import alerts

log = logging.getLogger(__name__)

PARAMETERS = {
    "alerts.certificate_warn_days": (30,
        "F5: warn N days before a certificate expires"),
}


def check_certificates(session: Session, today: date | None = None, now: datetime | None = None) -> dict:
    """F5: a device's newest metrology certificate expired, failed, or due within the warning window → alert."""
    now = now or utcnow()
    today = today or now.astimezone(local_zone()).date()
    warn = int(parameters.get(session, "alerts.certificate_warn_days"))
    newest = select(MetrologyCertificate.device_id, func.max(MetrologyCertificate.valid_until).label("until")) \
        .group_by(MetrologyCertificate.device_id).subquery()
    rows = session.execute(select(Device, MetrologyCertificate).join(
        newest, newest.c.device_id == Device.id).join(MetrologyCertificate, and_(
            MetrologyCertificate.device_id == Device.id, MetrologyCertificate.valid_until == newest.c.until)).where(
        Device.lifecycle.in_([s.value for s in IN_SERVICE]))).all()
    out = {"expired": 0, "due": 0, "resolved": 0}
    seen = set()
    for device, cert in rows:
        if device.id in seen:
            continue
        seen.add(device.id)
        expired_key, due_key = f"device:{device.id}:cert_expired", f"device:{device.id}:cert_due"
        if cert.valid_until < today or cert.result == "fail":
            if cert.result == "fail":
                why = Msg("Certificate %(no)s failed verification; the device must be replaced",
                          no=cert.certificate_no)
            else:
                why = Msg("Certificate %(no)s expired on %(date)s", no=cert.certificate_no,
                          date=cert.valid_until.isoformat())
            _a, new = alerts.raise_alert(
                session, expired_key, "cert_expired", "critical",
                Msg("Metrology certificate invalid: %(site)s %(device)s", site=device.site.name, device=device.code),
                why, device=device, audience=("supervisor",), source_type="certificate", source_id=cert.id, now=now)
            out["expired"] += new
            alerts.resolve_key(session, due_key, now, notify=False)  # superseded by the expiry
        elif cert.valid_until <= today + timedelta(days=warn):
            _a, new = alerts.raise_alert(
                session, due_key, "cert_due", "warning",
                Msg("Metrology verification due soon: %(site)s %(device)s", site=device.site.name,
                    device=device.code),
                Msg("Certificate %(no)s valid until %(date)s; please arrange verification", no=cert.certificate_no,
                    date=cert.valid_until.isoformat()),
                device=device, audience=("supervisor",), source_type="certificate", source_id=cert.id, now=now)
            out["due"] += new
        else:
            for key in (expired_key, due_key):
                if alerts.resolve_key(session, key, now):
                    out["resolved"] += 1
    return out


def job_certificates(ctx) -> None:
    with ctx.session() as s:
        stats = check_certificates(s)
    log.info("job=alerts_certificates expired=%s due=%s resolved=%s", stats["expired"], stats["due"],
             stats["resolved"])

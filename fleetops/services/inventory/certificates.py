"""F5: metrology certificates — a device whose newest certificate expired or failed, or is due within the
warning window, raises an alert to supervisors (through the alerts area); a renewed one resolves it.
Job: job_certificates (alerts_certificates). The window keeps its stored key "alerts.certificate_warn_days".

Issue 12: when a certificate enters the warning window (or has expired or failed) one renewal ticket (category
metrology_renewal) is opened for it — once per certificate, however often the job runs; crew certificates (T8)
get the same due/expired alerts (check_crew_certificates)."""
import logging
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from fleetops.domain.choices import IN_SERVICE
from fleetops.domain.text import Msg
from fleetops.domain.choices import Role
from fleetops.models import Device, MetrologyCertificate, User
from fleetops.models.records import CertificateRenewal
from fleetops.models.tickets import CrewQualification
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
    out = {"expired": 0, "due": 0, "resolved": 0, "renewals": 0}
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
            out["renewals"] += open_renewal(session, device, cert, now)
        elif cert.valid_until <= today + timedelta(days=warn):
            _a, new = alerts.raise_alert(
                session, due_key, "cert_due", "warning",
                Msg("Metrology verification due soon: %(site)s %(device)s", site=device.site.name,
                    device=device.code),
                Msg("Certificate %(no)s valid until %(date)s; please arrange verification", no=cert.certificate_no,
                    date=cert.valid_until.isoformat()),
                device=device, audience=("supervisor",), source_type="certificate", source_id=cert.id, now=now)
            out["due"] += new
            out["renewals"] += open_renewal(session, device, cert, now)
        else:
            for key in (expired_key, due_key):
                if alerts.resolve_key(session, key, now):
                    out["resolved"] += 1
    return out


def open_renewal(session: Session, device: Device, cert: MetrologyCertificate, now: datetime) -> int:
    """F5: the renewal ticket for `cert` — opened once per certificate (a CertificateRenewal row remembers it)."""
    from fleetops.services import tickets

    if session.scalar(select(CertificateRenewal.id).where(CertificateRenewal.certificate_id == cert.id)):
        return 0
    t = tickets.open_ticket(
        session, device_id=device.id, category="metrology_renewal", source="certificate", opened_by="system",
        summary=Msg("Renew metrology certificate %(no)s (valid until %(date)s)", no=cert.certificate_no,
                    date=cert.valid_until.isoformat()), auto_dispatch=False, now=now)
    session.add(CertificateRenewal(certificate_id=cert.id, ticket_id=t.id, opened_at=now))
    session.flush()
    return 1


def check_crew_certificates(session: Session, today: date | None = None, now: datetime | None = None) -> dict:
    """T8: a crew member's newest certificate of each kind expired or due within the warning window → an alert to
    supervisors (the same window as metrology certificates); renewed → resolved."""
    now = now or utcnow()
    today = today or now.astimezone(local_zone()).date()
    warn = int(parameters.get(session, "alerts.certificate_warn_days"))
    newest: dict[tuple[int, str], CrewQualification] = {}
    rows = session.execute(select(CrewQualification, User).join(User, User.id == CrewQualification.user_id).where(
        User.role == Role.CREW.value, User.active.is_(True))).all()
    users = {}
    for q, user in rows:
        users[user.id] = user
        key = (q.user_id, q.kind)
        if key not in newest or q.valid_until > newest[key].valid_until:
            newest[key] = q
    out = {"expired": 0, "due": 0, "resolved": 0}
    for (user_id, kind), q in sorted(newest.items()):
        user = users[user_id]
        who = user.display_name or user.username
        from fleetops.domain.tickets import QualificationKind

        label = Msg(QualificationKind._LABELS.get(kind, kind), context="QualificationKind")
        expired_key, due_key = f"user:{user_id}:qual:{kind}:expired", f"user:{user_id}:qual:{kind}:due"
        if q.valid_until < today:
            _a, new = alerts.raise_alert(
                session, expired_key, "crew_cert_expired", "warning",
                Msg("Crew certificate expired: %(who)s, %(kind)s", who=who, kind=label),
                Msg("Certificate %(no)s expired on %(date)s; this person cannot be dispatched to work that needs it",
                    no=q.certificate_no or "-", date=q.valid_until.isoformat()),
                audience=("supervisor",), source_type="qualification", source_id=q.id, now=now,
                district=user.district or "")
            out["expired"] += new
            alerts.resolve_key(session, due_key, now, notify=False)
        elif q.valid_until <= today + timedelta(days=warn):
            _a, new = alerts.raise_alert(
                session, due_key, "crew_cert_due", "warning",
                Msg("Crew certificate expires soon: %(who)s, %(kind)s", who=who, kind=label),
                Msg("Certificate %(no)s valid until %(date)s; please arrange renewal", no=q.certificate_no or "-",
                    date=q.valid_until.isoformat()),
                audience=("supervisor",), source_type="qualification", source_id=q.id, now=now,
                district=user.district or "")
            out["due"] += new
        else:
            for key in (expired_key, due_key):
                if alerts.resolve_key(session, key, now):
                    out["resolved"] += 1
    return out


def job_certificates(ctx) -> None:
    with ctx.session(write=True) as s:
        stats = check_certificates(s)
        crew = check_crew_certificates(s)
    log.info("job=alerts_certificates expired=%s due=%s resolved=%s renewals=%s crew_expired=%s crew_due=%s",
             stats["expired"], stats["due"], stats["resolved"], stats["renewals"], crew["expired"], crew["due"])

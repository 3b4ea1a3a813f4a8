"""T8 (issue 12 part 4): auto-dispatch gives a job only to crew of the site's district holding every certificate the
job needs, valid that day (expired, not yet valid, missing and valid certificates); nobody qualified → the ticket is
flagged in its history and a supervisor alert is raised at once; the assign form shows who holds what; crew
certificates get due/expired alerts."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from fleetops.models import Device, Site
from fleetops.models.alerts import Alert
from fleetops.models.tickets import TicketEvent
from fleetops.services import accounts, tickets
from fleetops.services.inventory import certificates

LOCAL = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(timezone.utc)
TODAY = NOW.astimezone(LOCAL).date()
DAY = timedelta(days=1)


@pytest.fixture
def place(db, users):
    site = Site(code="K301", name="K301 准噶尔路口", district="白碱滩区", latitude=45.69, longitude=85.13)
    db.add(site)
    db.flush()
    cam = Device(code="K301-SPD1", name="测速", kind="speed_camera", site_id=site.id, lifecycle="online")
    cab = Device(code="K301-CAB", name="机柜", kind="cabinet", site_id=site.id, lifecycle="online")
    term = Device(code="K301-TRM", name="终端", kind="terminal", site_id=site.id, lifecycle="online")
    db.add_all([cam, cab, term])
    db.commit()
    crew = {}
    for name, district in (("expired", "白碱滩区"), ("future", "白碱滩区"), ("missing", "白碱滩区"),
                           ("valid", "白碱滩区"), ("elsewhere", "克拉玛依区"), ("sparky", "白碱滩区")):
        user, _ = accounts.create_user(db, f"crew_{name}", "crew", "crew-pass-123", display_name=name)
        user.district = district
        crew[name] = user
    db.commit()
    add = lambda who, kind, until, start=None: tickets.add_qualification(  # noqa: E731
        db, crew[who].id, kind, until, valid_from=start, certificate_no=f"{who}-{kind}", actor=users["admin"])
    add("expired", "work_at_height", TODAY - DAY)
    add("future", "work_at_height", TODAY + 300 * DAY, start=TODAY + DAY)
    add("valid", "work_at_height", TODAY + 300 * DAY, start=TODAY - 10 * DAY)
    add("elsewhere", "work_at_height", TODAY + 300 * DAY)
    add("sparky", "electrician", TODAY + 300 * DAY)
    add("expired", "electrician", TODAY - 3 * DAY)
    db.commit()
    # the users fixture's "crew" has no district (an all-district member) and no certificates
    return {"site": site, "cam": cam, "cab": cab, "term": term, "crew": crew}


def _open(db, device, category="offline"):
    t = tickets.open_ticket(db, device_id=device.id, category=category, source="supervisor", opened_by="system",
                            detected_at=NOW)
    db.commit()
    return t


def test_height_job_goes_only_to_the_valid_local_certificate_holder(db, users, place):
    for _ in range(3):  # the load balancer would spread plain jobs; certificates restrict who is eligible at all
        t = _open(db, place["cam"], "offline")
        assert t.assignee_id == place["crew"]["valid"].id
        t.state = "cancelled"
        db.commit()


def test_cabinet_job_needs_an_electrician(db, users, place):
    t = _open(db, place["cab"], "offline")
    assert t.assignee_id == place["crew"]["sparky"].id


def test_job_needing_nothing_goes_to_the_least_loaded_local_member(db, users, place):
    t = _open(db, place["term"], "offline")
    assert t.assignee is not None and t.assignee.district == "白碱滩区"
    assert not db.scalars(select(Alert).where(Alert.kind == "no_qualified_crew")).all()


def test_nobody_qualified_is_flagged_and_escalated_never_silent(db, users, place):
    place["crew"]["valid"].active = False
    users["crew"].active = False  # the all-district crew member of the fixtures holds every certificate
    db.commit()
    t = _open(db, place["cam"], "offline")
    assert t.assignee_id is None
    events = db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                  TicketEvent.action == "no_qualified_crew")).all()
    assert len(events) == 1 and events[0].data["needs"] == ["work_at_height"]
    [alert] = db.scalars(select(Alert).where(Alert.kind == "no_qualified_crew")).all()
    assert alert.audience == ["supervisor"] and alert.severity == "critical" and alert.source_id == str(t.id)
    assert alert.ticket_id == t.id


def test_assign_form_shows_who_holds_what(app, db, users, place, client_as):
    t = _open(db, place["cam"], "offline")
    html = client_as("supervisor").get(f"/tickets/{t.id}").get_data(as_text=True)
    options = [line for line in html.split("<option") if "crew-unqualified" in line]
    names = {n for n in ("expired", "future", "missing", "sparky", "valid", "elsewhere") if any(
        f">{n} ·" in o for o in options)}
    assert names == {"expired", "future", "missing", "sparky"}
    from fleetops.services.tickets.crew import crew_fit

    fit = crew_fit(db, t)
    assert fit[place["crew"]["valid"].id]["qualified"] and not fit[place["crew"]["expired"].id]["qualified"]
    assert fit[place["crew"]["sparky"].id]["holds"] and fit[place["crew"]["sparky"].id]["missing"]


def test_crew_certificates_get_due_and_expired_alerts(db, users, place):
    tickets.add_qualification(db, place["crew"]["missing"].id, "work_at_height", TODAY + 5 * DAY,
                              actor=users["admin"])
    db.commit()
    out = certificates.check_crew_certificates(db)
    db.commit()
    kinds = sorted((a.kind, a.open_key) for a in db.scalars(select(Alert)))
    expired_user = place["crew"]["expired"].id
    assert ("crew_cert_expired", f"user:{expired_user}:qual:work_at_height:expired") in kinds
    assert ("crew_cert_expired", f"user:{expired_user}:qual:electrician:expired") in kinds
    assert ("crew_cert_due", f"user:{place['crew']['missing'].id}:qual:work_at_height:due") in kinds
    assert out["expired"] == 2 and out["due"] == 1
    assert certificates.check_crew_certificates(db)["expired"] == 0  # deduplicated

"""Sites: look one up, create or edit it (audited, optimistic locking)."""
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fleetops.domain.errors import ConflictError, NotFound
from fleetops.domain.text import Msg
from fleetops.models import Depot, Site
from fleetops.platform import audit
from fleetops.services.inventory.parsers import (
    REQUIRED, SITE_CODE, SITE_PARSERS, check_version, message_of, parse_code, parse_values, raise_if,
)
from fleetops.services.inventory.records import site_snapshot

SITE = Msg("site", context="inventory")
# The site form's district is chosen from the known districts or, with this value, typed as a new one (issue 13).
NEW_DISTRICT = "__new__"
DISTRICT_MAX = 50  # Site.district's column length


def _district_of_form(session: Session, raw: dict, errors: dict) -> None:
    """A district from the form's list: one the inventory knows, or NEW_DISTRICT and a non-empty `new_district`
    (trimmed, at most DISTRICT_MAX characters). Puts the chosen name in raw["district"], or an error on the field."""
    chosen = str(raw.get("district") or "").strip()
    if chosen == NEW_DISTRICT:
        name = " ".join(str(raw.get("new_district") or "").split())
        if not name:
            errors["new_district"] = Msg("Type the new district's name.")
        elif len(name) > DISTRICT_MAX:
            errors["new_district"] = Msg("Longer than %(limit)s characters.", limit=DISTRICT_MAX)
        elif name == NEW_DISTRICT:
            errors["new_district"] = Msg("Type the new district's name.")
        raw["district"] = name
    elif chosen and not session.scalar(select(Site.id).where(Site.district == chosen).limit(1)):
        errors["district"] = Msg("Choose a district from the list, or choose “New district” and type its name.")


def get_site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound(Msg("No site %(code)s.", code=code))
    return site


def save_site(session: Session, code: str | None, raw: dict, actor, expected_version=None,
              new_code: str | None = None, district_from_list: bool = False) -> Site:
    """Create (code=None) or update a site from form/API strings; audited. Caller commits.

    `district_from_list` (the web form): the district must be a known one or NEW_DISTRICT with `new_district`."""
    creating = code is None
    site = None if creating else get_site(session, code)
    if site is not None:
        check_version(site, expected_version, SITE)
    raw = dict(raw)
    district_errors: dict = {}
    if district_from_list:
        _district_of_form(session, raw, district_errors)
    values, errors = parse_values(raw, SITE_PARSERS)
    errors.update(district_errors)
    if creating:
        try:
            new_code = parse_code(new_code or "", SITE_CODE)
        except ValueError as err:
            errors["code"] = message_of(err)
        else:
            if session.scalar(select(Site.id).where(Site.code == new_code)):
                errors["code"] = Msg("Site %(code)s already exists.", code=new_code)
        for required in ("name", "latitude", "longitude"):
            if not str(raw.get(required) or "").strip() and required not in errors:
                errors[required] = REQUIRED
    elif "name" in values and not values["name"]:
        errors["name"] = REQUIRED
    depot = None
    if str(raw.get("depot") or "").strip():
        depot = session.scalar(select(Depot).where(Depot.name == raw["depot"].strip()))
        if depot is None:
            errors["depot"] = Msg("No depot %(name)s.", name=raw["depot"])
    raise_if(errors)
    before = None
    if creating:
        site = Site(code=new_code, **values)
        session.add(site)
    else:
        before = site_snapshot(site)
        for field, value in values.items():
            setattr(site, field, value)
    if "depot" in raw:
        site.depot = depot
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise ConflictError(Msg("Someone else changed this site at the same time. Reload and try again.")) from None
    after = site_snapshot(site)
    if creating:
        audit.record(session, actor, "site_created", "site", site.code,
                     summary=f"{site.code} {site.name}", after=after)
    else:
        b, a = audit.diff(before, after)
        if a:
            audit.record(session, actor, "site_updated", "site", site.code,
                         summary=f"{site.code}: {', '.join(a)}", before=b, after=a)
    return site

"""Maintenance windows (U3, A1, P4): entering, cancelling and reading them.

A window planned ahead is active at once. A window whose start lies in the past (entered after the fact) waits in
the supervisors' exclusion queue (services/monitoring/exclusions.py); only the approval classifies the outages that
fell inside it — and so changes the contractual figure — with an audit line (apply_after_the_fact)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from fleetops.domain import inputs
from fleetops.domain.errors import ConflictError, NotFound, PermissionDenied, ValidationFailed
from fleetops.domain.maintenance import (
    MAX_OCCURRENCES, OUTAGE_CAUSE, Occurrence, Recurrence, WindowCause, occurrence_at, occurrences,
)
from fleetops.domain.text import Msg
from fleetops.models import Cabinet, Device, Site
from fleetops.models.base import utcnow
from fleetops.models.maintenance import MaintenanceHold, MaintenanceScope, MaintenanceWindow
from fleetops.models.monitoring import Outage
from fleetops.platform import audit, clock
from fleetops.platform.idempotency import actor_name
from fleetops.platform.uploads import stored_file

# A window starting less than this long ago is "now", not after the fact (the time it takes to type it in).
GRACE = timedelta(minutes=10)
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_KINDS = {".pdf": (b"%PDF-",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
                    ".png": (b"\x89PNG\r\n\x1a\n",)}
MAX_SCOPE_ITEMS = 500


def _require_supervisor(actor) -> None:
    """A supervisor (or admin) in the UI and the API; the `fleetops` command (actor "cli") is the operator's."""
    if actor != "cli" and getattr(actor, "role", None) not in ("supervisor", "admin"):
        raise PermissionDenied(Msg("Only a supervisor can plan or cancel a maintenance window."))


def _codes(values, field: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in values.replace(",", " ").split()]
    if not isinstance(values, (list, tuple)):
        raise ValidationFailed(Msg("%(field)s must be a list of codes.", field=field), field=field)
    out = []
    for v in values:
        if not isinstance(v, str) or not v.strip() or len(v.strip()) > 100:
            raise ValidationFailed(Msg("%(field)s must be a list of codes.", field=field), field=field)
        if v.strip() not in out:
            out.append(v.strip())
    if len(out) > MAX_SCOPE_ITEMS:
        raise ValidationFailed(Msg("Too many entries in %(field)s (at most %(n)s).", field=field,
                                   n=MAX_SCOPE_ITEMS), field=field)
    return out


def _scopes(session: Session, sites, devices, districts, cabinets) -> list[MaintenanceScope]:
    scopes = []
    for code in _codes(sites, "sites"):
        site = session.scalar(select(Site).where(Site.code == code))
        if site is None:
            raise ValidationFailed(Msg("Unknown site: %(code)s", code=code), field="sites")
        scopes.append(MaintenanceScope(kind="site", site_id=site.id))
    for code in _codes(devices, "devices"):
        device = session.scalar(select(Device).where(Device.code == code))
        if device is None:
            raise ValidationFailed(Msg("Unknown device: %(code)s", code=code), field="devices")
        scopes.append(MaintenanceScope(kind="device", device_id=device.id))
    for name in _codes(districts, "districts"):
        if session.scalar(select(Site.id).where(Site.district == name).limit(1)) is None:
            raise ValidationFailed(Msg("No site lies in the district %(name)s.", name=name), field="districts")
        scopes.append(MaintenanceScope(kind="district", district=name))
    for code in _codes(cabinets, "cabinets"):
        cabinet = session.scalar(select(Cabinet).where(Cabinet.code == code))
        if cabinet is None:
            raise ValidationFailed(Msg("Unknown cabinet: %(code)s", code=code), field="cabinets")
        scopes.append(MaintenanceScope(kind="cabinet", cabinet_id=cabinet.id))
    if not scopes:
        raise ValidationFailed(Msg("Name at least one site, device, district or cabinet."), field="sites")
    return scopes


def _cause(value) -> str:
    try:
        return WindowCause.parse(value if isinstance(value, str) else "").value
    except ValueError:
        raise ValidationFailed(Msg("Unknown cause %(cause)s: use power_utility, network_provider, contractor or "
                                   "owner.", cause=repr(value)), field="cause") from None


def _time(value, field: str) -> datetime:
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=clock.local_zone())
        return inputs.check_time(at, field)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(Msg("%(field)s is required (an ISO time, local time when it has no offset).",
                                   field=field), field=field)
    return inputs.parse_time(value.strip(), field, default_zone=clock.local_zone())


def _recurrence(recurrence, count, until) -> tuple[str, int | None, date | None]:
    try:
        value = Recurrence.parse(recurrence if isinstance(recurrence, str) and recurrence else "none"
                                 if recurrence in (None, "") else "?").value
    except ValueError:
        raise ValidationFailed(Msg("Repeat must be none, daily or weekly."), field="recurrence") from None
    if value == "none":
        return value, None, None
    n = None if count in (None, "") else inputs.whole_number(count, "count", 1, MAX_OCCURRENCES)
    d = None
    if until not in (None, ""):
        d = until if isinstance(until, date) else inputs.parse_date(until, "until")
    if n is None and d is None:
        raise ValidationFailed(Msg("A repeating window needs a number of times or an until-date."), field="count")
    return value, n, d


def store_attachment(upload_dir: str, filename: str, stream) -> str:
    """The utility's notice (PDF) or a photo of it: size-limited, its content checked, kept under `upload_dir`."""
    if stream is None or not filename:
        return ""
    suffix = Path(filename).suffix.lower()
    if suffix not in ATTACHMENT_KINDS:
        raise ValidationFailed(Msg("The attachment must be a PDF, JPEG or PNG file."), field="attachment")
    data = stream.read(ATTACHMENT_MAX_BYTES + 1)
    if len(data) > ATTACHMENT_MAX_BYTES:
        raise ValidationFailed(Msg("The attachment is too large (at most %(mb)s MB).",
                                   mb=ATTACHMENT_MAX_BYTES // (1024 * 1024)), field="attachment")
    if not data.startswith(ATTACHMENT_KINDS[suffix]):
        raise ValidationFailed(Msg("The attachment is not the file its name says."), field="attachment")
    rel = Path("maintenance") / f"{uuid.uuid4().hex}{suffix}"
    target = Path(upload_dir) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(rel)


def create_window(session: Session, *, starts_at, ends_at, cause, sites=(), devices=(), districts=(), cabinets=(),
                  reference: str = "", title: str = "", recurrence: str = "none", count=None, until=None,
                  actor=None, upload_dir: str = "", attachment_name: str = "", attachment_stream=None,
                  now: datetime | None = None) -> MaintenanceWindow:
    """Plan a window (everything checked before anything is written). A window starting in the past is filed in
    the exclusion queue and stays pending until a supervisor approves it. Audited. The caller commits."""
    _require_supervisor(actor)
    now = now or utcnow()
    value = _cause(cause)
    start, end = _time(starts_at, "from"), _time(ends_at, "to")
    if end <= start:
        raise ValidationFailed(Msg("The window's end must be after its start."), field="to")
    if end - start > timedelta(days=31):
        raise ValidationFailed(Msg("One occurrence of a window lasts at most 31 days."), field="to")
    rec, n, until_d = _recurrence(recurrence, count, until)
    reference = inputs.text(reference, "reference", 100)
    title = inputs.text(title, "title", 200)
    scopes = _scopes(session, sites, devices, districts, cabinets)
    occs = occurrences(start, end, rec, n, until_d, clock.local_zone())
    if not occs:
        raise ValidationFailed(Msg("The until-date lies before the first occurrence."), field="until")
    attachment = store_attachment(upload_dir, attachment_name, attachment_stream) if upload_dir else ""
    after = start < now - GRACE
    w = MaintenanceWindow(title=title, cause=value, reference=reference, attachment_path=attachment,
                          starts_at=start, ends_at=end, recurrence=rec, recur_count=n, recur_until=until_d,
                          last_end_at=occs[-1].end, state="pending" if after else "active", after_the_fact=after,
                          created_by=actor_name(actor), created_at=now, scopes=scopes)
    session.add(w)
    session.flush()
    audit.record(session, actor, "maintenance_window_created", "maintenance_window", w.id,
                 summary=Msg("Maintenance window #%(id)s planned: %(scope)s, %(cause)s", id=w.id,
                             scope=scope_text(session, w), cause=cause_label(value)),
                 after=window_dict(session, w))
    if after:
        from fleetops.services.monitoring import exclusions  # the queue of the figures area

        exclusions.request_exclusion(session, cause=value, note=Msg(
            "Maintenance window #%(id)s entered after the fact (notice %(ref)s)", id=w.id, ref=reference or "—"),
            maintenance_window_id=w.id, actor=actor, source="window", evidence_path=attachment, at=now)
    return w


def cancel_window(session: Session, window_id, *, actor, reason: str = "", now: datetime | None = None):
    """A supervisor cancels a window: held outages still down are released at once (ticket and alert)."""
    _require_supervisor(actor)
    w = get_window(session, window_id)
    if w.state in ("cancelled", "rejected"):
        raise ConflictError(Msg("This window is already cancelled."))
    now = now or utcnow()
    before = w.state
    w.state, w.cancelled_by, w.cancelled_at = "cancelled", actor_name(actor), now
    audit.record(session, actor, "maintenance_window_cancelled", "maintenance_window", w.id,
                 summary=Msg("Maintenance window #%(id)s cancelled", id=w.id), before={"state": before},
                 after={"state": "cancelled", "reason": inputs.text(reason, "reason", 500)})
    from fleetops.services.maintenance import holds

    holds.release(session, now, window_id=w.id)
    if w.noted_start_at is not None and (w.noted_end_at is None or w.noted_end_at < w.noted_start_at):
        holds.announce_end(session, w, now)
    return w


def apply_after_the_fact(session: Session, window_id, *, actor, now: datetime | None = None) -> int:
    """A supervisor approved a window entered after the fact: every outage of its scope that began inside one of
    its occurrences takes the window's cause (each change audited; the figures follow the causes) and is linked to
    the window as its evidence; one audit line for the recomputation. Returns how many outages changed."""
    from fleetops.services.monitoring.causes import apply_outage_cause

    now = now or utcnow()
    w = get_window(session, window_id)
    w.state = "active"
    cause = OUTAGE_CAUSE[w.cause]
    changed = 0
    for occ in window_occurrences(w):
        if occ.start > now:
            break
        for o in session.scalars(select(Outage).where(
                Outage.device_id.in_(covered_device_ids(session, w)), Outage.retracted_at.is_(None),
                Outage.started_at >= occ.start, Outage.started_at < occ.end).order_by(Outage.id)):
            session.add(MaintenanceHold(window_id=w.id, outage_id=o.id, occurrence_end=occ.end, held_at=now,
                                        released_at=now))
            if o.cause != cause:
                apply_outage_cause(session, o.id, cause, reason_text(w), w.attachment_path, actor)
                changed += 1
    audit.record(session, actor, "maintenance_window_approved", "maintenance_window", w.id,
                 summary=Msg("Maintenance window #%(id)s approved: %(n)s outages reclassified, figures recomputed",
                             id=w.id, n=changed), before={"state": "pending"}, after={"state": "active",
                                                                                       "outages": changed})
    return changed


def reject_after_the_fact(session: Session, window_id, *, actor) -> None:
    w = get_window(session, window_id)
    w.state = "rejected"
    audit.record(session, actor, "maintenance_window_rejected", "maintenance_window", w.id,
                 summary=Msg("Maintenance window #%(id)s rejected", id=w.id), before={"state": "pending"},
                 after={"state": "rejected"})


# ------------------------------------------------------------------------------------------ reading

def window_occurrences(w: MaintenanceWindow) -> list[Occurrence]:
    return occurrences(w.starts_at, w.ends_at, w.recurrence, w.recur_count, w.recur_until, clock.local_zone())


def reason_text(w: MaintenanceWindow) -> str:
    """The reason an outage carries when a window classified it (the window is its evidence)."""
    return f"maintenance #{w.id} {w.reference}".strip()


def _covers(scope: MaintenanceScope, device: Device, site: Site) -> bool:
    if scope.kind == "device":
        return scope.device_id == device.id
    if scope.kind == "site":
        return scope.site_id == site.id
    if scope.kind == "district":
        return bool(scope.district) and scope.district == site.district
    if scope.kind == "cabinet":
        cab = scope.cabinet_id
        return device.cabinet_id == cab or (device.cabinet_id is None and site.cabinets and
                                            any(c.id == cab for c in site.cabinets))
    return False


def covered_device_ids(session: Session, w: MaintenanceWindow) -> list[int]:
    conds = []
    for sc in w.scopes:
        if sc.kind == "device":
            conds.append(Device.id == sc.device_id)
        elif sc.kind == "site":
            conds.append(Device.site_id == sc.site_id)
        elif sc.kind == "district":
            conds.append(Site.district == sc.district)
        elif sc.kind == "cabinet":
            cab = session.get(Cabinet, sc.cabinet_id)
            conds.append(Device.cabinet_id == sc.cabinet_id)
            if cab is not None:
                conds.append((Device.cabinet_id.is_(None)) & (Device.site_id == cab.site_id))
    if not conds:
        return []
    return list(session.scalars(select(Device.id).join(Site, Site.id == Device.site_id).where(or_(*conds))))


def _candidates(session: Session, at: datetime) -> list[MaintenanceWindow]:
    return active_windows(session, at, at)


def active_windows(session: Session, first: datetime, last: datetime) -> list[MaintenanceWindow]:
    """The active windows that span any moment from `first` to `last` (with their scopes), by id: read once for a
    batch, then `window_for_device` / `window_for_site` keep those that span each moment (`windows=`)."""
    return list(session.scalars(select(MaintenanceWindow).options(selectinload(MaintenanceWindow.scopes))
                                .where(MaintenanceWindow.state == "active", MaintenanceWindow.starts_at <= last,
                                       MaintenanceWindow.last_end_at > first).order_by(MaintenanceWindow.id)))


def _spanning(windows: list[MaintenanceWindow], at: datetime) -> list[MaintenanceWindow]:
    return [w for w in windows if w.state == "active" and w.starts_at <= at < w.last_end_at]


def window_for_device(session: Session, device: Device, at: datetime,
                      windows: list[MaintenanceWindow] | None = None) -> tuple[MaintenanceWindow, Occurrence] | None:
    """The active window (and its occurrence) covering `device` at `at`, if any. `windows`: the batch's
    `active_windows`, read once (else read here)."""
    site = device.site
    for w in _candidates(session, at) if windows is None else _spanning(windows, at):
        if any(_covers(sc, device, site) for sc in w.scopes):
            occ = occurrence_at(window_occurrences(w), at)
            if occ is not None:
                return w, occ
    return None


def window_for_site(session: Session, site: Site, at: datetime,
                    windows: list[MaintenanceWindow] | None = None) -> tuple[MaintenanceWindow, Occurrence] | None:
    """The active window covering the whole site at `at` (a site, its district or its cabinet's feed, or every
    device of the site one by one). `windows` as for window_for_device."""
    devices = None  # read only when a window spans the moment
    for w in _candidates(session, at) if windows is None else _spanning(windows, at):
        whole = any(sc.kind == "site" and sc.site_id == site.id or sc.kind == "district" and sc.district
                    and sc.district == site.district or sc.kind == "cabinet" and any(
                        c.id == sc.cabinet_id for c in site.cabinets) for sc in w.scopes)
        if not whole:
            if devices is None:
                devices = [d for d in site.devices if d.lifecycle != "retired"]
            whole = bool(devices) and all(any(_covers(sc, d, site) for sc in w.scopes) for d in devices)
        if whole:
            occ = occurrence_at(window_occurrences(w), at)
            if occ is not None:
                return w, occ
    return None


def get_window(session: Session, window_id) -> MaintenanceWindow:
    try:
        w = session.get(MaintenanceWindow, int(window_id))
    except (TypeError, ValueError, OverflowError):
        w = None
    if w is None:
        raise NotFound(Msg("No maintenance window %(id)s.", id=window_id))
    return w


def list_windows(session: Session, state: str = "", limit: int = 500) -> list[MaintenanceWindow]:
    q = select(MaintenanceWindow).options(selectinload(MaintenanceWindow.scopes))
    if state:
        q = q.where(MaintenanceWindow.state == state)
    return list(session.scalars(q.order_by(MaintenanceWindow.starts_at.desc(), MaintenanceWindow.id.desc())
                                .limit(limit)))


def cause_label(value: str):
    try:
        return Msg(WindowCause._LABELS[WindowCause(value).value], context="WindowCause")
    except (KeyError, ValueError):
        return value


def scope_items(session: Session, w: MaintenanceWindow) -> list[dict]:
    out = []
    for sc in w.scopes:
        if sc.kind == "device":
            d = session.get(Device, sc.device_id)
            out.append({"kind": "device", "code": d.code if d else "", "name": d.name if d else ""})
        elif sc.kind == "site":
            s = session.get(Site, sc.site_id)
            out.append({"kind": "site", "code": s.code if s else "", "name": s.name if s else ""})
        elif sc.kind == "district":
            out.append({"kind": "district", "code": sc.district, "name": sc.district})
        else:
            c = session.get(Cabinet, sc.cabinet_id)
            out.append({"kind": "cabinet", "code": c.code if c else "", "name": c.power_feed if c else ""})
    return out


def scope_text(session: Session, w: MaintenanceWindow) -> str:
    return ", ".join(i["code"] for i in scope_items(session, w))


def window_dict(session: Session, w: MaintenanceWindow) -> dict:
    """A window as the API, the CLI's --json and the audit trail show it (times in ISO 8601, local offset)."""
    def iso(t):
        return clock.to_local(t).isoformat() if t else None

    return {"id": w.id, "title": w.title, "cause": w.cause, "reference": w.reference,
            "starts_at": iso(w.starts_at), "ends_at": iso(w.ends_at), "recurrence": w.recurrence,
            "count": w.recur_count, "until": w.recur_until.isoformat() if w.recur_until else None,
            "last_end_at": iso(w.last_end_at), "state": w.state, "after_the_fact": bool(w.after_the_fact),
            "attachment": bool(w.attachment_path), "created_by": w.created_by,
            "scope": scope_items(session, w)}


def held_outages(session: Session, window_id) -> list[dict]:
    """The outages a window holds or classified (its evidence, shown on its page)."""
    rows = session.execute(select(MaintenanceHold, Outage, Device).join(Outage, Outage.id == MaintenanceHold.outage_id)
                           .join(Device, Device.id == Outage.device_id)
                           .where(MaintenanceHold.window_id == window_id).order_by(Outage.started_at))
    return [{"outage_id": o.id, "device": d.code, "started_at": o.started_at, "ended_at": o.ended_at,
             "cause": o.cause, "released_at": h.released_at} for h, o, d in rows]


def attachment_file(session: Session, window_id, upload_dir: str) -> Path | None:
    return stored_file(upload_dir, get_window(session, window_id).attachment_path)

"""T7: before/after site photos from the tablet: size-limited, JPEG/PNG only, EXIF location stripped unless the
admin allows it, stored under UPLOAD_DIR/tickets/<id>/ with a thumbnail."""
from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from fleetops.domain import probe_reasons
from fleetops.domain.errors import ConflictError, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.base import utcnow
from fleetops.models.tickets import TicketPhoto
from fleetops.platform import audit, parameters
from fleetops.platform.idempotency import actor_name, claim_request
from fleetops.services.tickets.history_log import log_event
from fleetops.services.tickets.queries import get_ticket, photo_of


def add_photo(session: Session, ticket_id, phase: str, data: bytes, *, upload_dir: str, actor,
              request_id: str | None = None) -> TicketPhoto:
    """Store one photo and its thumbnail; history and audit say who took it."""
    from probes.vision import thumbnails

    claim_request(session, request_id, "photo", ticket_id)
    t = get_ticket(session, ticket_id)
    if phase not in ("before", "after"):
        raise ValidationFailed(Msg("A photo is 'before' or 'after'."))
    if t.state not in ("arrived", "repairing", "resolved"):
        raise ConflictError(Msg("Site photos are added after check-in."))
    limit_mb = float(parameters.get(session, "photo_max_mb"))
    if not data:
        raise ValidationFailed(Msg("No photo was received."))
    if len(data) > limit_mb * 1024 * 1024:
        raise ValidationFailed(Msg("The photo is larger than %(mb)s MB.", mb=f"{limit_mb:g}"))
    try:
        content_type, _w, _h = thumbnails.sniff(data)
    except thumbnails.PhotoError as err:
        raise ValidationFailed(probe_reasons.error_msg(err)) from None
    keep = bool(parameters.get(session, "photo_keep_location"))
    if not keep:
        data = thumbnails.strip_metadata(data)
    folder = Path(upload_dir) / "tickets" / str(t.id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{phase}-{uuid.uuid4().hex[:12]}"
    ext = ".jpg" if content_type == "image/jpeg" else ".png"
    path = folder / f"{stem}{ext}"
    path.write_bytes(data)
    thumb = thumbnails.make_thumbnail(data)
    thumb_rel = ""
    if thumb:
        (folder / f"{stem}.thumb.jpg").write_bytes(thumb)
        thumb_rel = f"tickets/{t.id}/{stem}.thumb.jpg"
    photo = TicketPhoto(ticket_id=t.id, phase=phase, path=f"tickets/{t.id}/{stem}{ext}", thumb_path=thumb_rel,
                        content_type=content_type, size_bytes=len(data), location_kept=keep,
                        taken_by=actor_name(actor), taken_at=utcnow())
    session.add(photo)
    session.flush()
    log_event(session, t, "photo_added", actor, from_state=t.state, data={"phase": phase, "photo_id": photo.id})
    audit.record(session, actor, "ticket_photo_added", "ticket", t.id, summary=f"{phase} {photo.path}",
                 after={"phase": phase, "path": photo.path, "size_bytes": photo.size_bytes})
    return photo


def photo_file(session: Session, ticket_id: int, photo_id: int, *, thumb: bool = False) -> str | None:
    """The stored file (relative to UPLOAD_DIR) of one photo of the ticket, the thumbnail when asked and made;
    None when the ticket has no such photo."""
    p = photo_of(session, ticket_id, photo_id)
    if p is None:
        return None
    return p.thumb_path if thumb and p.thumb_path else p.path


def link_photo(session: Session, ticket_id, photo: TicketPhoto, *, actor, note="") -> TicketPhoto:
    """Show a photo taken on another ticket (an inspection finding's evidence, P3) on this ticket too: the same
    stored file, a row of its own; history and audit say where it came from."""
    t = get_ticket(session, ticket_id)
    copy = TicketPhoto(ticket_id=t.id, phase="before", path=photo.path, thumb_path=photo.thumb_path,
                       content_type=photo.content_type, size_bytes=photo.size_bytes,
                       location_kept=photo.location_kept, taken_by=photo.taken_by, taken_at=photo.taken_at)
    session.add(copy)
    session.flush()
    log_event(session, t, "photo_added", actor, from_state=t.state, note=note,
              data={"phase": "before", "photo_id": copy.id, "from_ticket": photo.ticket_id})
    audit.record(session, actor, "ticket_photo_added", "ticket", t.id, summary=f"before {photo.path}",
                 after={"phase": "before", "path": photo.path, "from_ticket": photo.ticket_id})
    return copy

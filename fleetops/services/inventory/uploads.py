"""The import page's two steps: a checked file waits in the upload folder under a random token until the
user confirms it (or for a day: it may hold secrets), then it is imported for real."""
import logging
import re
import time
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from fleetops.domain.errors import FleetopsError
from fleetops.domain.text import Msg
from fleetops.services.inventory.import_ import import_inventory
from fleetops.services.inventory.import_check import ImportResult
from fleetops.services.inventory.spreadsheet import is_xlsx

log = logging.getLogger(__name__)


class StorageUnavailable(FleetopsError):
    """The server's disk refused a write (full, read-only); the person can retry once space is freed."""

    status_code = 507


TOKEN_RE = re.compile(r"^[0-9a-f]{32}\.(csv|xlsx)$")
UPLOAD_KEEP_S = 24 * 3600


def _folder(upload_dir) -> Path:
    path = Path(upload_dir) / "inventory"
    path.mkdir(parents=True, exist_ok=True)
    return path


def forget_old_uploads(upload_dir) -> None:
    """Checked files that were never confirmed are dropped after a day (they may hold secrets)."""
    cutoff = time.time() - UPLOAD_KEEP_S
    for path in _folder(upload_dir).iterdir():
        if TOKEN_RE.match(path.name) and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def check_upload(session: Session, data: bytes, filename: str, actor, upload_dir) -> tuple[ImportResult, str | None]:
    """Dry-run the file (nothing is written); when it is good, keep it and return its token."""
    result = import_inventory(session, data, filename, actor, dry_run=True)
    session.rollback()
    forget_old_uploads(upload_dir)
    token = keep_upload(data, upload_dir) if result.ok else None
    return result, token


def keep_upload(data: bytes, upload_dir) -> str:
    """Keep a file in the upload folder under a new random token (returned)."""
    token = f"{uuid.uuid4().hex}.{'xlsx' if is_xlsx(data) else 'csv'}"
    _keep(_folder(upload_dir) / token, data)
    return token


def upload_path(upload_dir, token: str) -> Path:
    """Where a kept file lives (a token that is not ours names no file)."""
    return _folder(upload_dir) / (token if TOKEN_RE.match(token or "") else "-")


def _keep(path: Path, data: bytes) -> None:
    """Write the checked file, or remove what was written and say why (a full disk is not a 500)."""
    try:
        path.write_bytes(data)
    except OSError as err:
        path.unlink(missing_ok=True)
        log.error("inventory upload not kept: cannot write %s (%s); free space in the upload folder",
                  path.parent, err.strerror or type(err).__name__)
        raise StorageUnavailable(Msg("The server could not keep the uploaded file (%(reason)s); nothing was "
                                     "imported. Ask an administrator to free space in the upload folder.",
                                     reason=err.strerror or type(err).__name__)) from None


def confirm_upload(session: Session, token: str, filename: str, actor, upload_dir) -> ImportResult | None:
    """Import the kept file; None when the token is unknown or expired. Commits when every row is good
    (the file is then deleted), rolls back otherwise (the inventory changed since the check)."""
    path = _folder(upload_dir) / token if TOKEN_RE.match(token or "") else None
    if path is None or not path.exists():
        return None
    result = import_inventory(session, path.read_bytes(), filename or token, actor)
    if not result.ok:
        session.rollback()
        return result
    session.commit()
    path.unlink(missing_ok=True)
    return result

"""Q1: pass records from the upload folder (files <DEVICE>_<YYYYmmddHHMMSS>_<PLATE>.jpg, time in the site's zone)."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from fleetops.db import session_scope
from fleetops.domain.errors import FleetopsError, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Device
from fleetops.models.quality import PassRecord
from fleetops.services.quality.common import site_zone
from fleetops.services.quality.plate_audit import look_first, record_pass

PASS_FILE_RE = re.compile(r"^(?P<code>.+)_(?P<ts>\d{14})_(?P<plate>[^_.]+)\.(jpe?g|png)$", re.IGNORECASE)


def import_pass_folder(sessions: sessionmaker, folder: str | Path, *, store_dir: str | Path,
                       reader="default") -> dict:
    """Q1: pass records from the upload folder; a file already imported is skipped, a bad one reported.

    One file at a time, each in its own short transaction, committed as it goes: the slow reading of a drawn
    record (~1 s with the reference reader) runs between transactions, so a folder of thousands of captures never
    holds the database (on SQLite, its one write lock) while it is read, and a file that fails loses only itself.
    `errors` lists one line per bad file, rendered in the current language."""
    imported, skipped, errors = 0, 0, []
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationFailed(Msg("Upload folder %(folder)s does not exist.", folder=str(folder)))
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        m = PASS_FILE_RE.match(path.name)
        if not m:
            errors.append(str(Msg("%(file)s: name should be <DEVICE>_<YYYYmmddHHMMSS>_<PLATE>.jpg", file=path.name)))
            continue
        try:
            with session_scope(sessions) as s:  # reads only
                device = s.scalar(select(Device).where(Device.code == m["code"]))
                if device is None:
                    errors.append(str(Msg("%(file)s: no device %(code)s", file=path.name, code=m["code"])))
                    continue
                if s.scalar(select(PassRecord.id).where(PassRecord.device_id == device.id,
                                                        PassRecord.external_id == path.name)):
                    skipped += 1
                    continue
                local = datetime.strptime(m["ts"], "%Y%m%d%H%M%S").replace(tzinfo=ZoneInfo(site_zone(device)))
                image = path.read_bytes()
                look = look_first(s, m["code"], local, image, reader)
            with session_scope(sessions, write=True) as s:
                record_pass(s, device_code=m["code"], captured_at=local, plate=m["plate"], store_dir=store_dir,
                            image=image, external_id=path.name, source="folder", reader=reader, look=look)
            imported += 1
        except (FleetopsError, ValueError, OSError) as err:
            errors.append(f"{path.name}: {getattr(err, 'message', None) or err}")
    return {"imported": imported, "skipped": skipped, "errors": errors}

"""The image store under UPLOAD_DIR/quality: write atomically, serve safely, crop plates, prune old good frames."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.models.base import utcnow
from fleetops.models.quality import AuditSample, QualityFinding, ReferenceImage, SnapshotSample
from fleetops.platform import parameters
from probes.vision import imaging


def store(store_dir: str | Path, rel: str, data: bytes) -> str:
    """Write `data` at `store_dir/rel` (via a .part file, so a reader never sees half an image); return `rel`."""
    path = Path(store_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return rel


def safe_code(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", code)


def as_jpeg(data: bytes, img) -> bytes:
    """The bytes as they came when they are a JPEG already, else the decoded image re-encoded."""
    return data if data[:2] == b"\xff\xd8" else imaging.encode_jpeg(img)


def image_file(store_dir: str | Path, rel: str) -> Path | None:
    """The stored image for a relative path, refusing anything outside the store (path traversal)."""
    if not rel or "\x00" in rel:  # a NUL byte is never a file name (the OS call would raise)
        return None
    root = (Path(store_dir) / "quality").resolve()
    path = (Path(store_dir) / rel).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def plate_crop(store_dir: str | Path, sample: AuditSample) -> bytes | None:
    """The plate region of an audited record's image, for the human audit queue."""
    path = image_file(store_dir, sample.pass_record.image_path)
    if path is None:
        return None
    try:
        return imaging.crop_jpeg(path.read_bytes(), sample.plate_bbox)
    except (imaging.ImageError, OSError):
        return None


def audit_crop(session: Session, store_dir: str | Path, audit_id: int) -> bytes | None:
    """The plate crop of audit sample `audit_id`, or None when there is no such sample or image."""
    sample = session.get(AuditSample, audit_id)
    return plate_crop(store_dir, sample) if sample is not None else None


def prune_images(session: Session, store_dir: str | Path, now: datetime | None = None, batch: int = 2000) -> int:
    """Delete the image files of old good snapshots (a camera a hour is ~2.6 TB a year across a fleet); problem
    frames, evidence and reference views are kept. The sample rows and their scores stay."""
    now = now or utcnow()
    cutoff = now - timedelta(days=float(parameters.get(session, "quality_keep_good_images_days")))
    keep = set(session.scalars(select(QualityFinding.evidence_path))) | set(session.scalars(select(ReferenceImage.image_path)))
    removed, last_id = 0, 0
    while removed < batch:  # kept frames stay in the scan, so walk on by id instead of re-reading them
        chunk = list(session.scalars(select(SnapshotSample).where(
            SnapshotSample.taken_at < cutoff, SnapshotSample.image_path != "", SnapshotSample.id > last_id)
            .order_by(SnapshotSample.id).limit(500)))
        if not chunk:
            break
        last_id = chunk[-1].id
        for sample in chunk:
            if sample.problems or sample.image_path in keep:
                continue
            path = image_file(store_dir, sample.image_path)
            if path is not None:
                path.unlink(missing_ok=True)
            sample.image_path = ""
            removed += 1
    return removed

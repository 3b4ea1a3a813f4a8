"""The quality area's scheduled jobs (listed in fleetops.wiring.JOBS); each takes a JobContext."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from fleetops.models.base import utcnow
from fleetops.services.quality import storage
from fleetops.services.quality.common import current_month
from fleetops.services.quality.pass_import import import_pass_folder
from fleetops.services.quality.plate_audit import flag_low_accuracy
from fleetops.services.quality.sampling import due_cameras, sample_cameras

log = logging.getLogger("fleetops.services.quality")


def job_sample(ctx) -> None:
    """Q3: sample the cameras that are due (at most 200 a run; the rest are due next minute). No transaction is open
    while a camera answers: each snapshot is recorded in a short one of its own (sampling.sample_cameras)."""
    started = time.monotonic()
    now = utcnow()
    with ctx.session() as s:
        due = [d.id for d in due_cameras(s, now)[:200]]
    counts = sample_cameras(ctx.extensions["fleetops.sessionmaker"], due, store_dir=ctx.config["UPLOAD_DIR"],
                            now=now) if due else {"sampled": 0, "failed": 0, "problems": 0}
    log.info("job=quality_sample due=%d sampled=%d failed=%d with_problems=%d duration_s=%.1f", len(due),
             counts["sampled"], counts["failed"], counts["problems"], time.monotonic() - started)


def job_accuracy(ctx) -> None:
    """Q1: flag this month's low-accuracy cameras; import the upload folder's pass records (a transaction per file)."""
    month = current_month(ctx.config.get("TIMEZONE"))
    with ctx.session() as s:
        opened = flag_low_accuracy(s, month)
    folder = Path(ctx.config["UPLOAD_DIR"]) / "passes"
    imported = import_pass_folder(ctx.extensions["fleetops.sessionmaker"], folder,
                                  store_dir=ctx.config["UPLOAD_DIR"]) if folder.is_dir() else None
    log.info("job=quality_accuracy month=%s flagged=%d imported=%s", month, len(opened),
             imported and imported["imported"])


def job_prune_images(ctx) -> None:
    """Delete the files of old good snapshots (storage.prune_images)."""
    with ctx.session() as s:
        removed = storage.prune_images(s, ctx.config["UPLOAD_DIR"])
    log.info("job=quality_prune_images removed=%d", removed)

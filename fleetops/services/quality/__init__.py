"""Image quality and plate-accuracy audits (Q1–Q4): one module per concern.

- `params.py`        PARAMETERS: this area's contract numbers (wired in fleetops.wiring)
- `common.py`        day/night at a camera, its thresholds, its local month
- `queries.py`       reads for pages, API and CLI (findings, samples, cameras, audit queue)
- `sampling.py`      fetch → score → compare → store a snapshot; due cameras; reference views
- `findings.py`      open/clear findings and their tickets; emits quality_finding_opened/_cleared
- `verification.py`  T6: a quality ticket verifies on a good snapshot (wired as a ticket verifier)
- `plate_audit.py`   Q1: pass records, sampling plan, reader, human review, accuracy table, low-accuracy findings
- `pass_import.py`   Q1: pass records from the upload folder
- `scoring.py`       `fleetops score-image`
- `storage.py`       the image store: atomic writes, safe paths, plate crops, pruning old good frames
- `jobs.py`          quality_sample, quality_accuracy, quality_prune_images

The names below are the area's public functions (`quality.sample_device(...)` keeps working).
"""
from fleetops.services.quality.common import current_month, period_at  # noqa: F401
from fleetops.services.quality.findings import update_findings  # noqa: F401
from fleetops.services.quality.jobs import job_accuracy, job_prune_images, job_sample  # noqa: F401
from fleetops.services.quality.params import PARAMETERS  # noqa: F401
from fleetops.services.quality.pass_import import PASS_FILE_RE, import_pass_folder  # noqa: F401
from fleetops.services.quality.plate_audit import (  # noqa: F401
    PLATE_TEXT_RE, accuracy_table, flag_low_accuracy, look_first, plan_for, record_pass, review, submit_pass_record,
)
from fleetops.services.quality.queries import (  # noqa: F401
    audit_queue, camera_page, cameras, devices_with_snapshot_source, finding_dict, get_device, latest_samples,
    list_findings,
)
from fleetops.services.quality.sampling import (  # noqa: F401
    Capture, capture, due_cameras, record_capture, sample_cameras, sample_device, sample_now,
    sample_snapshots_report, set_reference, set_reference_by_code,
)
from fleetops.services.quality.scoring import plate_reader_available, score_files  # noqa: F401
from fleetops.services.quality.storage import audit_crop, image_file, plate_crop, prune_images  # noqa: F401
from fleetops.services.quality.verification import TICKET_CATEGORIES, verify_with_snapshot  # noqa: F401

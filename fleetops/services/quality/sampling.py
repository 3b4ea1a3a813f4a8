"""Q3: sample cameras — fetch a snapshot, score it, compare with the last frame and the reference view, store it.

A camera that cannot be reached gives a failed sample whose `detail` is a stored reason (`Msg.stored()`), never an
exception; an unreachable camera is monitoring's business (U1), not an image finding.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from fleetops.db import session_scope
from fleetops.domain import quality as rules
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.probe_reasons import error_msg, result_msg
from fleetops.domain.text import Msg, stored
from fleetops.models import Device
from fleetops.models.base import utcnow
from fleetops.models.quality import ReferenceImage, SnapshotSample
from fleetops.platform import audit, netpolicy, parameters
from fleetops.services.quality import findings, queries, storage, verification
from fleetops.services.quality.common import imaging_thresholds, period_at, thresholds
from probes import snapshot
from probes.vision import imaging

log = logging.getLogger(__name__)

MAX_PARALLEL_FETCHES = 8
MAX_CAPTURES_IN_MEMORY = 2 * MAX_PARALLEL_FETCHES  # fetched/scored but not yet recorded
SAMPLE_SLACK = timedelta(seconds=30)


@dataclass
class Capture:
    """A fetched and scored frame, before it is compared with history and stored (no database).

    `detail` is empty when ok, else the reason as a stored Msg (shown with `|msg` in the reader's language)."""

    device_id: int
    at: datetime
    ok: bool
    detail: str = ""
    data: bytes = b""
    image: object = None
    scores: dict | None = None


NETWORK_SCHEMES = ("http", "https", "rtsp", "rtsps")


def source_refusal(source: str, networks: list) -> Msg | None:
    """Why the server must not fetch `source` (outside the allowed camera networks), or None."""
    if urlsplit(source or "").scheme.lower() not in NETWORK_SCHEMES:
        return None  # a folder, or a scheme the probe refuses itself
    return netpolicy.url_refusal(source, netpolicy.CAMERAS, networks)


def capture(device_id: int, code: str, source: str, username: str, password: str, thresholds: dict,
            timeout_s: float = 5.0, *, networks: list) -> Capture:
    """Fetch one snapshot and score it; a bad device gives ok=False with the reason, never an exception.

    `networks`: the allowed camera networks (netpolicy.networks); a source outside them is not contacted."""
    at = utcnow()
    refused = source_refusal(source, networks)
    if refused is not None:
        return Capture(device_id, at, False, refused.stored())
    result = snapshot.fetch_snapshot(code, source, username, password, timeout_s)
    if not result.ok:
        return Capture(device_id, at, False, result_msg(result).stored())
    try:
        img = imaging.decode_image(result.data)
    except imaging.ImageError as err:
        return Capture(device_id, at, False,
                       Msg("Snapshot is not a usable image: %(error)s", error=error_msg(err)).stored())
    try:
        # Q2: faces are judged at night only; by day the face search (the costliest score) is skipped.
        scores = imaging.score_image(img, imaging_thresholds(thresholds), faces=bool(thresholds.get("_night")))
    except Exception:  # a scorer bug on one frame must not stop the other cameras' samples
        log.exception("scoring the snapshot of %s failed", code)
        return Capture(device_id, at, False, Msg("Scoring failed; logged for the developers").stored())
    return Capture(device_id, at, True, "", result.data, img, scores)


def sample_device(session: Session, device: Device, *, store_dir: str | Path, trigger: str = "on_demand",
                  timeout_s: float = 5.0, now: datetime | None = None) -> SnapshotSample:
    """Take one snapshot of a camera now: fetch → score → store → findings (and tickets). The caller commits.

    The fetch waits on the camera inside the caller's transaction: call it before the transaction writes anything
    (as the camera page does), or the write lock would be held while the camera answers (SQLite: every other writer
    waits). Many cameras: `sample_cameras`, which records each in a short transaction of its own."""
    now = now or utcnow()
    period = period_at(device, now)
    cap = capture(device.id, device.code, device.snapshot_url, device.snapshot_username,
                  device.snapshot_password, thresholds(session, device, period), timeout_s,
                  networks=netpolicy.networks(session, netpolicy.CAMERAS))
    cap.at = now
    return record_capture(session, device, cap, store_dir=store_dir, trigger=trigger)


def sample_now(session: Session, code: str, *, store_dir: str | Path) -> SnapshotSample:
    """The camera page's "take a snapshot now": ValidationFailed when the camera has no snapshot source."""
    device = queries.get_device(session, code)
    if not device.snapshot_url:
        raise ValidationFailed(Msg("This camera has no snapshot source configured."))
    return sample_device(session, device, store_dir=store_dir, trigger="on_demand")


def record_capture(session: Session, device: Device, cap: Capture, *, store_dir: str | Path,
                   trigger: str = "schedule") -> SnapshotSample:
    """Compare a capture with the camera's last frame and reference view, store it, update findings."""
    period = period_at(device, cap.at)
    sample = SnapshotSample(device_id=device.id, taken_at=cap.at, period=period, ok=cap.ok, detail=cap.detail,
                            trigger=trigger, problems=[])
    if not cap.ok:
        session.add(sample)
        session.flush()
        return sample  # an unreachable camera is monitoring's business (U1), not an image finding
    t = thresholds(session, device, period)
    prev = session.scalar(select(SnapshotSample).where(
        SnapshotSample.device_id == device.id, SnapshotSample.ok.is_(True))
        .order_by(SnapshotSample.taken_at.desc(), SnapshotSample.id.desc()).limit(1))
    data_sha1 = hashlib.sha1(cap.data).hexdigest()
    frozen = bool(prev and prev.scores and (
        prev.scores.get("data_sha1") == data_sha1
        or (float(t["frozen_max_diff"]) > 0 and imaging.is_frozen(
            prev.scores.get("fingerprint", ""), cap.scores.get("fingerprint", ""), float(t["frozen_max_diff"])))))
    shift = None
    ref = queries.reference_of(session, device.id)
    ref_path = storage.image_file(store_dir, ref.image_path) if ref else None
    # Aim is checked by day only: a night frame shares too few features with a daylight reference.
    if ref_path is not None and period == rules.DAY:
        try:
            shift = imaging.scene_shift(imaging.read_image_file(str(ref_path)), cap.image)
        except imaging.ImageError as err:
            log.warning("reference image of %s unusable: %s", device.code, err)
    problems = rules.frame_problems(cap.scores, t, period, frozen=frozen, shift=shift)
    scores = dict(cap.scores)
    scores["data_sha1"] = data_sha1
    if shift is not None:
        scores["scene_shift"] = shift
    scores["problem_reasons"] = {k: stored(why) for k, why in problems}  # a Msg in its stored form
    sample.scores = scores
    sample.problems = [k for k, _ in problems]
    stamp = cap.at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    sample.image_path = storage.store(store_dir, f"quality/{storage.safe_code(device.code)}/{stamp}.jpg",
                                      storage.as_jpeg(cap.data, cap.image))
    if "plate_illegible" in sample.problems and scores.get("plates"):
        # The ticket shows the plate itself: a crop round the main plate, kept beside the frame.
        try:
            crop = imaging.crop_jpeg(cap.data, scores["plates"][0]["bbox"], pad=0.6, height=240)
            scores["evidence_crop"] = storage.store(
                store_dir, f"quality/{storage.safe_code(device.code)}/{stamp}_plate.jpg", crop)
            sample.scores = scores
        except imaging.ImageError as err:
            log.warning("plate crop of %s failed: %s", device.code, err)
    session.add(sample)
    session.flush()
    if ref is None and not problems and period == rules.DAY:
        # The first good view becomes the reference, so a camera knocked out of aim later is noticed (Q3).
        session.add(ReferenceImage(device_id=device.id, image_path=sample.image_path, set_at=cap.at, set_by="quality"))
        audit.record(session, "quality", "quality_reference_set", "device", device.id,
                     summary=Msg("%(code)s reference view (first good snapshot)", code=device.code),
                     after={"image_path": sample.image_path})
    findings.update_findings(session, device, sample)
    return sample


def set_reference(session: Session, device: Device, sample_id: int, actor) -> ReferenceImage:
    """Make a stored good snapshot the camera's reference view (scene-shift checks compare with it)."""
    sample = session.get(SnapshotSample, sample_id)
    if sample is None or sample.device_id != device.id or not sample.ok or not sample.image_path:
        raise ValidationFailed(Msg("That snapshot cannot be the reference view."))
    ref = queries.reference_of(session, device.id)
    before = {"image_path": ref.image_path} if ref else None
    if ref is None:
        ref = ReferenceImage(device_id=device.id, image_path=sample.image_path)
        session.add(ref)
    ref.image_path, ref.set_at = sample.image_path, utcnow()
    ref.set_by = getattr(actor, "username", None) or str(actor)
    audit.record(session, actor, "quality_reference_set", "device", device.id,
                 summary=Msg("%(code)s reference view", code=device.code),
                 before=before, after={"image_path": sample.image_path})
    return ref


def set_reference_by_code(session: Session, code: str, sample_id: int, actor) -> ReferenceImage:
    return set_reference(session, queries.get_device(session, code), sample_id, actor)


def due_cameras(session: Session, now: datetime) -> list[Device]:
    """Cameras whose last snapshot is older than the sampling interval (several a day, by day and at night); first
    the cameras of resolved quality tickets still waiting for a good snapshot after the repair (T6)."""
    interval = timedelta(minutes=float(parameters.get(session, "quality_sample_interval_min")))
    last = dict(session.execute(select(SnapshotSample.device_id, func.max(SnapshotSample.taken_at))
                                .group_by(SnapshotSample.device_id)).all())
    waiting = verification.awaiting_snapshot(session)
    first, out = [], []
    for d in queries.cameras(session):
        seen = last.get(d.id)
        if seen is not None and seen.tzinfo is None:
            seen = seen.replace(tzinfo=timezone.utc)
        if d.id in waiting:
            first.append(d)
        # Half a job period of slack: the job runs every 60 s, and a camera sampled 1:59.9 ago is due now,
        # not a minute later (otherwise a 2-min interval samples every 3 min).
        elif seen is None or now - seen >= interval - SAMPLE_SLACK:
            out.append(d)
    return first + out


@dataclass(frozen=True)
class CaptureOrder:
    """What one fetch needs, read from the database before any camera is contacted."""

    device_id: int
    code: str
    source: str
    username: str
    password: str
    thresholds: dict
    timeout_s: float


def capture_orders(session: Session, device_ids: list[int], now: datetime, timeout_s: float) -> list[CaptureOrder]:
    """The fetches for these cameras at `now` (day or night thresholds by the sun at each site), in the given order."""
    by_id = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(device_ids)))}
    orders = []
    for did in device_ids:
        d = by_id.get(did)
        if d is not None:
            orders.append(CaptureOrder(d.id, d.code, d.snapshot_url, d.snapshot_username, d.snapshot_password,
                                       thresholds(session, d, period_at(d, now)), timeout_s))
    return orders


def captures(orders: list[CaptureOrder], networks: list) -> Iterator[Capture]:
    """Fetch and score in parallel threads; each capture is yielded as soon as it is ready (a slow camera delays
    nobody). No database here: the caller records each one in a transaction of its own.

    Memory: a capture holds its decoded frame (6 MB at 1080p, 25 MB at 4K). Submitting all 200 at once held every
    frame until the end — the demo scheduler's 1–1.6 GB. At most MAX_CAPTURES_IN_MEMORY are in flight or ready."""
    todo = iter(orders)
    pool = ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES, thread_name_prefix="snapshot")
    pending: set = set()

    def fill():
        while len(pending) < MAX_CAPTURES_IN_MEMORY:
            o = next(todo, None)
            if o is None:
                return
            pending.add(pool.submit(capture, o.device_id, o.code, o.source, o.username, o.password, o.thresholds,
                                    o.timeout_s, networks=networks))

    try:
        fill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                pending.discard(fut)
                cap = fut.result()
                del fut
                yield cap
                del cap
            fill()
    finally:  # also when the caller stops early: fetches not started are dropped, those in flight end by timeout
        pool.shutdown(wait=True, cancel_futures=True)


def sample_cameras(factory: sessionmaker, devices: list, *, store_dir: str | Path, trigger: str = "schedule",
                   timeout_s: float = 5.0, now: datetime | None = None) -> dict:
    """Fetch and score many cameras (Device objects or ids) in parallel, and record each as it comes in.

    Never inside a write transaction while a camera answers: the fetch orders are read first (a session that only
    reads), the fetches run with no transaction open, and each capture is recorded — compared, stored, findings and
    tickets updated — in a short transaction of its own that takes the write lock as it begins (SQLite). A camera
    that keeps the sampler waiting holds back no other job, and what was recorded stays recorded."""
    now = now or utcnow()
    ids = [getattr(d, "id", d) for d in devices]
    with session_scope(factory) as s:
        orders = capture_orders(s, ids, now, timeout_s)
        allowed = netpolicy.networks(s, netpolicy.CAMERAS)
    counts = {"sampled": 0, "failed": 0, "problems": 0}
    with closing(captures(orders, allowed)) as stream:
        for cap in stream:
            cap.at = now
            with session_scope(factory, write=True) as s:
                device = s.get(Device, cap.device_id)
                if device is None:  # deleted while its camera was being asked
                    continue
                sample = record_capture(s, device, cap, store_dir=store_dir, trigger=trigger)
                counts["sampled" if sample.ok else "failed"] += 1
                counts["problems"] += bool(sample.problems)
            del cap
    return counts


def sample_snapshots_report(factory: sessionmaker, code: str | None, *, store_dir: str | Path,
                            timeout_s: float = 5.0) -> dict:
    """`fleetops sample-snapshots`: one camera (by code) or every camera now; counts and each camera's sample.

    Recorded as the scheduled job records (`sample_cameras`), so running it beside the scheduler holds back no job.
    `detail` is the failure reason in English (a JSON field scripts read)."""
    with session_scope(factory) as s:
        devices = [queries.get_device(s, code)] if code else queries.cameras(s)
        if code and not devices[0].snapshot_url:
            raise ValidationFailed(Msg("%(code)s has no snapshot source configured", code=code))
        cams = [(d.id, d.code) for d in devices]
    counts = sample_cameras(factory, [i for i, _ in cams], store_dir=store_dir, trigger="on_demand",
                            timeout_s=timeout_s)
    rows = []
    with session_scope(factory) as s:
        for did, dcode in cams:
            sample = queries.latest_samples(s, did, 1)[0]
            rows.append({"device": dcode, "ok": sample.ok, "period": sample.period, "problems": sample.problems,
                         "detail": _english(sample.detail), "image": sample.image_path})
    return {"counts": counts, "samples": rows}


def _english(stored: str) -> str:
    msg = Msg.from_stored(stored)
    return msg.render("en") if msg is not None else (stored or "")

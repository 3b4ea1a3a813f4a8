"""Degraded copies of a real plate image, made with a fixed seed: what a dirty lens, a dead fill light, a strobe
reflection, haze, a low-resolution camera or a starved encoder do to a legible plate.

Each fault is strong enough that a person could no longer read the plate, and says which verdict reason it must
give (`EXPECTED_REASON`). The benchmark and the tests judge the copies; nothing here is tuned on the judge.
"""
from __future__ import annotations

import cv2
import numpy as np

FAULTS = ("blur", "dark", "glare", "haze", "low_resolution", "jpeg")

# The reason code the plate verdict must give for each fault (probes.vision.imaging.PLATE_REASONS).
# Haze washes the characters into the plate paint, as dirt or a cover does: "occluded". Heavy JPEG
# compression smears the strokes into 8×8 blocks: "blurred". A low-resolution camera: "too_small".
EXPECTED_REASON = {"blur": "blurred", "dark": "too_dark", "glare": "glare", "haze": "occluded",
                   "low_resolution": "too_small", "jpeg": "blurred"}


def degrade_copy(bgr: np.ndarray, fault: str, plate_bbox: list[int] | tuple[int, ...], seed: int) -> np.ndarray:
    """A copy of `bgr` with `fault` applied, its strength drawn from `seed` within a range that makes the plate
    (at `plate_bbox`, x1 y1 x2 y2) unreadable to a person."""
    rng = np.random.default_rng(seed)
    x1, y1, x2, y2 = (int(v) for v in plate_bbox)
    ph = max(4, y2 - y1)
    pw = max(8, x2 - x1)
    if fault == "blur":  # defocus / dirty lens: a Gaussian of 0.2–0.35 plate heights smears every stroke
        sigma = ph * rng.uniform(0.2, 0.35)
        return cv2.GaussianBlur(bgr, (0, 0), sigma)
    if fault == "dark":  # dead fill light at night: 3–6 % of the light, with sensor noise
        gain = rng.uniform(0.03, 0.06)
        noise = rng.normal(0, 1.5, bgr.shape)
        return np.clip(bgr.astype(np.float32) * gain + noise, 0, 255).astype(np.uint8)
    if fault == "glare":  # a strobe reflection over the plate: a clipped blob 0.6–0.9 plate widths across
        h, w = bgr.shape[:2]
        cx = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * pw
        cy = (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * ph
        r = pw * rng.uniform(0.6, 0.9)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        blob = np.exp(-(((xx - cx) / r) ** 2 + ((yy - cy) / (r * 0.6)) ** 2))
        return np.clip(bgr.astype(np.float32) + (blob * 600.0)[:, :, None], 0, 255).astype(np.uint8)
    if fault == "haze":  # fog or a filthy cover glass: 85–92 % airlight
        a = rng.uniform(0.85, 0.92)
        air = rng.uniform(180, 220)
        return np.clip(bgr.astype(np.float32) * (1 - a) + air * a, 0, 255).astype(np.uint8)
    if fault == "low_resolution":  # a camera whose frame puts the plate at 8–12 px tall
        scale = min(1.0, rng.uniform(8, 12) / ph)
        return cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if fault == "jpeg":  # a starved encoder: quality 2–4 at the camera's resolution (8×8 blocks, smeared strokes)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(2, 5))])
        if not ok:
            raise ValueError("JPEG encoding failed")
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    raise ValueError(f"unknown fault {fault!r}")


def scaled_bbox(bbox, original_shape, degraded_shape) -> list[int]:
    """The plate's box in a degraded copy's pixels (only low_resolution changes the size)."""
    sy = degraded_shape[0] / original_shape[0]
    sx = degraded_shape[1] / original_shape[1]
    x1, y1, x2, y2 = bbox
    return [int(x1 * sx), int(y1 * sy), int(x2 * sx), int(y2 * sy)]

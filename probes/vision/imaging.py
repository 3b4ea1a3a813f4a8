"""Image scoring with OpenCV (the only cv2 user): sharpness, exposure, contrast, cast, frozen frame, scene shift, plates, faces."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from probes.base import ProbeError
from probes.vision import headers

# Limits checked on the header, before any pixel is decoded (a 50 000 × 50 000 PNG is 7.5 GB).
MAX_PIXELS = 40_000_000  # 8K is 35 Mpx
MAX_BYTES = 50 * 1024 * 1024
WORK_WIDTH = 960  # whole-image metrics run at this width, so scores do not depend on resolution
PLATE_WORK_WIDTH = 960
FACE_WORK_PX = 26.0  # expected face size in the searched image (the cascade's window is 24 px)
FACE_SCALE_STEP = 1.2
FACE_MIN_NEIGHBOURS = 4  # votes a face needs (overlapping detections of the cascade)
NEAR_MISS_VOTES = 2  # a candidate with more votes than this but fewer than a face needs earns a second look

cv2.setNumThreads(max(1, (os.cpu_count() or 1)))
_local = threading.local()  # per-thread cascades: a CascadeClassifier must not be shared between threads


class ImageError(ProbeError):
    """The bytes are not an image we can score: a reason `code` with `params`; `str(err)` is English for logs."""


@dataclass(frozen=True)
class Thresholds:
    """The numbers that turn plate and face scores into legible/visible verdicts.

    Defined once, as contract data, in `fleetops/domain/quality.py` (DEFAULT_THRESHOLDS) and passed in by the
    caller: `Thresholds.from_mapping(rules.thresholds_for(...))`. Probes keep no numbers of their own.
    """

    plate_min_width_px: float
    plate_min_height_px: float  # the truth rule of the shared labels: a plate at least ~30 px tall
    plate_min_char_contrast: float  # (p95 - p5) / 255 of the plate crop; below: "occluded" (dirt, haze, cover)
    plate_min_sharpness: float  # edge acutance of the characters at 40 px height (0–1); below: "blurred"
    plate_min_luma: float  # 90th percentile grey level of the plate; below: "too_dark"
    plate_max_glare: float  # share of clipped (>= 250) pixels on and round the plate; above: "glare"
    plate_max_blockiness: float  # JPEG block artefacts on the plate; above: "blurred" (strokes smeared into blocks)
    min_sharpness: float  # whole frame, variance of the Laplacian at the work width (a frame with no plate found)
    face_min_px: float
    face_min_sharpness: float  # variance of Laplacian of the face at 48 px
    face_min_luma: float
    face_max_luma: float

    @classmethod
    def from_mapping(cls, values: dict) -> "Thresholds":
        """Pick this class's fields from a larger table (e.g. a camera kind's thresholds by day or night)."""
        return cls(**{name: float(values[name]) for name in cls.__dataclass_fields__})


# ------------------------------------------------------------------------------------------ decoding

def image_size_from_header(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from a JPEG/PNG/BMP header, without decoding pixels (probes.vision.headers)."""
    try:
        return headers.image_size(data)
    except headers.HeaderError as err:
        raise ImageError(err.code, str(err), **err.params) from None


def _is_truncated(fmt: str, data: bytes) -> bool:
    if fmt == "jpeg":
        return b"\xff\xd9" not in data[-1024:]
    if fmt == "png":
        return b"IEND" not in data[-64:]
    return False


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Bytes → BGR image, or ImageError with the reason (empty, too big, truncated, not an image)."""
    if not data:
        raise ImageError("file_empty", "the file is empty")
    if len(data) > max_bytes:
        _too_large(len(data), max_bytes)
    fmt, w, h = image_size_from_header(data)
    if w <= 0 or h <= 0:
        raise ImageError("image_size_invalid", f"invalid image size {w}×{h}", width=w, height=h)
    if w * h > max_pixels:
        raise ImageError("image_too_many_pixels", f"image too large: {w}×{h} = {w * h / 1e6:.0f} Mpx "
                         f"(limit {max_pixels / 1e6:.0f} Mpx)", width=w, height=h, mpx=f"{w * h / 1e6:.0f}",
                         limit_mpx=f"{max_pixels / 1e6:.0f}")
    if _is_truncated(fmt, data):
        raise ImageError("image_truncated", "the image is truncated")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError("image_undecodable", "the image data cannot be decoded")
    return img


def _too_large(size: int, max_bytes: int):
    raise ImageError("file_too_large", f"file too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB)",
                     size_mb=f"{size / 1e6:.1f}", limit_mb=f"{max_bytes / 1e6:.0f}")


def read_image_file(path: str, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> np.ndarray:
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            _too_large(size, max_bytes)
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise ImageError("read_error", f"cannot read the file: {err.strerror or err}",
                         error=str(err.strerror or err)) from err
    return decode_image(data, max_pixels, max_bytes)


def encode_jpeg(img: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("encode_failed", "JPEG encoding failed")
    return buf.tobytes()


def grab_rtsp_frame(url: str, timeout_s: float = 5.0) -> np.ndarray:
    """One frame from an RTSP/HTTP stream; ImageError when the stream gives none within the timeout."""
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(timeout_s * 1000), cv2.CAP_PROP_READ_TIMEOUT_MSEC,
              int(timeout_s * 1000)]
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    try:
        if not cap.isOpened():
            raise ImageError("stream_not_opened", "the stream could not be opened")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise ImageError("stream_no_frame", "the stream gave no frame")
        return frame
    finally:
        cap.release()


# ------------------------------------------------------------------------------------------ whole image

def _resize_to_width(img: np.ndarray, width: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    if w <= width:
        return img, 1.0
    scale = width / w
    return cv2.resize(img, (width, max(1, round(h * scale))), interpolation=cv2.INTER_AREA), scale


def sharpness_lapvar(gray: np.ndarray) -> float:
    """Variance of the Laplacian: high for crisp edges, low for a dirty lens or defocus."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def sharpness_tenengrad(gray: np.ndarray) -> float:
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(gx * gx + gy * gy))


def exposure_stats(gray: np.ndarray) -> dict:
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
    total = float(hist.sum()) or 1.0
    return {
        "mean_luma": round(float(gray.mean()), 1),
        "highlights_pct": round(100.0 * float(hist[250:].sum()) / total, 2),
        "shadows_pct": round(100.0 * float(hist[:6].sum()) / total, 2),
    }


def colour_cast(bgr: np.ndarray) -> float:
    """Distance of the mean a*/b* from neutral grey, in Lab units (0 = neutral, > 15 strong cast)."""
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)
    a = float(lab[:, :, 1].mean()) - 128.0
    b = float(lab[:, :, 2].mean()) - 128.0
    return round(float(np.hypot(a, b)), 2)


def frame_hash(gray: np.ndarray) -> str:
    """64-bit difference hash (hex): equal or near-equal for the same frame sent twice (frozen image)."""
    small = cv2.resize(gray, (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def hash_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def frame_fingerprint(gray: np.ndarray) -> str:
    """16×16 block means at 1/16 grey-level precision (hex): sensor noise moves them, a resent frame does not."""
    small = cv2.resize(gray.astype(np.float32), (16, 16), interpolation=cv2.INTER_AREA)
    return np.round(small * 16).astype(">u2").tobytes().hex()


def is_frozen(fp_a: str, fp_b: str, tolerance: float = 0.05) -> bool:
    """Two fingerprints of the same frame re-compressed differ by ~0.01–0.05 grey levels on average. Careful:
    a static, denoised night scene from a live camera can be as close, so callers prefer byte identity."""
    if not fp_a or not fp_b or len(fp_a) != len(fp_b):
        return False
    try:
        a = np.frombuffer(bytes.fromhex(fp_a), ">u2").astype(np.float64) / 16
        b = np.frombuffer(bytes.fromhex(fp_b), ">u2").astype(np.float64) / 16
    except ValueError:
        return False
    return float(np.abs(a - b).mean()) <= tolerance


def scene_shift(reference: np.ndarray, current: np.ndarray) -> dict:
    """ORB features + RANSAC homography against the reference view: inlier ratio and shift of the centre (% of width)."""
    ref, _ = _resize_to_width(_gray(reference), 640)
    cur, _ = _resize_to_width(_gray(current), 640)
    orb = cv2.ORB_create(nfeatures=1000)
    kp1, des1 = orb.detectAndCompute(ref, None)
    kp2, des2 = orb.detectAndCompute(cur, None)
    if des1 is None or des2 is None or len(kp1) < 10 or len(kp2) < 10:
        return {"matches": 0, "inlier_ratio": 0.0, "shift_pct": None}
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    good = []
    for pair in matcher.knnMatch(des1, des2, k=2):
        if len(pair) == 2 and pair[0].distance < 0.75 * pair[1].distance:
            good.append(pair[0])
    if len(good) < 8:
        return {"matches": len(good), "inlier_ratio": 0.0, "shift_pct": None}
    src = np.float32([kp1[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    dst = np.float32([kp2[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    hom, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    if hom is None:
        return {"matches": len(good), "inlier_ratio": 0.0, "shift_pct": None}
    inliers = int(mask.sum())
    h, w = ref.shape[:2]
    centre = np.float32([[[w / 2, h / 2]]])
    moved = cv2.perspectiveTransform(centre, hom)[0][0]
    shift = float(np.hypot(moved[0] - w / 2, moved[1] - h / 2)) / w * 100.0
    return {"matches": len(good), "inlier_ratio": round(inliers / len(good), 3), "shift_pct": round(shift, 1)}


def _gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


# ------------------------------------------------------------------------------------------ plates

# HSV ranges (OpenCV H is 0–180) for the Chinese plate backgrounds.
_PLATE_COLOURS = {
    "blue": ((100, 80, 40), (125, 255, 255)),
    "yellow": ((12, 90, 90), (35, 255, 255)),
    "green": ((36, 50, 70), (85, 255, 255)),
}


# The verdict's reason codes (stable strings; fleetops.domain.quality gives each a msgid), in the order they are
# reported: the first is the main cause.
PLATE_REASONS = ("no_plate_found", "too_dark", "glare", "too_small", "blurred", "occluded")


@dataclass
class Plate:
    bbox: list[int]  # x1, y1, x2, y2 in original pixels
    colour: str
    width_px: int
    char_contrast: float
    sharpness: float
    score: float
    height_px: int = 0
    luma: float = 0.0  # 90th percentile grey level of the plate (0–255)
    glare: float = 0.0  # share of clipped pixels on the plate (0–1)
    glare_near: float = 0.0  # share of clipped pixels in a wider window (a plate width each side): a reflection
    # that swallowed most of the plate leaves the locator a small, dark or smeared piece beside it
    chars: int = 0  # character-shaped blobs on the plate (a real plate has 5–9)
    blockiness: float = 1.0  # JPEG block artefacts (1 = none)
    source: str = "colour"  # colour, edges, cascade, text (the optional text detector) or reader
    legible: bool = False
    reasons: list[str] = field(default_factory=list)
    text: str | None = None

    def as_dict(self) -> dict:
        out = {"bbox": self.bbox, "colour": self.colour, "width_px": self.width_px, "height_px": self.height_px,
               "char_contrast": round(self.char_contrast, 3), "sharpness": round(self.sharpness, 3),
               "luma": round(self.luma, 1), "glare": round(self.glare, 3), "chars": self.chars,
               "blockiness": round(self.blockiness, 2),
               "source": self.source, "legible": self.legible, "reasons": list(self.reasons)}
        if self.text is not None:
            out["text"] = self.text
        return out


def _make_plate(gray_full: np.ndarray, box, colour: str, score: float, source: str) -> "Plate | None":
    """A Plate with every measurement of its crop, or None for an empty box."""
    h, w = gray_full.shape[:2]
    x1, y1, x2, y2 = (max(0, int(box[0])), max(0, int(box[1])), min(w, int(box[2])), min(h, int(box[3])))
    if x2 - x1 < 4 or y2 - y1 < 3:
        return None
    crop = gray_full[y1:y2, x1:x2]
    contrast, sharp = plate_crop_metrics(crop)
    # Glare is judged on the plate and round it: a strobe reflection that swallowed half the plate leaves the
    # locator the other half.
    gx, gy = (x2 - x1) // 2, (y2 - y1)
    around = gray_full[max(0, y1 - gy):y2 + gy, max(0, x1 - gx):x2 + gx]
    near = gray_full[max(0, y1 - 2 * gy):y2 + 2 * gy, max(0, x1 - 2 * gx):x2 + 2 * gx]
    return Plate([x1, y1, x2, y2], colour, x2 - x1, contrast, sharp, float(score), height_px=y2 - y1,
                 luma=float(np.percentile(crop, 90)), glare=float(np.count_nonzero(around >= 250)) / around.size,
                 glare_near=float(np.count_nonzero(near >= 250)) / near.size,
                 chars=character_count(crop), blockiness=blockiness(gray_full, (x1, y1, x2, y2)), source=source)


def blockiness(gray_full: np.ndarray, box) -> float:
    """JPEG block artefacts on the plate: the mean step across the 8-px block grid (in frame pixels) over the mean
    step elsewhere; ~1 for a clean picture, 2 and more when a starved encoder smeared the characters into blocks."""
    x1, y1, x2, y2 = box
    crop = gray_full[y1:y2, x1:x2].astype(np.float32)
    if crop.shape[0] < 9 or crop.shape[1] < 9:
        return 1.0
    dx = np.abs(np.diff(crop, axis=1))  # dx[:, i] is the step between frame columns x1+i and x1+i+1
    dy = np.abs(np.diff(crop, axis=0))
    on_x = (np.arange(x1, x2 - 1) + 1) % 8 == 0
    on_y = (np.arange(y1, y2 - 1) + 1) % 8 == 0
    on = float(dx[:, on_x].sum() + dy[on_y, :].sum())
    n_on = dx[:, on_x].size + dy[on_y, :].size
    off = float(dx[:, ~on_x].sum() + dy[~on_y, :].sum())
    n_off = dx[:, ~on_x].size + dy[~on_y, :].size
    if not n_on or not n_off or off <= 0:
        return 1.0
    return (on / n_on) / (off / n_off + 1e-6)


def _candidate_boxes(mask: np.ndarray, min_w: int, kernel_w: int) -> list[tuple[int, int, int, int]]:
    """Plate-shaped blobs of `mask`; blobs touching the frame (OSD bands, car bodies cut off) are not plates."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_w, max(3, kernel_w // 4)))
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    closed = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for c in contours:
        x, y, w, h = cv2.boundingRect(c)
        if w < min_w or h < 6 or w > mask.shape[1] * 0.5:
            continue
        if x <= 1 or y <= 1 or x + w >= mask.shape[1] - 1 or y + h >= mask.shape[0] - 1:
            continue
        ratio = w / h
        if not 1.5 <= ratio <= 7.0:
            continue
        fill = cv2.contourArea(c) / float(w * h)
        if fill < 0.45:
            continue
        boxes.append((x, y, w, h))
    return boxes


def _edge_density(gray_crop: np.ndarray) -> float:
    """Share of vertical-edge pixels: the strokes of 7–8 characters make a plate dense in x-gradients."""
    if gray_crop.size == 0:
        return 0.0
    gx = cv2.Sobel(gray_crop, cv2.CV_16S, 1, 0, ksize=3)
    mag = cv2.convertScaleAbs(gx)
    _, binary = cv2.threshold(mag, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(np.count_nonzero(binary)) / binary.size


def _transitions(gray_crop: np.ndarray) -> float:
    """Mean number of dark/light changes along the middle rows: characters give 10–30, flat paint ~0."""
    h = gray_crop.shape[0]
    band = gray_crop[int(h * 0.3):max(int(h * 0.3) + 1, int(h * 0.7))]
    if band.size == 0:
        return 0.0
    _, binary = cv2.threshold(band, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(np.abs(np.diff(binary.astype(np.int8), axis=1)).sum(axis=1).mean())


def plate_crop_metrics(gray_crop: np.ndarray) -> tuple[float, float]:
    """(character contrast 0–1, edge acutance 0–1) of the inner part of a plate crop at 40 px height.

    Acutance is the steepest stroke edges (98th percentile of |d/dx|) divided by the character
    contrast: a blurred plate spreads each stroke edge over several pixels, whatever its brightness.
    """
    h, w = gray_crop.shape[:2]
    # The frame and drawn boxes sit at the border; the characters are inside.
    crop = gray_crop[int(h * 0.15):max(int(h * 0.15) + 2, int(h * 0.85)), int(w * 0.06):max(int(w * 0.06) + 2, int(w * 0.94))]
    h, w = crop.shape[:2]
    if h < 2 or w < 2:
        return 0.0, 0.0
    norm = cv2.resize(crop, (max(2, round(w * 40 / h)), 40), interpolation=cv2.INTER_AREA if h > 40
                      else cv2.INTER_LINEAR).astype(np.float32)
    p5, p95 = np.percentile(norm, (5, 95))
    contrast = float(p95 - p5)
    if contrast < 1:
        return 0.0, 0.0
    gx = np.abs(norm[:, 2:] - norm[:, :-2]) / 2.0
    return contrast / 255.0, float(np.percentile(gx, 98)) / contrast


def character_count(gray_crop: np.ndarray) -> int:
    """Character-shaped blobs (tall, narrow, 35–95 % of the plate height) in either polarity at 40 px height.

    Cheap evidence that a plate-coloured box holds a row of characters, not a sign or a bumper panel."""
    h, w = gray_crop.shape[:2]
    if h < 4 or w < 8:
        return 0
    norm = cv2.resize(gray_crop, (max(8, round(w * 40 / h)), 40), interpolation=cv2.INTER_AREA if h > 40
                      else cv2.INTER_LINEAR)
    best = 0
    for img in (norm, 255 - norm):
        _, binary = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        count = 0
        for i in range(1, n):
            _, _, cw, ch, area = stats[i]
            if 14 <= ch <= 38 and 2 <= cw <= 0.9 * ch and area >= 0.15 * cw * ch:
                count += 1
        best = max(best, count)
    return best


def find_plates(bgr: np.ndarray, max_plates: int = 5, gray_full: np.ndarray | None = None,
                small: np.ndarray | None = None) -> list[Plate]:
    """Chinese plate candidates: colour segmentation (blue/yellow/green), then white/any by edge density.

    `small` is the frame already shrunk to PLATE_WORK_WIDTH, when the caller has it (saves a resize)."""
    if small is None or small.shape[1] != min(bgr.shape[1], PLATE_WORK_WIDTH):
        small, scale = _resize_to_width(bgr, PLATE_WORK_WIDTH)
    else:
        scale = small.shape[1] / bgr.shape[1]
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    gray_small = _gray(small)
    width = small.shape[1]
    min_w = max(20, width // 30)
    kernel_w = max(5, width // 100)
    found: list[tuple[float, str, tuple[int, int, int, int], str]] = []
    for colour, (lo, hi) in _PLATE_COLOURS.items():
        mask = cv2.inRange(hsv, np.array(lo, np.uint8), np.array(hi, np.uint8))
        for box in _candidate_boxes(mask, min_w, kernel_w):
            x, y, w, h = box
            crop = gray_small[y:y + h, x:x + w]
            density = _edge_density(crop)
            trans = _transitions(crop)
            if trans < 4:
                continue
            ratio = w / h
            shape = 1.0 if 2.0 <= ratio <= 5.0 else 0.5
            score = shape * min(trans, 24) / 24 * (0.5 + density) * np.sqrt(w * h)
            found.append((score, colour, box, "colour"))
    # White plates (police, embassy) and colour-washed night plates: a band of dense vertical edges (characters).
    gx = cv2.convertScaleAbs(cv2.Sobel(cv2.GaussianBlur(gray_small, (3, 3), 0), cv2.CV_16S, 1, 0, ksize=3))
    _, edges = cv2.threshold(gx, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.inRange(hsv, np.array((0, 0, 150), np.uint8), np.array((180, 60, 255), np.uint8))
    white_mask = cv2.bitwise_and(cv2.dilate(edges, np.ones((3, 3), np.uint8)), bright)
    for box in _candidate_boxes(white_mask, min_w, kernel_w) + _candidate_boxes(edges, min_w, kernel_w):
        x, y, w, h = box
        if not 2.5 <= w / h <= 5.5:
            continue
        crop = gray_small[y:y + h, x:x + w]
        trans = _transitions(crop)
        if trans < 10:
            continue
        density = _edge_density(crop)
        mean_hsv = hsv[y:y + h, x:x + w].reshape(-1, 3).mean(axis=0)
        colour = "white" if mean_hsv[1] < 60 else "other"
        score = 0.5 * min(trans, 24) / 24 * (0.5 + density) * np.sqrt(w * h)
        found.append((score, colour, box, "edges"))
    gray_full = _gray(bgr) if gray_full is None else gray_full
    height = bgr.shape[0]
    plates = []
    for score, colour, (x, y, w, h), source in found:
        box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
        if box[1] < height * 0.05:  # the OSD text band at the top of a camera frame is not a plate
            continue
        plate = _make_plate(gray_full, box, colour, score / scale, source)
        if plate is not None:
            plates.append(plate)
    return _rank(plates, max_plates)


def _plate_likeness(p: Plate) -> float:
    """Rank: a row of 5–9 characters first (a blue bus panel has the colour, not the characters), then the
    locator's score weighted by the characters' contrast."""
    chars_ok = 5 <= p.chars <= 10
    coloured = p.colour in _PLATE_COLOURS  # blue, yellow, green: the paint of a plate is evidence too
    return (2.0 if chars_ok else 1.0) * (1.5 if coloured else 1.0) * p.score * (0.2 + p.char_contrast)


def _rank(plates: list[Plate], max_plates: int) -> list[Plate]:
    ranked = sorted(plates, key=lambda p: -_plate_likeness(p))
    out: list[Plate] = []
    for plate in ranked:
        if any(_iou(plate.bbox, p.bbox) > 0.3 or _inside(plate.bbox, p.bbox) > 0.7 for p in out):
            continue
        out.append(plate)
        if len(out) >= max_plates:
            break
    return out


def _confident(plates: list[Plate]) -> bool:
    """The fast locator's main plate needs no second opinion: it holds a row of characters and no other
    candidate comes close."""
    if not plates or not 5 <= plates[0].chars <= 10:
        return False
    return len(plates) == 1 or _plate_likeness(plates[0]) >= 1.5 * _plate_likeness(plates[1])


def text_plates(bgr: np.ndarray, gray_full: np.ndarray, detector, max_plates: int = 5) -> list[Plate]:
    """Plate-shaped text lines from the optional text detector (rapidocr's DB model): boxes 1.5–8 times as wide
    as tall, scored by size, characters and contrast."""
    height = bgr.shape[0]
    out = []
    for box in detector.detect(bgr):
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        if h <= 0 or not 1.5 <= w / h <= 8.0 or y1 < height * 0.05:
            continue
        # DB boxes hug the characters; a plate's frame is a little larger.
        px, py = int(w * 0.06), int(h * 0.15)
        plate = _make_plate(gray_full, (x1 - px, y1 - py, x2 + px, y2 + py), "unknown", np.sqrt(w * h), "text")
        if plate is not None:
            plate.score *= 1.0 + min(plate.chars, 9) / 9
            out.append(plate)
    return out


def locate_plates(bgr: np.ndarray, gray_full: np.ndarray, detector=None, max_plates: int = 5,
                  small: np.ndarray | None = None) -> list[Plate]:
    """The fast path (colour and edges) first; only when it is not sure, the bundled plate cascade and, if that
    still leaves it unsure and a text detector is installed, the text detector give more candidates; the most
    plate-like wins. The text detector (the costliest step) thus runs only on frames the cheap steps cannot settle."""
    plates = find_plates(bgr, max_plates, gray_full, small)
    if _confident(plates):
        return plates
    extra = cascade_plates(bgr, gray_full)
    if detector is not None and not _confident(_rank(plates + extra, max_plates)):
        text = text_plates(bgr, gray_full, detector)
        # A colour candidate the text detector confirms keeps its colour and gets the text box's evidence.
        for t in text:
            for p in plates + extra:
                if _iou(p.bbox, t.bbox) > 0.3 or _inside(t.bbox, p.bbox) > 0.7:
                    p.score = max(p.score, t.score) * 1.5
        extra += text
    return _rank(plates + extra, max_plates)


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def judge_plate(plate: Plate, t: Thresholds) -> None:
    """Legible when every measurement passes; else the reason codes in PLATE_REASONS order (main cause first)."""
    reasons = []
    if plate.luma < t.plate_min_luma:
        reasons.append("too_dark")
    if plate.glare > t.plate_max_glare:  # before size: a reflection that ate half the plate leaves a small piece
        reasons.append("glare")
    if plate.height_px < t.plate_min_height_px or plate.width_px < t.plate_min_width_px:
        reasons.append("too_small")
    if plate.sharpness < t.plate_min_sharpness or plate.blockiness > t.plate_max_blockiness:
        reasons.append("blurred")
    if plate.char_contrast < t.plate_min_char_contrast:
        reasons.append("occluded")
    if reasons and "glare" not in reasons and plate.glare_near > t.plate_max_glare:
        # Not legible for another measured cause, beside a clipped blob: the reflection is the likelier cause
        # (it changes why, never whether: the legibility verdict stays the fitted measurements').
        reasons = [r for r in PLATE_REASONS if r == "glare" or r in reasons]
    plate.reasons = reasons
    plate.legible = not reasons


def frame_light(gray: np.ndarray) -> tuple[float, float, float, float]:
    """(99th percentile grey level, share of clipped pixels, p99 - p1 spread, variance of the Laplacian) of a
    frame at the work width: what a frame with no plate found is judged by."""
    p1, p99 = np.percentile(gray, (1, 99))
    return (float(p99), float(np.count_nonzero(gray >= 250)) / max(1, gray.size), float(p99 - p1),
            sharpness_lapvar(gray))


def frame_glare(light: tuple, t: Thresholds) -> bool:
    """A frame with a clipped patch large enough to hide a plate (a strobe reflection, a blinding headlight)."""
    return light[1] > max(0.02, t.plate_max_glare / 10)


def main_plate_reasons(plate: Plate, light_of, t: Thresholds) -> list[str]:
    """The judged main plate's reasons, and "glare" when all that was found is a small piece or another small
    object while the frame holds a clipped patch: the reflection likely hid the plate (why, never whether).
    `light_of` gives frame_light of the frame, only called in that case (it costs a few ms)."""
    if plate.legible or "too_small" not in plate.reasons or "glare" in plate.reasons:
        return list(plate.reasons)
    if not frame_glare(light_of(), t):
        return list(plate.reasons)
    return [r for r in PLATE_REASONS if r == "glare" or r in plate.reasons]


def frame_reasons_without_plate(light: tuple, t: Thresholds) -> list[str]:
    """No plate found: say what about the whole frame can explain it (dark, a glare blob, blur, haze)."""
    p99, clipped, spread, lapvar = light
    reasons = ["no_plate_found"]
    if p99 < t.plate_min_luma:
        reasons.append("too_dark")
    if frame_glare(light, t):
        reasons.append("glare")
    if spread / 255.0 < t.plate_min_char_contrast:
        reasons.append("occluded")
    elif lapvar < t.min_sharpness:  # a washed-out frame has no edges either; blur is judged on a frame with contrast
        reasons.append("blurred")
    return reasons


def cascade_plates(bgr: np.ndarray, gray_full: np.ndarray | None = None, max_plates: int = 3) -> list[Plate]:
    """Plate candidates from OpenCV's bundled plate cascade (trained on Russian plates: the same 7-character shape)."""
    gray_full = _gray(bgr) if gray_full is None else gray_full
    small, scale = _resize_to_width(gray_full, 800)
    height = bgr.shape[0]
    rects = _plate_cascade().detectMultiScale(small, scaleFactor=1.1, minNeighbors=3, minSize=(40, 10))
    out = []
    for (x, y, w, h) in (rects if len(rects) else []):
        box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
        if box[1] < height * 0.05 or w > small.shape[1] * 0.5:  # OSD band; a "plate" half the frame wide is not one
            continue
        # Trained on another country's plates, the cascade also fires on grilles and signs: a weak vote.
        plate = _make_plate(gray_full, box, "unknown", 0.25 * np.sqrt(w * h) / scale, "cascade")
        if plate is not None and plate.chars >= 3:
            out.append(plate)
    out.sort(key=lambda p: -p.score)
    return out[:max_plates]


def _plate_cascade():
    cascade = getattr(_local, "plate_cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_russian_plate_number.xml"))
        _local.plate_cascade = cascade
    return cascade


# ------------------------------------------------------------------------------------------ faces

def _cascade(name: str = "haarcascade_frontalface_default.xml"):
    """One classifier per thread: a CascadeClassifier shared between threads corrupts its scale data."""
    cache = getattr(_local, "face_cascades", None)
    if cache is None:
        cache = _local.face_cascades = {}
    cascade = cache.get(name)
    if cascade is None:
        path = os.path.join(cv2.data.haarcascades, name)
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"Haar cascade missing at {path}")
        cache[name] = cascade
    return cascade


# With no plate of its own in view (cut off at the frame edge), a vehicle's windshield is looked for in the
# upper-middle frame with the "alt2" frontal cascade: it keeps dim, strobe-lit faces the default one drops at
# the coarser scale this wider search runs at.
UNANCHORED_CASCADE = "haarcascade_frontalface_alt2.xml"


def _clahe():
    clahe = getattr(_local, "clahe", None)
    if clahe is None:
        clahe = _local.clahe = cv2.createCLAHE(clipLimit=2.5, tileGridSize=(4, 4))
    return clahe


@dataclass
class Face:
    bbox: list[int]
    size_px: int
    sharpness: float
    mean_luma: float
    visible: bool = False
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"bbox": self.bbox, "size_px": self.size_px, "sharpness": round(self.sharpness, 1),
                "mean_luma": round(self.mean_luma, 1), "visible": self.visible, "reasons": list(self.reasons)}


def face_search_region(shape: tuple[int, int], plate: Plate | None) -> tuple[int, int, int, int]:
    """Where front-seat faces can be: above the main plate (the windshield), else the upper 3/4 of the frame."""
    h, w = shape[:2]
    if plate is None:  # the windshield of a vehicle whose plate is cut off: the upper-middle frame
        return int(w * 0.08), int(h * 0.05), int(w * 0.92), int(h * 0.8)
    x1, y1, x2, _ = plate.bbox
    pw = max(1, x2 - x1)
    cx = (x1 + x2) // 2
    # Front-seat faces sit about 1.6–4 plate widths above the plate (a car's hood and dashboard below them, a
    # van's roof above), within ±2 widths of its centre (both front seats of a car ~3.5 plate widths wide).
    left, right = max(0, cx - int(2.0 * pw)), min(w, cx + int(2.0 * pw))
    top, bottom = max(0, y1 - int(4.0 * pw)), max(1, y1 - int(1.6 * pw))
    return left, top, right, bottom


def windshield_in_frame(shape: tuple[int, int], plate: Plate) -> bool:
    """Whether the front seats above `plate` can be in the frame: a plate near the top edge belongs to a vehicle
    further on whose windshield is cut off (the nearer vehicle's plate may be the one cut off at the bottom)."""
    x1, y1, x2, _ = plate.bbox
    return y1 - 2.6 * max(1, x2 - x1) >= 0  # the faces' usual place (2.6 plate widths up) is inside


def _detect(cascade, roi: np.ndarray, scale: float, lo: float, hi: float, step: float, neighbours: int):
    """One cascade pass over `roi` resized by `scale`, on its tile-contrast-normalised (CLAHE) grey levels: a dim
    infrared windshield keeps its faces' local contrast, where a global equalisation is spent on the headlights.
    Returns the faces with at least `neighbours` votes, and whether a candidate fell short of them (a near miss)."""
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    work = cv2.resize(roi, None, fx=scale, fy=scale, interpolation=interp) if scale != 1 else roi
    work = _clahe().apply(work)
    min_side = int(max(20, lo))
    max_side = int(max(min_side + 4, hi))
    # Grouped with a low vote so that near misses are seen too; a face needs more than `neighbours` votes.
    rects, votes = cascade.detectMultiScale2(work, scaleFactor=step, minNeighbors=NEAR_MISS_VOTES,
                                             minSize=(min_side, min_side), maxSize=(max_side, max_side))
    votes = np.asarray(votes).reshape(-1)
    kept = [tuple(r) for r, v in zip(rects, votes) if v > neighbours]  # OpenCV's minNeighbors: more than N
    return kept, bool(len(rects)) and not kept


# Through a windshield, a second, independently trained frontal cascade must agree on a candidate: the first one,
# voting low enough to hold a real face whatever the exposure, also fires on plate characters, grilles and leaves.
# (The wider search without a plate keeps its own stricter cascade and is not confirmed: the night frame's dim
# driver, found there, is one the confirming cascade misses at most exposures.)
CONFIRM_CASCADE = "haarcascade_frontalface_alt.xml"
CONFIRM_VOTES = 0  # any raw hit of the confirming cascade near the candidate


def _confirmed(full: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether the confirming cascade finds a face of about the candidate's size on the candidate with a margin."""
    x1, y1, x2, y2 = box
    side = x2 - x1
    pad = side // 2
    crop = full[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
    if crop.size == 0:
        return False
    k = 40.0 / max(1, side)  # the face at ~40 px in a ~80 px patch: cheap, and above the cascade's 20 px window
    patch = _clahe().apply(cv2.resize(crop, None, fx=k, fy=k,
                                      interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR))
    found = _cascade(CONFIRM_CASCADE).detectMultiScale(patch, scaleFactor=1.1, minNeighbors=CONFIRM_VOTES,
                                                        minSize=(28, 28), maxSize=(60, 60))
    return len(found) > 0


def find_faces(bgr: np.ndarray, region: tuple[int, int, int, int], t: Thresholds,
               plate_width: int | None = None, gray_full: np.ndarray | None = None) -> list[Face]:
    """Haar frontal faces in `region`; with a plate, faces are searched at 0.15–0.6 of its width (front seats)."""
    x0, y0, x1, y1 = region
    full = _gray(bgr) if gray_full is None else gray_full
    roi = full[y0:y1, x0:x1]
    if roi.size == 0 or min(roi.shape) < 24:
        return []
    if plate_width:
        # A front-seat face is about a quarter of the plate width; bring it to ~26 px for the 24 px cascade.
        scale = float(np.clip(FACE_WORK_PX / (0.25 * plate_width), 0.3, 2.0))
        lo, hi = 0.15 * plate_width * scale, 0.6 * plate_width * scale
        step = FACE_SCALE_STEP
    else:  # no plate to anchor on: a coarser search of the whole upper frame, to bound the cost
        scale = min(1.0, 640.0 / roi.shape[1])
        lo, hi = t.face_min_px * scale * 0.8, roi.shape[0] * scale / 4
        step = 1.1
    if roi.shape[1] * scale > 1400:  # bound the work on huge frames
        new_scale = 1400.0 / roi.shape[1]
        lo, hi = lo * new_scale / scale, hi * new_scale / scale
        scale = new_scale
    cascade = _cascade() if plate_width else _cascade(UNANCHORED_CASCADE)
    rects, near_miss = _detect(cascade, roi, scale, lo, hi, step, FACE_MIN_NEIGHBOURS if plate_width else 3)
    if near_miss and plate_width:
        # A second look on the scale grid half a step further: a face that falls between two of the cascade's
        # window sizes drops under the neighbour vote, and whether it does moves with a few grey levels or a JPEG
        # quality step; the interleaved grid finds it there (only a frame with a near miss pays for it).
        half = float(np.sqrt(step))
        scale, lo, hi = scale * half, lo * half, hi * half
        rects, _ = _detect(cascade, roi, scale, lo, hi, step, FACE_MIN_NEIGHBOURS)
    faces = []
    for (fx, fy, fw, fh) in rects:
        bx1, by1 = x0 + int(fx / scale), y0 + int(fy / scale)
        bx2, by2 = x0 + int((fx + fw) / scale), y0 + int((fy + fh) / scale)
        crop = full[by1:by2, bx1:bx2]
        if crop.size == 0 or (plate_width and not _confirmed(full, (bx1, by1, bx2, by2))):
            continue
        norm = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA if crop.shape[0] > 48 else cv2.INTER_CUBIC)
        face = Face([bx1, by1, bx2, by2], bx2 - bx1, sharpness_lapvar(norm), float(crop.mean()))
        reasons = []
        if face.size_px < t.face_min_px:
            reasons.append("too_small")
        # Too dark when even the face's bright end (nose, forehead: the 95th percentile) stays under the floor: a
        # dim face that still spans grey levels can be brought up by the viewer, and its verdict must not flip
        # with the few grey levels an exposure step moves the whole frame (Q2).
        if float(np.percentile(crop, 95)) < t.face_min_luma:
            reasons.append("too_dark")
        if face.mean_luma > t.face_max_luma:
            reasons.append("glare")
        if face.sharpness < t.face_min_sharpness:
            reasons.append("blurred")
        face.reasons = reasons
        face.visible = not reasons
        faces.append(face)
    faces.sort(key=lambda f: -f.size_px)
    return faces


def search_faces(bgr: np.ndarray, gray_full: np.ndarray, plates: list[Plate], t: Thresholds,
                 max_vehicles: int = 1) -> list[Face]:
    """Front-seat faces through the windshields above the first `max_vehicles` plates (1 on the sampling path, for
    speed; more when a frame holds two cars); with no plate whose windshield is in the frame, a coarser search of
    the upper-middle frame."""
    anchors = [p for p in plates if p.chars >= 3][:max_vehicles] or plates[:1]
    anchors = [p for p in anchors if windshield_in_frame(bgr.shape, p)]
    if not anchors:
        return find_faces(bgr, face_search_region(bgr.shape, None), t, None, gray_full)
    found: list[Face] = []
    for plate in anchors:
        found += find_faces(bgr, face_search_region(bgr.shape, plate), t, plate.width_px, gray_full)
        if any(f.visible for f in found):
            break
    found.sort(key=lambda f: (not f.visible, -f.size_px))
    return found


# ------------------------------------------------------------------------------------------ all together

def _apply_reader(bgr: np.ndarray, gray_full: np.ndarray, plates: list[Plate], reader) -> list[Plate]:
    """With a reference reader, legible means the reader reads a plate there; a plate it reads becomes the main one."""
    read_plates = []
    for text, box in reader.read_plates(bgr):
        match = next((p for p in plates if _iou(p.bbox, box) > 0.2 or _inside(box, p.bbox) > 0.6), None)
        if match is None:
            match = _make_plate(gray_full, box, "unknown", 0.0, "reader")
            if match is None:
                continue
            plates.append(match)
        match.text, match.legible, match.reasons = text, True, []
        read_plates.append(match)
    for p in plates:
        if p.text is None and p.legible:
            p.legible, p.reasons = False, ["occluded"]  # measurements pass, yet the reader reads no plate there
    read_plates.sort(key=lambda p: -p.width_px)
    return read_plates + [p for p in plates if p not in read_plates]


def _inside(inner, outer) -> float:
    ix = max(0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    return ix * iy / max(1, (inner[2] - inner[0]) * (inner[3] - inner[1]))


def score_image(bgr: np.ndarray, thresholds: Thresholds, *, faces: bool = True, reader=None,
                detector="auto") -> dict:
    """All scores of one frame as a JSON-ready dict.

    `detector` finds text lines when the fast plate locator is unsure ("auto": rapidocr's DB model when installed,
    None: colour, edges and the bundled cascade only); `reader` (probes.vision.plate_reader) reads plate text."""
    t = thresholds
    h, w = bgr.shape[:2]
    small, _ = _resize_to_width(bgr, WORK_WIDTH)
    gray = _gray(small)
    gray_full = _gray(bgr)
    if detector == "auto":
        from probes.vision import plate_reader

        detector = plate_reader.default_text_detector()
    plates = locate_plates(bgr, gray_full, detector, small=small if PLATE_WORK_WIDTH == WORK_WIDTH else None)
    for p in plates:
        judge_plate(p, t)
    if reader is not None:
        plates = _apply_reader(bgr, gray_full, plates, reader)
    main = plates[0] if plates else None
    face_list = search_faces(bgr, gray_full, plates, t) if faces else []
    if main is not None:
        main.reasons = main_plate_reasons(main, lambda: frame_light(gray), t)
        reasons = list(main.reasons)
    else:
        reasons = frame_reasons_without_plate(frame_light(gray), t)
    face_reasons = []
    if faces:
        if not face_list:
            face_reasons.append("no_face_found")
        elif not any(f.visible for f in face_list):
            face_reasons.extend(face_list[0].reasons)
    thumb = _resize_to_width(small, 320)[0]
    gray_thumb = _gray(thumb)
    return {
        "width": w, "height": h,
        "sharpness": round(sharpness_lapvar(gray), 1),
        "tenengrad": round(sharpness_tenengrad(gray), 1),
        "exposure": exposure_stats(gray),
        "contrast": round(float(gray.std()), 1),
        "colour_cast": colour_cast(thumb),
        # From the 320 px thumbnail: the 9×8 and 16×16 block means barely differ, at a tenth of the cost.
        "frame_hash": frame_hash(gray_thumb),
        "fingerprint": frame_fingerprint(gray_thumb),
        "plates": [p.as_dict() for p in plates],
        "plate_legible": bool(main and main.legible),
        "reasons": reasons,
        "faces": [f.as_dict() for f in face_list],
        "faces_visible": any(f.visible for f in face_list),
        "face_reasons": face_reasons,
    }


def score_file(path: str, thresholds: Thresholds, reader=None, detector="auto") -> dict:
    """score_image for a file; an unreadable file gives {"file", "error"} (English) instead of raising."""
    try:
        img = read_image_file(path)
    except ImageError as err:
        return {"file": path, "error": str(err)}
    return {"file": path, **score_image(img, thresholds, reader=reader, detector=detector)}


# ------------------------------------------------------------------------------------------ crops

def crop_jpeg(data: bytes, bbox: list[int] | None, pad: float = 0.25, height: int = 160) -> bytes:
    """A JPEG of the region round `bbox` (the plate for the audit queue), scaled to `height` px; whole image if none."""
    img = decode_image(data)
    if bbox:
        x1, y1, x2, y2 = bbox
        px, py = int((x2 - x1) * pad), int((y2 - y1) * pad * 2)
        img = img[max(0, y1 - py):y2 + py, max(0, x1 - px):x2 + px]
    if img.size == 0:
        raise ImageError("empty_crop", "empty crop")
    scale = height / img.shape[0]
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return encode_jpeg(img, 90)

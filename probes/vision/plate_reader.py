"""Optional plate text reader behind one interface: rapidocr (bundled offline models) when installed, else none."""
from __future__ import annotations

import logging
import re
import threading
from typing import Protocol

log = logging.getLogger(__name__)

# Chinese plate: province character, letter, then 5 (ordinary) or 6 (new-energy) letters/digits, maybe 学/警/挂.
PLATE_RE = re.compile(r"[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}[\u4e00-\u9fffA-Z0-9]?")


class PlateReader(Protocol):
    name: str

    def read(self, bgr_crop) -> str | None:
        """The plate text in a crop around one plate, or None when nothing plate-like is read."""

    def read_plates(self, bgr) -> list[tuple[str, list[int]]]:
        """Every plate-like text in a whole frame, with its box [x1, y1, x2, y2] in the frame's pixels."""


def normalise_plate(text: str) -> str:
    """'浙A·502CX' / '浙A 502cx' → '浙A502CX' (the form pass records and audits compare)."""
    return re.sub(r"[\s·•.\-_]", "", text or "").upper()


class RapidOcrReader:
    """PP-OCR through rapidocr + onnxruntime, with the models shipped in the wheel (no download)."""

    name = "rapidocr"

    def __init__(self):
        from rapidocr import RapidOCR  # imported here: optional dependency

        for noisy in ("RapidOCR", "rapidocr"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._engine = RapidOCR()
        for noisy in ("RapidOCR", "rapidocr"):  # it sets up its own INFO handler while loading
            logging.getLogger(noisy).setLevel(logging.WARNING)

    def read(self, bgr_crop) -> str | None:
        if bgr_crop is None or getattr(bgr_crop, "size", 0) == 0:
            return None
        result = self._engine(bgr_crop)
        texts = getattr(result, "txts", None) or ()
        joined = normalise_plate("".join(texts))
        match = PLATE_RE.search(joined)
        return match.group(0) if match else None


    def read_plates(self, bgr) -> list[tuple[str, list[int]]]:
        import cv2  # the reader's own dependency; probes.imaging stays the scorer's only cv2 user

        h, w = bgr.shape[:2]
        scale = min(1.0, 1600 / max(w, 1))
        img = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else bgr
        result = self._engine(img)
        texts = getattr(result, "txts", None) or ()
        boxes = getattr(result, "boxes", None)
        out = []
        for i, text in enumerate(texts):
            match = PLATE_RE.search(normalise_plate(text))
            if not match or boxes is None:
                continue
            xs, ys = boxes[i][:, 0] / scale, boxes[i][:, 1] / scale
            out.append((match.group(0), [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]))
        return out


class _Once:
    """An optional rapidocr object built on first use, once per process. Several sampling threads ask at once: the
    first builds it (about a second) while the others wait, rather than seeing "tried, none" and scoring that frame
    without it (a verdict must not depend on timing). Missing packages or a broken model leave it None."""

    def __init__(self, build, what: str, without: str):
        self.build, self.what, self.without = build, what, without
        self.value, self.tried, self.lock = None, False, threading.Lock()

    def get(self):
        with self.lock:
            if not self.tried:
                try:
                    self.value = self.build()
                except ImportError:
                    log.info("no %s installed (pip install rapidocr onnxruntime); %s", self.what, self.without)
                except Exception as err:  # a broken model file must not stop scoring
                    log.warning("%s unavailable: %s", self.what, err)
                self.tried = True
        return self.value


_reader = _Once(lambda: RapidOcrReader(), "plate reader", "plates are scored, not read")


def default_reader() -> PlateReader | None:
    """The reference reader if one is installed (created once), else None: the OpenCV path works without it."""
    return _reader.get()


class RapidOcrTextDetector:
    """Text lines only (rapidocr's DB model, no recognition): where plates may be when colour and edges are unsure.

    The frame is shrunk to at most 800 px on its long side (~240 ms of CPU at 1080p on one core; 640 px costs
    ~175 ms but found the main plate on 88 % of the labelled images instead of 92 %, 480 px ~110 ms and 88 %). It
    runs only on frames the colour/edge locator and the plate cascade leave unsure. A lock keeps one run at a time
    per detector, as the engine's buffers are not documented as thread-safe."""

    name = "rapidocr-det"

    def __init__(self, max_side: int = 800):
        import threading

        from rapidocr import RapidOCR  # imported here: optional dependency

        for noisy in ("RapidOCR", "rapidocr"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        self._engine = RapidOCR(params={"Det.limit_side_len": max_side, "Det.limit_type": "max",
                                        "Global.log_level": "error"})
        for noisy in ("RapidOCR", "rapidocr"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        self._lock = threading.Lock()

    def detect(self, bgr) -> list[list[int]]:
        """Boxes [x1, y1, x2, y2] (frame pixels) of every text line found."""
        with self._lock:
            result = self._engine(bgr, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(result, "boxes", None)
        if boxes is None:
            return []
        return [[int(b[:, 0].min()), int(b[:, 1].min()), int(b[:, 0].max()), int(b[:, 1].max())] for b in boxes]


_detector = _Once(lambda: RapidOcrTextDetector(), "text detector", "plates located by colour/edges")


def default_text_detector() -> RapidOcrTextDetector | None:
    """The text detector if rapidocr is installed (created once), else None: plates are then located by colour,
    edges and OpenCV's bundled cascade alone."""
    return _detector.get()

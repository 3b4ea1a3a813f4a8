"""Photo bytes from the crew's tablet: sniff the type and size from the header, strip EXIF (location), make a JPEG thumbnail."""
from __future__ import annotations

import struct

from probes.base import ProbeError
from probes.vision import headers

MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding (a tablet photo is ≤ 50 Mpx… 40 is plenty)


class PhotoError(ProbeError):
    """The bytes are not a photo we accept: a reason `code` with `params`; `str(err)` is English for logs."""


def sniff(data: bytes) -> tuple[str, int, int]:
    """(content_type, width, height) read from the header only (probes.vision.headers); JPEG and PNG are accepted."""
    if data[:3] != b"\xff\xd8\xff" and not (data[:8] == headers.PNG_SIGNATURE and len(data) >= 24):
        raise PhotoError("photo_type", "Only JPEG or PNG photos are accepted.")
    try:
        fmt, w, h = headers.image_size(data)
    except headers.HeaderError as err:
        raise PhotoError(err.code, str(err), **err.params) from None
    if w <= 0 or h <= 0:
        raise PhotoError("photo_no_size", "The photo has no valid size.")
    if w * h > MAX_PIXELS:
        raise PhotoError("photo_too_large", f"The photo is too large ({w}×{h} pixels).", width=w, height=h)
    return f"image/{fmt}", w, h


def strip_metadata(data: bytes) -> bytes:
    """Drop EXIF/XMP (APP1, where GPS lives) from a JPEG and eXIf/text chunks from a PNG; pixels untouched."""
    if data[:3] == b"\xff\xd8\xff":
        out = bytearray(data[:2])
        i = 2
        while i + 4 <= len(data):
            marker = data[i + 1]
            if marker == 0xDA:  # start of scan: the rest is image data
                out += data[i:]
                return bytes(out)
            if 0xD0 <= marker <= 0xD7 or marker == 0x01:
                out += data[i:i + 2]
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2:i + 4])
            if marker != 0xE1:  # APP1 = Exif / XMP
                out += data[i:i + 2 + length]
            i += 2 + length
        return bytes(out)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        out = bytearray(data[:8])
        i = 8
        while i + 8 <= len(data):
            (length,) = struct.unpack(">I", data[i:i + 4])
            ctype = data[i + 4:i + 8]
            chunk = data[i:i + 12 + length]
            if ctype not in (b"eXIf", b"tEXt", b"iTXt", b"zTXt"):
                out += chunk
            i += 12 + length
        return bytes(out)
    return data


def has_exif(data: bytes) -> bool:
    """True when a JPEG carries an Exif APP1 segment (used by tests and the upload page)."""
    i = 2
    while data[:2] == b"\xff\xd8" and i + 10 <= len(data):
        marker = data[i + 1]
        if marker == 0xDA:
            return False
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
            return True
        i += 2 + length
    return False


def make_thumbnail(data: bytes, max_px: int = 320, quality: int = 80) -> bytes | None:
    """A JPEG at most `max_px` on its longer side (EXIF orientation applied), or None when it cannot be decoded."""
    import cv2  # imported here: the service runs without decoding unless a thumbnail is wanted
    import numpy as np

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        return None
    h, w = img.shape[:2]
    scale = min(1.0, max_px / max(h, w))
    if scale < 1.0:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else None

"""Photo bytes from the crew's tablet: sniff the type and size from the header, strip EXIF (location), make a JPEG thumbnail."""
from __future__ import annotations

import struct

MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding (a tablet photo is ≤ 50 Mpx… 40 is plenty)


class PhotoError(ValueError):
    """The bytes are not a photo we accept; `str(err)` says why in words."""


def sniff(data: bytes) -> tuple[str, int, int]:
    """(content_type, width, height) read from the header only; JPEG and PNG are accepted."""
    if data[:3] == b"\xff\xd8\xff":
        w, h = _jpeg_size(data)
        kind = "image/jpeg"
    elif data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        kind = "image/png"
    else:
        raise PhotoError("只接受 JPEG 或 PNG 照片 / Only JPEG or PNG photos are accepted.")
    if w <= 0 or h <= 0:
        raise PhotoError("照片尺寸无效 / The photo has no valid size.")
    if w * h > MAX_PIXELS:
        raise PhotoError(f"照片像素过多（{w}×{h}）/ The photo is too large ({w}×{h} pixels).")
    return kind, w, h


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise PhotoError("JPEG 文件已损坏 / The JPEG file is damaged.")
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise PhotoError("JPEG 文件缺少尺寸信息 / The JPEG file has no frame header.")


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

"""Image type and size read from the header only, before any pixel is decoded (the one JPEG/PNG/BMP size parser).

Snapshots (`imaging.decode_image`) and crew photos (`thumbnails.sniff`) both use it.
"""
from __future__ import annotations

import struct

from probes.base import ProbeError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class HeaderError(ProbeError):
    """The header is not one we can read: code `not_an_image` or `image_header_damaged` (format)."""


def image_size(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) from a JPEG/PNG/BMP header; format is "jpeg", "png" or "bmp"."""
    if data[:8] == PNG_SIGNATURE:
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise HeaderError("image_header_damaged", "PNG header is damaged", format="PNG")
        w, h = struct.unpack(">II", data[16:24])
        return "png", w, h
    if data[:2] == b"\xff\xd8":
        return ("jpeg", *jpeg_size(data))
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return "bmp", abs(w), abs(h)
    raise HeaderError("not_an_image", "not a recognised image (JPEG, PNG or BMP)")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first SOF segment of a JPEG; fill bytes between segments are skipped."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        seg_len = struct.unpack(">H", data[i + 2:i + 4])[0]
        # SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                break
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + seg_len
    raise HeaderError("image_header_damaged", "JPEG header is incomplete (no frame size)", format="JPEG")

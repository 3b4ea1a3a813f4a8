"""Broken, truncated, huge or non-image input gives a clear error and never crashes the scorer."""
import struct
import zlib

import pytest

from fleetops.domain import quality as rules
from probes.vision import imaging


def _png_header(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_empty_bytes_are_refused():
    with pytest.raises(imaging.ImageError, match="empty"):
        imaging.decode_image(b"")


def test_text_is_not_an_image():
    with pytest.raises(imaging.ImageError, match="not a recognised image"):
        imaging.decode_image(b"<html>401 Unauthorized</html>")


def test_a_truncated_jpeg_is_refused(shared_data):
    data = (shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes()
    with pytest.raises(imaging.ImageError, match="truncated"):
        imaging.decode_image(data[: len(data) // 2])


def test_a_truncated_png_is_refused(shared_data):
    data = (shared_data / "faces" / "toll_front_01.png").read_bytes()
    with pytest.raises(imaging.ImageError, match="truncated"):
        imaging.decode_image(data[: len(data) // 3])


def test_a_huge_image_is_refused_from_its_header_before_decoding():
    # 60 000 × 60 000 would need ~10 GB; the header alone must stop it.
    data = _png_header(60000, 60000) + b"\x00" * 100
    with pytest.raises(imaging.ImageError, match="too large"):
        imaging.decode_image(data)


def test_garbage_after_a_valid_jpeg_header_is_refused(shared_data):
    data = (shared_data / "plates" / "ccpd_blue_14.jpg").read_bytes()
    broken = data[:600] + bytes(range(256)) * 40 + b"\xff\xd9"
    with pytest.raises(imaging.ImageError):
        imaging.decode_image(broken)


def test_score_file_reports_errors_as_data(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really")
    missing = tmp_path / "missing.jpg"
    for path in (bad, missing):
        result = imaging.score_file(str(path), imaging.Thresholds.from_mapping(rules.DEFAULT_THRESHOLDS))
        assert set(result) == {"file", "error"} and result["error"]

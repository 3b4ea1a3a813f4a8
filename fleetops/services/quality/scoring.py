"""`fleetops score-image`: score image files with the contract's default thresholds (no database)."""
from __future__ import annotations

from fleetops.domain import quality as rules
from fleetops.domain.probe_reasons import error_msg
from fleetops.services.quality.common import imaging_thresholds
from probes.vision import imaging, plate_reader


def plate_reader_available() -> bool:
    return plate_reader.default_reader() is not None


def score_files(paths, read_text: bool = False) -> list[dict]:
    """One dict per file, in order: the scores, or {"file", "error"} (English) for a file that is not an image.

    A failed file also carries `error_msg` (a Msg, for people); callers printing JSON leave it out."""
    reader = plate_reader.default_reader() if read_text else None
    t = imaging_thresholds(rules.DEFAULT_THRESHOLDS)
    out = []
    for path in paths:
        try:
            img = imaging.read_image_file(path)
        except imaging.ImageError as err:
            out.append({"file": path, "error": str(err), "error_msg": error_msg(err)})
            continue
        out.append({"file": path, **imaging.score_image(img, t, reader=reader)})
    return out

"""Image-quality rules: frame problems from scores, persistence over samples, audit sample sizes, Wilson intervals."""
import math
from dataclasses import dataclass

from fleetops.domain.choices import LabelledEnum
from fleetops.domain.text import N_, Msg

DAY, NIGHT = "day", "night"

# Finding kinds (stored values; never rename) and the ticket category each one opens (Q3).
FINDING_KINDS = ("blur", "dark", "overexposed", "colour_cast", "frozen", "scene_shift",
                 "plate_illegible", "faces_not_visible", "accuracy_low")


# Faults that only show in one light (a dead fill light by night): cleared and verified in that period only.
PERIOD_BOUND_KINDS = frozenset({"dark", "overexposed", "faces_not_visible", "plate_illegible"})


def ticket_category(kind: str, period: str) -> str:
    """Q3: the ticket category for a finding; at night darkness means the fill light, glare the strobe."""
    if kind == "blur":
        return "image_blur"
    if kind == "dark":
        return "fill_light" if period == NIGHT else "exposure"
    if kind == "overexposed":
        return "strobe" if period == NIGHT else "exposure"
    if kind == "colour_cast":
        return "exposure"
    if kind == "scene_shift":
        return "aim"
    if kind == "frozen":
        return "hung"
    if kind == "faces_not_visible":
        return "fill_light"  # Q2: faces at night depend on the fill light and strobe
    return "other"


DEFAULT_THRESHOLDS = {
    # Whole frame (scores at 960 px width, so they do not depend on the camera's resolution).
    "min_sharpness": 40.0,  # variance of Laplacian; a dirty lens falls well below
    "min_mean_luma": 45.0,
    "max_mean_luma": 215.0,
    "max_highlights_pct": 25.0,  # share of clipped pixels (glare); sunny roads reach 13–20 % (benchmarks data)
    "max_shadows_pct": 60.0,
    "max_colour_cast": 30.0,  # Lab units from neutral; a frame filled by one coloured car reaches ~25
    "max_shift_pct": 5.0,  # centre moved, % of the width, against the reference view
    "min_inlier_ratio": 0.25,
    # Frozen = the camera resends the same bytes. Above 0, also frames whose 16×16 thumbnails differ by at most
    # this many grey levels (catches a re-encoded frozen frame, but may flag a static denoised night scene).
    "frozen_max_diff": 0.0,
    # The main plate and the front-seat faces (probes.imaging.Thresholds).
    # Plate numbers fitted by benchmarks/imaging.py on the shared labelled images and their degraded copies
    # ("fitted on all judged images"); its cross-validated figures say how they hold on images not fitted on.
    "plate_min_width_px": 60.0,
    "plate_min_height_px": 27.5,
    "plate_min_char_contrast": 0.113,
    "plate_min_sharpness": 0.196,
    "plate_min_luma": 80.5,
    "plate_max_glare": 0.3,
    "plate_max_blockiness": 2.33,
    "face_min_px": 20.0,
    "face_min_sharpness": 6.0,
    "face_min_luma": 25.0,
    "face_max_luma": 225.0,
    "check_faces_at_night": True,  # Q2
}

# Why a plate is not legible: the verdict's reason codes (probes.vision.imaging.PLATE_REASONS) and their words.
PLATE_REASON_LABELS = {
    "no_plate_found": N_("no plate found"),
    "too_small": N_("plate too small"),
    "too_dark": N_("plate too dark"),
    "glare": N_("glare on the plate"),
    "blurred": N_("plate blurred"),
    "occluded": N_("plate covered or washed out"),
}


def plate_reasons_msg(codes) -> Msg:
    """The verdict's reasons as one sentence for people ("plate blurred; glare on the plate"), in stored form
    when the caller keeps it; an unknown code is shown as it is."""
    parts = [Msg(PLATE_REASON_LABELS[c]) if c in PLATE_REASON_LABELS else str(c) for c in (codes or [])]
    if not parts:
        return Msg("main plate not legible")
    out = parts[-1]
    for part in reversed(parts[:-1]):
        out = Msg("%(first)s; %(rest)s", first=part, rest=out)
    return out if isinstance(out, Msg) else Msg("%(reason)s", reason=out)


NIGHT_OVERRIDES = {"min_mean_luma": 25.0, "max_shadows_pct": 80.0}


def thresholds_for(table: dict, kind: str, period: str) -> dict:
    """Thresholds for a camera kind by day or night: built-in ← table["default"][period] ← table[kind][period]."""
    out = dict(DEFAULT_THRESHOLDS)
    if period == NIGHT:
        out.update(NIGHT_OVERRIDES)
    table = table if isinstance(table, dict) else {}
    for key in ("default", kind):
        layer = table.get(key)
        if not isinstance(layer, dict):
            continue
        for part in (layer.get("all"), layer.get(period)):
            # An edited parameter with a typo must not stop sampling: unknown keys and non-numbers are ignored.
            for name, value in (part.items() if isinstance(part, dict) else ()):
                if name in DEFAULT_THRESHOLDS and isinstance(value, (int, float)):
                    out[name] = value
    return out


def frame_problems(scores: dict, t: dict, period: str, *, frozen: bool = False,
                   shift: dict | None = None) -> list[tuple[str, "str | Msg"]]:
    """The problems one scored frame shows, as (kind, reason): in words, or a Msg (the plate's reasons)."""
    out = []
    exp = scores["exposure"]
    if frozen:
        out.append(("frozen", "same frame as the previous sample"))
    if exp["mean_luma"] < t["min_mean_luma"] or exp["shadows_pct"] > t["max_shadows_pct"]:
        out.append(("dark", f"mean luma {exp['mean_luma']:.0f} < {t['min_mean_luma']:.0f}"
                    if exp["mean_luma"] < t["min_mean_luma"] else
                    f"shadows {exp['shadows_pct']:.0f}% > {t['max_shadows_pct']:.0f}%"))
    elif scores["sharpness"] < t["min_sharpness"]:
        # A dark frame has no edges either; blur is only judged on a frame with light.
        out.append(("blur", f"sharpness {scores['sharpness']:.0f} < {t['min_sharpness']:.0f}"))
    if exp["highlights_pct"] > t["max_highlights_pct"] or exp["mean_luma"] > t["max_mean_luma"]:
        out.append(("overexposed", f"clipped highlights {exp['highlights_pct']:.0f}% > {t['max_highlights_pct']:.0f}%"
                    if exp["highlights_pct"] > t["max_highlights_pct"] else
                    f"mean luma {exp['mean_luma']:.0f} > {t['max_mean_luma']:.0f}"))
    if scores["colour_cast"] > t["max_colour_cast"]:
        out.append(("colour_cast", f"colour cast {scores['colour_cast']:.0f} > {t['max_colour_cast']:.0f}"))
    if shift is not None:
        moved = shift.get("shift_pct")
        if moved is None or moved > t["max_shift_pct"] or shift.get("inlier_ratio", 0) < t["min_inlier_ratio"]:
            out.append(("scene_shift", "view no longer matches the reference" if moved is None
                        else f"view moved {moved:.0f}% of the width from the reference"))
    plates = scores.get("plates") or []
    # Only frames with a vehicle say anything about plates and faces; an empty road is not a fault.
    if plates and not plates[0]["legible"] and not any(k in ("dark", "blur") for k, _ in out):
        out.append(("plate_illegible", plate_reasons_msg(plates[0].get("reasons"))))
    if (period == NIGHT and t.get("check_faces_at_night") and plates and plates[0]["legible"]
            and not scores.get("faces_visible")):
        out.append(("faces_not_visible", "no front-seat face visible at night"))
    return out


def persists(history: list[list[str]], kind: str, needed: int) -> bool:
    """Q3: open a finding only when the last `needed` samples (newest first) all show `kind` — not one bad frame."""
    if needed <= 0 or len(history) < needed:
        return False
    return all(kind in problems for problems in history[:needed])


# ---------------------------------------------------------------- plate-accuracy audits (Q1)

def z_for(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level (0.90, 0.95, 0.99 …), by inverting erf."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    p = 1 - (1 - confidence) / 2
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def sample_size(expected_rate: float, margin: float, confidence: float = 0.95) -> int:
    """Q1: records to audit so the estimate is within ±margin: n = z²·p(1−p)/e² (98 %, ±1 % → 753)."""
    if not 0 < margin < 1:
        raise ValueError("margin must be between 0 and 1")
    z = z_for(confidence)
    return math.ceil(z * z * expected_rate * (1 - expected_rate) / (margin * margin))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when nothing was audited."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    z = z_for(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Accuracy:
    correct: int
    judged: int
    pending: int
    rate: float | None
    low: float
    high: float
    target: float
    flagged: bool  # the whole interval is below the target


def accuracy(correct: int, judged: int, pending: int, target: float, confidence: float = 0.95,
             min_judged: int = 30) -> Accuracy:
    """Q1: accuracy with its Wilson interval; flagged when even the upper bound misses the target."""
    low, high = wilson_interval(correct, judged, confidence)
    rate = correct / judged if judged else None
    return Accuracy(correct, judged, pending, rate, low, high, target,
                    flagged=judged >= min_judged and high < target)


def quota_due(target: int, elapsed_fraction: float) -> int:
    """Samples that should have been drawn by this point of the month, so the audit spreads over it."""
    return min(target, math.ceil(target * max(0.0, min(1.0, elapsed_fraction))))


class FindingKind(LabelledEnum):
    """Q1–Q3: what an image-quality finding is about (stored in QualityFinding.kind)."""

    BLUR = "blur"
    DARK = "dark"
    OVEREXPOSED = "overexposed"
    COLOUR_CAST = "colour_cast"
    FROZEN = "frozen"
    SCENE_SHIFT = "scene_shift"
    PLATE_ILLEGIBLE = "plate_illegible"
    FACES_NOT_VISIBLE = "faces_not_visible"
    ACCURACY_LOW = "accuracy_low"


FindingKind._LABELS = {
    "blur": N_("Blurred image / dirty lens"),
    "dark": N_("Too dark / fill light failed"),
    "overexposed": N_("Overexposed / glare"),
    "colour_cast": N_("Colour cast"),
    "frozen": N_("Frozen picture"),
    "scene_shift": N_("Camera aim moved"),
    "plate_illegible": N_("Plates not legible"),
    "faces_not_visible": N_("Faces not visible"),
    "accuracy_low": N_("Plate accuracy below target"),
}


class DayNight(LabelledEnum):
    """T2/Q1: the light a sample or an audit was taken in (by the sun at the site, never a clock hour)."""

    DAY = DAY
    NIGHT = NIGHT


DayNight._LABELS = {DAY: N_("Day"), NIGHT: N_("Night")}

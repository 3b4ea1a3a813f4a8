"""This area's contract numbers (key → default, description); registered by fleetops.wiring."""
from fleetops.domain import quality as rules

PARAMETERS = {
    "quality_thresholds": ({"default": {"all": dict(rules.DEFAULT_THRESHOLDS), "night": dict(rules.NIGHT_OVERRIDES)}},
        "Q3: image thresholds: default.all, then default.day / default.night, then the same per camera kind, "
    'e.g. add "speed_camera": {"day": {"min_sharpness": 60}}'),
    "quality_persist_samples": (3,
        "Q3: consecutive bad snapshots before a finding (and its ticket) opens"),
    "quality_sample_interval_min": (60,
        "Q3: minutes between scheduled snapshots of one camera (day and night alike)"),
    "quality_keep_good_images_days": (14,
        "Q3: days to keep the images of good snapshots (evidence and problem frames are kept)"),
    "quality_plate_target_day": (0.98,
        "Q1: plate recognition accuracy by day"),
    "quality_plate_target_night": (0.95,
        "Q1: plate recognition accuracy at night"),
    "quality_audit_margin_day": (0.01,
        "Q1: audit precision by day (±, at the confidence)"),
    "quality_audit_margin_night": (0.02,
        "Q1: audit precision at night (±)"),
    "quality_audit_confidence": (0.95,
        "Q1: confidence of the audit intervals"),
    "quality_audit_human_share": (0.05,
        "Q1: share of records the reader agreed with that still go to a person"),
    "quality_audit_min_judged": (30,
        "Q1: audited records needed before a camera can be flagged"),
}

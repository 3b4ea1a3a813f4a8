"""Q1/Q3 arithmetic: audit sample sizes, Wilson intervals, flagging, persistence, thresholds by kind and day/night."""
import pytest

from fleetops.domain import quality as q


def test_sample_size_for_98_percent_within_1_point_is_about_750_and_night_about_460():
    assert q.sample_size(0.98, 0.01, 0.95) == 753
    assert q.sample_size(0.95, 0.02, 0.95) == 457
    assert q.sample_size(0.98, 0.01, 0.99) > 753  # more confidence, more samples


def test_z_for_95_percent_is_1_96():
    assert q.z_for(0.95) == pytest.approx(1.95996, abs=1e-4)
    assert q.z_for(0.99) == pytest.approx(2.5758, abs=1e-3)
    with pytest.raises(ValueError):
        q.z_for(1.2)


def test_wilson_interval_matches_the_textbook_values():
    low, high = q.wilson_interval(95, 100)
    assert low == pytest.approx(0.8882, abs=1e-4) and high == pytest.approx(0.9785, abs=1e-4)
    low, high = q.wilson_interval(740, 753)
    assert low < 740 / 753 < high and high - low < 0.02


def test_wilson_interval_edges():
    assert q.wilson_interval(0, 0) == (0.0, 1.0)
    assert q.wilson_interval(10, 10)[1] == 1.0 and q.wilson_interval(10, 10)[0] > 0.65
    assert q.wilson_interval(0, 10)[0] == 0.0
    with pytest.raises(ValueError):
        q.wilson_interval(11, 10)


def test_a_camera_is_flagged_only_when_the_whole_interval_is_below_target():
    # 90 % of 200: upper bound ≈ 93.5 % < 98 % → flagged.
    assert q.accuracy(180, 200, 0, 0.98).flagged
    # 97 % of 100: upper bound ≈ 99 % ≥ 98 % → not enough evidence to flag.
    assert not q.accuracy(97, 100, 0, 0.98).flagged
    # Too few audited records: never flagged.
    assert not q.accuracy(5, 10, 0, 0.98, min_judged=30).flagged


def test_quota_spreads_the_audit_over_the_month():
    assert q.quota_due(753, 0.0) == 0
    assert q.quota_due(753, 0.5) == 377
    assert q.quota_due(753, 1.0) == 753 and q.quota_due(753, 1.5) == 753


def test_one_bad_frame_does_not_persist_but_three_in_a_row_do():
    assert not q.persists([["blur"]], "blur", 3)
    assert not q.persists([["blur"], [], ["blur"]], "blur", 3)
    assert q.persists([["blur"], ["blur", "dark"], ["blur"]], "blur", 3)
    assert not q.persists([["blur"], ["blur"]], "blur", 3)


def test_night_darkness_is_a_fill_light_fault_and_by_day_an_exposure_fault():
    assert q.ticket_category("dark", "night") == "fill_light"
    assert q.ticket_category("dark", "day") == "exposure"
    assert q.ticket_category("overexposed", "night") == "strobe"
    assert q.ticket_category("blur", "day") == "image_blur"
    assert q.ticket_category("scene_shift", "night") == "aim"


def test_thresholds_layer_defaults_night_and_camera_kind():
    table = {"default": {"night": {"min_mean_luma": 30}}, "speed_camera": {"day": {"min_sharpness": 80}}}
    assert q.thresholds_for(table, "checkpoint_camera", "night")["min_mean_luma"] == 30
    assert q.thresholds_for(table, "speed_camera", "day")["min_sharpness"] == 80
    assert q.thresholds_for(table, "checkpoint_camera", "day")["min_sharpness"] == q.DEFAULT_THRESHOLDS["min_sharpness"]
    assert q.thresholds_for({}, "x", "night")["min_mean_luma"] == q.NIGHT_OVERRIDES["min_mean_luma"]


def _scores(**kw):
    base = {"sharpness": 300.0, "exposure": {"mean_luma": 110.0, "highlights_pct": 1.0, "shadows_pct": 1.0},
            "colour_cast": 3.0, "plates": [], "faces_visible": False}
    base.update(kw)
    return base


def test_frame_problems_name_each_fault():
    t = q.thresholds_for({}, "checkpoint_camera", "day")
    assert q.frame_problems(_scores(), t, "day") == []
    assert [k for k, _ in q.frame_problems(_scores(sharpness=5.0), t, "day")] == ["blur"]
    dark = q.frame_problems(_scores(sharpness=2.0, exposure={"mean_luma": 8, "highlights_pct": 0, "shadows_pct": 90}), t, "day")
    assert [k for k, _ in dark] == ["dark"]  # a dark frame is not also called blurred
    glare = q.frame_problems(_scores(exposure={"mean_luma": 150, "highlights_pct": 30, "shadows_pct": 0}), t, "day")
    assert [k for k, _ in glare] == ["overexposed"]
    assert [k for k, _ in q.frame_problems(_scores(), t, "day", frozen=True)] == ["frozen"]
    assert [k for k, _ in q.frame_problems(_scores(), t, "day", shift={"shift_pct": 20, "inlier_ratio": 0.9})] == ["scene_shift"]


def test_empty_road_is_not_a_plate_fault_but_an_illegible_plate_is():
    t = q.thresholds_for({}, "checkpoint_camera", "night")
    assert q.frame_problems(_scores(), t, "night") == []
    bad_plate = {"legible": False, "reasons": ["too_small", "blurred"]}
    problems = q.frame_problems(_scores(plates=[bad_plate]), t, "night")
    assert [k for k, _ in problems] == ["plate_illegible"]
    why = problems[0][1]  # the verdict's reason codes in words, kept as a Msg
    assert why.english() == "plate too small; plate blurred"
    assert q.plate_reasons_msg(["glare"]).english() == "glare on the plate"
    good_plate = {"legible": True, "reasons": []}
    assert [k for k, _ in q.frame_problems(_scores(plates=[good_plate]), t, "night")] == ["faces_not_visible"]
    assert q.frame_problems(_scores(plates=[good_plate]), q.thresholds_for({}, "x", "day"), "day") == []


def test_a_malformed_thresholds_parameter_falls_back_to_the_defaults():
    assert q.thresholds_for(["oops"], "x", "day") == q.DEFAULT_THRESHOLDS
    table = {"default": {"day": {"min_sharpness": "high", "no_such_key": 3, "min_mean_luma": 50}}, "x": 7}
    t = q.thresholds_for(table, "x", "day")
    assert t["min_sharpness"] == q.DEFAULT_THRESHOLDS["min_sharpness"] and t["min_mean_luma"] == 50
    assert "no_such_key" not in t

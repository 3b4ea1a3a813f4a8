"""The ticket state machine, the roadside checklist (T7) and the height gate (T8)."""
from datetime import date

import pytest

from fleetops.domain import tickets as t
from fleetops.domain.errors import IllegalTransition
from fleetops.platform.i18n import use_locale


def test_the_whole_happy_path_is_legal():
    state = "new"
    for action in ("dispatch", "depart", "arrive", "start_repair", "resolve", "verify", "close"):
        state = t.transition(state, action)
    assert state == "closed"


@pytest.mark.parametrize("state, action", [
    ("new", "resolve"), ("dispatched", "start_repair"), ("repairing", "close"),
    ("resolved", "close"), ("closed", "reopen"), ("cancelled", "dispatch"), ("verified", "cancel"),
])
def test_illegal_transitions_are_refused_with_a_message(state, action):
    with pytest.raises(IllegalTransition) as err:
        t.transition(state, action)
    assert "cannot" in err.value.msg.render("en") and "不能" in err.value.msg.render("zh")


def test_crew_can_check_in_without_pressing_set_off():
    assert t.transition("dispatched", "arrive") == "arrived"


def test_work_cannot_start_before_every_safety_step_is_ticked():
    with pytest.raises(t.ChecklistIncomplete, match="200"):
        t.require_checklist_complete([k for k in t.CHECKLIST_KEYS if k != "cone_200m"])
    t.require_checklist_complete(list(t.CHECKLIST_KEYS))


def test_unknown_checklist_item_is_refused():
    with use_locale("en"), pytest.raises(Exception, match="Unknown checklist"):
        t.validate_checklist_items(["vest", "helmet"])


def test_work_at_height_needs_a_certificate_valid_that_day():
    q = [t.Qualification("work_at_height", date(2025, 1, 1), date(2026, 5, 31))]
    t.require_qualified(q, True, date(2026, 5, 31), "张伟")
    with pytest.raises(t.NotQualified, match="2026-06-01"):
        t.require_qualified(q, True, date(2026, 6, 1), "张伟")
    with pytest.raises(t.NotQualified):
        t.require_qualified([t.Qualification("electrician", None, date(2030, 1, 1))], True, date(2026, 1, 1))
    t.require_qualified([], False, date(2026, 6, 1))  # ground-level work needs none

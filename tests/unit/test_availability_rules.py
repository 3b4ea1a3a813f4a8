"""Availability rules on hand-made observations (U2, U5, U6): debounce, coverage and gaps, flapping, hung, reboot."""
from datetime import datetime, timedelta, timezone

import pytest

from fleetops.domain import availability as av

T0 = datetime(2026, 6, 21, 13, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


def obs(pattern: str, start=T0, step=MIN):
    """'..xxx..' → ok, ok, failed ×3, ok, ok — one result per `step`."""
    return [av.Observation(start + i * step, ch == ".") for i, ch in enumerate(pattern)]


def test_one_lost_ping_does_not_open_an_outage():
    runs, state = av.debounce(obs("..x.."), 3)
    assert runs == [] and state.run_count == 0


def test_two_lost_pings_do_not_open_an_outage():
    runs, _ = av.debounce(obs("..xx.."), 3)
    assert runs == []


def test_three_lost_pings_open_an_outage_from_the_first_failure_to_the_first_success():
    runs, state = av.debounce(obs("..xxxx.."), 3)
    assert runs == [av.Run(start=T0 + 2 * MIN, detected_at=T0 + 4 * MIN, end=T0 + 6 * MIN)]
    assert state.run_count == 0


def test_an_outage_still_failing_is_open_and_continues_from_the_carried_state():
    runs, state = av.debounce(obs("..xxx"), 3)
    assert runs[0].end is None and state.in_run
    more, state2 = av.debounce(obs("xx.", start=T0 + 5 * MIN), 3, prior=state)
    assert more == [av.Run(T0 + 2 * MIN, T0 + 4 * MIN, T0 + 7 * MIN)] and not state2.in_run


def test_a_pending_run_counts_on_across_batches():
    _, state = av.debounce(obs(".xx"), 3)
    runs, _ = av.debounce(obs("x", start=T0 + 3 * MIN), 3, prior=state)
    assert runs == [av.Run(T0 + MIN, T0 + 3 * MIN, None)]


def test_coverage_is_down_during_the_outage_and_up_around_it():
    o = obs("..xxx..")
    runs, _ = av.debounce(o, 3)
    ivs = av.coverage(o, runs, 2 * MIN)
    assert [(i.state, i.start, i.end) for i in ivs] == [
        ("up", T0, T0 + 2 * MIN), ("down", T0 + 2 * MIN, T0 + 5 * MIN), ("up", T0 + 5 * MIN, T0 + 8 * MIN)]


def test_a_gap_longer_than_two_poll_intervals_is_unknown():
    o = [av.Observation(T0, True), av.Observation(T0 + 10 * MIN, True)]
    ivs = av.coverage(o, [], 2 * MIN)
    assert [(i.start, i.end) for i in ivs] == [(T0, T0 + 2 * MIN), (T0 + 10 * MIN, T0 + 12 * MIN)]


def test_short_failure_runs_count_as_up():
    o = obs(".xx.")
    ivs = av.coverage(o, av.debounce(o, 3)[0], 2 * MIN)
    assert [(i.state, i.start, i.end) for i in ivs] == [("up", T0, T0 + 5 * MIN)]


def test_flapping_is_many_changes_in_one_window_even_without_an_outage():
    o = obs(".x.x.x.x", start=datetime(2026, 6, 21, 13, 0, tzinfo=timezone.utc))
    assert av.debounce(o, 3)[0] == []
    found = av.flap_times(o, bucket_s=1800, threshold=6)
    assert list(found.values()) == [T0 + 6 * MIN]


def test_a_few_changes_are_not_flapping():
    assert av.flap_times(obs(".x.x."), 1800, 6) == {}


def test_hung_is_snmp_silent_while_the_device_answers_ping():
    runs, state = av.hung_runs(obs(".xxxx."), obs("......"), 3, MIN)
    assert runs == [av.Run(T0 + MIN, T0 + 3 * MIN, T0 + 5 * MIN)] and not state.in_run


def test_snmp_silent_during_an_outage_is_not_hung():
    runs, state = av.hung_runs(obs(".xxxx."), obs(".xxxx."), 3, MIN)
    assert runs == [] and state.run_count == 0


def test_a_dying_device_is_never_reported_hung():
    """The live-demo camera: ping ok at 12:55:31 then failing; SNMP failing from 12:55:31. While ping was still
    debouncing (failing, not yet down) the device must not count as "answers ping"."""
    t = datetime(2026, 11, 23, 12, 55, 31, tzinfo=timezone.utc)
    ping, snmp = obs(".xxx", start=t), obs("xxxx", start=t)
    for n in range(1, len(snmp) + 1):  # at every step of the replay, not only at the end
        runs, state = av.hung_runs(snmp[:n], ping[:n], 3, MIN)
        assert runs == [] and not state.in_run
    assert av.debounce(ping, 3)[0] == [av.Run(t + MIN, t + 3 * MIN)]  # … and it is reported down


def test_hung_needs_the_ping_of_the_same_poll_not_an_older_success():
    snmp = obs("xxx", start=T0 + timedelta(seconds=2))
    assert av.hung_runs(snmp, obs("..."), 3, MIN)[0] == [av.Run(snmp[0].at, snmp[2].at)]  # ± a few seconds
    assert av.hung_runs(snmp, obs("."), 3, MIN)[0] == []  # the ping of 2 min ago says nothing
    assert av.hung_runs(snmp, [], 3, MIN)[0] == []  # no ping result: unknown, not hung
    assert av.hung_runs(snmp, obs("..x"), 3, MIN)[0] == []


def test_a_ping_slightly_older_than_the_snmp_result_pairs_with_it():
    ping = obs("...", start=T0 - timedelta(seconds=20))
    assert av.same_poll_ping(ping, T0, MIN) == ping[0]  # 20 s older; the next one is 40 s in the future
    assert av.same_poll_ping(ping, T0 + MIN + timedelta(seconds=50), MIN) == ping[2]
    assert av.same_poll_ping(ping, T0 + 4 * MIN, MIN) is None
    assert av.same_poll_ping([av.Observation(T0 - timedelta(seconds=3), True),
                              av.Observation(T0 + timedelta(seconds=3), False)], T0, MIN).ok is False


def test_the_hung_counter_continues_across_batches_and_ends_when_snmp_answers():
    ping = obs("......")
    _, state = av.hung_runs(obs(".xx"), ping, 3, MIN)
    assert state.run_count == 2 and not state.in_run
    runs, state = av.hung_runs(obs("x", start=T0 + 3 * MIN), ping, 3, MIN, prior=state)
    assert runs == [av.Run(T0 + MIN, T0 + 3 * MIN)] and state.in_run
    runs, state = av.hung_runs(obs("x.", start=T0 + 4 * MIN), ping, 3, MIN, prior=state)
    assert runs == [av.Run(T0 + MIN, T0 + 3 * MIN, T0 + 5 * MIN)] and not state.in_run


def _up(at, uptime_s):
    return av.Observation(at, True, uptime_s)


def test_uptime_counter_going_back_is_a_reboot():
    o = [_up(T0, 10_000), _up(T0 + MIN, 10_060), _up(T0 + 2 * MIN, 25)]
    found = av.reboots(o)
    assert [r.at for r in found] == [T0 + 2 * MIN]
    assert found[0].booted_at == T0 + 2 * MIN - timedelta(seconds=25)


def test_counter_wrap_after_497_days_is_not_a_reboot():
    wrap = av.TIMETICKS_WRAP_S
    o = [_up(T0, wrap - 30), _up(T0 + MIN, 30)]
    assert av.reboots(o) == []


def test_reboot_just_after_a_wrap_is_still_noticed():
    wrap = av.TIMETICKS_WRAP_S
    o = [_up(T0, wrap - 30), _up(T0 + 10 * MIN, 5)]
    assert len(av.reboots(o)) == 1


def test_reboot_during_a_monitoring_gap_is_noticed():
    o = [_up(T0, 500), _up(T0 + timedelta(hours=3), 3600)]  # counter is higher, but it booted 2 h after
    assert len(av.reboots(o)) == 1


def _site_outage(key, device, minute, infra=False, end=None):
    return av.SiteOutage(key, device, T0 + minute * MIN, end, infra)


def test_a_switch_down_with_its_cameras_is_one_site_incident():
    outs = [_site_outage("sw", 1, 0, infra=True), _site_outage("c1", 2, 0), _site_outage("c2", 3, 1)]
    found = av.site_incidents(outs, devices_at_site=6, window=2 * MIN)
    assert len(found) == 1 and sorted(found[0].members) == ["c1", "c2", "sw"]


def test_most_devices_of_a_site_down_together_is_one_incident():
    outs = [_site_outage(k, i, 0) for i, k in enumerate(["a", "b", "c"])]
    assert len(av.site_incidents(outs, devices_at_site=4, window=2 * MIN)) == 1


def test_two_of_five_cameras_down_is_not_a_site_incident():
    outs = [_site_outage("a", 1, 0), _site_outage("b", 2, 0)]
    assert av.site_incidents(outs, devices_at_site=5, window=2 * MIN) == []


def test_devices_failing_far_apart_are_not_together():
    outs = [_site_outage("a", 1, 0), _site_outage("b", 2, 30), _site_outage("c", 3, 60)]
    assert av.site_incidents(outs, devices_at_site=4, window=2 * MIN) == []


def test_site_incident_ends_when_the_last_member_recovers():
    outs = [_site_outage("a", 1, 0, end=T0 + 10 * MIN), _site_outage("b", 2, 0, end=T0 + 12 * MIN)]
    found = av.site_incidents(outs, devices_at_site=2, window=2 * MIN)
    assert found[0].end == T0 + 12 * MIN


def test_debounce_needs_a_positive_threshold():
    with pytest.raises(ValueError):
        av.debounce([], 0)

"""U3 uptime arithmetic, hand-computed to the second: raw vs contractual, gaps, month boundary, installed mid-period."""
from datetime import datetime, timedelta, timezone

from fleetops.domain.uptime import Figures, figures

UTC = timezone.utc
H = timedelta(hours=1)


def d(*args):
    return datetime(*args, tzinfo=UTC)


JUNE = (d(2026, 6, 1), d(2026, 7, 1))  # 30 days = 2,592,000 s


def test_raw_and_contractual_figures_to_the_second():
    # up all month except a 3 h device fault and a 5 h power cut; 1 h no data.
    ivs = [
        (d(2026, 6, 1), d(2026, 6, 10), "up", False),
        (d(2026, 6, 10), d(2026, 6, 10, 3), "down", False),
        (d(2026, 6, 10, 3), d(2026, 6, 20), "up", False),
        (d(2026, 6, 20), d(2026, 6, 20, 5), "down", True),
        (d(2026, 6, 20, 5), d(2026, 6, 30, 23), "up", False),
    ]
    f = figures(JUNE, (None, None), ivs)
    assert f.in_service_s == 2_592_000
    assert f.down_s == 8 * 3600 and f.excluded_s == 5 * 3600
    assert f.unknown_s == 3600
    assert f.up_s == 2_592_000 - 8 * 3600 - 3600
    assert f.raw_pct == 100 * f.up_s / (2_592_000 - 3600)
    assert f.contractual_pct == 100 * f.up_s / (2_592_000 - 3600 - 5 * 3600)
    assert f.contractual_pct > f.raw_pct


def test_an_outage_across_a_month_boundary_is_split_to_the_second():
    ivs = [(d(2026, 6, 30, 22, 30), d(2026, 7, 1, 1, 15), "down", False)]
    june = figures(JUNE, (None, None), ivs)
    july = figures((d(2026, 7, 1), d(2026, 8, 1)), (None, None), ivs)
    assert june.down_s == 5400 and july.down_s == 4500


def test_a_device_installed_mid_period_counts_from_its_in_service_time():
    ivs = [(d(2026, 6, 16, 8), d(2026, 7, 1), "up", False)]
    f = figures(JUNE, (d(2026, 6, 16, 8), None), ivs)
    assert f.in_service_s == (d(2026, 7, 1) - d(2026, 6, 16, 8)).total_seconds()
    assert f.unknown_s == 0 and f.raw_pct == 100.0


def test_nothing_measured_is_no_figure_not_100_percent():
    f = figures(JUNE, (None, None), [])
    assert f.raw_pct is None and f.unknown_s == 2_592_000


def test_figures_add_up_over_devices():
    a, b = Figures(100, 90, 10, 0), Figures(100, 50, 50, 50)
    total = a + b
    assert total.raw_pct == 70.0 and total.contractual_pct == 140 / 150 * 100

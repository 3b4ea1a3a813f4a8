"""This area's scheduled jobs (listed in fleetops.wiring.JOBS); each takes a `JobContext`."""
import logging

from fleetops.platform.jobs import JobContext
from fleetops.services.monitoring.poll import poll_once
from fleetops.services.monitoring.settings import IngestConfig
from fleetops.services.monitoring.upkeep import prune_results, sample_online_rate

log = logging.getLogger(__name__)


def job_poll(ctx: JobContext) -> None:
    poll_once(ctx)


def job_online_rate(ctx: JobContext) -> None:
    with ctx.session() as s:
        sample = sample_online_rate(s, IngestConfig.from_app_config(ctx.config))
        if sample is None:  # no device reported within a poll's cover: the poller is silent, a gap in the chart
            log.info("job=online_rate skipped=poller_silent")
        else:
            log.info("job=online_rate in_service=%d online=%d", sample.in_service, sample.online)


def job_prune_results(ctx: JobContext) -> None:
    with ctx.session() as s:
        n = prune_results(s, int(ctx.config.get("RESULT_RETENTION_DAYS", 30)))
    log.info("job=prune_results deleted=%d", n)


def job_uptime_rollup(ctx: JobContext) -> None:
    """Issue 14: roll closed days up for the uptime reports (services/monitoring/rollup.py); a day a late change
    touched is rolled up again. At most a month of days per run, so a first run on a long history is spread out."""
    from fleetops.services.monitoring.rollup import roll_up

    with ctx.session() as s:
        run = roll_up(s, max_days=31)
    log.info("job=uptime_rollup days=%d rows=%d", run.days, run.rows)

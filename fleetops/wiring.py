"""The one place that says what runs: parameter defaults, event subscriptions, scheduled jobs,
web blueprints and menu entries, API modules, and CLI commands — as plain imports and lists.

Nothing registers itself by being imported. `wire()` connects it all (idempotent); `create_app` and the
`fleetops` command call it. `tests/test_wiring.py` fails when a subscriber, job or command exists that
is not listed here. To add one, see "How to add …" in ARCHITECTURE.md.
"""
from __future__ import annotations

from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from fleetops.agent import command as agent_command
from fleetops.cli import agents as cli_agents
from fleetops.cli import alerts as cli_alerts
from fleetops.cli import inspections as cli_inspections
from fleetops.cli import core as cli_core
from fleetops.cli import discovery as cli_discovery
from fleetops.cli import inventory as cli_inventory
from fleetops.cli import maintenance as cli_maintenance
from fleetops.cli import main as cli_root
from fleetops.cli import monitoring as cli_monitoring
from fleetops.cli import quality as cli_quality
from fleetops.cli import reports as cli_reports
from fleetops.cli import run as cli_run
from fleetops.cli import simulator as cli_simulator
from fleetops.cli import tickets as cli_tickets
from fleetops.platform import events, i18n, netpolicy, parameters
from fleetops.platform.jobs import Job
from fleetops.services import alerts, discovery, fault_reports, inspections, maintenance, monitoring, quality, reports, spares, tickets
from fleetops.services.alerts import outbox as alerts_outbox
from fleetops.services.alerts import repeats as alerts_repeats
from fleetops.services.alerts import subscribers as alerts_on
from fleetops.services import platforms
from fleetops.services.inventory import certificates as inventory_certificates
from fleetops.services.inventory import import_jobs as inventory_import_jobs
from fleetops.services.inventory import service_periods as inventory_service_periods
from fleetops.services.monitoring import detectors as monitoring_detectors
from fleetops.services.monitoring import exclusions as monitoring_exclusions
from fleetops.services.monitoring import jobs as monitoring_jobs
from fleetops.services.inventory import metrology as records_metrology
from fleetops.services.spares import replacement as records_replacement
from fleetops.web import admin as web_admin
from fleetops.web import agents as web_agents
from fleetops.web import alerts as web_alerts
from fleetops.web import auth as web_auth
from fleetops.web import discovery as web_discovery
from fleetops.web import exclusions as web_exclusions
from fleetops.web import fault_reports as web_fault_reports
from fleetops.web import inspections as web_inspections
from fleetops.web import inventory as web_inventory
from fleetops.web import maintenance as web_maintenance
from fleetops.web import map as web_map
from fleetops.web import monitoring as web_monitoring
from fleetops.web import nav
from fleetops.web import public as web_public
from fleetops.web import quality as web_quality
from fleetops.web import records as web_records
from fleetops.web import reports as web_reports
from fleetops.web import spares as web_spares
from fleetops.web import tickets as web_tickets
from fleetops.web import traps as web_traps
from fleetops.web.api import agents as api_agents  # noqa: F401 - each adds its routes to the api blueprint
from fleetops.web.api import alerts as api_alerts  # noqa: F401
from fleetops.web.api import bp as api_bp
from fleetops.web.api import geo as api_geo  # noqa: F401 - issue 13: /sites.geojson
from fleetops.web.api import inventory as api_inventory  # noqa: F401
from fleetops.web.api import maintenance as api_maintenance  # noqa: F401
from fleetops.web.api import monitoring as api_monitoring  # noqa: F401
from fleetops.web.api import quality as api_quality  # noqa: F401
from fleetops.web.api import reports as api_reports  # noqa: F401
from fleetops.web.api import spares as api_spares  # noqa: F401
from fleetops.web.api import tickets as api_tickets  # noqa: F401

# ---------------------------------------------------------------- contract numbers (defaults)
PARAMETER_DEFAULTS: tuple[dict, ...] = (
    monitoring.PARAMETERS,
    tickets.PARAMETERS,
    quality.PARAMETERS,
    alerts.PARAMETERS,
    monitoring_detectors.PARAMETERS,
    inventory_certificates.PARAMETERS,
    reports.PARAMETERS,
    netpolicy.PARAMETERS,
    fault_reports.PARAMETERS,
    discovery.PARAMETERS,
)

# ---------------------------------------------------------------- events → subscribers
# Order matters where it is listed: tickets open before alerts look for the ticket; a maintenance window holds
# and classifies an outage (or a site blackout) BEFORE tickets and alerts see it (they ask whether it is held).
SUBSCRIPTIONS: tuple[tuple[str, object], ...] = (
    ("outage_opened", maintenance.on_outage_opened),
    ("site_incident_opened", maintenance.on_site_incident_opened),
    ("outage_closed", maintenance.on_outage_closed),
    ("outage_opened", tickets.on_outage_opened),
    ("outage_opened", alerts_on.on_outage_opened),
    ("outage_closed", tickets.on_outage_closed),
    ("outage_closed", alerts_on.on_outage_closed),
    ("site_incident_opened", tickets.on_site_incident_opened),
    ("site_incident_opened", alerts_on.on_site_incident_opened),
    ("site_incident_closed", tickets.on_site_incident_closed),
    ("site_incident_closed", alerts_on.on_site_incident_closed),
    ("outage_cause_set", alerts_on.on_outage_cause_set),
    ("device_rebooted", alerts_on.on_device_rebooted),
    ("device_flapping", alerts_on.on_device_flapping),
    ("device_hung", alerts_on.on_device_hung),
    ("stock_below_minimum", alerts_on.on_stock_below_minimum),
    ("quality_finding_opened", alerts_on.on_quality_finding_opened),
    ("quality_finding_cleared", alerts_on.on_quality_finding_cleared),
    ("plate_accuracy_below_target", alerts_on.on_plate_accuracy_below_target),
    ("deadline_approaching", alerts_on.on_deadline_approaching),
    ("deadline_breached", alerts_on.on_deadline_breached),
    ("penalty_threshold_approaching", alerts_on.on_penalty_threshold_approaching),
    ("penalty_threshold_crossed", alerts_on.on_penalty_threshold_crossed),
    ("cabinet_mains_lost", monitoring_exclusions.on_cabinet_mains_lost),
    ("ticket_transitioned", alerts_on.on_ticket_transitioned),
    ("probe_agent_silent", alerts_on.on_probe_agent_silent),
    ("probe_agent_back", alerts_on.on_probe_agent_back),
    ("no_data_found", monitoring_detectors.on_no_data_found),  # tickets' reaction, kept there until tickets takes it
    ("inspection_overdue", alerts_on.on_inspection_overdue),  # P3
    ("maintenance_window_started", alerts_on.on_maintenance_window_started),
    ("maintenance_window_ended", alerts_on.on_maintenance_window_ended),
)

# ---------------------------------------------------------------- flush hooks (every ORM session)
# A device's in-service periods follow its lifecycle whoever writes it (form, API, import, retire, demo).
FLUSH_HOOKS: tuple[object, ...] = (inventory_service_periods.before_flush,)

# ---------------------------------------------------------------- commit hooks (every ORM session)
# A maintenance window's hold ends with the first result after the window ("the next poll"), whoever stored it.
COMMIT_HOOKS: tuple[object, ...] = (maintenance.before_commit,)

# ---------------------------------------------------------------- ticket verifiers (T6), by ticket category
# A quality ticket verifies only on a good snapshot after the repair.
TICKET_VERIFIERS: tuple[tuple[str, object], ...] = tuple(
    (category, quality.verify_with_snapshot) for category in quality.TICKET_CATEGORIES)

# ---------------------------------------------------------------- scheduled jobs (one scheduler process)
JOBS: tuple[Job, ...] = (
    Job("poll", monitoring_jobs.job_poll, 60, "POLL_INTERVAL_S"),
    Job("online_rate", monitoring_jobs.job_online_rate, 300, "ONLINE_RATE_SAMPLE_S"),
    Job("prune_results", monitoring_jobs.job_prune_results, 3600),
    Job("uptime_rollup", monitoring_jobs.job_uptime_rollup, 600),  # issue 14: closed days for the uptime reports
    Job("ticket_deadlines", tickets.job_deadlines, 60),
    Job("ticket_verify", tickets.job_verify, 60),
    Job("penalty_threshold", tickets.job_penalty_threshold, 3600),
    Job("stock_minimum", spares.job_stock_minimum, 86400),
    Job("quality_sample", quality.job_sample, 60),
    Job("quality_accuracy", quality.job_accuracy, 900),
    Job("quality_prune_images", quality.job_prune_images, 3600),
    Job("alerts_deliver", alerts_outbox.job_deliver, 10, "ALERT_DELIVER_INTERVAL_S"),
    Job("alerts_repeat", alerts_repeats.job_repeat, 60),
    Job("alerts_no_data", monitoring_detectors.job_no_data, 300),
    Job("alerts_probe_silence", monitoring_detectors.job_probe_silence, 60),
    Job("alerts_certificates", inventory_certificates.job_certificates, 3600),
    Job("inventory_imports", inventory_import_jobs.job_import_files, 5),
    Job("inspections", inspections.job_inspections, 600),  # P3: the period's orders, overdue alerts
    Job("maintenance_windows", maintenance.job_windows, 60, "POLL_INTERVAL_S"),  # ends noticed on the next poll
    Job("discovery", discovery.job_discovery, 30),
    Job("platform_pull", platforms.job_platform_pull, 60),  # U7: each connector pulls on its own interval
)

# ---------------------------------------------------------------- web: blueprints and menu entries
BLUEPRINTS = (
    web_auth.bp, web_admin.bp, web_inventory.bp, web_monitoring.bp, web_tickets.bp, web_spares.bp,
    web_quality.bp, web_alerts.bp, web_reports.bp, web_exclusions.bp, api_bp,
    web_map.bp,  # issue 13: map, wall screen, display tokens
    web_inspections.bp,
    web_maintenance.bp, web_public.bp, web_fault_reports.bp,
    web_discovery.bp, web_traps.bp,
    web_agents.bp,
    web_records.bp,  # issue 12: metrology records, replacements, platform connectors
)
NAV = (
    *web_monitoring.NAV, *web_tickets.NAV, *web_inventory.NAV, *web_spares.NAV, *web_quality.NAV,
    *web_alerts.NAV, *web_reports.NAV, *web_exclusions.NAV, *web_admin.NAV,
    *web_map.NAV,  # issue 13
    *web_inspections.NAV,
    *web_maintenance.NAV, *web_fault_reports.NAV,
    *web_discovery.NAV, *web_traps.NAV,
    *web_agents.NAV,
    *web_records.NAV,  # issue 12
)

# ---------------------------------------------------------------- panels other areas add to the device page
DEVICE_PANELS = (
    web_inventory.DevicePanel("inspections/_device_panel.html", context=inspections.device_panel),  # P3
    web_inventory.DevicePanel("spares/replacement_chain.html", context=records_replacement.device_chain_panel),  # S2, T4
    web_inventory.DevicePanel("inventory/certificates_device_panel.html", context=records_metrology.device_evidence_panel),  # F5
)

# ---------------------------------------------------------------- the `fleetops` command
CLI_COMMANDS = (
    cli_core.db, cli_core.create_user, cli_core.create_token, cli_core.rotate_secret_key,
    cli_run.run, cli_run.scheduler_cmd, cli_run.set_password,
    cli_inventory.import_inventory_cmd, cli_inventory.export_inventory_cmd, cli_inventory.load_demo_cmd,
    cli_monitoring.ingest_results_cmd, cli_monitoring.uptime_cmd, cli_monitoring.poll_once_cmd,
    cli_tickets.tickets_cmd, cli_tickets.ticket_deadlines_cmd, cli_tickets.stock_cmd,
    cli_tickets.add_qualification_cmd,
    cli_quality.score_image, cli_quality.sample_snapshots, cli_quality.import_passes,
    cli_alerts.alerts_group, cli_reports.report_group,
    cli_simulator.simulate, cli_simulator.fault,
    cli_inspections.inspections_group,
    cli_maintenance.maintenance_group,
    cli_discovery.discover_cmd, cli_discovery.traps_cmd, cli_discovery.trap_list_cmd,
    cli_agents.create_agent_cmd, cli_agents.list_agents_cmd, cli_agents.revoke_agent_cmd, agent_command.agent_cmd,
)

_wired = False


def wire() -> None:
    """Connect everything above (idempotent): translations, defaults, subscribers, verifiers, menu, CLI commands."""
    global _wired
    if _wired:
        return
    i18n.install()
    for defaults in PARAMETER_DEFAULTS:
        parameters.register_defaults(defaults)
    for event, handler in SUBSCRIPTIONS:
        events.connect(event, handler)
    for hook in FLUSH_HOOKS:
        if not orm_event.contains(Session, "before_flush", hook):
            orm_event.listen(Session, "before_flush", hook)
    for hook in COMMIT_HOOKS:
        if not orm_event.contains(Session, "before_commit", hook):
            orm_event.listen(Session, "before_commit", hook)
    for category, verifier in TICKET_VERIFIERS:
        tickets.register_verifier(category, verifier)
    for item in NAV:
        nav.register(item)
    for panel in DEVICE_PANELS:
        if panel not in web_inventory.DEVICE_PANELS:
            web_inventory.DEVICE_PANELS.append(panel)
    for command in CLI_COMMANDS:
        cli_root.add_command(command)
    _wired = True


def init_app(app) -> None:
    """Called by create_app: wire, then register the blueprints and hand the scheduler its jobs."""
    wire()
    for bp in BLUEPRINTS:
        if bp.name not in app.blueprints:
            app.register_blueprint(bp)
    app.extensions["fleetops.jobs"] = JOBS


def cli() -> None:
    """The `fleetops` console script."""
    wire()
    cli_root()

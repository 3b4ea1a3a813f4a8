"""Inspections and preventive maintenance (P1–P3): plans as data, orders generated on time (one per device, plan
and period, each with its ticket of category routine_inspection), the crew's route and checklist, findings that
become fault tickets, overdue alerts, and the proof in the monthly report and on the device page.

Modules: plans (presets, create/edit, audited), generate (the period's orders, exactly once), complete (the crew's
checklist, findings → fault tickets), overdue (announced once: event inspection_overdue), queries (route, overview,
device panel, month), report (monthly sections), jobs (job_inspections). This file re-exports the public functions.
"""
from fleetops.services.inspections.complete import check_answers, complete_order, get_order, order_items  # noqa: F401
from fleetops.services.inspections.generate import CATEGORY, devices_in_scope, generate_due  # noqa: F401
from fleetops.services.inspections.jobs import job_inspections  # noqa: F401
from fleetops.services.inspections.overdue import check_overdue  # noqa: F401
from fleetops.services.inspections.plans import (  # noqa: F401
    create_plan, get_plan, list_plans, load_preset, plan_dict, update_plan,
)
from fleetops.services.inspections.queries import (  # noqa: F401
    device_panel, last_of_device, month_orders, my_route, order_for, order_of_ticket, overdue_orders, overview,
)
from fleetops.services.inspections.report import figures as month_figures  # noqa: F401
from fleetops.services.inspections.report import sections as report_sections  # noqa: F401

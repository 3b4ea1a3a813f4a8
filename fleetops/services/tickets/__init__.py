"""Tickets: the crew's work from opening to close, with its clocks, breaches and penalties.

Modules: policies (SLA-policy data, T5), history_log (the history line and one state-machine step), lifecycle
(open … resolve, reopen, cancel, notes), verification (T6, verifiers, auto-verify job), crew (qualifications T8,
auto-dispatch), photos (T7), deadlines (T2/T3 clocks, A1 warnings and breaches, deadline job), penalties (T9),
subscribers (the monitoring events, wired in fleetops.wiring), queries (reading, and the look-ups entry points
need). This file only re-exports the public functions so `tickets.open_ticket(...)` keeps working.

Events emitted (besides ticket_opened / ticket_transitioned): deadline_approaching(ticket_id, which, due_at)
and deadline_breached(ticket_id, which, due_at), where `which` is respond, arrive or repair.
"""
from fleetops.domain import tickets as rules  # noqa: F401 - callers use tickets.rules.CHECKLIST_KEYS
from fleetops.domain.errors import DuplicateRequest  # noqa: F401 - the error a resent request raises
from fleetops.services.tickets.crew import (  # noqa: F401
    add_qualification, after_photo_problem, checklist_complete, list_qualifications, part_choices, qualifications_of,
)
from fleetops.services.tickets.deadlines import check_deadlines, job_deadlines  # noqa: F401
from fleetops.services.tickets.history_log import log_event  # noqa: F401
from fleetops.services.tickets.lifecycle import (  # noqa: F401
    add_note, cancel, cannot_repair_on_site, close, complete_inspection, depart, dispatch, open_planned_work, open_ticket,
    record_arrival, reopen, resolve, start_repair, tick_checklist,
)
from fleetops.services.tickets.penalties import (  # noqa: F401
    NOT_TO_SPEC_KINDS, check_penalty_threshold, job_penalty_threshold, penalty_estimate, penalty_json,
)
from fleetops.services.tickets.photos import add_photo, link_photo, photo_file  # noqa: F401
from fleetops.services.tickets.policies import (  # noqa: F401
    FORM_GROUPS, ensure_presets, list_policies, policy_form_values, save_policy, save_policy_form,
)
from fleetops.services.tickets.queries import (  # noqa: F401
    audit_rows, breaches_of, crew_members, detail_page, districts, find_target, get_ticket, history, history_rows, is_overdue,
    list_tickets, may_act, my_tickets, next_action, ticket_row, user_id_by_name,
)
from fleetops.services.tickets.queries import my_tickets_page, ticket_list_page  # noqa: F401

from fleetops.services.tickets.subscribers import (  # noqa: F401
    on_outage_closed, on_outage_opened, on_site_incident_closed, on_site_incident_opened,
)
from fleetops.services.tickets.verification import (  # noqa: F401
    VERIFIERS, auto_verify, job_verify, register_verifier, verification_problems, verify,
)

# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
PARAMETERS = {
    "ticket_verify_up_minutes": (10,
        "T6: minutes a device must stay online before its ticket verifies"),
    "ticket_road_factor": (1.3,
        "T2: road distance = great-circle distance from the depot × this factor"),
    "ticket_warn_before_minutes": (30,
        "A1: warn this many minutes before a ticket deadline"),
    "ticket_repairs_before_replacement": (2,
        "T4: consecutive repairs of the same fault after which the device must be replaced"),
    "ticket_auto_close_on_verify": (True,
        "T6: close a ticket as soon as it verifies"),
    "contract_total_yuan": (0,
        "T9: the contract total the penalty rates apply to (yuan); penalties show no amount until it is set"),
    "party_share_yuan": (0,
        "T9: the party's share of the contract total (yuan), the basis of a policy that charges on it"),
    "contract_start_date": ("",
        "P4: the first day of the contract (YYYY-MM-DD); cumulative penalties count from it"),
    "penalty_daily_pct": (0.5,
        "T9: % of the contract total per day late (for an SLA policy without its own penalty rules)"),
    "penalty_not_to_spec_pct": (5,
        "T9: % of the contract total for service not to spec (for an SLA policy without its own penalty rules)"),
    "photo_keep_location": (False,
        "T7: keep EXIF location in ticket photos"),
    "photo_max_mb": (10,
        "T7: largest photo accepted from the tablet (MB)"),
}

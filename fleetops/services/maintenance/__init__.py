"""Maintenance windows (U3, A1, P4): planned power cuts, works and relocations that hold outages from tickets and
alerts and classify them with the window's cause. See windows.py (entering, reading) and holds.py (the events)."""
from fleetops.services.maintenance.holds import (  # noqa: F401
    before_commit, held_incidents, is_held_incident, is_held_outage, job_windows, on_outage_closed, on_outage_opened,
    on_site_incident_opened, release, release_observed, tick,
)
from fleetops.services.maintenance.windows import (  # noqa: F401
    apply_after_the_fact, attachment_file, cancel_window, cause_label, create_window, get_window, held_outages,
    active_windows, list_windows, reject_after_the_fact, scope_items, scope_text, window_dict, window_for_device,
    window_for_site,
)

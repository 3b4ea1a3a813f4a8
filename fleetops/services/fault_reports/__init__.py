"""Report a fault from the pole (T1, T7): QR labels per site (labels.py) and the public fault report with the
supervisor's triage queue (reports.py)."""
from fleetops.services.fault_reports.labels import (  # noqa: F401
    check_base_url, device_for_code, device_url, qr_svg, site_labels,
)
from fleetops.services.fault_reports.reports import (  # noqa: F401
    PARAMETERS, client_hash, dismiss, get_report, list_reports, make_ticket, new_count, photo_file, submit_report,
    ticket_photo,
)

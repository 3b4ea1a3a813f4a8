"""Alerts (A1): events → deduplicated, grouped, routed alerts; the delivery outbox and its worker; channels.

    raising.py      raise / dedupe / resolve / acknowledge; the area's contract numbers (PARAMETERS)
    routing.py      which routes and people an alert reaches; writing the outbox rows
    messages.py     an alert in words, in the reader's language (Chinese by default)
    subscribers.py  the on_* event handlers (wired in fleetops.wiring)
    repeats.py      repeats and escalations (job alerts_repeat)
    outbox.py       the delivery worker, retries, resending, test messages (job alerts_deliver)
    config.py       channel, routing-rule and notification-preference edits (audited)
    queries.py      reads for pages, API and CLI
    channels/       one sender per channel kind and their registry

Detectors that raise alerts live with what they watch: services/monitoring/detectors.py (U7 "online but no
data", silent probe agents) and services/inventory/certificates.py (F5 metrology certificates).
Events emitted: alert_raised(alert_id, key, kind), alert_resolved(alert_id, key, kind).
"""
from fleetops.domain.alerts import SEVERITIES  # noqa: F401
from fleetops.services.alerts.channels import (  # noqa: F401
    CHANNEL_DEFAULTS, CHANNEL_KINDS, PLAIN_FIELDS, SECRET_FIELDS, ChannelError, dingtalk_sign, scrub, send,
)
from fleetops.services.alerts.config import (  # noqa: F401
    add_channel, delete_channel, delete_route, preference_of, save_channel, save_preference, save_route,
)
from fleetops.services.alerts.outbox import (  # noqa: F401
    backoff_s, deliver_due, retry_delivery, send_test_message,
)
from fleetops.services.alerts.queries import (  # noqa: F401
    alert_dict, alert_page, attempts_of, can_see, channel, channel_view, channel_views, delivery_dicts,
    delivery_log, delivery_log_with_attempts, latest_alerts, routes, visible_alert, visible_alerts,
)
from fleetops.services.alerts.raising import (  # noqa: F401
    PARAMETERS, acknowledge, get_open, link_ticket, raise_alert, raise_alerts, resolve, resolve_by_hand, resolve_key,
)
from fleetops.services.alerts.repeats import repeat_and_escalate  # noqa: F401

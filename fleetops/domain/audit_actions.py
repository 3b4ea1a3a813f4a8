"""What an audit row's action code means to a person (A3): a msgid per code, so the audit trail never shows a raw
code such as `ticket_photo_added`. Codes built from a prefix (ticket_<action>, stock_<kind>) reuse the ticket
action and stock movement labels. Chinese in translations/zh/ux.po (msgctxt "AuditAction")."""
from __future__ import annotations

from fleetops.domain.text import N_, Msg

CONTEXT = "AuditAction"
AUDIT_ACTION_LABELS = {
    "alert_acknowledged": N_("Alert acknowledged"),
    "alert_channel_saved": N_("Alert channel saved"),
    "alert_channel_deleted": N_("Alert channel deleted"),
    "alert_delivery_retried": N_("Alert delivery retried"),
    "alert_resolved": N_("Alert resolved"),
    "alert_route_added": N_("Alert route added"),
    "alert_route_deleted": N_("Alert route deleted"),
    "demo_fleet_loaded": N_("Demo fleet loaded"),
    "device_created": N_("Device created"),
    "device_ports_simulated": N_("Device ports set for the simulator"),
    "device_retired": N_("Device retired"),
    "device_updated": N_("Device changed"),
    "exclusion_requested": N_("Exclusion requested"),
    "exclusion_approved": N_("Exclusion approved"),
    "exclusion_rejected": N_("Exclusion rejected"),
    "inventory_imported": N_("Inventory imported"),
    "notification_preference_saved": N_("Notification preference saved"),
    "outage_cause_set": N_("Outage cause set"),
    "parameter_changed": N_("Contract parameter changed"),
    "part_minimum_changed": N_("Minimum stock changed"),
    "part_type_created": N_("Part type created"),
    "password_changed": N_("Password changed"),
    "password_reset": N_("Password reset by an administrator"),
    "plate_audit_reviewed": N_("Plate audit reviewed"),
    "qualification_added": N_("Qualification added"),
    "quality_finding_cleared": N_("Image finding cleared"),
    "quality_finding_opened": N_("Image finding opened"),
    "quality_reference_set": N_("Reference view set"),
    "secrets_key_rotated": N_("Secrets key rotated"),
    "site_created": N_("Site created"),
    "site_updated": N_("Site changed"),
    "sla_policy_saved": N_("SLA policy saved"),
    "stock_location_created": N_("Stock location created"),
    "token_created": N_("API token created"),
    "token_revoked": N_("API token revoked"),
    "user_created": N_("User created"),
    "user_updated": N_("User changed"),
    "user_disabled": N_("User disabled"),
    "user_enabled": N_("User enabled"),
}


def action_msg(action: str, ticket_labels: dict, stock_labels: dict) -> Msg:
    """The label of an audit action code; an unknown code reads "Other change" (never the code itself)."""
    if action in AUDIT_ACTION_LABELS:
        return Msg(AUDIT_ACTION_LABELS[action], context=CONTEXT)
    if action.startswith("ticket_") and action[7:] in ticket_labels:
        return Msg("Ticket: %(action)s", action=Msg(ticket_labels[action[7:]], context="TicketAction"))
    if action.startswith("stock_") and action[6:] in stock_labels:
        return Msg("Stock: %(kind)s", kind=Msg(stock_labels[action[6:]], context="StockMovement"))
    return Msg("Other change")


ENTITY_CONTEXT = "AuditEntity"
# What an audit row is about (entity_type), as a label.
ENTITY_LABELS = {
    "alert": N_("Alert"),
    "alert_channel": N_("Alert channel"),
    "alert_delivery": N_("Alert delivery"),
    "alert_route": N_("Alert route"),
    "api_token": N_("API token"),
    "device": N_("Device"),
    "exclusion_request": N_("Exclusion request"),
    "inventory": N_("Inventory"),
    "outage": N_("Outage"),
    "parameter": N_("Contract parameter"),
    "part_type": N_("Part type"),
    "quality_audit_sample": N_("Plate audit sample"),
    "quality_finding": N_("Image finding"),
    "site": N_("Site"),
    "sla_policy": N_("SLA policy"),
    "stock_location": N_("Stock location"),
    "stock_movement": N_("Stock movement"),
    "system": N_("System"),
    "ticket": N_("Ticket"),
    "user": N_("User"),
}


def entity_msg(entity_type: str) -> Msg | str:
    """The label of an audit row's entity type; an unknown type is shown as it is."""
    label = ENTITY_LABELS.get(entity_type)
    return Msg(label, context=ENTITY_CONTEXT) if label else entity_type


# The system's own actors (who did it, when no person did): shown as words, not as the internal name.
SYSTEM_ACTORS = {
    "system": N_("System"),
    "monitoring": N_("Monitoring system"),
    "quality": N_("Image quality check"),
    "cli": N_("Command line"),
    "setup": N_("Installation"),
}


def actor_text(name: str | None) -> Msg | str:
    """A history or audit row's actor: a person's user name as it is, the system's own actors as a label."""
    label = SYSTEM_ACTORS.get(name or "")
    return Msg(label, context="Actor") if label else (name or "")

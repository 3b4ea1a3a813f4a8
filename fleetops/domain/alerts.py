"""The alert area's stored values and their labels (msgids; Chinese in translations/zh/domain.po)."""
from fleetops.domain.choices import LabelledEnum
from fleetops.domain.text import N_


class AlertSeverity(LabelledEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


AlertSeverity._LABELS = {"info": N_("Info"), "warning": N_("Warning"), "critical": N_("Critical")}
SEVERITIES = tuple(m.value for m in AlertSeverity)  # lowest first


class AlertState(LabelledEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


AlertState._LABELS = {"open": N_("Open"), "acknowledged": N_("Acknowledged"), "resolved": N_("Resolved")}


class DeliveryState(LabelledEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


DeliveryState._LABELS = {"pending": N_("Pending"), "delivered": N_("Delivered"), "failed": N_("Failed"),
                         "cancelled": N_("Withdrawn")}


class DeliveryPurpose(LabelledEnum):
    OPENED = "opened"
    REPEATED = "repeated"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


DeliveryPurpose._LABELS = {"opened": N_("Alert"), "repeated": N_("Repeat"), "escalated": N_("Escalation"),
                           "resolved": N_("Recovery")}


class ChannelKind(LabelledEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    MQTT = "mqtt"


ChannelKind._LABELS = {"email": N_("Email"), "webhook": N_("Webhook"), "dingtalk": N_("DingTalk robot"),
                       "wecom": N_("WeCom robot"), "mqtt": N_("MQTT")}

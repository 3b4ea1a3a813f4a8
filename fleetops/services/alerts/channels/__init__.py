"""Alert channels: one sender module per kind (email, webhook, dingtalk, wecom, mqtt) and the registry."""
from fleetops.services.alerts.channels.base import ChannelError, as_list, scrub  # noqa: F401
from fleetops.services.alerts.channels.dingtalk import dingtalk_sign  # noqa: F401
from fleetops.services.alerts.channels.registry import (  # noqa: F401
    CHANNEL_DEFAULTS, CHANNEL_KINDS, INT_FIELDS, PLAIN_FIELDS, REQUIRED_FIELDS, REQUIRED_SECRETS, SECRET_FIELDS,
    send,
)

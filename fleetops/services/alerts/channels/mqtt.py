"""An MQTT topic: the payload as JSON, published with the set QoS and waited for."""
import json

from fleetops.domain.text import Msg
from fleetops.services.alerts.channels.base import ChannelError, timeout_of

KIND = "mqtt"
PLAIN = ("host", "port", "topic", "username", "qos", "timeout_s")
SECRETS = ("password",)
DEFAULTS = {"port": 1883, "topic": "fleetops/alerts", "qos": 1, "timeout_s": 10}
REQUIRED = ("host", "topic")
REQUIRED_SECRETS = ()
ERRORS = ()


def send(settings: dict, secrets: dict, payload: dict) -> str:
    import paho.mqtt.client as mqtt

    timeout = timeout_of(settings)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect_timeout = timeout
    if settings.get("username"):
        client.username_pw_set(settings["username"], secrets.get("password") or None)
    client.connect(settings["host"], int(settings.get("port") or 1883), keepalive=30)
    client.loop_start()
    try:
        info = client.publish(settings["topic"], json.dumps(payload, ensure_ascii=False),
                              qos=int(settings.get("qos", 1)))
        info.wait_for_publish(timeout=timeout)
        if not info.is_published():
            raise ChannelError(Msg("MQTT publish not acknowledged (rc=%(rc)s)", rc=info.rc))
    finally:
        client.disconnect()
        client.loop_stop()
    return f"published to {settings['topic']}"

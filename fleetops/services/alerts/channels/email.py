"""E-mail over SMTP (STARTTLS and login when set); recipients from the route's people and the channel's list."""
import smtplib
import ssl
from email.message import EmailMessage

from fleetops.domain.text import Msg
from fleetops.services.alerts.channels.base import ChannelError, as_list, timeout_of

KIND = "email"
PLAIN = ("host", "port", "starttls", "username", "from_addr", "to_addrs", "ca_file", "timeout_s")
SECRETS = ("password",)
DEFAULTS = {"port": 587, "starttls": True, "timeout_s": 10}
REQUIRED = ("host", "from_addr")
REQUIRED_SECRETS = ()
ERRORS = (smtplib.SMTPException,)


def send(settings: dict, secrets: dict, payload: dict) -> str:
    recipients = sorted(set(payload.get("to") or []) | set(as_list(settings.get("to_addrs"))))
    if not recipients:
        raise ChannelError(Msg("No recipients"))
    msg = EmailMessage()
    msg["Subject"] = payload["title"]
    msg["From"] = settings["from_addr"]
    msg["To"] = ", ".join(recipients)
    msg.set_content(payload["text"])
    with smtplib.SMTP(settings["host"], int(settings.get("port") or 25), timeout=timeout_of(settings)) as smtp:
        smtp.ehlo()
        if settings.get("starttls"):
            smtp.starttls(context=ssl.create_default_context(cafile=settings.get("ca_file") or None))
            smtp.ehlo()
        if settings.get("username"):
            smtp.login(settings["username"], secrets.get("password", ""))
        refused = smtp.send_message(msg, to_addrs=recipients)
    if refused:
        raise ChannelError(Msg("Some recipients were refused: %(who)s", who=", ".join(refused)))
    return f"250 accepted for {len(recipients)} recipient(s)"

"""Alert tables: channels, routing rules, alerts (one open per incident key), the delivery outbox and its attempt log, U7 pass-record counts, notification preferences."""
from datetime import datetime

from sqlalchemy import (
    JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.crypto import EncryptedJSON


class AlertChannel(Base):
    """Where messages go: e-mail (SMTP), a JSON webhook, a DingTalk or WeCom robot, an MQTT topic.

    `settings` may be shown; `secrets` (passwords, robot tokens, signing secrets) are write-only:
    never rendered, logged, exported or returned by the API (STYLE §4).
    """

    __tablename__ = "alert_channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # email, webhook, dingtalk, wecom, mqtt
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    secrets: Mapped[dict] = mapped_column(EncryptedJSON, default=dict)  # stored encrypted (models/crypto.py)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Soft delete (issue 13): a deleted channel leaves the lists and sends nothing, its delivery history stays.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __mapper_args__ = {"version_id_col": version}


class AlertRoute(Base):
    """A routing rule: alerts matching district / device kind / minimum severity / audience role go to a channel.

    An empty district, kind or role matches any.
    """

    __tablename__ = "alert_routes"
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"), index=True)
    district: Mapped[str] = mapped_column(String(50), default="")
    device_kind: Mapped[str] = mapped_column(String(30), default="")
    min_severity: Mapped[str] = mapped_column(String(10), default="info")  # info, warning, critical
    role: Mapped[str] = mapped_column(String(20), default="")  # crew, supervisor ("" = any audience)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    channel: Mapped[AlertChannel] = relationship()


class Alert(Base):
    """One incident that people must hear about. A1: deduplicated — at most one unresolved alert per `key`
    (`open_key` equals `key` until the alert is resolved, then NULL; a unique column enforces it)."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)  # e.g. device:12:down, site:3:dark
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)  # device_down, site_dark, no_data, …
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    state: Mapped[str] = mapped_column(String(15), default="open", index=True)  # open, acknowledged, resolved
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), nullable=True,
                                                index=True)
    district: Mapped[str] = mapped_column(String(50), default="", index=True)
    device_kind: Mapped[str] = mapped_column(String(30), default="")
    audience: Mapped[list] = mapped_column(JSON, default=list)  # roles: ["crew", "supervisor"]
    # Where it came from: an outage id, a site incident id, a ticket id, a finding id …
    source_type: Mapped[str] = mapped_column(String(30), default="")
    source_id: Mapped[str] = mapped_column(String(40), default="")
    # U5: a device alert swallowed by its site's blackout points at the site alert and sends nothing itself.
    group_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    # A1: quiet when the cause is already known (e.g. power-utility cut); recoveries are still sent.
    quiet_reason: Mapped[str] = mapped_column(String(200), default="")
    cause: Mapped[str] = mapped_column(String(40), default="")
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    notify_count: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    acknowledged_by = relationship("User")
    device = relationship("Device")
    site = relationship("Site")

    __mapper_args__ = {"version_id_col": version}


class AlertDelivery(Base):
    """The outbox: one message for one channel, written in the alert's transaction, sent by the worker.

    Survives restarts; retried with exponential back-off until delivered or `max attempts` (then `failed`).
    """

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # opened, repeated, escalated, resolved
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending, delivered, failed, cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    alert: Mapped[Alert] = relationship()
    channel: Mapped[AlertChannel] = relationship()
    __table_args__ = (Index("ix_alert_deliveries_due", "state", "next_attempt_at"),)


class AlertDeliveryAttempt(Base):
    """Every attempt to send a delivery, with its result (A1: reliable and provable delivery)."""

    __tablename__ = "alert_delivery_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("alert_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(Text, default="")
    delivery: Mapped[AlertDelivery] = relationship()


class PassCount(Base):
    """U7: how many pass records (过车记录) a camera uploaded in one interval, pushed through the API."""

    __tablename__ = "pass_counts"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime)
    interval_s: Mapped[int] = mapped_column(Integer, default=3600)
    count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("device_id", "slot_start"),
                      Index("ix_pass_counts_slot", "slot_start"))


class NotificationPreference(Base):
    """A person's own e-mail preferences: receive alert mail for their role's routes, from which severity."""

    __tablename__ = "notification_preferences"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    min_severity: Mapped[str] = mapped_column(String(10), default="warning")
    user = relationship("User")

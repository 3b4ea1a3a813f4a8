"""Records the contract asks the contractor to keep (issue 12): metrology certificate details and attachments
(F5), renewal tickets (one per certificate expiry), a device's serial-number chain and delivery records (S2, T4),
and the connectors that pull pass-record counts from the police platforms (U7)."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.core import Device, MetrologyCertificate
from fleetops.models.crypto import EncryptedText


class CertificateRecord(Base):
    """F5: what a metrology certificate carries beyond core's row: the issuer and the scanned attachment."""

    __tablename__ = "certificate_records"
    certificate_id: Mapped[int] = mapped_column(ForeignKey("metrology_certificates.id", ondelete="CASCADE"),
                                                primary_key=True)
    issuer: Mapped[str] = mapped_column(String(200), default="")
    attachment_path: Mapped[str] = mapped_column(String(500), default="")  # relative to UPLOAD_DIR
    attachment_type: Mapped[str] = mapped_column(String(50), default="")
    attachment_size: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    certificate: Mapped[MetrologyCertificate] = relationship()


class CertificateRenewal(Base):
    """F5: the renewal ticket opened for one certificate's expiry — at most one per certificate."""

    __tablename__ = "certificate_renewals"
    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("metrology_certificates.id", ondelete="CASCADE"),
                                                unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SerialChange(Base):
    """S2, T4: one link of a device's serial chain — the old unit retired, the new one installed."""

    __tablename__ = "device_serial_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    old_serial: Mapped[str] = mapped_column(String(100), default="")
    new_serial: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(20))  # replacement (T4) / swap
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    part_type_id: Mapped[int | None] = mapped_column(ForeignKey("part_types.id"), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    device: Mapped[Device] = relationship()


class DeliveryItem(Base):
    """S2: one unit a delivery note says is coming — its serial, box and batch — and whether acceptance matched."""

    __tablename__ = "delivery_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_no: Mapped[str] = mapped_column(String(60), index=True)
    serial: Mapped[str] = mapped_column(String(100))
    box_no: Mapped[str] = mapped_column(String(60), default="")
    batch_no: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    __table_args__ = (UniqueConstraint("delivery_no", "serial", name="uq_delivery_items_serial"),)


class PlatformConnector(Base):
    """U7: where and how to pull pass-record counts per camera from a police platform (all of it data)."""

    __tablename__ = "platform_connectors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    username: Mapped[str] = mapped_column(String(100), default="")
    password: Mapped[str] = mapped_column(EncryptedText, default="")
    # {"items": "data", "device": "cameraCode", "slot_start": "hour", "count": "passCount"}
    mapping: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_s: Mapped[int] = mapped_column(Integer, default=300)
    timeout_s: Mapped[int] = mapped_column(Integer, default=10)
    last_pull_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")  # a stored Msg

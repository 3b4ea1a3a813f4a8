"""Tickets tables: SLA policies, tickets, their history, breaches, photos, crew qualifications, spare parts and the stock ledger."""
from datetime import date, datetime

from sqlalchemy import (
    JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.core import Device, Site, User


class SlaPolicyRow(Base):
    """T5: one contract's SLA windows as JSON data (see fleetops.domain.sla.SlaPolicy), edited by an admin."""

    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    rules: Mapped[dict] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Ticket(Base):
    """T1–T9: one job for the crew, with its clocks (fixed at notification) and its outcome."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True, index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    # The monitoring records that opened it (plain integers: their tables may land separately).
    outage_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    source: Mapped[str] = mapped_column(String(20))  # outage, incident, quality, inspection, supervisor, api
    category: Mapped[str] = mapped_column(String(30))  # FaultCategory
    tier: Mapped[str] = mapped_column(String(20), default="ordinary")  # T5
    summary: Mapped[str] = mapped_column(Text, default="")
    evidence_path: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(20), index=True)
    resolution: Mapped[str] = mapped_column(String(20), default="")
    work_notes: Mapped[str] = mapped_column(Text, default="")
    requires_replacement: Mapped[bool] = mapped_column(Boolean, default=False)  # T4
    replacement_reason: Mapped[str] = mapped_column(Text, default="")
    needs_height: Mapped[bool] = mapped_column(Boolean, default=False)  # T8
    checklist: Mapped[list] = mapped_column(JSON, default=list)  # T7: ticked item keys
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policies.id"), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)
    opened_by: Mapped[str] = mapped_column(String(100), default="system")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    day_night: Mapped[str] = mapped_column(String(5), default="")
    distance_km: Mapped[float | None] = mapped_column(Float, nullable=True)
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    arrive_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    repair_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    arrival_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    arrival_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    repair_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # T3: "cannot be repaired on site" stops the repair clock and starts the spare-swap clock (swap_h).
    swap_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    swap_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    device: Mapped["Device | None"] = relationship()
    site: Mapped[Site] = relationship()
    assignee: Mapped["User | None"] = relationship()
    policy: Mapped["SlaPolicyRow | None"] = relationship()
    events: Mapped[list["TicketEvent"]] = relationship(order_by="TicketEvent.id", back_populates="ticket")
    breaches: Mapped[list["TicketBreach"]] = relationship(order_by="TicketBreach.id", back_populates="ticket")
    photos: Mapped[list["TicketPhoto"]] = relationship(order_by="TicketPhoto.id", back_populates="ticket")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_tickets_device_state", "device_id", "state"),)


class TicketEvent(Base):
    """The ticket's history as the crew and the supervisors read it (the audit log holds the evidence)."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_name: Mapped[str] = mapped_column(String(100), default="system")
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str] = mapped_column(String(20), default="")
    to_state: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketBreach(Base):
    """A deadline warned about (`approaching`) or missed (`breached`); one row per ticket, deadline and kind."""

    __tablename__ = "ticket_breaches"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    which: Mapped[str] = mapped_column(String(10))  # respond, arrive, repair, swap
    kind: Mapped[str] = mapped_column(String(12))  # approaching, breached
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ticket: Mapped[Ticket] = relationship(back_populates="breaches")
    __table_args__ = (UniqueConstraint("ticket_id", "which", "kind", name="uq_ticket_breaches_once"),)


class TicketPhoto(Base):
    """T7: a before/after photo from the tablet, stored under UPLOAD_DIR with its thumbnail."""

    __tablename__ = "ticket_photos"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    phase: Mapped[str] = mapped_column(String(10))  # before, after
    path: Mapped[str] = mapped_column(String(500))
    thumb_path: Mapped[str] = mapped_column(String(500), default="")
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    location_kept: Mapped[bool] = mapped_column(Boolean, default=False)
    taken_by: Mapped[str] = mapped_column(String(100), default="")
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ticket: Mapped[Ticket] = relationship(back_populates="photos")


class CrewQualification(Base):
    """T8: a crew member's certificate (work at height, electrician, security systems) and its validity."""

    __tablename__ = "crew_qualifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # QualificationKind
    certificate_no: Mapped[str] = mapped_column(String(100), default="")
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date] = mapped_column(Date)
    user: Mapped[User] = relationship()


class RequestKey(Base):
    """Idempotency: a client-generated request id is applied once; a repeat finds its row and does nothing."""

    __tablename__ = "request_keys"
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(60), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartType(Base):
    """S1: a kind of spare part (fill light, strobe, capture unit, radar, terminal …) with its minimum stock."""

    __tablename__ = "part_types"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    device_kind: Mapped[str] = mapped_column(String(30), default="")  # DeviceKind it replaces
    serialised: Mapped[bool] = mapped_column(Boolean, default=False)
    minimum_stock: Mapped[int] = mapped_column(Integer, default=3)  # S1: at least 3 sets


class StockLocation(Base):
    """Where parts are kept: the warehouse or a crew's van."""

    __tablename__ = "stock_locations"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="warehouse")  # warehouse, van
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class StockLevel(Base):
    """On-hand quantity of a part type at a location; never negative (checked in SQL too)."""

    __tablename__ = "stock_levels"
    id: Mapped[int] = mapped_column(primary_key=True)
    part_type_id: Mapped[int] = mapped_column(ForeignKey("part_types.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    part_type: Mapped[PartType] = relationship()
    location: Mapped[StockLocation] = relationship()
    __table_args__ = (
        UniqueConstraint("part_type_id", "location_id", name="uq_stock_levels_part_location"),
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    )


class SerialPart(Base):
    """S2: one serialised unit and where it is: in stock, installed, in repair, scrapped."""

    __tablename__ = "serial_parts"
    id: Mapped[int] = mapped_column(primary_key=True)
    part_type_id: Mapped[int] = mapped_column(ForeignKey("part_types.id"))
    serial: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12), default="in_stock")
    location_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True)
    part_type: Mapped[PartType] = relationship()
    __table_args__ = (UniqueConstraint("part_type_id", "serial", name="uq_serial_parts_type_serial"),)


class StockMovement(Base):
    """S2/A3: the ledger — received, issued (to a ticket), returned, sent for repair, scrapped."""

    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    part_type_id: Mapped[int] = mapped_column(ForeignKey("part_types.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    quantity: Mapped[int] = mapped_column(Integer)  # signed: + into the location, − out of it
    serial_part_id: Mapped[int | None] = mapped_column(ForeignKey("serial_parts.id"), nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    actor_name: Mapped[str] = mapped_column(String(100), default="system")
    note: Mapped[str] = mapped_column(Text, default="")
    part_type: Mapped[PartType] = relationship()
    location: Mapped[StockLocation] = relationship()
    serial_part: Mapped["SerialPart | None"] = relationship()


class PenaltyThresholdMark(Base):
    """P4: the termination threshold warned about (`approaching`) or passed (`crossed`), once per policy and level."""

    __tablename__ = "penalty_threshold_marks"
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_key: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(12))  # approaching, crossed
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cumulative_yuan: Mapped[str] = mapped_column(String(30))  # a Decimal as text: exact money
    threshold_yuan: Mapped[str] = mapped_column(String(30))
    __table_args__ = (UniqueConstraint("policy_key", "level", name="uq_penalty_threshold_marks_once"),)

"""Maintenance windows (U3, A1, P4): planned power cuts (计划停电), planned works (计划施工) and relocations (迁移)
over a scope of devices, sites, a district or a cabinet's power feed. During a window outages in the scope are
held (no ticket, no alert) and take the window's cause; the hold is the window's evidence on the outage."""
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow


class MaintenanceWindow(Base):
    """One planned window, one-off or recurring (daily/weekly, with a count or an until-date, in local time)."""

    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    cause: Mapped[str] = mapped_column(String(20))  # domain/maintenance.WindowCause
    reference: Mapped[str] = mapped_column(String(100), default="")  # the utility's notice number
    attachment_path: Mapped[str] = mapped_column(String(300), default="")  # relative to UPLOAD_DIR
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the first occurrence
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recurrence: Mapped[str] = mapped_column(String(10), default="none")  # none | daily | weekly
    recur_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recur_until: Mapped[date | None] = mapped_column(Date, nullable=True)  # a local date, inclusive
    last_end_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # end of the final occurrence
    # active | pending (entered after the fact, waiting for a supervisor) | rejected | cancelled
    state: Mapped[str] = mapped_column(String(10), default="active", index=True)
    after_the_fact: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_by: Mapped[str] = mapped_column(String(100), default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The start / end of the latest occurrence announced to the alert group ("window started / ended").
    noted_start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    noted_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    scopes: Mapped[list["MaintenanceScope"]] = relationship(back_populates="window", cascade="all, delete-orphan",
                                                            order_by="MaintenanceScope.id")


class MaintenanceScope(Base):
    """What a window covers: one device, one site, a district, or every device on one cabinet's power feed."""

    __tablename__ = "maintenance_scopes"
    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # device | site | district | cabinet
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), nullable=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), nullable=True)
    cabinet_id: Mapped[int | None] = mapped_column(ForeignKey("cabinets.id", ondelete="CASCADE"), nullable=True)
    district: Mapped[str] = mapped_column(String(50), default="")
    window: Mapped[MaintenanceWindow] = relationship(back_populates="scopes")


class MaintenanceHold(Base):
    """An outage (or a site blackout) that began inside a window: held from tickets and alerts until the window's
    occurrence ends; released then if still down (alerted and ticketed at once). The window is its evidence."""

    __tablename__ = "maintenance_holds"
    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id", ondelete="CASCADE"), index=True)
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"), nullable=True,
                                                  index=True)
    site_incident_id: Mapped[int | None] = mapped_column(ForeignKey("site_incidents.id", ondelete="CASCADE"),
                                                         nullable=True, index=True)
    occurrence_end: Mapped[datetime] = mapped_column(UTCDateTime)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window: Mapped[MaintenanceWindow] = relationship()
    __table_args__ = (Index("ix_maintenance_holds_open", "released_at", "occurrence_end"),)


class FaultReport(Base):
    """A fault reported from the pole through a device's QR code, by someone without a login: the supervisor's
    triage queue turns it into a ticket (its photo as evidence) or dismisses it with a reason."""

    __tablename__ = "fault_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    problem: Mapped[str] = mapped_column(String(20))  # domain/maintenance.FaultProblem
    details: Mapped[str] = mapped_column(Text, default="")
    photo_path: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    client_hash: Mapped[str] = mapped_column(String(64), default="")  # a keyed hash of the address, never the address
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    repeats: Mapped[int] = mapped_column(Integer, default=1)  # the same device reported again within N minutes
    state: Mapped[str] = mapped_column(String(10), default="new", index=True)  # new | ticketed | dismissed
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True)

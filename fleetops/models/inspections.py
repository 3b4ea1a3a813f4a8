"""Inspection tables (P1–P3): plans as data, and one order per device, plan and period (its work is a ticket)."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.core import Device, Site
from fleetops.models.tickets import Ticket


class InspectionPlan(Base):
    """P3: which devices (kinds, optionally one site or key sites only), how often, by night or not, and the
    checklist: [{key, label, needs_photo, needs_value, unit, min, max}]."""

    __tablename__ = "inspection_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    device_kinds: Mapped[list] = mapped_column(JSON, default=list)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    key_sites_only: Mapped[bool] = mapped_column(Boolean, default=False)
    period: Mapped[str] = mapped_column(String(10))  # domain.inspections.Period
    at_night: Mapped[bool] = mapped_column(Boolean, default=False)
    items: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    preset: Mapped[str] = mapped_column(String(40), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    site: Mapped["Site | None"] = relationship()
    __mapper_args__ = {"version_id_col": version}


class InspectionOrder(Base):
    """One device's inspection for one plan period: exactly one per (plan, device, period start), whoever runs the
    generator and however often. Its crew work is the ticket (category routine_inspection)."""

    __tablename__ = "inspection_orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plans.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    district: Mapped[str] = mapped_column(String(50), default="", index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the end of the period
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, unique=True)
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open, done, cancelled
    result: Mapped[str] = mapped_column(String(10), default="")  # ok, not_ok
    results: Mapped[list] = mapped_column(JSON, default=list)  # [{key, ok, value, photo_id, fault_ticket_id}]
    note: Mapped[str] = mapped_column(Text, default="")
    day_night: Mapped[str] = mapped_column(String(5), default="")  # when it was done, by the sun at the site
    done_by: Mapped[str] = mapped_column(String(100), default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    plan: Mapped[InspectionPlan] = relationship()
    device: Mapped[Device] = relationship()
    site: Mapped[Site] = relationship()
    ticket: Mapped["Ticket | None"] = relationship()
    __table_args__ = (
        UniqueConstraint("plan_id", "device_id", "period_start", name="uq_inspection_orders_once"),
        Index("ix_inspection_orders_state_due", "state", "due_at"),
    )

"""A device's periods in service (F3, U3): installed/accepted → taken out → back → retired, one row per stretch.

Written by services/inventory/service_periods.py whenever a device's lifecycle, in-service date or retirement is
flushed (form, API, import, retire, demo alike); the SQL uptime counts only the time inside these periods."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime
from fleetops.models.core import Device


class ServicePeriod(Base):
    """One stretch in service: from start_at (None: since before the records begin) until end_at (None: still)."""

    __tablename__ = "service_periods"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    device: Mapped[Device] = relationship()
    __table_args__ = (Index("ix_service_periods_device", "device_id", "start_at"),)

"""Discovery sweeps and SNMP traps (issue 12 part 2 — F4; issue 17 part 2 — U3, U6).

- `DiscoverySweep` / `DiscoveryResult`: an SNMP + ICMP sweep of allowed ranges (ad hoc from the CLI or the admin
  page, or a district's scheduled sweep), its progress, and its rows: unmanaged addresses, never-online and
  mismatching inventory devices.
- `SnmpTrap`: every trap the receiver got, known or not (never dropped), with the device matched by address.
"""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.core import Device


class DiscoverySweep(Base):
    """One sweep: its ranges, who asked (or the district's schedule), state and progress."""

    __tablename__ = "discovery_sweeps"
    id: Mapped[int] = mapped_column(primary_key=True)
    networks: Mapped[list] = mapped_column(JSON, default=list)  # CIDR strings
    district: Mapped[str] = mapped_column(String(50), default="", index=True)  # "" for an ad-hoc sweep
    requested_by: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued / running / done / failed
    hosts_total: Mapped[int] = mapped_column(Integer, default=0)
    hosts_done: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    unmanaged: Mapped[int] = mapped_column(Integer, default=0)
    never_online: Mapped[int] = mapped_column(Integer, default=0)
    mismatch: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")  # a stored Msg
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    results: Mapped[list["DiscoveryResult"]] = relationship(back_populates="sweep", cascade="all, delete-orphan",
                                                            order_by="DiscoveryResult.id")


class DiscoveryResult(Base):
    """One row of a sweep: an unmanaged address, a never-online device, or a device that contradicts its record."""

    __tablename__ = "discovery_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("discovery_sweeps.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(45))
    status: Mapped[str] = mapped_column(String(20))  # unmanaged | never_online | mismatch
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), nullable=True)
    device_code: Mapped[str] = mapped_column(String(60), default="")
    sys_descr: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sys_object_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sys_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    answered_by: Mapped[str] = mapped_column(String(20), default="")  # "snmp", "ping", "snmp+ping" or ""
    guessed_kind: Mapped[str] = mapped_column(String(30), default="")
    guessed_vendor: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # a stored Msg (why it is a mismatch)
    sweep: Mapped[DiscoverySweep] = relationship(back_populates="results")
    __table_args__ = (Index("ix_discovery_results_sweep", "sweep_id", "status"),)


class SnmpTrap(Base):
    """One received trap or inform, stored whatever it is; `meaning` is the key from the trap definitions ("" when
    the OID is unknown)."""

    __tablename__ = "snmp_traps"
    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source_address: Mapped[str] = mapped_column(String(45), index=True)
    source_port: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(4), default="v2c")
    principal: Mapped[str] = mapped_column(String(100), default="")  # the v3 user ("" for v2c: never the community)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), nullable=True,
                                                  index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), nullable=True,
                                                index=True)
    trap_oid: Mapped[str] = mapped_column(String(255), default="", index=True)
    meaning: Mapped[str] = mapped_column(String(40), default="", index=True)
    severity: Mapped[str] = mapped_column(String(10), default="info")
    known: Mapped[bool] = mapped_column(Boolean, default=False)
    varbinds: Mapped[list] = mapped_column(JSON, default=list)  # [{"oid", "type", "value"}]
    effect: Mapped[str] = mapped_column(String(40), default="")  # what the receiver did (the effect applied)
    device: Mapped[Device | None] = relationship()

"""Monitoring tables: raw probe results (kept for a retention window), and what is derived from them and kept forever —
status intervals, outages, site incidents, device events (reboot, flapping, hung), online-rate samples."""
from datetime import datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.core import Device, Site

MONITOR_STATES_FILLFACTOR = 50
LINKED = "outage_id IS NOT NULL"  # the down intervals; the up ones (nearly all, their ends moved every poll) need none


class ProbeResultRow(Base):
    """One probe attempt. Compact on purpose (10,000 devices × every 60 s): keyed by (device, probe, at), which also
    makes a replayed result a no-op. Pruned after the retention window; derived tables keep the history."""

    __tablename__ = "probe_results"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    probe: Mapped[str] = mapped_column(String(8), primary_key=True)  # ping | snmp
    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    rtt_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    sys_uptime_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str] = mapped_column(String(200), default="")
    __table_args__ = (Index("ix_probe_results_at", "at"),)


class MonitorState(Base):
    """Per device and probe: where its failure counter stands after its latest result, so an in-order batch is
    applied incrementally; late results recompute from the last success before them instead."""

    __tablename__ = "monitor_states"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    probe: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_ok_value: Mapped[float | None] = mapped_column(Float, nullable=True)  # sys_uptime_s at last_ok_at
    run_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    run_detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Every poll rewrites every row (its counter, last_at): half of each page left free keeps the new version on
    # the same page, a HOT update that writes no index entry (measured: without it 67 of 240,000 updates were HOT).
    __table_args__ = ({"postgresql_with": {"fillfactor": MONITOR_STATES_FILLFACTOR}},)


class SiteIncident(Base):
    """U5: a whole site dark at once (switch, fibre, power) — one incident instead of one alarm per device."""

    __tablename__ = "site_incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    device_count: Mapped[int] = mapped_column(Integer, default=0)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # late results undid it
    # Its results arrived long after it ended (a replayed history): recorded, no ticket, no alert.
    imported_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    site: Mapped[Site] = relationship()
    __table_args__ = (Index("ix_site_incidents_open", "site_id", "ended_at"),)


class Outage(Base):
    """A device down: from its first failed liveness result to the first success after ≥ N failures (U2).

    `cause` decides whether it counts against the contract (U3); an excluding cause needs a reason (A3)."""

    __tablename__ = "outages"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cause: Mapped[str] = mapped_column(String(20), default="device_fault")  # OutageCause
    cause_reason: Mapped[str] = mapped_column(Text, default="")
    evidence_path: Mapped[str] = mapped_column(String(300), default="")
    cause_set_by: Mapped[str] = mapped_column(String(100), default="")
    cause_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    site_incident_id: Mapped[int | None] = mapped_column(ForeignKey("site_incidents.id"), nullable=True,
                                                         index=True)
    retracted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # late results undid it
    # U3 with a maintenance window (issue 17): an outage that began inside a power-utility or network-provider
    # window and outlasted it is the contractor's (cause device_fault) only from the window's end; its down time
    # before this instant (epoch seconds) stays excluded from the contractual figure, the window its evidence.
    excluded_before_s: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Its results arrived long after it ended (a replayed history): recorded, counted, no ticket, no alert.
    imported_late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    device: Mapped[Device] = relationship()
    site_incident: Mapped[SiteIncident | None] = relationship()
    __table_args__ = (
        Index("ix_outages_device_start", "device_id", "started_at"),
        Index("ix_outages_started_at", "started_at"),
        # Issue 14 part 4: the devices down now (the status page's list and its total), newest first, without
        # reading the outages that ended (they pile up: 27,000 in 40 days at 10,000 devices).
        Index("ix_outages_open", "started_at", "id", postgresql_where=text("ended_at IS NULL AND retracted_at IS NULL"),
              sqlite_where=text("ended_at IS NULL AND retracted_at IS NULL")),
    )


class StatusInterval(Base):
    """Time a device was up or down according to its results, in epoch seconds so that uptime is plain integer
    arithmetic in the same SQL on SQLite and PostgreSQL. In-service time in no interval is unknown."""

    __tablename__ = "status_intervals"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    start_s: Mapped[int] = mapped_column(BigInteger)
    end_s: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(8))  # up | down
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id", ondelete="SET NULL"), nullable=True)
    __table_args__ = (
        Index("ix_status_intervals_device_end", "device_id", "end_s"),
        Index("ix_status_intervals_end_start", "end_s", "start_s"),
        # Partial: only the intervals of an outage are ever looked up by it, and an up interval's end moving each
        # poll (not a HOT update: end_s is indexed) then writes one index entry fewer.
        Index("ix_status_intervals_outage_id", "outage_id", postgresql_where=text(LINKED), sqlite_where=text(LINKED)),
    )


class DeviceEvent(Base):
    """U6 and hung devices: rebooted (uptime counter went back), flapping, hung (ping ok, SNMP silent; has an end)."""

    __tablename__ = "device_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # rebooted | flapping | hung
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[str] = mapped_column(String(200), default="")
    device: Mapped[Device] = relationship()
    __table_args__ = (UniqueConstraint("device_id", "kind", "at", name="uq_device_events_key"),
                      Index("ix_device_events_at", "at"))


class OnlineRateSample(Base):
    """U4: the real-time online rate, sampled every few minutes for reports."""

    __tablename__ = "online_rate_samples"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    in_service: Mapped[int] = mapped_column(Integer)
    online: Mapped[int] = mapped_column(Integer)
    contract_in_service: Mapped[int] = mapped_column(Integer, default=0)
    contract_online: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def rate_pct(self) -> float | None:
        return None if not self.in_service else 100.0 * self.online / self.in_service


class ExclusionRequest(Base):
    """U3/A3: a request that an outage (or a whole site incident) be excluded from the contractual figure as the
    power utility's or the network provider's fault — from the crew (photo + note) or the system (mains loss).
    Only an approved request changes the outage's cause."""

    __tablename__ = "exclusion_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    outage_id: Mapped[int | None] = mapped_column(ForeignKey("outages.id", ondelete="CASCADE"), nullable=True,
                                                  index=True)
    site_incident_id: Mapped[int | None] = mapped_column(ForeignKey("site_incidents.id"), nullable=True,
                                                         index=True)
    cause: Mapped[str] = mapped_column(String(20))  # power_utility | network_provider
    note: Mapped[str] = mapped_column(Text, default="")  # typed by the crew, or a stored Msg from the system
    photo_path: Mapped[str] = mapped_column(String(300), default="")  # relative to UPLOAD_DIR
    evidence: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # e.g. {"input_voltage_v": 0.0}
    source: Mapped[str] = mapped_column(String(10))  # crew | system | supervisor (filed and approved at once)
    requested_by: Mapped[str] = mapped_column(String(100), default="system")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)  # pending|approved|rejected
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    # A maintenance window entered after the fact (services/maintenance): approval classifies its outages.
    maintenance_window_id: Mapped[int | None] = mapped_column(
        ForeignKey("maintenance_windows.id", ondelete="CASCADE"), nullable=True, index=True)
    outage: Mapped["Outage | None"] = relationship()
    site_incident: Mapped["SiteIncident | None"] = relationship()

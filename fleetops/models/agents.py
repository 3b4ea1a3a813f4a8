"""Probe agents (issue 14): a program near the devices that probes its scope and pushes results to the centre.

Only the SHA-256 of an agent's token is stored (as for API tokens); the token is shown once at creation."""
from datetime import datetime

from sqlalchemy import JSON, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fleetops.models.base import Base, UTCDateTime, utcnow


class ProbeAgent(Base):
    """A registered probe agent: its scope (districts and/or CIDR ranges), its token hash and its last health."""

    __tablename__ = "probe_agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    districts: Mapped[list] = mapped_column(JSON, default=list)
    cidrs: Mapped[list] = mapped_column(JSON, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # any request
    last_push_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # last result batch
    spool_depth: Mapped[int] = mapped_column(Integer, default=0)  # results waiting in the agent's spool
    lag_s: Mapped[float | None] = mapped_column(Float, nullable=True)  # age of the oldest result in the batch
    version: Mapped[str] = mapped_column(String(40), default="")
    config_version: Mapped[str] = mapped_column(String(64), default="")  # the device-list version it last fetched
    dropped_results: Mapped[int] = mapped_column(Integer, default=0)  # dropped from a full spool, as reported
    silent_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

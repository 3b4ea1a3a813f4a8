"""Core tables: the fleet inventory (sites, cabinets, devices, certificates, depots), users, tokens, audit, contract parameters."""
from datetime import date, datetime

from sqlalchemy import (
    JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.crypto import EncryptedText


class Depot(Base):
    """A crew base (运维驻点) from which distances to sites are measured (T2)."""

    __tablename__ = "depots"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    district: Mapped[str] = mapped_column(String(50), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)


class Site(Base):
    """F2: a 点位 with coordinates, road/direction, district and its cabinet."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    road: Mapped[str] = mapped_column(String(200), default="")
    direction: Mapped[str] = mapped_column(String(50), default="")
    district: Mapped[str] = mapped_column(String(50), default="", index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    key_site: Mapped[bool] = mapped_column(Boolean, default=False)  # F2: 考核重要点位
    road_distance_km: Mapped[float | None] = mapped_column(Float, nullable=True)  # T2 override
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id"), nullable=True)
    timezone: Mapped[str] = mapped_column(String(50), default="Asia/Shanghai")
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    depot: Mapped["Depot | None"] = relationship()
    cabinets: Mapped[list["Cabinet"]] = relationship(back_populates="site")
    devices: Mapped[list["Device"]] = relationship(back_populates="site")

    __mapper_args__ = {"version_id_col": version}


class Cabinet(Base):
    """F2: the roadside control cabinet (控制机柜) whose switch and power the site's devices hang off."""

    __tablename__ = "cabinets"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    power_feed: Mapped[str] = mapped_column(String(100), default="")  # e.g. 市电 户号 …
    power_account: Mapped[str] = mapped_column(String(100), default="")
    network_circuit: Mapped[str] = mapped_column(String(100), default="")  # carrier circuit id
    site: Mapped[Site] = relationship(back_populates="cabinets")


class Device(Base):
    """F1/F3: one piece of equipment, its network identity, probe settings and lifecycle."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)  # e.g. K105-CAM1; import key
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(30), index=True)  # DeviceKind
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    cabinet_id: Mapped[int | None] = mapped_column(ForeignKey("cabinets.id"), nullable=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), nullable=True, index=True)
    vendor: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    serial: Mapped[str] = mapped_column(String(100), default="")
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True, unique=True)
    lifecycle: Mapped[str] = mapped_column(String(20), default="installed", index=True)  # Lifecycle
    installed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    in_service_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Probing (U1). Secrets (stored encrypted, models/crypto.py): snmp_community, snmp_v3_auth_key, snmp_v3_priv_key,
    # snapshot_password.
    liveness_probe: Mapped[str] = mapped_column(String(10), default="ping")  # LivenessProbe
    # TCP liveness port (tcp, or ping on a host without ICMP); None = the kind's (choices.liveness_tcp_port)
    liveness_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    snmp_version: Mapped[str] = mapped_column(String(4), default="")  # SnmpVersion
    snmp_port: Mapped[int] = mapped_column(Integer, default=161)
    snmp_community: Mapped[str] = mapped_column(EncryptedText, default="")
    snmp_v3_user: Mapped[str] = mapped_column(String(100), default="")
    snmp_v3_auth_protocol: Mapped[str] = mapped_column(String(10), default="")  # SHA, SHA256, MD5
    snmp_v3_auth_key: Mapped[str] = mapped_column(EncryptedText, default="")
    snmp_v3_priv_protocol: Mapped[str] = mapped_column(String(10), default="")  # AES, AES256, DES
    snmp_v3_priv_key: Mapped[str] = mapped_column(EncryptedText, default="")
    snapshot_url: Mapped[str] = mapped_column(String(500), default="")
    snapshot_username: Mapped[str] = mapped_column(String(100), default="")
    snapshot_password: Mapped[str] = mapped_column(EncryptedText, default="")
    # What monitoring last concluded (written by the monitoring services only).
    status: Mapped[str] = mapped_column(String(20), default="unknown", index=True)  # DeviceStatus
    status_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship(back_populates="devices")
    cabinet: Mapped["Cabinet | None"] = relationship()
    parent: Mapped["Device | None"] = relationship(remote_side="Device.id")
    certificates: Mapped[list["MetrologyCertificate"]] = relationship(back_populates="device")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_devices_site_kind", "site_id", "kind"),
        # Issue 14 part 4: the fleet's status tiles (monitoring.queries.fleet_status) counted from this index alone.
        Index("ix_devices_monitored", "lifecycle", "status", "kind", postgresql_where=text("ip_address IS NOT NULL"),
              sqlite_where=text("ip_address IS NOT NULL")),
    )

    SECRET_FIELDS = ("snmp_community", "snmp_v3_auth_key", "snmp_v3_priv_key", "snapshot_password")


class MetrologyCertificate(Base):
    """F5: a 检定 certificate for a device (yearly for speed-measuring devices)."""

    __tablename__ = "metrology_certificates"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    regulation: Mapped[str] = mapped_column(String(100), default="")  # e.g. JJG 527-2015
    certificate_no: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(20), default="pass")  # pass / fail
    device: Mapped[Device] = relationship(back_populates="certificates")
    __table_args__ = (UniqueConstraint("device_id", "certificate_no"),)


class User(Base):
    """A person who logs in: crew, supervisor or admin (Role)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))  # Role
    district: Mapped[str] = mapped_column(String(50), default="")  # a crew's district ("" = all)
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id"), nullable=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Part of every session cookie's id; bumped on logout and password change, so an older cookie stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)
    depot: Mapped["Depot | None"] = relationship()

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version or 1}"


class ApiToken(Base):
    """A per-user API token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    user: Mapped[User] = relationship()


class AuditLog(Base):
    """A3: who changed what, when, before and after. Evidence for payments and penalties."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100), default="system")
    action: Mapped[str] = mapped_column(String(60))  # past tense: device_updated, ticket_dispatched …
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(60), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)


class ContractParameter(Base):
    """A contract number as data (STYLE §4): SLA windows, targets, thresholds, penalty rates."""

    __tablename__ = "contract_parameters"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict | list | float | int | str] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="system")


class InventoryImportJob(Base):
    """A large inventory upload checked or imported in the background (the `inventory_imports` job), with its
    progress; the file waits in the upload folder under `token`. `result` is the ImportResult's summary with its
    errors and warnings in their stored form."""

    __tablename__ = "inventory_import_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(200), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)  # the check; False: the confirmed import
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)  # queued / running / done
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_checked: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

"""Image-quality tables: snapshot samples, reference views, findings, pass records, plate audits, sampling plans."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fleetops.models.base import Base, UTCDateTime, utcnow
from fleetops.models.core import Device


class SnapshotSample(Base):
    """Q3: one sampled snapshot of a camera: when, day or night at the site, its scores and the problems seen."""

    __tablename__ = "quality_samples"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    period: Mapped[str] = mapped_column(String(5))  # "day" / "night" by the sun at the site (T2)
    ok: Mapped[bool] = mapped_column(Boolean)  # fetched and scored
    detail: Mapped[str] = mapped_column(Text, default="")  # why the fetch failed, in words
    scores: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    problems: Mapped[list] = mapped_column(JSON, default=list)  # finding kinds seen in this frame
    image_path: Mapped[str] = mapped_column(String(500), default="")  # relative to UPLOAD_DIR
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")  # schedule / on_demand / verify
    device: Mapped[Device] = relationship()
    __table_args__ = (Index("ix_quality_samples_device_taken", "device_id", "taken_at"),)


class ReferenceImage(Base):
    """The camera's correct view, for scene-shift (knocked out of aim) checks."""

    __tablename__ = "quality_references"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), unique=True)
    image_path: Mapped[str] = mapped_column(String(500))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by: Mapped[str] = mapped_column(String(100), default="system")


class QualityFinding(Base):
    """Q3: a problem that persisted over several samples; it carries the evidence image and its ticket."""

    __tablename__ = "quality_findings"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # FindingKind
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)  # open / cleared
    period: Mapped[str] = mapped_column(String(5), default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=1)
    evidence_path: Mapped[str] = mapped_column(String(500), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    device: Mapped[Device] = relationship()
    __table_args__ = (Index("ix_quality_findings_device_kind", "device_id", "kind", "state"),)


class PassRecord(Base):
    """Q1: one capture as the camera reported it (time, plate text, image), from the API or the upload folder."""

    __tablename__ = "quality_pass_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    period: Mapped[str] = mapped_column(String(5))
    reported_plate: Mapped[str] = mapped_column(String(20))
    image_path: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(10), default="api")  # api / folder
    external_id: Mapped[str] = mapped_column(String(100))  # the camera's record id, or the file name
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    device: Mapped[Device] = relationship()
    __table_args__ = (UniqueConstraint("device_id", "external_id"),
                      Index("ix_quality_pass_records_device_captured", "device_id", "captured_at"))


class AuditSample(Base):
    """Q1: a pass record drawn for the accuracy audit: the reader's check, then (if queued) a person's verdict."""

    __tablename__ = "quality_audit_samples"
    id: Mapped[int] = mapped_column(primary_key=True)
    pass_record_id: Mapped[int] = mapped_column(ForeignKey("quality_pass_records.id"), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the site's zone
    period: Mapped[str] = mapped_column(String(5))
    auto_text: Mapped[str] = mapped_column(String(20), default="")
    auto_result: Mapped[str] = mapped_column(String(12))  # agree / disagree / unread / no_reader
    plate_bbox: Mapped[list | None] = mapped_column(JSON, nullable=True)
    queued: Mapped[bool] = mapped_column(Boolean, default=False)  # in the human audit queue
    queue_reason: Mapped[str] = mapped_column(String(20), default="")  # disagreement / random / unread
    human_verdict: Mapped[str | None] = mapped_column(String(10), nullable=True)  # correct / wrong
    corrected_text: Mapped[str] = mapped_column(String(20), default="")
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(10), nullable=True)  # correct / wrong (None = pending)
    pass_record: Mapped[PassRecord] = relationship()
    device: Mapped[Device] = relationship()
    __table_args__ = (Index("ix_quality_audit_month", "device_id", "month", "period"),
                      Index("ix_quality_audit_queue", "queued", "outcome"))


class SamplingPlan(Base):
    """Q1: how many pass records to audit for one camera, month and day/night, sized for the target."""

    __tablename__ = "quality_sampling_plans"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    month: Mapped[str] = mapped_column(String(7))
    period: Mapped[str] = mapped_column(String(5))
    target_samples: Mapped[int] = mapped_column(Integer)
    selected: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (UniqueConstraint("device_id", "month", "period"),)

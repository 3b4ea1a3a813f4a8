"""Inspection plans as data (P3): the two contract presets, creating and editing a plan (every field checked,
every change audited)."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain import inspections as rules
from fleetops.domain.errors import ConflictError, NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Site
from fleetops.models.base import utcnow
from fleetops.models.inspections import InspectionPlan
from fleetops.platform import audit


def list_plans(session: Session, *, active_only: bool = False) -> list[InspectionPlan]:
    q = select(InspectionPlan)
    if active_only:
        q = q.where(InspectionPlan.active.is_(True))
    return list(session.scalars(q.order_by(InspectionPlan.id)))


def get_plan(session: Session, plan_id) -> InspectionPlan:
    try:
        plan = session.get(InspectionPlan, int(plan_id))
    except (TypeError, ValueError):
        plan = None
    if plan is None:
        raise NotFound(Msg("No inspection plan %(id)s.", id=plan_id))
    return plan


def plan_dict(plan: InspectionPlan) -> dict:
    """The plan's fields as validate_plan takes them (and as the audit log keeps them)."""
    return {"name": plan.name, "device_kinds": list(plan.device_kinds or []), "period": plan.period,
            "at_night": plan.at_night, "key_sites_only": plan.key_sites_only,
            "site_code": plan.site.code if plan.site else "", "active": plan.active, "items": list(plan.items or [])}


def _site_id(session: Session, code: str) -> int | None:
    if not code:
        return None
    site_id = session.scalar(select(Site.id).where(Site.code == code))
    if site_id is None:
        raise ValidationFailed(Msg("No site with code %(code)s.", code=code), field="site_code")
    return site_id


def _apply(plan: InspectionPlan, clean: dict, site_id: int | None) -> None:
    plan.name, plan.device_kinds, plan.period = clean["name"], clean["device_kinds"], clean["period"]
    plan.at_night, plan.key_sites_only, plan.active = clean["at_night"], clean["key_sites_only"], clean["active"]
    plan.items, plan.site_id = clean["items"], site_id


def _new_key(session: Session, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "plan"
    key, n = base, 1
    while session.scalar(select(InspectionPlan.id).where(InspectionPlan.key == key)) is not None:
        n += 1
        key = f"{base}_{n}"
    return key


def create_plan(session: Session, data: dict, *, actor, now: datetime | None = None) -> InspectionPlan:
    """A new plan from a form or the API; nothing is written unless every field is valid."""
    clean = rules.validate_plan(data)
    site_id = _site_id(session, clean["site_code"])
    plan = InspectionPlan(key=_new_key(session, clean["name"]), updated_at=now or utcnow())
    _apply(plan, clean, site_id)
    session.add(plan)
    session.flush()
    audit.record(session, actor, "inspection_plan_created", "inspection_plan", plan.id, summary=plan.name,
                 after=clean)
    return plan


def update_plan(session: Session, plan_id, data: dict, *, actor, version: int | None = None,
                now: datetime | None = None) -> InspectionPlan:
    """Change a plan (audited with before and after). Open orders follow the changed checklist; inspections already
    done keep what was recorded. `version` refuses an edit made on a stale form. An item whose name comes back as
    the form showed it (a preset's name in Chinese or English) keeps its catalogue name."""
    plan = get_plan(session, plan_id)
    if version is not None and version != plan.version:
        raise ConflictError(Msg("Someone else changed this record while you were editing. Reload and try again."))
    clean = rules.validate_plan(data)
    site_id = _site_id(session, clean["site_code"])
    before = plan_dict(plan)
    old = {i["key"]: i["label"] for i in plan.items or []}
    for item in clean["items"]:
        was = old.get(item["key"])
        if was and item["label"] in (Msg(was).render("zh"), Msg(was).render("en")):
            item["label"] = was
    if Msg(plan.name).render("zh") == clean["name"]:
        clean["name"] = plan.name
    _apply(plan, clean, site_id)
    plan.updated_at = now or utcnow()
    session.flush()
    audit.record(session, actor, "inspection_plan_changed", "inspection_plan", plan.id, summary=plan.name,
                 before=before, after=clean)
    return plan


def load_preset(session: Session, name: str, *, actor) -> dict:
    """P1/P2: add the plans of one contract preset that are not there yet (by key); plans already loaded, and any
    edits made to them, are left alone. Returns {"created": [...keys], "kept": [...keys]}."""
    if name not in rules.PRESETS:
        raise ValidationFailed(Msg("Unknown preset %(name)s; known: %(known)s.", name=repr(name),
                                   known=", ".join(rules.PRESETS)), field="preset")
    created, kept = [], []
    for spec in rules.PRESETS[name]:
        if session.scalar(select(InspectionPlan.id).where(InspectionPlan.key == spec["key"])) is not None:
            kept.append(spec["key"])
            continue
        clean = rules.validate_plan(spec)
        plan = InspectionPlan(key=spec["key"], preset=name, updated_at=utcnow())
        _apply(plan, clean, None)
        session.add(plan)
        session.flush()
        audit.record(session, actor, "inspection_plan_created", "inspection_plan", plan.id,
                     summary=Msg("Preset %(preset)s: %(plan)s", preset=name, plan=Msg(plan.name)), after=clean)
        created.append(spec["key"])
    return {"created": created, "kept": kept}

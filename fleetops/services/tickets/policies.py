"""SLA policies as data (T5): the two contract presets, listing, and the admin's create/change."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain import sla
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models.base import utcnow
from fleetops.models.tickets import SlaPolicyRow
from fleetops.platform import audit


def ensure_presets(session: Session) -> None:
    """Seed the two presets of the contract on first use (T5)."""
    if session.scalar(select(func.count()).select_from(SlaPolicyRow)):
        return
    for key, rules_ in sla.PRESETS.items():
        session.add(SlaPolicyRow(key=key, rules=dict(rules_), is_default=(key == "checkpoint_om")))
    session.flush()


def list_policies(session: Session) -> list[SlaPolicyRow]:
    ensure_presets(session)
    return list(session.scalars(select(SlaPolicyRow).order_by(SlaPolicyRow.id)))


def parse_policy(rules_: dict) -> sla.SlaPolicy:
    """The domain policy of a stored row's rules; a broken one is a ValidationFailed with the domain's reason."""
    try:
        return sla.SlaPolicy.from_dict(rules_)
    except sla.PolicyError as err:
        raise ValidationFailed(err.msg) from None


def save_policy(session: Session, key: str, rules_: dict, actor, make_default: bool = False) -> SlaPolicyRow:
    """Create or change a policy (admin); validated by the domain, audited (A3)."""
    key = (key or "").strip()
    if not key or len(key) > 40:
        raise ValidationFailed(Msg("A policy key is required (at most 40 characters)."))
    policy = parse_policy(rules_)
    ensure_presets(session)
    row = session.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == key))
    before = None if row is None else {"rules": row.rules, "is_default": row.is_default}
    if row is None:
        row = SlaPolicyRow(key=key, rules=policy.to_dict(), is_default=False)
        session.add(row)
    else:
        row.rules = policy.to_dict()
    if make_default:
        for other in session.scalars(select(SlaPolicyRow).where(SlaPolicyRow.key != key)):
            other.is_default = False
        row.is_default = True
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "sla_policy_saved", "sla_policy", key, summary=policy.name,
                 before=before, after={"rules": row.rules, "is_default": row.is_default})
    return row


def policy_row(session: Session, key: str | None) -> SlaPolicyRow:
    """The policy `key`, or the default one when no key is given."""
    ensure_presets(session)
    if key:
        row = session.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == key))
        if row is None:
            raise ValidationFailed(Msg("No SLA policy %(key)s.", key=repr(key)))
        return row
    row = session.scalar(select(SlaPolicyRow).where(SlaPolicyRow.is_default.is_(True)))
    return row or session.scalar(select(SlaPolicyRow).order_by(SlaPolicyRow.id))

"""SLA policies as data (T5): the two contract presets, listing, and the admin's create/change."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain import sla
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import N_, Msg
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


# ---------------------------------------------------------------- the policy as a form (issue 13 part 6)

# (field, label msgid, kind, upper bound): the windows of a policy as form fields, grouped on the page by the rule
# they make. Empty means "this contract has no such window". Bounds catch a typo (a month in hours, a continent).
FORM_GROUPS = (
    ("day_night", N_("Arrival by day and by night (the sun at the site decides)"), (
        ("arrive_day_h", N_("Arrive within, by day (h)"), "hours", 720),
        ("arrive_night_h", N_("Arrive within, at night (h)"), "hours", 720))),
    ("distance", N_("Distance from the depot"), (
        ("near_km", N_("Near sites: within (km by road)"), "km", 5000),
        ("arrive_far_h", N_("Arrive within, beyond that distance (h)"), "hours", 720))),
    ("repair", N_("On site"), (
        ("repair_h", N_("Repair within, after arrival (h)"), "hours", 720),
        ("swap_h", N_("Swap in a spare within, when it cannot be repaired on site (h)"), "hours", 720))),
    ("tiers", N_("Service-desk tiers"), (
        ("respond_h", N_("Respond within, after notification (h)"), "hours", 720),
        ("resolve_h.ordinary", N_("Solve an ordinary fault within (h)"), "hours", 720),
        ("resolve_h.complex", N_("Solve a complex fault within (h)"), "hours", 720))),
    ("penalty", N_("Penalties"), (
        ("penalty.late_daily_pct", N_("Each day late costs (per cent, per day)"), "pct", 100),
        ("penalty.not_to_spec_pct", N_("Service not to specification costs (per cent)"), "pct", 100),
        ("penalty.terminate_above_pct", N_("The owner may terminate above (per cent of the contract total)"), "pct", 100))),
)
FIELD_LABELS = {name: label for _g, _t, fields in FORM_GROUPS for name, label, _k, _m in fields}
FIELD_LABELS.update({"name": N_("Policy name"), "key": N_("Policy key")})


def policy_form_values(rules_: dict) -> dict:
    """A stored policy as the form's field values (text), e.g. {"arrive_day_h": "2", "resolve_h.ordinary": "8"}."""
    out = {"name": rules_.get("name", ""), "key_sites_first": bool(rules_.get("key_sites_first")),
           "penalty.late_basis": (rules_.get("penalty") or {}).get("late_basis", "contract_total"),
           "penalty.extends_service_period": bool((rules_.get("penalty") or {}).get("extends_service_period"))}
    for name in FIELD_LABELS:
        if name in ("name", "key"):
            continue
        if "." in name:
            head, tail = name.split(".", 1)
            v = (rules_.get(head) or {}).get(tail)
        else:
            v = rules_.get(name)
        out[name] = "" if v is None else f"{float(v):g}"
    return out


def policy_from_form(form, base: dict | None = None) -> tuple[dict, dict[str, Msg]]:
    """The rules a submitted form describes, and the errors per field ({} when valid). What the form does not show
    (the penalty's day-counting rules, a third tier) is kept from `base`, the stored policy."""
    base = dict(base or {})
    errors: dict[str, Msg] = {}
    rules_: dict = {"name": (form.get("name") or "").strip() if "name" in form else base.get("name", ""),
                    "key_sites_first": bool(form.get("key_sites_first"))}
    if not rules_["name"]:
        errors["name"] = Msg("Give the policy a name.")
    resolve = {k: v for k, v in (base.get("resolve_h") or {}).items() if k not in ("ordinary", "complex")}
    penalty = dict(base.get("penalty") or {})
    for _g, _t, fields in FORM_GROUPS:
        for name, label, kind, upper in fields:
            raw = (form.get(name) or "").strip().replace("，", ".")
            value = None
            if raw:
                try:
                    value = float(raw)
                except ValueError:
                    errors[name] = Msg("Enter a number, e.g. 4 or 1.5.")
                    continue
                if value != value or value <= 0 and kind != "pct" or value < 0 or value > upper:
                    errors[name] = (Msg("Enter a number from 0 to %(max)s.", max=upper) if kind == "pct" else
                                    Msg("Enter a number above 0 and at most %(max)s.", max=upper))
                    continue
            if name.startswith("resolve_h."):
                if value is not None:
                    resolve[name.split(".", 1)[1]] = value
            elif name.startswith("penalty."):
                tail = name.split(".", 1)[1]
                if value is not None:
                    penalty[tail] = value
                elif tail in ("not_to_spec_pct", "terminate_above_pct"):
                    penalty[tail] = None
                else:
                    penalty.pop(tail, None)
            elif value is not None:
                rules_[name] = value
    basis = form.get("penalty.late_basis") or penalty.get("late_basis") or "contract_total"
    if basis not in sla.LATE_BASES:
        errors["penalty.late_basis"] = Msg("Choose one of the listed options.")
    penalty["late_basis"] = basis
    penalty["extends_service_period"] = bool(form.get("penalty.extends_service_period"))
    if resolve:
        rules_["resolve_h"] = resolve
    if penalty:
        rules_["penalty"] = penalty
    # The rules that tie fields together, said at the field to fill in.
    if rules_.get("arrive_day_h") is not None and rules_.get("arrive_night_h") is None and "arrive_night_h" not in errors:
        errors["arrive_night_h"] = Msg("With a day window, give the night window too.")
    if rules_.get("arrive_night_h") is not None and rules_.get("arrive_day_h") is None and "arrive_day_h" not in errors:
        errors["arrive_day_h"] = Msg("With a night window, give the day window too.")
    if rules_.get("arrive_far_h") is not None and rules_.get("near_km") is None and "near_km" not in errors:
        errors["near_km"] = Msg("Say up to which distance a site counts as near.")
    if rules_.get("near_km") is not None and rules_.get("arrive_far_h") is None and "arrive_far_h" not in errors:
        errors["arrive_far_h"] = Msg("Give the arrival window beyond that distance.")
    if not errors:
        try:
            rules_ = sla.SlaPolicy.from_dict(rules_).to_dict()
        except sla.PolicyError as err:
            errors["_form"] = err.msg
    return rules_, errors


def save_policy_form(session: Session, key: str, form, actor, *, new: bool = False) -> tuple[SlaPolicyRow | None,
                                                                                                dict[str, Msg]]:
    """Create or change a policy from its form (admin); (row, {}) when saved, (None, errors) when not."""
    key = (key or "").strip()
    ensure_presets(session)
    row = session.scalar(select(SlaPolicyRow).where(SlaPolicyRow.key == key)) if key else None
    errors: dict[str, Msg] = {}
    if not key or len(key) > 40 or not all(c.isalnum() or c in "_-" for c in key):
        errors["key"] = Msg("A short key of letters, digits, - or _ (at most 40), e.g. city_2027.")
    elif new and row is not None:
        errors["key"] = Msg("A policy with this key exists already.")
    elif not new and row is None:
        errors["key"] = Msg("No SLA policy %(key)s.", key=repr(key))
    base = dict(row.rules) if row is not None and not new else {}
    rules_, field_errors = policy_from_form(form, base)
    errors.update(field_errors)
    if errors:
        return None, errors
    if row is not None and base.get("name") and rules_.get("name") == Msg(base["name"]).render():
        rules_["name"] = base["name"]  # the name left as shown: keep the msgid, still shown in either language
    return save_policy(session, key, rules_, actor, make_default=bool(form.get("is_default"))), {}

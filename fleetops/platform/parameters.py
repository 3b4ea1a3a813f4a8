"""Contract numbers as data: read with a default, change with an audit record (STYLE §4).

Each area lists its defaults in a `PARAMETERS` dict (key → (value, description msgid)); `fleetops.wiring`
registers them all with `register_defaults`.
"""
from sqlalchemy.orm import Session

from fleetops.models import ContractParameter
from fleetops.models.base import utcnow
from fleetops.domain.text import Msg
from fleetops.platform import audit

# key -> (value, description msgid); filled by fleetops.wiring from each area's PARAMETERS.
DEFAULTS: dict[str, tuple] = {}


def register_default(key: str, value, description: str) -> None:
    DEFAULTS[key] = (value, description)


def register_defaults(defaults: dict[str, tuple]) -> None:
    for key, (value, description) in defaults.items():
        register_default(key, value, description)


def get(session: Session, key: str, default=None):
    row = session.get(ContractParameter, key)
    if row is not None:
        return row.value
    if key in DEFAULTS:
        return DEFAULTS[key][0]
    return default


def set_value(session: Session, key: str, value, actor) -> ContractParameter:
    """Change one contract number; audited. The caller commits."""
    row = session.get(ContractParameter, key)
    before = row.value if row is not None else DEFAULTS.get(key, (None,))[0]
    if row is None:
        row = ContractParameter(key=key, value=value, description=DEFAULTS.get(key, (None, ""))[1])
        session.add(row)
    row.value = value
    row.updated_at = utcnow()
    row.updated_by = getattr(actor, "username", None) or str(actor or "system")
    audit.record(session, actor, "parameter_changed", "parameter", key,
                 summary=Msg("Contract parameter %(key)s changed from %(before)s to %(after)s.", key=key,
                                     before=repr(before), after=repr(value)), before={"value": before}, after={"value": value})
    return row


def all_parameters(session: Session) -> list[dict]:
    stored = {p.key: p for p in session.query(ContractParameter).all()}
    keys = sorted(set(DEFAULTS) | set(stored))
    out = []
    for k in keys:
        p = stored.get(k)
        out.append({
            "key": k, "value": p.value if p else DEFAULTS[k][0],
            "description": (p.description if p and p.description else DEFAULTS.get(k, (None, ""))[1]),
            "updated_at": p.updated_at if p else None, "updated_by": p.updated_by if p else None,
        })
    return out

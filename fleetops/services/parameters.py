"""Contract numbers as data: read with a default, change with an audit record (STYLE §4)."""
from sqlalchemy.orm import Session

from fleetops.models import ContractParameter
from fleetops.models.base import utcnow
from fleetops.services import audit

# Each area registers its defaults here at import: key -> (value, description).
DEFAULTS: dict[str, tuple] = {}


def register_default(key: str, value, description: str) -> None:
    DEFAULTS[key] = (value, description)


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
                 summary=f"{key}: {before!r} → {value!r}", before={"value": before}, after={"value": value})
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

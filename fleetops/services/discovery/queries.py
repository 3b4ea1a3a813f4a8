"""Reading sweeps and their rows for the discovery page, the CLI and the API."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import NotFound
from fleetops.domain.text import Msg
from fleetops.models.discovery import DiscoveryResult, DiscoverySweep


def list_sweeps(session: Session, limit: int = 50) -> list[DiscoverySweep]:
    return list(session.scalars(select(DiscoverySweep).order_by(DiscoverySweep.id.desc()).limit(limit)))


def get_sweep(session: Session, sweep_id) -> DiscoverySweep:
    try:
        sweep = session.get(DiscoverySweep, int(sweep_id))
    except (TypeError, ValueError):
        sweep = None
    if sweep is None:
        raise NotFound(Msg("No discovery sweep %(id)s.", id=sweep_id))
    return sweep


def sweep_progress(sweep: DiscoverySweep) -> dict:
    """What the page polls: state and counts."""
    return {"id": sweep.id, "state": sweep.state, "hosts_total": sweep.hosts_total, "hosts_done": sweep.hosts_done,
            "answered": sweep.answered, "unmanaged": sweep.unmanaged, "never_online": sweep.never_online,
            "mismatch": sweep.mismatch, "done": sweep.state in ("done", "failed")}


def get_result(session: Session, result_id) -> DiscoveryResult:
    try:
        row = session.get(DiscoveryResult, int(result_id))
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise NotFound(Msg("No discovery result %(id)s.", id=result_id))
    return row

"""SQLAlchemy 2 declarative tables, one module per area; importing this package registers them all."""
from fleetops.models.base import Base, UTCDateTime, utcnow  # noqa: F401
from fleetops.models.core import (  # noqa: F401
    ApiToken, AuditLog, Cabinet, ContractParameter, Depot, Device, MetrologyCertificate, Site, User,
)

# Each area owns a module; a missing one (not written yet) is simply not registered.
import importlib as _importlib

for _area in ("monitoring", "tickets", "quality", "alerts"):
    try:
        _importlib.import_module(f"fleetops.models.{_area}")
    except ModuleNotFoundError as _err:  # pragma: no cover - only while an area is being written
        if _err.name != f"fleetops.models.{_area}":
            raise

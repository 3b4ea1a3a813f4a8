"""SQLAlchemy 2 declarative tables, one module per area; importing this package registers them all."""
from fleetops.models.base import Base, UTCDateTime, utcnow  # noqa: F401
from fleetops.models.core import (  # noqa: F401
    ApiToken, AuditLog, Cabinet, ContractParameter, Depot, Device, InventoryImportJob, MetrologyCertificate, Site,
    User,
)

from fleetops.models import display  # noqa: F401,E402 - issue 13: wall-screen display tokens
from fleetops.models import agents, alerts, discovery, maintenance, monitoring, quality, service, tickets  # noqa: F401,E402 - every table in the metadata
from fleetops.models import inspections  # noqa: F401,E402 - P1–P3
from fleetops.models import records  # noqa: F401,E402 - issue 12's records
from fleetops.models import rollup  # noqa: F401,E402 - issue 14: the uptime rollup
from fleetops.models import throttle  # noqa: F401,E402 - issue 14: sign-in throttling shared by web processes

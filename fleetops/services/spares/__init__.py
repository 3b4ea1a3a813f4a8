"""Spare parts (S1, S2): part types, stock locations, serialised units, the ledger, and on-hand quantities that
never go negative.

Modules: catalogue (part types, locations), stock (atomic on-hand changes, serial status, the minimum check),
records (ledger rows, labels), movements (receive, issue to a ticket, return, repair, scrap, transfer), queries
(reading, and the daily below-minimum job). This file only re-exports the public functions.
"""
from fleetops.services.spares.catalogue import create_location, create_part_type, set_minimum  # noqa: F401
from fleetops.services.spares.records import (  # noqa: F401
    MOVEMENT_CONTEXT, MOVEMENT_KINDS, MOVEMENT_LABELS, movement_row,
)
from fleetops.services.spares.movements import (  # noqa: F401
    issue_to_ticket, receive, return_to_stock, scrap, send_for_repair, transfer, undo_issue, undone_ids,
)
from fleetops.services.spares.queries import (  # noqa: F401
    below_minimum, job_stock_minimum, ledger, locations, part_types, serial_in_stock, stock_overview, stock_rows,
)
from fleetops.services.spares.stock import on_hand  # noqa: F401

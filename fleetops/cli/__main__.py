"""`python -m fleetops.cli` — the same as the `fleetops` console script."""
from fleetops.cli import main

main(prog_name="fleetops")

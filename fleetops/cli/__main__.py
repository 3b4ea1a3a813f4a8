"""`python -m fleetops.cli` — the same as the `fleetops` console script."""
from fleetops.wiring import cli

if __name__ == "__main__":
    cli()

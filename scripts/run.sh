#!/usr/bin/env bash
# One command: set everything up and run fleetops (web UI on http://127.0.0.1:5000, scheduler, simulated fleet),
# on the embedded SQLite database in ./instance. Extra arguments go to `fleetops run` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/fleetops run "$@"

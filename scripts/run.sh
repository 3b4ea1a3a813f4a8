#!/usr/bin/env bash
# One command: set everything up and run fleetops (web UI on http://127.0.0.1:5000, scheduler, simulated fleet),
# on the embedded SQLite database in ./instance. Extra arguments go to `fleetops run` (see --help).
# Works as an ordinary user: `fleetops run` first prints three lines — root or not, how liveness is checked
# (raw ICMP, unprivileged ICMP, or TCP connect), which ports the simulator can use — each with the exact command
# (setcap / sysctl) that would enable more. None of them is required.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/fleetops run "$@"

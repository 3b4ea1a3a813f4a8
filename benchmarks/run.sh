#!/usr/bin/env bash
# Runs every benchmark with its defaults and prints their numbers (each names the peer it is compared with).
# Usage: benchmarks/run.sh [name ...]   e.g. benchmarks/run.sh uptime_report imaging
# poll_cycle needs root (its own network namespace); the others use SQLite and PostgreSQL on 127.0.0.1:5432.
set -uo pipefail
cd "$(dirname "$0")/.."
all=(poll_cycle scheduler_memory uptime_report imaging inventory tickets reports_monthly alerts_outbox snmp_hostile_decode sampling_memory secrets_at_rest pages map_geojson inspections trap_decode agent_memory ingest blackout crawl_pages)
names=("${@:-${all[@]}}")
status=0
for n in "${names[@]}"; do
  echo; echo "=== benchmarks/$n.py"
  .venv/bin/python "benchmarks/$n.py" || { echo "benchmark $n failed"; status=1; }
done
exit $status

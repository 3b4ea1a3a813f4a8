#!/usr/bin/env bash
# One command: install what the tests need, check the architecture contracts, then run the whole suite (the browser
# tests in headless Chromium included) on SQLite and on PostgreSQL at the same time (scripts/test_suites.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

# PostgreSQL: the production database; the same suite runs against it (a fresh database per run).
PG_URL=${FLEETOPS_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "test: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "test: PostgreSQL is not running on 127.0.0.1:5432"; exit 1; }

echo "== architecture contracts (import-linter)"
.venv/bin/lint-imports --config setup.cfg

# The suite on SQLite and on PostgreSQL side by side (one run per core; each its own log, instance folder and
# database), each log printed when its run ends; non-zero if either fails.
FLEETOPS_TEST_PG_URL=$PG_URL PYTHON=.venv/bin/python exec scripts/test_suites.sh "$@"

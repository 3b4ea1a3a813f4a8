#!/usr/bin/env bash
# One command: install what the tests need, then run the whole suite on SQLite and on PostgreSQL,
# the browser tests in headless Chromium, and the architecture contracts.
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

export FLEETOPS_INSTANCE_PATH=${FLEETOPS_INSTANCE_PATH:-$(mktemp -d)}
echo "== architecture contracts (import-linter)"
.venv/bin/lint-imports --config setup.cfg

echo "== tests on SQLite"
.venv/bin/python -m pytest "$@"

echo "== tests on PostgreSQL"
FLEETOPS_TEST_DATABASE_URL=$PG_URL .venv/bin/python -m pytest "$@"

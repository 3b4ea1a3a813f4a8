#!/usr/bin/env bash
# The whole pytest suite on SQLite and on PostgreSQL at the same time (one process each: the machine CI runs on has
# two cores), each into its own log; a log is printed whole when its run ends, then a one-line summary of both.
# Exits non-zero if either run fails. Called by scripts/test.sh after setup; extra arguments go to both pytest runs.
# PYTHON (default .venv/bin/python) and FLEETOPS_TEST_PG_URL (default the local server) may be set.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PG_URL=${FLEETOPS_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}

work=$(mktemp -d "${TMPDIR:-/tmp}/fleetops-test.XXXXXX")
declare -A pid=() log=() start=()
run() {  # run NAME [VAR=value ...]: pytest in the background with its own instance folder, pytest temp folder, log
  local name=$1; shift
  mkdir -p "$work/$name/instance"
  log[$name]=$work/$name.log
  start[$name]=$SECONDS
  env "$@" FLEETOPS_INSTANCE_PATH="$work/$name/instance" \
    "$PY" -m pytest --basetemp="$work/$name/pytest" -p no:cacheprovider "${ARGS[@]}" >"${log[$name]}" 2>&1 &
  pid[$name]=$!
  echo "== tests on $name: started (log ${log[$name]})"
}
ARGS=("$@")
run SQLite -u FLEETOPS_TEST_DATABASE_URL
run PostgreSQL FLEETOPS_TEST_DATABASE_URL="$PG_URL"

trap 'kill "${pid[@]}" 2>/dev/null' INT TERM
declare -A rc=()
summary=()
while [ ${#rc[@]} -lt ${#pid[@]} ]; do
  pending=()
  for name in "${!pid[@]}"; do [ -n "${rc[$name]:-}" ] || pending+=("${pid[$name]}"); done
  wait -n -p done_pid "${pending[@]}"
  status=$?
  for name in "${!pid[@]}"; do
    [ "${pid[$name]}" = "$done_pid" ] || continue
    rc[$name]=$status
    took=$((SECONDS - start[$name]))
    echo
    echo "================================ tests on $name (exit $status, $((took / 60)) min $((took % 60)) s)"
    cat "${log[$name]}"
    summary+=("$name: $(tail -n 1 "${log[$name]}" | tr -d '=' | sed 's/^ *//') — exit $status, ${took} s")
  done
done

echo
echo "== summary"
printf '   %s\n' "${summary[@]}"
failed=0
for name in "${!rc[@]}"; do [ "${rc[$name]}" = 0 ] || failed=1; done
[ $failed = 0 ] && rm -rf "$work"
exit $failed

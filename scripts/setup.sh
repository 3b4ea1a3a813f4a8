#!/usr/bin/env bash
# Installs what fleetops needs into ./.venv (and, as root, the Debian packages the tests and simulator use).
# Usage: scripts/setup.sh [--test]     Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=${1:-}

# fonts-wqy-zenhei: a TrueType CJK font the monthly PDF embeds (ReportLab cannot embed the CFF-based Noto CJK).
apt_pkgs=(nftables iproute2 fonts-wqy-zenhei)
[ "$want_test" = "--test" ] && apt_pkgs+=(chromium chromium-driver fping snmp snmpd poppler-utils fonts-noto-cjk)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "setup: not root; skipping Debian packages (${apt_pkgs[*]}) — install them yourself if missing"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
extra=""
[ "$want_test" = "--test" ] && extra="[test]"
stamp=".venv/.fleetops-installed$extra"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
  echo "setup: pip install -e .$extra"
  .venv/bin/pip install -q -e ".$extra"
  touch "$stamp"
fi

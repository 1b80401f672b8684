#!/usr/bin/env bash
# Install heedful into ./.venv (Python 3.11). `--dev` adds the test and lint tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "heedful needs Python 3.11"' 
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev,eval]"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".${extras}" 2>&1 | grep -v -E "^WARNING: Location .* is ignored" || true
.venv/bin/python -c 'import heedful, django; print("heedful installed: Django", django.get_version())'

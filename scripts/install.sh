#!/usr/bin/env bash
# Install heedful into ./.venv (Python 3.11) and build its text models.
#   --dev        also the test and lint tools
#   --no-models  skip building the models (the FAQ matcher then falls back to TF-IDF and
#                sentiment is unavailable until `bash scripts/build_models.sh` runs)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0 models=1
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --no-models) models=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), "heedful needs Python 3.11"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extras=""
[ $dev -eq 1 ] && extras="[dev,eval]"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".${extras}" 2>&1 | grep -v -E "^WARNING: Location .* is ignored" || true
.venv/bin/python -c 'import heedful, django; print("heedful installed: Django", django.get_version())'
if [ $models -eq 1 ]; then
  bash scripts/build_models.sh
fi

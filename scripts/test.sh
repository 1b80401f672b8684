#!/usr/bin/env bash
# The test suite, twice: on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).
# Browser tests use Debian's chromium; Celery tests use Redis on 127.0.0.1:6379.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || bash scripts/install.sh --dev || exit 1
PG_URL=${HEEDFUL_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/heedful}
status=0
run() {
  local label=$1; shift
  echo "--- pytest on $label"
  .venv/bin/pytest "$@"
  local rc=$?
  # pytest exits 5 when it collected no tests: that must fail, not pass quietly.
  if [ $rc -eq 5 ]; then echo "pytest on $label collected no tests"; rc=1; fi
  [ $rc -eq 0 ] || status=$rc
}
run "SQLite" -q -n 2 "$@"
HEEDFUL_TEST_DATABASE_URL=$PG_URL run "PostgreSQL" -q -n 2 "$@"
exit $status

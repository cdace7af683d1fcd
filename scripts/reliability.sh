#!/usr/bin/env bash
# Regenerate the README's Reliability section from a real run of the adversarial suite.
#   bash scripts/reliability.sh           # the long variants (--runslow)
#   bash scripts/reliability.sh --quick   # the default counts, as scripts/test.sh runs them
# The table is written whatever the outcome (failures are marked in it) and names the commit
# and date it came from; the script exits with pytest's status.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/test.sh -q tests/test_record.py >/dev/null
slow=--runslow
[ "${1:-}" = "--quick" ] && slow=
out=$(mktemp)
trap 'rm -f "$out"' EXIT
started=$(date -u +%Y-%m-%dT%H:%MZ)
commit=$(git rev-parse --short=12 HEAD)
# Changes to the README alone are this script's own output; anything else means the table
# does not describe the commit it names.
if git status --porcelain -- . ':!README.md' | grep -q .; then
  commit="$commit with uncommitted changes"
fi
status=0
AFFIDAVIT_RELIABILITY_OUT="$out" .venv/bin/python -m pytest -q -p no:cacheprovider $slow \
  tests/adversarial || status=$?
.venv/bin/python scripts/render_reliability.py "$out" "$started" "${slow:-default counts}" "$commit"
exit "$status"

#!/usr/bin/env bash
# Regenerate the README's Reliability section from a real run of the adversarial suite.
#   bash scripts/reliability.sh           # the long variants (--runslow)
#   bash scripts/reliability.sh --quick   # the default counts, as scripts/test.sh runs them
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/test.sh -q tests/test_record.py >/dev/null
slow=--runslow
[ "${1:-}" = "--quick" ] && slow=
out=$(mktemp)
trap 'rm -f "$out"' EXIT
started=$(date -u +%Y-%m-%dT%H:%MZ)
AFFIDAVIT_RELIABILITY_OUT="$out" .venv/bin/python -m pytest -q -p no:cacheprovider $slow tests/adversarial
.venv/bin/python scripts/render_reliability.py "$out" "$started" "${slow:-default counts}"

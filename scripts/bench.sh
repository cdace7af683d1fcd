#!/usr/bin/env bash
# Run every benchmark at the sizes the README quotes, one after another (they are noisy
# when run side by side on a 2-core machine), saving each one's output in bench/results/.
#   bash scripts/bench.sh              # all of them (about 30 minutes, and 10m about an
#                                      # hour more, with about 30 GB of free disk)
#   bash scripts/bench.sh hook query   # just these
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/test.sh -q tests/test_record.py >/dev/null
mkdir -p bench/results
all=(ledger scale disk 10m hook service startup query import export evidence scan collector shipping otlp http_hooks console)
for name in "${@:-${all[@]}}"; do
  echo "== bench/bench_$name.py" >&2
  .venv/bin/python "bench/bench_$name.py" | tee "bench/results/$name.txt"
done

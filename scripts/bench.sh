#!/usr/bin/env bash
# Run every benchmark at the sizes the README quotes, one after another (they are noisy
# when run side by side on a 2-core machine), saving each one's output in bench/results/.
#   bash scripts/bench.sh              # all of them (about 30 minutes, and 10m about an
#                                      # hour more; it asks for 60 GB of free disk, for
#                                      # the ledger and its copy in PostgreSQL)
#   bash scripts/bench.sh hook query   # just these
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/test.sh -q tests/test_record.py >/dev/null
mkdir -p bench/results
all=(ledger scale disk 10m verify_memory hook service startup query import export evidence scan collector shipping otlp http_hooks console)
# 10m keeps its ledger for verify_memory, which measures verify on it, then it is removed.
kept=$(mktemp -d)
trap 'rm -rf "$kept"' EXIT
for name in "${@:-${all[@]}}"; do
  echo "== bench/bench_$name.py" >&2
  case $name in
    10m) .venv/bin/python bench/bench_10m.py --keep "$kept/10m" | tee bench/results/10m.txt ;;
    verify_memory)
      if [ ! -f "$kept/10m/ledger.sqlite" ]; then
        echo "verify_memory measures the 10m run's ledger: bash scripts/bench.sh 10m verify_memory" >&2
        exit 2
      fi
      .venv/bin/python bench/bench_verify_memory.py "$kept/10m/ledger.sqlite" \
        | tee bench/results/verify_memory.txt ;;
    *) .venv/bin/python "bench/bench_$name.py" | tee "bench/results/$name.txt" ;;
  esac
done

#!/usr/bin/env bash
# The main job, end to end, on a fresh machine with Python 3.11+:
# make .venv, install, then capture a sample agent session through the real hook, seal it,
# show who did what, prove and verify it, roll one action back, and show that a tampered
# copy of the ledger, and a forged index row, each fail verification.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements-dev.lock -e .
A=.venv/bin/affidavit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AFFIDAVIT_LEDGER="$work/ledger.sqlite"   # a scratch ledger; nothing touches your real one
mkdir -p "$work/workspace"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step affidavit init --origin demo.example/affidavit
$A init --origin demo.example/affidavit

step "replay examples/demo-session.json through 'affidavit hook', as Claude Code calls it"
.venv/bin/python scripts/demo_agent.py "$work/workspace" "$AFFIDAVIT_LEDGER"

step affidavit seal
$A seal

step affidavit log
$A log --kind file --kind command --kind prompt --format table

step "affidavit diff <the Edit>"
edit=$($A sql "SELECT seq FROM actions WHERE kind = 'file.update' AND tool = 'Edit' LIMIT 1" --format csv | tail -n 1)
$A diff "$edit"

step "affidavit prove $edit --json"
$A prove "$edit" --json

step "affidavit checkpoint --out receipt.txt   (what an auditor keeps)"
$A checkpoint --out "$work/receipt.txt"

step "affidavit rollback <the shell rm>"
rm_seq=$($A sql "SELECT seq FROM actions WHERE kind = 'file.delete' LIMIT 1" --format csv | tail -n 1)
$A rollback "$rm_seq"
ls "$work/workspace/finance"

step affidavit seal
$A seal >/dev/null
step "affidavit verify --from receipt.txt"
$A verify --from "$work/receipt.txt"

step "tamper with a copy: change one payload field directly in SQLite, then verify"
cp "$AFFIDAVIT_LEDGER" "$work/tampered.sqlite"
cp "$AFFIDAVIT_LEDGER.key" "$work/tampered.sqlite.key"
.venv/bin/python - "$work/tampered.sqlite" "$edit" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(body,) = db.execute("SELECT payload FROM records WHERE seq = ?", (int(sys.argv[2]),)).fetchone()
db.execute("UPDATE records SET payload = ? WHERE seq = ?",
           (body.replace(b"Costs: 0.95M", b"Costs: 0.99M"), int(sys.argv[2])))
db.commit()
PY
if $A --ledger "$work/tampered.sqlite" verify; then
  echo "tampering was NOT detected" >&2
  exit 1
else
  echo "(exit $?: tampering detected, as it must be)"
fi

step "tamper with the index an auditor's log and exports read: move the edit out of finance/"
cp "$AFFIDAVIT_LEDGER" "$work/forged-index.sqlite"
cp "$AFFIDAVIT_LEDGER.key" "$work/forged-index.sqlite.key"
.venv/bin/python - "$work/forged-index.sqlite" "$edit" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE actions SET path = '/tmp/elsewhere/notes.md', folder = '/tmp/elsewhere' "
           "WHERE seq = ?", (int(sys.argv[2]),))
db.commit()
PY
if $A --ledger "$work/forged-index.sqlite" verify; then
  echo "the forged index was NOT detected" >&2
  exit 1
else
  echo "(exit $?: the forged index row is named, as it must be)"
fi

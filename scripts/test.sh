#!/usr/bin/env bash
# The project's test command: makes .venv if missing, installs .[dev] against the
# pinned constraints, then runs ruff, mypy --strict and pytest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements-dev.lock -e '.[dev]'
# The console's browser tests drive Debian's Chromium (never a browser build downloaded by
# Playwright): install it quietly when missing and we may; under CI=true its absence is an error.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
    >/dev/null 2>&1 || echo "could not install chromium with apt-get" >&2
fi
if [ ! -x /usr/bin/chromium ] && [ "${CI:-}" = true ]; then
  echo "/usr/bin/chromium is missing (apt-get install chromium) and CI=true requires it" >&2
  exit 1
fi
echo "== ruff" >&2
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
echo "== mypy" >&2
.venv/bin/mypy
# The S3 archive tests talk to a real S3-compatible server: moto's server mode, on a free
# loopback port, stopped when this script ends.
s3_port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/python -m moto.server -H 127.0.0.1 -p "$s3_port" >/dev/null 2>&1 &
s3_pid=$!
trap 'kill "$s3_pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  if .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 0.5)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
export AFFIDAVIT_TEST_S3="http://127.0.0.1:$s3_port"
echo "== pytest" >&2
.venv/bin/python -m pytest "$@"

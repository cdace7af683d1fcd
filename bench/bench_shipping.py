"""Automatic shipping from the recorder service (issue 12): how long after a hook's event is
recorded does its record sit on the collector? Prints figures; asserts nothing.

    .venv/bin/python bench/bench_shipping.py [--events 40] [--db postgresql://127.0.0.1:5432/test]

A real collector (`affidavit server`, PostgreSQL on loopback) and a real recorder service
(`affidavit service`, given a device token, so it seals every 2 s and ships each new
checkpoint); each event goes through `affidavit hook`, and the delay is from the hook's exit
(the service has committed it) to the first poll of the collector's database that finds it
(polled every 20 ms). Events are spaced by a random 0-3 s, so they fall anywhere in the seal
interval. Floor: the seal interval itself, the wait the design accepts before a checkpoint
exists. Goal: every record on the collector within 5 s. Runs as the benchmark's own user;
uses its own PostgreSQL schema and drops it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

SEAL_S = 2.0  # the service's seal interval when it ships (affidavit.cli.service)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def affidavit(*args: str, env: dict[str, str], stdin: bytes = b"") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", *args], input=stdin, capture_output=True, env=env,
        check=False, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"affidavit {args[0]}: {done.stderr.decode()[-400:]}")
    return done.stdout.decode()


def wait(what: str, ready: object, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise SystemExit(f"gave up waiting for {what}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument(
        "--db", default=os.environ.get("AFFIDAVIT_TEST_PG", "postgresql://127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL on loopback, {datetime.now(UTC):%Y-%m-%d}; {args.events} events through "
        "`affidavit hook` to a shipping `affidavit service`",
        flush=True,
    )
    schema = f"affidavit_bship_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
        env.update(HOME=str(work), XDG_DATA_HOME=str(work / "d"), XDG_CONFIG_HOME=str(work / "c"))
        server = ["--db", args.db, "--schema", schema, "--keys", str(work / "keys")]
        ledger = ["--ledger", str(work / "ledger.sqlite")]
        processes: list[subprocess.Popen[bytes]] = []
        try:
            affidavit("server", "init", "--origin", "bench.example.com/org", *server, env=env)
            token = affidavit(
                "server", "token", "create", "--role", "device", "--name", "l", *server, env=env
            ).strip()
            url = f"http://127.0.0.1:{free_port()}"
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "affidavit", "server", *server, "--listen", url[7:]],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            ))  # fmt: skip
            affidavit(*ledger, "init", "--origin", "laptop.bench.example.com/l", env=env)
            wait("the collector", lambda: _up(url))
            affidavit(*ledger, "enrol", url, "--token", token, env=env)
            sock = work / "run" / "s.sock"
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "affidavit", *ledger, "service", "--socket", str(sock)],
                env=env | {"AFFIDAVIT_TOKEN": token}, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            ))  # fmt: skip
            wait("the service", sock.exists)
            delays = measure(args, work, ledger, sock, env, schema)
        finally:
            for p in processes:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=60)
            with psycopg.connect(args.db, autocommit=True) as conn:
                for name in (schema, schema + "_org"):
                    conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    p50, p99 = percentile(delays, 0.5), percentile(delays, 0.99)
    print(f"record on the collector after    p50 {p50:.2f} s / p99 {p99:.2f} s / max "
          f"{max(delays):.2f} s")  # fmt: skip
    print(f"floor: the seal interval          {SEAL_S:.2f} s")
    print(f"within 5 s                        {sum(d <= 5 for d in delays)} of {len(delays)}")


def _up(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url + "/api/v1/whoami", timeout=2)
    except urllib.error.HTTPError as e:
        return e.code == 401
    except OSError:
        return False
    return False


def measure(
    args: argparse.Namespace,
    work: Path,
    ledger: list[str],
    sock: Path,
    env: dict[str, str],
    schema: str,
) -> list[float]:
    delays = []
    rng = random.Random(12)
    folder = work / "files"
    folder.mkdir()
    with psycopg.connect(args.db, autocommit=True) as conn:
        for i in range(args.events):
            time.sleep(rng.uniform(0, 3))
            path = folder / f"f{i}.txt"
            path.write_text(f"event {i}\n")
            event = {
                "session_id": "s", "hook_event_name": "PostToolUse", "tool_name": "Write",
                "tool_use_id": f"toolu_{i}", "cwd": str(folder),
                "tool_input": {"file_path": str(path), "content": f"event {i}\n"},
                "tool_response": {"type": "create", "filePath": str(path)},
            }  # fmt: skip
            affidavit(*ledger, "hook", "--socket", str(sock), stdin=json.dumps(event).encode(),
                      env=env)  # fmt: skip
            done = time.monotonic()
            want = f"toolu_{i}"
            while True:
                found = conn.execute(
                    f'SELECT 1 FROM "{schema}".entries WHERE position(%s::bytea in '
                    "coalesce(payload, '')) > 0 LIMIT 1",
                    (want.encode(),),
                ).fetchone()
                if found:
                    delays.append(time.monotonic() - done)
                    break
                if time.monotonic() - done > 120:
                    raise SystemExit(f"event {i} never reached the collector")
                time.sleep(0.02)
    return delays


if __name__ == "__main__":
    main()

"""``http`` hook load benchmark: concurrent Cowork sessions POST hook events to a real collector.

    .venv/bin/python bench/bench_http_hooks.py [--sessions 100] [--seconds 60]
        [--interval 1.0] [--workers 2] [--db postgresql://127.0.0.1:5432/test]

Starts `affidavit server --workers N` on 127.0.0.1, then runs --sessions sessions at once for
--seconds (shorter runs: lower it). Each session posts as Claude Code's http handler does,
one event at a time (it waits for each answer), an event every --interval seconds on average
(jittered): SessionStart, then turns of UserPromptSubmit and PreToolUse/PostToolUse pairs for
Bash, Edit and Write in the shape of real hook payloads (an Edit carries its originalFile and
structuredPatch), ending with Stop. Printed: events answered, p50/p99 answer latency; then
nothing lost: every answered event is one record in the org log (counted per session), the
org log is sealed and verified.

The floor, measured in the same run while the sessions post: the latency of an
authenticated request that does no work (`GET /api/v1/whoami`), the least any answer can
cost. The ratio printed is p99 answer / p99 floor. Latency on a shared machine is mostly
waiting for a core, so the server's CPU time per answered event (its workers' user + system
time, from /proc) is printed too. Uses its own PostgreSQL schema and drops it.
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from affidavit.ledger import Ledger
from affidavit.note import Verifier
from affidavit.server import orglog
from affidavit.server.schema import Collector, init_collector
from affidavit.server.tokens import create_token
from affidavit.store.postgres import PostgresStore, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proc_cpu import tree_cpu_seconds as cpu_seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def session_events(n: int) -> Any:
    """An endless session in real payloads' shape; session id ``bench-<n>``."""
    sid = f"bench-{n}"
    cwd = f"/sessions/bench-{n}/mnt/outputs"
    base = {"session_id": sid, "cwd": cwd, "permission_mode": "acceptEdits"}
    base["transcript_path"] = f"/sessions/bench-{n}/.claude/projects/p/{sid}.jsonl"
    yield {**base, "hook_event_name": "SessionStart", "source": "startup"}
    turn = 0
    while True:
        turn += 1
        yield {**base, "hook_event_name": "UserPromptSubmit", "prompt": f"step {turn}: tidy"}
        path = f"{cwd}/notes-{turn % 7}.md"
        calls = [
            ("Bash", {"command": f"ls -la {cwd}"}, {"stdout": "total 0\n", "stderr": ""}),
            (
                "Edit",
                {"file_path": path, "old_string": "draft", "new_string": f"v{turn}"},
                {
                    "filePath": path,
                    "originalFile": "# notes\ndraft\n",
                    "structuredPatch": [
                        {
                            "oldStart": 2,
                            "oldLines": 1,
                            "newStart": 2,
                            "newLines": 1,
                            "lines": ["-draft", f"+v{turn}"],
                        }
                    ],
                },
            ),
            ("Write", {"file_path": path, "content": f"# notes\nv{turn}\n"}, {"type": "update"}),
        ]
        for i, (tool, tool_input, response) in enumerate(calls):
            use = {"tool_name": tool, "tool_input": tool_input, "tool_use_id": f"{sid}-{turn}-{i}"}
            yield {**base, **use, "hook_event_name": "PreToolUse"}
            yield {**base, **use, "hook_event_name": "PostToolUse", "tool_response": response}


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, schema: str) -> None:
        self.args, self.work, self.schema = args, work, schema
        self.keys = work / "keys"
        with connect(args.db) as conn:
            init_collector(conn, schema=schema, origin="bench.example.com/org", keys=self.keys)
            self.device = create_token(conn, schema, role="device", name="cowork-plugin")
            self.admin = create_token(conn, schema, role="admin", name="admin")
        self.latencies: list[float] = []
        self.floor: list[float] = []
        self.answered: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.url = ""

    def serve(self) -> subprocess.Popen[bytes]:
        self.url = f"http://127.0.0.1:{free_port()}"
        log = (self.work / "server.log").open("ab")
        options = ["--db", self.args.db, "--schema", self.schema, "--keys", str(self.keys)]
        options += ["--listen", self.url[7:], "--workers", str(self.args.workers)]
        process = subprocess.Popen(
            [sys.executable, "-m", "affidavit", "server", *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "AFFIDAVIT_SERVER_SEAL_EVERY": "2"},
        )
        for _ in range(600):
            try:
                if httpx.get(self.url + "/api/v1/whoami").status_code == 401:
                    return process
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("the collector did not start; see " + str(log.name))

    async def session(self, client: httpx.AsyncClient, n: int, deadline: float) -> None:
        rng = random.Random(n)
        await asyncio.sleep(rng.uniform(0, self.args.interval))  # sessions do not start in step
        headers = {"Authorization": f"Bearer {self.device}", "Content-Type": "application/json"}
        events = session_events(n)
        while time.monotonic() < deadline:
            body = json.dumps(next(events)).encode()
            t = time.perf_counter()
            try:
                r = await client.post(self.url + "/v1/hooks", content=body, headers=headers)
                ok = r.status_code == 200
            except httpx.TransportError:
                ok = False
            if ok:
                self.latencies.append(time.perf_counter() - t)
                self.answered[f"bench-{n}"] += 1
            else:
                self.failed[f"bench-{n}"] += 1
            await asyncio.sleep(rng.uniform(0.5, 1.5) * self.args.interval)

    async def probe_floor(self, client: httpx.AsyncClient, deadline: float) -> None:
        headers = {"Authorization": f"Bearer {self.admin}"}
        while time.monotonic() < deadline:
            t = time.perf_counter()
            r = await client.get(self.url + "/api/v1/whoami", headers=headers)
            if r.status_code == 200:
                self.floor.append(time.perf_counter() - t)
            await asyncio.sleep(0.1)

    def warm_up(self) -> None:
        """Each worker checks a token with argon2 once, then caches it (server.tokens): a
        cold start is not what a day of sessions sees. Not timed."""
        for token in (self.device, self.admin) * 20:
            headers = {"Authorization": f"Bearer {token}"}
            httpx.get(self.url + "/api/v1/whoami", headers=headers).raise_for_status()

    async def load(self) -> float:
        limits = httpx.Limits(max_connections=self.args.sessions + 1)
        timeout = httpx.Timeout(10.0)  # the timeout `install --http` gives the handler
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            start = time.perf_counter()
            deadline = time.monotonic() + self.args.seconds
            await asyncio.gather(
                self.probe_floor(client, deadline),
                *(self.session(client, n, deadline) for n in range(self.args.sessions)),
            )
            return time.perf_counter() - start

    def count(self) -> tuple[Counter[str], int]:
        """Records per session in the org log, after sealing and verifying it."""
        with connect(self.args.db) as conn:
            c = Collector.load(conn, self.schema, self.keys)
            orglog.integrate(conn, c, wait=True)
            store = PostgresStore.open(conn, c.org_schema, owned=False)
            report = Ledger(store).verify(key=Verifier.from_vkey(c.org_vkey))
            held: Counter[str] = Counter()
            for _, _, _, _, payload in store.records():
                session = json.loads(payload or b"{}").get("agent", {}).get("session_id")
                held[str(session)] += 1
        return held, report.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--interval", type=float, default=1.0, help="mean s between a session's events"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--db", default=os.environ.get("AFFIDAVIT_TEST_PG", "postgresql://127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL on loopback, {datetime.now(UTC):%Y-%m-%d}; {args.sessions} sessions for "
        f"{args.seconds:g} s, an event every {args.interval:g} s each (mean), "
        f"{args.workers} server workers; load average before: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        flush=True,
    )
    schema = f"affidavit_bench_hooks_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            bench = Bench(args, Path(tmp), schema)
            server = bench.serve()
            try:
                bench.warm_up()
                cpu_before = cpu_seconds(server.pid)
                elapsed = asyncio.run(bench.load())
                cpu = cpu_seconds(server.pid) - cpu_before
                time.sleep(1)  # answered means appended; let the last integration finish
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
            held, org_size = bench.count()
        finally:
            with psycopg.connect(args.db, autocommit=True) as conn:
                for name in (schema, schema + "_org"):
                    conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    answered = sum(bench.answered.values())
    lost = sum(max(0, n - held.get(s, 0)) for s, n in bench.answered.items())
    extra = sum(max(0, held.get(s, 0) - n) for s, n in bench.answered.items())
    p50, p99 = percentile(bench.latencies, 0.5), percentile(bench.latencies, 0.99)
    f50, f99 = percentile(bench.floor, 0.5), percentile(bench.floor, 0.99)
    print(f"events answered 200            {answered:>10,} in {elapsed:.1f} s")
    print(f"answer rate                    {answered / elapsed:>10,.0f} events/s")
    print(f"not answered (error/timeout)   {sum(bench.failed.values()):>10,}")
    print(f"answer latency p50 / p99       {p50 * 1000:>10.1f} / {p99 * 1000:.1f} ms")
    print(f"floor: whoami p50 / p99        {f50 * 1000:>10.1f} / {f99 * 1000:.1f} ms")
    print(f"p99 answer / p99 floor         {p99 / f99:>10.1f}x")
    per_event = cpu / max(answered, 1) * 1000
    print(f"server CPU per answered event  {per_event:>10.1f} ms (workers, sealing, floor probes)")
    print(f"lost / extra records           {lost:>10} / {extra}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end        {load} (other work on the machine counts too)")
    print(f"org log sealed and verified    {org_size:>10,} records")


if __name__ == "__main__":
    main()

"""Collector load benchmark: simulated endpoints ship to a real collector on loopback.

    .venv/bin/python bench/bench_collector.py [--endpoints 200] [--records 100000]
        [--batch 200] [--workers 2] [--db postgresql://127.0.0.1:5432/test] [--seconds 600]

Builds one real SQLite ledger per endpoint (sealed every --batch records), starts
`affidavit server --workers N` on 127.0.0.1, then every endpoint ships its checkpoints in
order, concurrently, through the real API: records/s ingested and witnessed (each batch is
verified and cosigned), p50/p99 latency of one ship request. Run twice: as is, then with one
uvicorn worker killed (SIGKILL) halfway, the clients retrying. After each run: every record
is held exactly once (lost = duplicated = 0), the org log is sealed and verified, and
`affidavit server verify` checks every endpoint log and the org log.

The floor, measured in the same run: the latency of an authenticated request that does no
work (`GET /api/v1/whoami`), the least any ship can cost. Also printed: the CPU time the
server's processes and the PostgreSQL backends serving them spent while shipping, per 1,000
records, which other work on the host inflates far less than it does the rates (in the
second run, without the killed worker's). Loopback only; stops at --seconds.
Uses its own PostgreSQL schemas and drops them.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from affidavit.ledger import Ledger
from affidavit.note import Verifier
from affidavit.record import Kind, Record
from affidavit.server import orglog
from affidavit.server.schema import Collector, init_collector
from affidavit.server.tokens import create_token
from affidavit.store.postgres import PostgresStore, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proc_cpu import backends, cpu_seconds, tree

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def build_endpoint(
    folder: Path, origin: str, records: int, batch: int
) -> tuple[str, list[dict[str, Any]]]:
    """A real ledger sealed every ``batch`` records; its key and ship bodies, in order."""
    with Ledger.create(folder / "l.sqlite", origin=origin, key_path=folder / "l.key") as ledger:
        for start in range(0, records, batch):
            ledger.append(
                Record.create(
                    Kind.FILE_UPDATE,
                    "claude-code",
                    {
                        "actor": {"user": f"user{i % 50}"},
                        "agent": {"product": "claude-code", "session_id": f"s{i // 500}"},
                        "file": {"path": f"/Users/u/work/finance/q{i % 4}/doc-{i}.xlsx"},
                    },
                    time=T0 + timedelta(seconds=i),
                )
                for i in range(start, min(records, start + batch))
            )
            ledger.seal()
        bodies, held = [], 0
        for size, note, _ in ledger.store.checkpoints():
            proof = ledger.prove_consistency(held, size).proof if held else ()
            bodies.append(
                {
                    "origin": origin,
                    "checkpoint": note,
                    "proof": [b64(p) for p in proof],
                    "records": [
                        {"seq": s, "leaf": b64(leaf), "salt": b64(salt), "payload": b64(body)}
                        for s, leaf, _, salt, body in ledger.rows(held, size)
                    ],
                }
            )
            held = size
        vkey = ledger.verifier.vkey()
    return vkey, bodies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workers_of(pid: int) -> list[int]:
    """The uvicorn worker processes under ``pid`` (spawned; not multiprocessing's helpers)."""
    return [
        child
        for child in tree(pid)[1:]
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Run:
    """One collector, its endpoints' tokens and bodies, and the figures of one run."""

    def __init__(self, args: argparse.Namespace, work: Path, schema: str) -> None:
        self.args, self.work, self.schema = args, work, schema
        self.keys = work / f"keys-{schema}"
        with connect(args.db) as conn:
            self.collector = init_collector(
                conn, schema=schema, origin="bench.example.com/org", keys=self.keys
            )
            self.tokens = [
                create_token(conn, schema, role="device", name=f"e{i}")
                for i in range(args.endpoints)
            ]
            self.admin = create_token(conn, schema, role="admin", name="admin")
        self.latencies: list[float] = []
        self.retries = 0
        self.acked = 0
        self.lock = threading.Lock()

    def serve(self) -> subprocess.Popen[bytes]:
        self.url = f"http://127.0.0.1:{free_port()}"
        log = (self.work / f"{self.schema}.log").open("ab")
        options = ["--db", self.args.db, "--schema", self.schema, "--keys", str(self.keys)]
        options += ["--listen", self.url[7:], "--workers", str(self.args.workers)]
        process = subprocess.Popen(
            [sys.executable, "-m", "affidavit", "server", *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(600):
            try:
                if httpx.get(self.url + "/api/v1/whoami").status_code == 401:
                    return process
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit("the collector did not start; see " + str(log.name))

    def floor(self, n: int = 300) -> list[float]:
        samples = []
        with httpx.Client(headers={"Authorization": f"Bearer {self.admin}"}) as client:
            for _ in range(n):
                t = time.perf_counter()
                client.get(self.url + "/api/v1/whoami").raise_for_status()
                samples.append(time.perf_counter() - t)
        return samples

    def ship_all(self, token: str, endpoint: Any, deadline: float) -> None:
        origin, vkey, bodies = endpoint
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            # The enrolment is retried like a ship: a worker killed halfway may take it down.
            if self.post(client, "/api/v1/enrol", {"origin": origin, "vkey": vkey}, deadline):
                for body in bodies:
                    t = time.perf_counter()
                    if not self.post(client, "/api/v1/ship", body, deadline):
                        return
                    with self.lock:
                        self.latencies.append(time.perf_counter() - t)
                        self.acked += len(body["records"])

    def post(self, client: httpx.Client, path: str, body: Any, deadline: float) -> bool:
        """POST until a 200 (True), retrying transport errors and 5xx; False past the deadline.
        A ship's latency includes its retries: that is what the endpoint waits."""
        for attempt in range(50):
            if time.monotonic() > deadline:
                return False
            try:
                r = client.post(self.url + path, json=body)
            except httpx.TransportError:
                r = None
            if r is not None and r.status_code == 200:
                return True
            if r is not None and r.status_code < 500:
                raise SystemExit(f"refused: {r.status_code} {r.text}")
            with self.lock:
                self.retries += 1
            time.sleep(min(2.0, 0.05 * 2**attempt))
        return False

    def check(self, expected: dict[str, int]) -> tuple[int, int, int]:
        """(lost, duplicated, org log size) after sealing the org log and verifying it."""
        with connect(self.args.db) as conn:
            c = Collector.load(conn, self.schema, self.keys)
            orglog.integrate(conn, c, wait=True)
            held = dict(
                conn.execute(
                    f'SELECT origin, count(*) FROM "{self.schema}".entries GROUP BY origin'
                ).fetchall()
            )
            store = PostgresStore.open(conn, c.org_schema, owned=False)
            report = Ledger(store).verify(key=Verifier.from_vkey(c.org_vkey))
        lost = sum(max(0, n - held.get(o, 0)) for o, n in expected.items())
        duplicated = sum(max(0, held.get(o, 0) - n) for o, n in expected.items())
        return lost, duplicated, report.records

    def server_verify(self) -> str:
        """What `affidavit server verify` (every endpoint log and the org log) answers."""
        options = ["--db", self.args.db, "--schema", self.schema, "--keys", str(self.keys)]
        done = subprocess.run(
            [sys.executable, "-m", "affidavit", "server", "verify", *options],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return "passed"
        return "FAILED: " + (done.stderr.strip().splitlines() or ["(no message)"])[-1]


def run(
    args: argparse.Namespace, work: Path, schema: str, endpoints: list[Any], kill: bool
) -> None:
    r = Run(args, work, schema)
    server = r.serve()
    try:
        floor = r.floor()
        deadline = time.monotonic() + args.seconds
        total = sum(len(b["records"]) for _, _, bodies in endpoints for b in bodies)
        killed = []

        def killer() -> None:
            while r.acked < total // 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            workers = workers_of(server.pid)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])

        watcher = threading.Thread(target=killer, daemon=True) if kill else None
        if watcher:
            watcher.start()
        processes = tree(server.pid)
        before = {pid: cpu_seconds(pid) for pid in processes + backends(args.db, processes)}
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(len(endpoints), args.concurrency)) as pool:
            jobs = [
                pool.submit(r.ship_all, r.tokens[i], endpoint, deadline)
                for i, endpoint in enumerate(endpoints)
            ]
            for job in jobs:
                job.result()
        elapsed = time.perf_counter() - start
        # Processes alive at the end: a killed worker's time and its connections' are lost.
        processes = tree(server.pid)
        server_cpu = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in processes)
        db_cpu = sum(
            cpu_seconds(pid) - before.get(pid, 0.0) for pid in backends(args.db, processes)
        )
        expected = {o: sum(len(b["records"]) for b in bodies) for o, _, bodies in endpoints}
        lost, duplicated, org_size = r.check(expected)
        verified = r.server_verify()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    label = "one worker killed halfway" if kill else "all workers up"
    print(f"\n## {label}" + (f" (killed pid {killed[0]})" if kill and killed else ""))
    print(f"load average at the end        {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"records shipped and cosigned   {r.acked:>10,} of {total:,} in {elapsed:.1f} s")
    print(f"ingest rate                    {r.acked / elapsed:>10,.0f} records/s")
    print(f"ship requests                  {len(r.latencies):>10,} (retries {r.retries})")
    p50, p99 = percentile(r.latencies, 0.5), percentile(r.latencies, 0.99)
    print(f"ship latency p50 / p99         {p50 * 1000:>10.1f} / {p99 * 1000:.1f} ms")
    f50, f99 = percentile(floor, 0.5), percentile(floor, 0.99)
    print(f"floor: whoami p50 / p99        {f50 * 1000:>10.1f} / {f99 * 1000:.1f} ms")
    print(f"server / PostgreSQL CPU        {server_cpu / r.acked * 1e6:>10.0f} / "
          f"{db_cpu / r.acked * 1e6:.0f} ms per 1,000 records")  # fmt: skip
    print(f"lost / duplicated              {lost:>10} / {duplicated}")
    print(f"org log sealed and verified    {org_size:>10,} records")
    print(f"affidavit server verify        {verified:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    # The sizes issue #12 asks for; scripts/bench.sh runs these defaults.
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--records", type=int, default=100_000, help="in total")
    parser.add_argument("--batch", type=int, default=200, help="records per checkpoint")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=20, help="endpoints shipping at once")
    parser.add_argument("--seconds", type=float, default=600, help="stop shipping after this")
    parser.add_argument(
        "--db", default=os.environ.get("AFFIDAVIT_TEST_PG", "postgresql://127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    per = args.records // args.endpoints
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL on loopback, {datetime.now(UTC):%Y-%m-%d}; {args.endpoints} endpoints x "
        f"{per:,} records in batches of {args.batch}, {args.workers} server workers; load "
        f"average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        flush=True,
    )
    prefix = f"affidavit_bench_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        endpoints = []
        for i in range(args.endpoints):
            folder = work / f"e{i}"
            folder.mkdir()
            origin = f"laptop-{i}.bench.example.com/ledger"
            endpoints.append((origin, *build_endpoint(folder, origin, per, args.batch)))
        print(f"(endpoint ledgers built in {time.perf_counter() - t:.1f} s, not timed)")
        try:
            run(args, work, prefix + "_a", endpoints, kill=False)
            run(args, work, prefix + "_b", endpoints, kill=True)
        finally:
            with psycopg.connect(args.db, autocommit=True) as conn:
                for (name,) in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)
                ).fetchall():
                    conn.execute(f'DROP SCHEMA "{name}" CASCADE')


if __name__ == "__main__":
    main()

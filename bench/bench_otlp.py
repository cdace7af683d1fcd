"""OTLP ingest benchmark: Claude-Code-shaped log records into a real collector on loopback.

    .venv/bin/python bench/bench_otlp.py [--records 20000] [--batch 100] [--clients 4]
        [--workers 2] [--db postgresql://127.0.0.1:5432/test]

Starts `affidavit server --workers N` on 127.0.0.1 over a fresh PostgreSQL schema, appends
one http-hook record per tool use to the org log (not timed), then --clients threads POST
`claude_code.tool_result` events to /v1/logs as binary protobuf ExportLogsServiceRequests
of --batch records (attributes as Claude Code's monitoring documentation lists them).
Timed: every request answered, then one `POST /api/v1/seal`, which runs the identity join
(one identity.link per hook record) and seals the org log. Checked after: every event is
an org log record, every hook record is linked, and `affidavit server verify` passes.

The floor, measured in the same run: one authenticated request that does no work
(`GET /api/v1/whoami`) per batch, sent the same way; the ratio says how much of that the
receiver keeps. Also printed: the CPU time the server's processes and the PostgreSQL
backends serving them spent in the timed part, per 1,000 log records, which other work on
the host inflates far less than it does the rates. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from affidavit.record import Kind, Record
from affidavit.server import orglog
from affidavit.server.schema import init_collector
from affidavit.server.tokens import create_token
from affidavit.store.postgres import connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proc_cpu import backends, cpu_seconds, tree

TARGET = 5000  # log records/s (issue 13)


def body(batch: int, size: int) -> bytes:
    """One request: ``size`` tool results of session ``s<batch>`` by one person."""

    def kv(key: str, value: str | int) -> KeyValue:
        any_value = (
            AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
        )
        return KeyValue(key=key, value=any_value)

    records = []
    for i in range(size):
        attrs = {
            "event.name": "tool_result", "event.timestamp": "2026-12-06T10:00:00.000Z",
            "session.id": f"s{batch}", "prompt.id": f"p{batch}", "app.version": "2.1.0",
            "user.email": f"user{batch % 50}@example.com", "user.account_uuid": f"a{batch % 50}",
            "organization.id": "org-1", "tool_name": "Edit", "tool_use_id": f"tu{batch}-{i}",
            "success": "true", "duration_ms": 12, "decision_source": "config",
        }  # fmt: skip
        records.append(
            LogRecord(
                time_unix_nano=1796551200000000000 + i,
                body=AnyValue(string_value="claude_code.tool_result"),
                attributes=[kv(k, v) for k, v in attrs.items()],
            )
        )
    resource = Resource(attributes=[kv("service.name", "claude-code"), kv("host.name", "h1")])
    scope = InstrumentationScope(name="com.anthropic.claude_code.events")
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource, scope_logs=[ScopeLogs(scope=scope, log_records=records)]
            )
        ]
    ).SerializeToString()


def hooks(batches: int, size: int) -> list[Record]:
    now = datetime.now(UTC)
    return [
        Record.create(
            Kind.FILE_UPDATE,
            "claude-code.http-hook",
            {
                "agent": {
                    "product": "claude-code",
                    "session_id": f"s{b}",
                    "prompt_id": f"p{b}",
                    "tool_use_id": f"tu{b}-{i}",
                    "tool": "Edit",
                },
                "file": {"path": f"finance/q{i % 4}/doc-{b}-{i}.xlsx"},
            },
            time=now,
        )
        for b in range(batches)
        for i in range(size)
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post_all(url: str, token: str, bodies: list[bytes], path: str, clients: int) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}

    def send(chunk: list[bytes]) -> None:
        with httpx.Client(headers=headers, timeout=120) as client:
            for data in chunk:
                r = client.post(url + path, content=data) if data else client.get(url + path)
                r.raise_for_status()

    chunks = [bodies[i::clients] for i in range(clients)]
    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, chunks))
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--db", default=os.environ.get("AFFIDAVIT_TEST_PG", "postgresql://127.0.0.1:5432/test")
    )
    args = p.parse_args()
    batches = args.records // args.batch
    n = batches * args.batch
    schema = f"bench_otlp_{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="bench-otlp-"))
    keys = work / "keys"
    with connect(args.db) as conn:
        collector = init_collector(conn, schema=schema, origin="bench.example.com/org", keys=keys)
        token = create_token(conn, schema, role="device", name="otel")
        admin = create_token(conn, schema, role="admin", name="admin")
    process = None
    try:
        t = time.perf_counter()
        with psycopg.connect(args.db, autocommit=True) as conn:
            orglog.append_direct(conn, collector, hooks(batches, args.batch))
        bodies = [body(b, args.batch) for b in range(batches)]
        prepared = time.perf_counter() - t
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        options = ["--db", args.db, "--schema", schema, "--keys", str(keys)]
        options += ["--listen", f"127.0.0.1:{port}", "--workers", str(args.workers)]
        log = (work / "server.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "affidavit", "server", *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(600):
            try:
                if httpx.get(url + "/api/v1/whoami").status_code == 401:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        floor_s = post_all(url, admin, [b""] * batches, "/api/v1/whoami", args.clients)
        workers = tree(process.pid)
        before = {pid: cpu_seconds(pid) for pid in workers + backends(args.db, workers)}
        ingest_s = post_all(url, token, bodies, "/v1/logs", args.clients)
        t = time.perf_counter()
        seal = httpx.post(url + "/api/v1/seal", headers={"Authorization": f"Bearer {admin}"},
                          timeout=600)  # fmt: skip
        seal.raise_for_status()
        seal_s = time.perf_counter() - t
        # CPU time is what the host's other work cannot inflate much, unlike the rates.
        server_cpu = sum(cpu_seconds(pid) - before.get(pid, 0.0) for pid in workers)
        db_cpu = sum(
            cpu_seconds(pid) - before.get(pid, 0.0) for pid in backends(args.db, tree(process.pid))
        )
        s = f'"{schema}_org"'
        with psycopg.connect(args.db, autocommit=True) as conn:
            kinds = dict(
                conn.execute(
                    "SELECT convert_from(leaf, 'UTF8')::jsonb->>'kind', count(*) "
                    f"FROM {s}.records GROUP BY 1"
                ).fetchall()
            )
        verify = subprocess.run(
            [sys.executable, "-m", "affidavit", "server", "verify", *options[:6]],
            capture_output=True,
            text=True,
        )
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
        with psycopg.connect(args.db, autocommit=True) as conn:
            for name in (schema, f"{schema}_org"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        shutil.rmtree(work, ignore_errors=True)  # the keys and the server's log
    total_s = ingest_s + seal_s
    rate = n / total_s
    floor_rate = n / floor_s
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    print(
        f"# {platform.machine()}, {cores} cores, Python {platform.python_version()}, PostgreSQL "
        f"on loopback, {datetime.now(UTC):%Y-%m-%d}, load average {load:.1f}; {n:,} log "
        f"records in protobuf batches of {args.batch}, {args.clients} clients, "
        f"{args.workers} server workers"
    )
    print(f"(hook records appended and bodies built in {prepared:.1f} s, not timed)")
    print(f"{'events received (POST /v1/logs)':34} {n:>9,} in {ingest_s:.1f} s")
    print(f"{'join and seal (POST /api/v1/seal)':34} {seal_s:>9.1f} s")
    print(f"{'ingest rate, join and seal included':34} {rate:>9,.0f} log records/s")
    print(f"{'floor: whoami per batch':34} {floor_rate:>9,.0f} log records/s")
    print(f"{'ratio to the floor':34} {rate / floor_rate:>9.2f}")
    print(f"{'server CPU per 1,000 log records':34} {server_cpu / n * 1000 * 1000:>9.0f} ms")
    print(f"{'PostgreSQL CPU per 1,000 records':34} {db_cpu / n * 1000 * 1000:>9.0f} ms")
    print(f"{'target':34} {TARGET:>9,} log records/s: {'met' if rate >= TARGET else 'NOT met'}")
    print(f"{'otel.tool_result records':34} {kinds.get('otel.tool_result', 0):>9,} of {n:,}")
    print(f"{'identity.link records':34} {kinds.get('identity.link', 0):>9,} of {n:,}")
    print(f"{'org log verified':34} {'yes' if verify.returncode == 0 else 'NO: ' + verify.stderr}")


if __name__ == "__main__":
    main()

"""The collector half of bench/bench_10m.py: a ledger's rows in a collector's PostgreSQL
store, and the `GET /api/v1/records` queries of issue 12 over them. Run by bench_10m.py in a
process of its own; see its docstring.
"""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from affidavit.note import Signer
from affidavit.record import format_time, parse_time, read_leaf
from affidavit.server import folders, identity, orglog, records
from affidavit.server.schema import init_collector
from affidavit.store.postgres import connect

PEOPLE = 40
SESSION = 400  # bench_10m's people work in sessions of this many records
THROUGH_INTEGRATOR = 20_000
COPY_CHUNK = 500_000


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {text}", file=sys.stderr, flush=True)


def endpoint_of(i: int) -> tuple[str, int]:
    """(endpoint origin, its seq) of ledger record ``i``: each person's laptop has its log."""
    block = i // SESSION
    return f"bench.example/laptop-{block % PEOPLE}", (block // PEOPLE) * SESSION + i % SESSION


class Recorder:
    """The connection as :func:`records.page` sees it, keeping each statement it runs."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.calls = conn, []  # type: ignore[var-annotated]

    def execute(self, sql: str, args: Any = None) -> Any:
        self.calls.append((sql, args))
        return self.conn.execute(sql, args)


def held(ledger: Path) -> int:
    src = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        return int(src.execute("SELECT coalesce(max(seq), -1) FROM records").fetchone()[0]) + 1
    finally:
        src.close()


def rows(ledger: Path, start: int, end: int) -> Iterator[tuple[Any, ...]]:
    src = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        yield from src.execute(
            "SELECT r.seq, r.leaf, r.leaf_hash, r.salt, r.payload, a.kind, a.time "
            "FROM records r JOIN actions a ON a.seq = r.seq "
            "WHERE r.seq >= ? AND r.seq < ? ORDER BY r.seq",
            (start, end),
        )
    finally:
        src.close()


def copy_entries(conn: Any, s: str, ledger: Path, start: int, end: int, *, org: bool) -> None:
    """Entries ``start..end-1`` as ingest leaves them; with ``org``, also with the org seq
    the integrator would have given them (the ledger's seq)."""
    columns = "origin, seq, leaf, leaf_hash, salt, payload, kind, time, folders" + (
        ", org_seq" if org else ""
    )
    sql = f'COPY "{s}".entries ({columns}) FROM STDIN'
    with conn.transaction(), conn.cursor() as cur, cur.copy(sql) as copy:
        for seq, leaf, leaf_hash, salt, payload, kind, at in rows(ledger, start, end):
            origin, eseq = endpoint_of(seq)
            names = folders.literal(folders.of_payload(payload))  # as ingest stores them
            row = (origin, eseq, leaf, leaf_hash, salt, payload, kind, at, names)
            copy.write_row((*row, seq) if org else row)


def size_of(conn: Any, relation: str) -> int:
    return int(conn.execute("SELECT pg_total_relation_size(%s)", (relation,)).fetchone()[0])


def timed(fn: Any, rounds: int) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples), result


def collector_run(ledger: Path, url: str, limit: int | None = None) -> None:
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}; the collector on PostgreSQL; load "
          f"average at the start: {load()}", flush=True)  # fmt: skip
    conn = connect(url)
    schema = f"bench10m_{os.getpid()}"
    keys = Path(tempfile.mkdtemp(prefix="bench10m-keys-"))
    try:
        _run(conn, schema, keys, ledger, limit)
    finally:
        for name in (schema, f"{schema}_org"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.close()
        shutil.rmtree(keys, ignore_errors=True)
    print(f"load average at the end: {load()}")


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def _run(conn: Any, s: str, keys: Path, ledger: Path, limit: int | None) -> None:
    c = init_collector(conn, schema=s, origin="bench.example/collector", keys=keys / "k")
    identity.ensure_tables(conn, s)
    token = conn.execute(
        f"INSERT INTO \"{s}\".tokens (name, role, hash) VALUES ('bench', 'device', '-') "
        "RETURNING id"
    ).fetchone()[0]
    for p in range(PEOPLE):
        origin = endpoint_of(p * SESSION)[0]
        vkey = Signer.generate(origin).verifier().vkey()
        conn.execute(f'INSERT INTO "{s}".endpoints (origin, vkey, token_id) VALUES (%s, %s, %s)',
                     (origin, vkey, token))  # fmt: skip
    n = limit or held(ledger)
    src = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    first = src.execute("SELECT leaf FROM records ORDER BY seq LIMIT 1").fetchone()[0]
    src.close()
    assert next(rows(ledger, 0, 1))[5:] == read_leaf(first)[1::2], "kind/time differ"

    t = time.perf_counter()
    progress(f"collector: {THROUGH_INTEGRATOR:,} entries through the integrator")
    copy_entries(conn, s, ledger, 0, THROUGH_INTEGRATOR, org=False)
    orglog.integrate(conn, c, wait=True)
    org_bytes = sum(size_of(conn, f'"{s}_org".{t}') for t in ("records", "nodes", "checkpoints"))
    for start in range(THROUGH_INTEGRATOR, n, COPY_CHUNK):
        while held(ledger) < min(n, start + COPY_CHUNK):  # a ledger still being built
            time.sleep(10)
        copy_entries(conn, s, ledger, start, min(n, start + COPY_CHUNK), org=True)
        progress(f"collector: {min(n, start + COPY_CHUNK):,} of {n:,} entries copied")
    conn.execute(f'VACUUM ANALYZE "{s}".entries')  # what autovacuum does on a live server
    print(f"loaded {n:,} entries in {time.perf_counter() - t:,.0f} s (the first "
          f"{THROUGH_INTEGRATOR:,} through ingest's COPY and the real integrator, the rest "
          "with COPY and their org seq; not a figure)", flush=True)  # fmt: skip

    print("sizes per record (PostgreSQL, after ANALYZE):")
    table = int(conn.execute("SELECT pg_relation_size(%s)", (f'"{s}".entries',)).fetchone()[0])
    whole = size_of(conn, f'"{s}".entries')
    print(f"  entries table (heap + TOAST)      {(whole - indexes(conn, s, 0)) / n:8,.0f} B "
          f"(heap {table / n:,.0f} B)")  # fmt: skip
    for name, size in conn.execute(
        "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass ORDER BY 1",
        (f'"{s}".entries',),
    ).fetchall():
        print(f"  index {name.split('.')[-1]:<28}{size / n:8,.0f} B")
    print(f"  entries, everything               {whole / n:8,.0f} B")
    print(f"  org log (leaves, tree, checkpoints){org_bytes / THROUGH_INTEGRATOR:7,.0f} B "
          f"(measured on the {THROUGH_INTEGRATOR:,} the integrator took)")  # fmt: skip
    print(
        f"  total                             {whole / n + org_bytes / THROUGH_INTEGRATOR:8,.0f} B"
    )

    src = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    newest = parse_time(
        src.execute("SELECT time FROM actions WHERE seq = ?", (n - 1,)).fetchone()[0]
    )
    src.close()
    day = format_time(newest - timedelta(days=1))
    middle = newest - timedelta(days=45)
    queries = [
        ("--path finance (five folders) --since one day", {"path": "finance", "since": day}),
        ("--path finance (five folders), a day 45 days back",
         {"path": "finance", "since": format_time(middle - timedelta(days=1)),
          "until": format_time(middle)}),
        ("--since one day", {"since": day}),
        ("--path finance (five folders)", {"path": "finance"}),
    ]  # fmt: skip
    print(
        "GET /api/v1/records through records.page (pages of 1,000 as the API's default, "
        "JSON lines not formatted); target <= 1 s:"
    )
    for name, filters in queries:
        first_page, _ = timed(lambda f=filters: records.page(conn, s, f, -1, 1000), 3)
        whole = ""
        if "since" in filters:  # every page of a path alone would be 6.5 % of the whole log
            seconds, (count, done) = timed(lambda f=filters: read_all(conn, s, f), 1)
            whole = f"; all {count:,} rows {seconds:6.2f} s" + ("" if done else " (stopped)")
        print(f"  {name:<52} first page {first_page * 1000:6.0f} ms{whole}", flush=True)
        rec = Recorder(conn)
        records.page(rec, s, filters, -1, 1000)  # type: ignore[arg-type]
        for sql, args in rec.calls:
            plan = conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, args).fetchall()
            for (line,) in plan:
                if any(w in line for w in ("Scan", "Limit", "Sort", "Execution", "Cond")):
                    print(f"      {line.strip()[:110]}")


def indexes(conn: Any, s: str, _: int) -> int:
    return int(conn.execute("SELECT pg_indexes_size(%s)", (f'"{s}".entries',)).fetchone()[0])


def read_all(conn: Any, s: str, filters: dict[str, Any], budget: float = 120) -> tuple[int, bool]:
    """(rows, whether the last page was reached) of every page, or those read in ``budget``
    seconds."""
    count, after, t = 0, -1, time.perf_counter()
    while time.perf_counter() - t < budget:
        page, cursor = records.page(conn, s, filters, after, 1000)
        count += len(page)
        if cursor is None:
            return count, True
        after = cursor
    return count, False

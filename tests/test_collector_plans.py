"""The collector's record queries at scale (issue 12's 10M query, issue 16): a page of
``GET /api/v1/records`` walks the org seq index and stops, and a time window starts that
walk at the window, as PostgreSQL's own EXPLAIN says; and the narrowed queries return
exactly the records a plain filter over every record selects, a late-shipped old record
and a Windows path included.

Plans are read from a real collector schema on the real PostgreSQL, after ANALYZE (as
autovacuum leaves a live one). No timings here: bench/bench_10m.py measures the speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from affidavit import merkle
from affidavit.query import path_matches
from affidavit.record import Kind, Record, format_time
from affidavit.server import folders, identity, orglog, records
from affidavit.server.schema import Collector, init_collector
from affidavit.store.postgres import connect
from pg_helpers import Schemas

START = datetime(2026, 8, 1, tzinfo=UTC)
ORIGIN = "laptop.example.com/plans"
N = 30_000
# A walk of the org seq index: of the index alone (no filter on the rows) or with its rows
WALK = re.compile(r"Index (Only )?Scan (Backward )?using entries_org_seq_key on entries")
PATHS = [
    "/home/ann/work/finance/q1/a.xlsx",
    "/home/ann/work/hr/staff.csv",
    "C:\\Users\\cy\\finance\\q2\\b.xlsx",  # JSON escapes the separators
    "/home/bo/work/eng/src/main.py",
    "/home/bo/work/financial/c.txt",
]


def _record(i: int, at: datetime) -> Record:
    payload: dict[str, Any] = {"actor": {"user": f"u{i % 7}"}, "agent": {"tool": "Edit"}}
    if i % 3:
        payload["file"] = {"path": PATHS[i % len(PATHS)]}
    return Record.create(Kind.FILE_UPDATE, "claude-code.hook", payload, time=at)


class Recorder:
    """The connection as :func:`records.page` sees it, keeping each statement it runs."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.calls: list[tuple[str, list[Any]]] = []

    def execute(self, sql: str, args: list[Any]) -> Any:
        self.calls.append((sql, args))
        return self.conn.execute(sql, args)


@pytest.fixture(scope="module")
def org(
    pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[psycopg.Connection[Any], Collector, list[dict[str, Any]]]]:
    """N shipped entries an hour apart (the last one an old record shipped late), a few
    direct records, every row as the org log holds it."""
    conn = connect(pg_schemas.url)
    keys: Path = tmp_path_factory.mktemp("plans") / "keys"
    c = init_collector(conn, schema=pg_schemas.new(), origin="plans.example/org", keys=keys)
    s = c.schema
    identity.ensure_tables(conn, s)
    token = conn.execute(
        f"INSERT INTO \"{s}\".tokens (name, role, hash) VALUES ('d', 'device', '-') RETURNING id"
    ).fetchone()
    assert token is not None
    conn.execute(
        f'INSERT INTO "{s}".endpoints (origin, vkey, token_id) VALUES (%s, %s, %s)',
        (ORIGIN, "unused", token[0]),
    )
    times = [START + timedelta(minutes=i) for i in range(N - 1)] + [START + timedelta(minutes=200)]
    direct = orglog.append_direct(
        conn, c, [_record(i, START + timedelta(days=5, minutes=i)) for i in range(3)]
    )
    with (
        conn.cursor() as cur,
        cur.copy(
            f'COPY "{s}".entries (origin, seq, leaf, leaf_hash, salt, payload, kind, time, '
            "folders, org_seq) FROM STDIN"
        ) as copy,
    ):
        for i, at in enumerate(times):
            r = _record(i, at)
            copy.write_row(
                (ORIGIN, i, r.leaf, merkle.leaf_hash(r.leaf), r.salt, r.payload_json,
                 r.envelope.kind, r.envelope.time,
                 folders.literal(folders.of_payload(r.payload_json)), direct.stop + i)
            )  # fmt: skip
    conn.execute(f'VACUUM ANALYZE "{s}".entries')
    conn.execute(f'VACUUM ANALYZE "{s}".direct')
    every, after = [], -1
    while True:
        page, after_next = records.page(conn, s, {}, after, 5000)
        every += page
        if after_next is None:
            break
        after = after_next
    assert len(every) == N + 3
    yield conn, c, every
    conn.close()


def plans(conn: psycopg.Connection[Any], schema: str, filters: dict[str, Any]) -> list[str]:
    rec = Recorder(conn)
    records.page(rec, schema, filters, -1, 1000)  # type: ignore[arg-type]
    out = []
    for sql, args in rec.calls:
        rows = conn.execute("EXPLAIN (COSTS OFF) " + sql, args).fetchall()
        out.append("\n".join(line for (line,) in rows))
    return out


def test_a_page_walks_the_org_seq_index_and_never_scans_the_entries(
    org: tuple[psycopg.Connection[Any], Collector, list[dict[str, Any]]],
) -> None:
    conn, c, _ = org
    for filters in ({}, {"path": "finance"}, {"kind": ["file"]}):
        (plan,) = plans(conn, c.schema, filters)
        assert WALK.search(plan) or (
            "path" in filters and "Bitmap Index Scan on entries_folders" in plan
        ), plan
        assert "Seq Scan on entries" not in plan, plan


def test_a_time_window_is_bounded_by_org_seq_from_the_time_index(
    org: tuple[psycopg.Connection[Any], Collector, list[dict[str, Any]]],
) -> None:
    conn, c, every = org
    since = format_time(START + timedelta(minutes=N - 500))
    bounds, page = plans(conn, c.schema, {"since": since, "path": "finance"})
    assert "Index Only Scan using entries_time on entries" in bounds, bounds
    assert "Seq Scan on entries" not in bounds + page, bounds + page
    # Either index then serves: the org seq walk from the window's start, or (a small
    # window) the time index with the same bound, sorted; never the whole table.
    assert "Index Scan using entries_" in page or "Index Scan on entries_" in page, page
    first_in_window = min(r["org_seq"] for r in every if r["time"] >= since)
    assert f"org_seq >= '{first_in_window}'" in page.replace("::bigint", ""), page


@pytest.mark.parametrize(
    "filters",
    [
        {"since": 29_000},
        {"since": 100},  # open: later pages start at their cursor; the late record is last
        {"since": 100, "until": 300},  # the late-shipped record's time is inside
        {"since": 100, "until": 300, "path": "finance"},
        {"since": 29_900, "path": "finance"},
        {"path": "finance"},
        {"path": "/home/ann/work/finance"},
        {"since": 40_000},  # after every record: nothing
    ],
)
def test_narrowed_queries_select_what_a_plain_filter_selects(
    org: tuple[psycopg.Connection[Any], Collector, list[dict[str, Any]]],
    filters: dict[str, Any],
) -> None:
    conn, c, every = org
    asked = {
        k: format_time(START + timedelta(minutes=v)) if k in ("since", "until") else v
        for k, v in filters.items()
    }

    def wanted(r: dict[str, Any]) -> bool:
        return (
            r["time"] >= asked.get("since", "")
            and r["time"] < asked.get("until", "~")
            and (
                "path" not in asked
                or (r["path"] is not None and path_matches(r["path"], asked["path"]))
            )
        )

    expected = [r["org_seq"] for r in every if wanted(r)]
    for newest_first in (False, True):
        got, after = [], -1
        while True:
            page, cursor = records.page(
                conn, c.schema, asked, after, 700, newest_first=newest_first
            )
            got += [r["org_seq"] for r in page]
            if cursor is None:
                break
            after = cursor
        assert got == (expected[::-1] if newest_first else expected)
    if "until" in filters:
        assert every[-1]["org_seq"] in expected or "path" in filters


def test_the_consoles_counts_read_the_newest_records_by_index(
    org: tuple[psycopg.Connection[Any], Collector, list[dict[str, Any]]],
) -> None:
    """The console's counts per folder (:func:`records.newest_paths`) read the newest records
    of each half by its org seq index; ordered as one union, PostgreSQL sorted every entry
    for every page (0.5 s at 1M records in bench_console)."""
    conn, c, every = org
    for filters in ({}, {"kind": ["file"]}, {"path": "finance"}):
        rec = Recorder(conn)
        sample = records.newest_paths(rec, c.schema, filters, 500)  # type: ignore[arg-type]
        assert sample is not None
        ((sql, args),) = rec.calls
        plan = "\n".join(r for (r,) in conn.execute("EXPLAIN (COSTS OFF) " + sql, args))
        assert WALK.search(plan) and "Backward using entries_org_seq_key" in plan, plan
        assert "Seq Scan on entries" not in plan, plan
    paths, more = records.newest_paths(conn, c.schema, {}, 500) or ([], False)
    newest = sorted(every, key=lambda r: -int(r["org_seq"]))[:500]
    assert more and sorted(paths, key=str) == sorted((r["path"] for r in newest), key=str)


def test_the_identity_scan_reads_new_entries_by_index(
    org: tuple[psycopg.Connection[Any], Collector, list[dict[str, Any]]],
) -> None:
    """Each scan of the identity join asks for the newest ``received`` and reads a range of
    it; without an index both read the whole table (3.5 s at 1M records, every cycle)."""
    conn, c, _ = org
    s = f'"{c.schema}"'
    for sql, args in (
        (f"SELECT max(received) FROM {s}.entries", ()),
        (identity._SCAN_ENTRIES.format(s=s), (100, 200)),
    ):
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql, args))
        assert "entries_received" in plan, plan
        assert "Seq Scan on entries" not in plan, plan


def test_a_dense_window_walks_by_org_seq_and_a_scattered_one_uses_its_indexes(
    org: tuple[psycopg.Connection[Any], Collector, list[dict[str, Any]]],
) -> None:
    """A window whose records fill its org seq range is walked in org seq order, every page
    starting where the last stopped (its time test one no index answers); a window whose
    records were sequenced far apart (here: an old record shipped late) keeps the time test
    indexable, so PostgreSQL can read it by the time index instead of walking the range."""
    conn, c, _ = org
    dense = {"since": format_time(START + timedelta(minutes=N - 2000)), "path": "finance"}
    scattered = {
        "since": format_time(START + timedelta(minutes=100)),
        "until": format_time(START + timedelta(minutes=300)),  # the late record is in it
    }
    for filters, walked in ((dense, True), (scattered, False)):
        rec = Recorder(conn)
        records.page(rec, c.schema, filters, -1, 100)  # type: ignore[arg-type]
        sql, args = rec.calls[1]
        assert ("(time || '') >= %s" in sql) is walked, sql
        if walked:
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + sql, args))
            assert WALK.search(plan) and "entries_time" not in plan, plan

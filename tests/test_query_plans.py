"""The query plans of `affidavit log` (issue 16): each filter and each --by reads an index,
never the whole table, as SQLite's own EXPLAIN QUERY PLAN says; and the index-friendly
forms return exactly the rows the plain forms do.

Plans are read from a real ledger (the real schema and indexes, no ANALYZE statistics, as
a user's ledger has). No timings here: bench/bench_query.py measures the speed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from affidavit import query
from affidavit.cli import EXIT_USAGE, run
from affidavit.ledger import Ledger
from affidavit.query.filters import actions_sql, totals_sql
from affidavit.record import Record

START = datetime(2026, 8, 1, tzinfo=UTC)
PATHS = [
    "/Users/ann/work/finance/q1/a.xlsx",
    "/Users/ann/work/finance/q2/b.md",
    "/Users/bob/finance/c.txt",
    "finance/d.txt",
    "/srv/financial/e.txt",
    "/srv/hr/finance.txt",
    "C:\\Users\\cy\\finance\\q1\\f.xlsx",
    "C:\\Users\\cy\\finance/q1\\mixed.txt",
    "/srv/legal/finance/q1/deep/g.pdf",
    "/h.txt",
    "rel.txt",
]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    tmp = tmp_path_factory.mktemp("plans")
    with Ledger.create(tmp / "l.sqlite", origin="t.example/plans", key_path=tmp / "k") as led:
        led.append(
            Record.create(
                "file.update",
                "test",
                {
                    "file": {"path": PATHS[i % len(PATHS)]},
                    "actor": {"user": f"u{i % 3}", "email": None if i % 2 else f"u{i % 3}@x"},
                    "agent": {"name": "claude-code", "session_id": f"s{i % 4}"},
                },
                time=START + timedelta(hours=i),
            )
            for i in range(200)
        )
        query.refresh(led.store, [("finance", "finance")])
        yield led


def plan(ledger: Ledger, sql: str, args: list[object]) -> list[str]:
    conn = query.reader(ledger.store)
    return [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args)]


def reads_no_whole_table(steps: list[str]) -> None:
    assert "SCAN actions" not in steps, steps
    assert not any("TEMP B-TREE FOR ORDER BY" in s for s in steps), steps


@pytest.mark.parametrize("path", ["finance", "finance/**", "finance/q1", "/Users/ann/work/**"])
def test_log_path_reads_the_folder_index(ledger: Ledger, path: str) -> None:
    steps = plan(ledger, *actions_sql(query.Filters(path=path)))
    reads_no_whole_table(steps)
    assert any("USING INDEX actions_folder (folder=?)" in s for s in steps), steps


@pytest.mark.parametrize(
    "filters",
    [
        query.Filters(since="2026-08-05T00:00:00.000000Z"),
        query.Filters(until="2026-08-02T00:00:00.000000Z"),
    ],
)
def test_log_since_and_until_read_the_time_index_despite_seq_order(
    ledger: Ledger, filters: query.Filters
) -> None:
    steps = plan(ledger, *actions_sql(filters))
    reads_no_whole_table(steps)
    assert any("USING COVERING INDEX actions_time (time" in s for s in steps), steps


@pytest.mark.parametrize(
    ("by", "index"),
    [
        ("function", "actions_function"),
        ("folder", "actions_folder"),
        ("session", "actions_session"),
        ("actor", "actions_actor"),
    ],
)
def test_by_reads_only_a_covering_index(ledger: Ledger, by: str, index: str) -> None:
    steps = plan(ledger, *totals_sql(query.Filters(), by))
    assert f"SCAN actions USING COVERING INDEX {index}" in steps, steps


def test_a_page_after_a_seq_seeks_to_it(ledger: Ledger) -> None:
    steps = plan(ledger, *actions_sql(query.Filters(), after=150, limit=10))
    assert steps == ["SEARCH actions USING INTEGER PRIMARY KEY (rowid>?)"]
    filtered = plan(ledger, *actions_sql(query.Filters(path="finance"), after=150, limit=10))
    reads_no_whole_table(filtered)


def seqs(
    ledger: Ledger, filters: query.Filters, *, after: int | None = None, limit: int | None = None
) -> list[int]:
    rows = query.actions(ledger.store, filters, after=after, limit=limit)[1]
    return [int(str(row[0])) for row in rows]


@pytest.mark.parametrize(
    "path",
    ["finance", "finance/**", "finance/q1", "/Users/ann/work/**", "*.xlsx", "fin*", "/h.txt"],
)
def test_the_folder_index_changes_no_answer(ledger: Ledger, path: str) -> None:
    sql, globs = query.path_clause(path)
    conn = query.reader(ledger.store)
    plain = [int(s) for (s,) in conn.execute(f"SELECT seq FROM actions WHERE {sql}", globs)]
    assert seqs(ledger, query.Filters(path=path)) == sorted(plain)
    # The Python match agrees, except on a path mixing both separators, which it reads
    # with / throughout and SQLite's GLOB as written (so before this change too).
    mixed = {
        i for i in range(200) if "/" in PATHS[i % len(PATHS)] and "\\" in PATHS[i % len(PATHS)]
    }
    by_python = [i for i in range(200) if query.path_matches(PATHS[i % len(PATHS)], path)]
    assert set(plain) - mixed == set(by_python) - mixed


def test_pages_join_up_to_the_whole_answer(ledger: Ledger) -> None:
    filters = query.Filters(path="finance", since="2026-08-02T00:00:00.000000Z")
    whole = seqs(ledger, filters)
    assert whole
    pages: list[int] = []
    after = -1
    while page := seqs(ledger, filters, after=after, limit=7):
        pages += page
        after = page[-1]
    assert pages == whole


def test_totals_by_actor_count_as_the_plain_grouping_does(ledger: Ledger) -> None:
    conn = query.reader(ledger.store)
    plain = conn.execute(
        "SELECT coalesce(actor_email, actor_user), count(*), min(time), max(time) "
        "FROM actions GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    assert list(query.totals(ledger.store, query.Filters(), "actor")[1]) == plain
    assert len(plain) == 6


def test_the_plans_hold_for_a_ledger_path(tmp_path: Path) -> None:
    # A fresh ledger has the same indexes: the plans do not depend on this module's data.
    with Ledger.create(tmp_path / "e.sqlite", origin="t.example/e", key_path=tmp_path / "k") as e:
        steps = plan(e, *actions_sql(query.Filters(path="finance")))
    reads_no_whole_table(steps)


def test_log_pages_by_seq_with_limit_and_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--ledger", str(tmp_path / "l.sqlite"), "--key-file", str(tmp_path / "l.key")]
    assert run([*where, "init", "--origin", "t.example/p"]) == 0
    records = tmp_path / "in.jsonl"
    records.write_text(
        "".join(
            json.dumps(
                {"kind": "file.update", "source": "t", "payload": {"file": {"path": f"a/{i}"}}}
            )
            + "\n"
            for i in range(5)
        )
    )
    assert run([*where, "append", str(records)]) == 0
    capsys.readouterr()

    def seqs(*args: str) -> list[int]:
        assert run([*where, "log", "--format", "jsonl", *args]) == 0
        return [json.loads(line)["seq"] for line in capsys.readouterr().out.splitlines()]

    assert seqs("-n", "2") == [0, 1]
    assert seqs("-n", "2", "--after", "1") == [2, 3]
    assert seqs("--after", "3") == [4]
    assert seqs("--after", "4") == []
    assert run([*where, "log", "-n", "2", "--by", "kind"]) == EXIT_USAGE
    assert "--by" in capsys.readouterr().err


def test_the_folder_index_is_used_only_for_a_small_share_of_the_rows(ledger: Ledger) -> None:
    from affidavit.query.filters import folder_index_pays

    # "finance" matches most of this ledger: a scan in table order reads it faster.
    assert not folder_index_pays(ledger.store, query.Filters(path="finance"))
    # One folder of eleven: under an eighth of the rows, read through the index.
    assert folder_index_pays(ledger.store, query.Filters(path="/srv/legal/**"))
    assert folder_index_pays(ledger.store, query.Filters(path="*.xlsx"))  # no narrowing
    assert folder_index_pays(ledger.store, query.Filters())
    scan = plan(ledger, *actions_sql(query.Filters(path="finance"), folder_index=False))
    assert not any("actions_folder" in s for s in scan), scan


@pytest.mark.parametrize("path", ["finance", "/srv/legal/**", "finance/q1"])
def test_either_way_the_answer_is_the_same(ledger: Ledger, path: str) -> None:
    conn = query.reader(ledger.store)
    both = [
        [int(r[0]) for r in conn.execute(*actions_sql(query.Filters(path=path), folder_index=f))]
        for f in (True, False)
    ]
    assert both[0] == both[1] == seqs(ledger, query.Filters(path=path))
    assert both[0]


@pytest.mark.parametrize("filters", [query.Filters(actor="u1"), query.Filters(path="*.xlsx")])
def test_a_filter_no_index_narrows_scans_once_in_seq_order(
    ledger: Ledger, filters: query.Filters
) -> None:
    assert plan(ledger, *actions_sql(filters)) == ["SCAN actions"]
    finance = actions_sql(query.Filters(path="finance"), folder_index=False)
    assert plan(ledger, *finance) == ["SCAN actions"]

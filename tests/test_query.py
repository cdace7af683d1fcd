"""affidavit log / sql: the actions index, the filters, and read-only SQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit import query
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Record

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SEGMENTS = st.sampled_from(["finance", "hr", "legal", "a b", "ünï", "x.y", "[q]", "C:"])


def cli(ledger: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affidavit", "--ledger", str(ledger), *args],
        capture_output=True,
        text=True,
    )


def _record(i: int, kind: str, path: str | None, user: str, when: datetime) -> Record:
    payload: dict[str, object] = {
        "actor": {"user": user, "email": f"{user}@example.com"},
        "agent": {"product": "cowork" if i % 3 == 0 else "claude-code", "tool": "Edit",
                  "session_id": f"s{i % 4}", "tool_use_id": f"toolu_{i:04d}"},
    }  # fmt: skip
    if path is not None:
        payload["file"] = {"path": path, "after_sha256": f"{i:064x}", "size": i}
    if kind == "command.exec":
        payload["command"] = {"text": f"echo {i}"}
    return Record.create(kind, "test", payload, time=when)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "l.sqlite"
    led = Ledger.create(path, origin="test.example/query", key_path=tmp_path / "k")
    paths = [
        "/srv/work/finance/q3.xlsx",
        "/srv/work/finance/2026/plan.md",
        "/srv/work/hr/people.csv",
        "C:\\Users\\ann\\finance\\budget.xlsx",
        "/srv/work/finance2/not-finance.md",
        None,
    ]
    kinds = ["file.update", "file.create", "file.read", "command.exec"]
    records = [
        _record(i, kinds[i % 4], paths[i % len(paths)], ["ann", "bob"][i % 2],
                NOW - timedelta(days=60 - i))
        for i in range(60)
    ]  # fmt: skip
    led.append(records)
    led.seal()
    led.close()
    return path


@given(st.lists(SEGMENTS, min_size=1, max_size=4), st.lists(SEGMENTS, min_size=1, max_size=3),
       st.booleans(), st.sampled_from(["", "/**", "/*", "/*.md"]))  # fmt: skip
def test_sql_glob_agrees_with_the_python_matcher(
    parts: list[str], pattern: list[str], absolute: bool, suffix: str
) -> None:
    path = "/" + "/".join(parts) + "/f.md"
    glob = ("/" if absolute else "") + "/".join(pattern) + suffix
    sql, args = query.path_clause(glob)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (path TEXT)")
    db.execute("INSERT INTO t VALUES (?)", (path,))
    (got,) = db.execute(f"SELECT count(*) FROM t WHERE {sql}", args).fetchone()
    assert bool(got) == query.path_matches(path, glob)


def test_windows_paths_match_with_forward_slash_patterns() -> None:
    assert query.path_matches("C:\\Users\\ann\\finance\\b.xlsx", "finance")
    assert not query.path_matches("/srv/finance2/x", "finance")


@pytest.mark.parametrize(
    ("args", "sql"),
    [
        (["--path", "finance"],
         "SELECT seq FROM actions WHERE path GLOB '*/finance/*' OR path GLOB 'finance/*' "
         "OR path GLOB '*\\finance\\*'"),
        (["--kind", "file"], "SELECT seq FROM actions WHERE kind LIKE 'file.%'"),
        (["--kind", "file.read", "--kind", "command"],
         "SELECT seq FROM actions WHERE kind = 'file.read' OR kind LIKE 'command.%'"),
        (["--actor", "bob@example.com"],
         "SELECT seq FROM actions WHERE actor_email = 'bob@example.com'"),
        (["--actor", "ann"], "SELECT seq FROM actions WHERE actor_user = 'ann'"),
        (["--agent", "cowork", "--path", "/srv/work/**"],
         "SELECT seq FROM actions WHERE agent = 'cowork' AND path GLOB '/srv/work/*'"),
        (["--since", "2026-11-01", "--until", "2026-11-10"],
         "SELECT seq FROM actions WHERE time >= '2026-11-01' AND time < '2026-11-10'"),
        (["--session", "s1", "--kind", "file"],
         "SELECT seq FROM actions WHERE session_id = 's1' AND kind LIKE 'file.%'"),
    ],
)  # fmt: skip
def test_filters_give_the_same_rows_as_the_equivalent_sql(
    ledger: Path, args: list[str], sql: str
) -> None:
    log = cli(ledger, "log", *args, "--format", "jsonl")
    assert log.returncode == 0, log.stderr
    got = [json.loads(line)["seq"] for line in log.stdout.splitlines()]
    raw = cli(ledger, "sql", sql + " ORDER BY seq", "--format", "jsonl")
    assert raw.returncode == 0, raw.stderr
    want = [json.loads(line)["seq"] for line in raw.stdout.splitlines()]
    assert got == want and got, (args, got)


def test_totals_by_function_use_the_folder_rules(ledger: Path) -> None:
    led = Ledger.open(ledger)
    query.refresh(led.store, [("finance", "finance"), ("/srv/work/hr", "hr")])
    names, rows = query.totals(led.store, query.Filters(), "function")
    totals = {r[0]: r[1] for r in rows}
    assert names[:2] == ["function", "actions"]
    assert totals["finance"] == 30 and totals["hr"] == 10 and totals[None] == 20
    # a change of rules re-derives the column
    query.refresh(led.store, [("hr", "people")])
    _, rows = query.totals(led.store, query.Filters(), "function")
    assert {r[0]: r[1] for r in rows} == {None: 50, "people": 10}
    led.close()


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_every_format_lists_every_record(ledger: Path, fmt: str) -> None:
    out = cli(ledger, "log", "--format", fmt)
    assert out.returncode == 0, out.stderr
    if fmt == "json":
        assert len(json.loads(out.stdout)) == 60
    elif fmt == "jsonl":
        assert len(out.stdout.splitlines()) == 60
    elif fmt == "csv":
        assert len(out.stdout.splitlines()) == 61
    else:
        assert "file.update" in out.stdout and "60 records" in out.stderr


def test_by_groups(ledger: Path) -> None:
    out = cli(ledger, "log", "--by", "kind", "--format", "jsonl")
    rows = {json.loads(x)["kind"]: json.loads(x)["actions"] for x in out.stdout.splitlines()}
    assert rows == {"file.update": 15, "file.create": 15, "file.read": 15, "command.exec": 15}


def test_erased_records_stay_listed_without_their_personal_fields(ledger: Path) -> None:
    led = Ledger.open(ledger)
    query.refresh(led.store)
    led.erase([0, 1], "subject request")
    led.close()
    out = cli(ledger, "log", "--format", "jsonl")
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    erased = [r for r in rows if r["erased"]]
    assert [r["seq"] for r in erased] == [0, 1]
    assert all(r["path"] is None and r["actor_user"] is None for r in erased)
    assert rows[-1]["kind"] == "erasure"


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM records",
        "UPDATE actions SET path = 'x'",
        "INSERT INTO meta VALUES ('a', 'b')",
        "DROP TABLE actions",
        "CREATE TABLE t (x)",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA writable_schema = 1",
        "SELECT 1; DELETE FROM records",
    ],
)
def test_sql_refuses_anything_that_would_write(ledger: Path, statement: str) -> None:
    out = cli(ledger, "sql", statement)
    assert out.returncode == 2
    assert "error:" in out.stderr
    assert cli(ledger, "verify").returncode == 0
    count = cli(ledger, "sql", "SELECT count(*) AS n FROM records", "--format", "jsonl")
    assert json.loads(count.stdout)["n"] == 60


def test_sql_reports_bad_sql_and_reads_raw_tables(ledger: Path) -> None:
    bad = cli(ledger, "sql", "SELEC nonsense")
    assert bad.returncode == 2 and "SQL error" in bad.stderr
    ok = cli(ledger, "sql", "SELECT size FROM checkpoints", "--format", "csv")
    assert ok.stdout.splitlines() == ["size", "60"]


def test_durations_and_bad_times() -> None:
    assert query.parse_moment("30d", now=NOW) == "2026-10-27T10:00:00.000000Z"
    assert query.parse_moment("2026-11-01", now=NOW) == "2026-11-01T00:00:00.000000Z"
    assert query.parse_moment("2026-11-01T09:00:00+01:00", now=NOW).startswith("2026-11-01T08")
    with pytest.raises(InputError, match="not a date"):
        query.parse_moment("yesterday", now=NOW)

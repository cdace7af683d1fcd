"""Issue 10, finding 7: the CLI defects, each with the behaviour that would have caught it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from affidavit import config
from affidavit.ledger import Ledger
from ledger_helpers import ORIGIN, cli_env, key_of

LINES = [
    {"kind": "file.update", "source": "t", "time": "2026-11-20T10:00:00Z",
     "payload": {"file": {"path": "/w/a.md"}, "agent": {"product": "cowork", "session_id": "s-1"},
                 "actor": {"user": "ann"}}},
    {"kind": "file.update", "source": "t", "time": "2026-11-21T10:00:00Z",
     "payload": {"file": {"path": "/w/b.md"}, "agent": {"product": "cowork", "session_id": "s-2"},
                 "actor": {"user": "bob"}}},
]  # fmt: skip


def affidavit(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affidavit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=120,
        check=False,
    )


def ledger(tmp_path: Path) -> list[str]:
    path = tmp_path / "l.sqlite"
    Ledger.create(path, origin=ORIGIN, key_path=key_of(path)).close()
    args = ["--ledger", str(path)]
    stdin = "".join(json.dumps(x) + "\n" for x in LINES)
    assert affidavit(tmp_path, *args, "append", stdin=stdin).returncode == 0
    return args


def test_sql_table_shows_exactly_the_selected_columns(tmp_path: Path) -> None:
    args = ledger(tmp_path)
    out = affidavit(
        tmp_path, *args, "sql", "SELECT seq, kind, path FROM actions", "--format", "table"
    )
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "seq" in line)
    assert [c.strip() for c in header.strip("┃│ ").split("┃")] == ["seq", "kind", "path"]
    assert "/w/a.md" in out.stdout


def test_config_init_honours_affidavit_config(tmp_path: Path) -> None:
    target = tmp_path / "chosen" / "org.toml"
    env = {**cli_env(tmp_path), "AFFIDAVIT_CONFIG": str(target)}
    out = subprocess.run(
        [sys.executable, "-m", "affidavit", "config", "init"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert target.read_text("utf-8") == config.STARTER and str(target) in out.stderr


def test_status_keeps_the_unpublished_count_on_its_own_line(tmp_path: Path) -> None:
    args = ledger(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "affidavit", *args, "status"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_env(tmp_path),
        timeout=60, check=False,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert "integrated:        0" in lines and "unpublished:       2" in lines
    assert any(line.startswith("2 record(s) not yet published") for line in lines)


def test_log_table_ends_with_a_newline_before_its_count(tmp_path: Path) -> None:
    args = ledger(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "affidavit", *args, "log", "--format", "table"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=cli_env(tmp_path),
        timeout=60, check=False,
    )  # fmt: skip
    assert out.stdout.endswith("\n2 records\n"), out.stdout[-200:]


def test_log_has_a_session_column_and_totals_by_session(tmp_path: Path) -> None:
    args = ledger(tmp_path)
    table = affidavit(tmp_path, *args, "log", "--format", "table")
    assert "session" in table.stdout and "s-1" in table.stdout
    by = affidavit(tmp_path, *args, "log", "--by", "session", "--format", "jsonl")
    assert by.returncode == 0, by.stderr
    rows = [json.loads(x) for x in by.stdout.splitlines()]
    assert {r["session"]: r["actions"] for r in rows} == {"s-1": 1, "s-2": 1}


def test_until_before_since_is_a_usage_error(tmp_path: Path) -> None:
    args = ledger(tmp_path)
    out = affidavit(
        tmp_path, *args, "log", "--since", "2026-11-21", "--until", "2026-11-20", "--format", "csv"
    )
    assert out.returncode == 2 and "--until" in out.stderr and "--since" in out.stderr
    ok = affidavit(tmp_path, *args, "log", "--since", "2026-11-20", "--until", "2026-11-21")
    assert ok.returncode == 0

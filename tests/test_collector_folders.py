"""The collector's ``folders`` column (server/folders.py): what a ``path`` query finds its
candidates by at 10M records. It must never hide a record the path rule selects, so:

* for any path and folder pattern, :func:`path_matches` implies the pattern's folders are
  among the path's (Hypothesis, odd Unicode, separators and lengths included);
* a real collector stores each shipped record's folders as ingest leaves them, and a record
  whose path PostgreSQL could not index (U+0000, a 600-byte folder name) ships and is found;
* an erasure empties them (a folder name can be personal), ``server verify`` names a row
  whose folders were changed, and a collector made before the column gets it filled on start.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit import shipping
from affidavit.query import path_matches
from affidavit.record import Kind, Record
from affidavit.server import folders
from collector_helpers import Collector
from ledger_helpers import T0, new_ledger

LAPTOP = "laptop.example.com/folders"
LONG = "x" * 600
PATHS = [
    "/home/ann/work/finance/q1/a.xlsx",
    "C:\\Users\\cy\\finance\\q2\\b.xlsx",
    "finance/report.md",
    "/home/bo/work/financial/c.txt",
    "/home/bo/nul\x00dir/finance/d.txt",
    f"/srv/{LONG}/finance/e.txt",
    "/srv/Ünïcode ✓/finance/f.txt",
    "hr/staff.csv",
]

name = st.lists(
    st.sampled_from(["a", "b", "finance", "é", "✓", " ", ".", "\x00", "\\", "*", "\ud800"]),
    min_size=1,
    max_size=4,
).map("".join) | st.text(max_size=3)


@settings(max_examples=400, deadline=None)
@given(
    path=st.lists(name, min_size=1, max_size=6).map("/".join),
    pattern=st.lists(name, min_size=1, max_size=3).map("/".join),
    absolute=st.booleans(),
    rooted=st.booleans(),
)
def test_a_path_the_rule_selects_has_every_folder_of_the_pattern(
    path: str, pattern: str, absolute: bool, rooted: bool
) -> None:
    path = ("/" if rooted else "") + path
    pattern = ("/" if absolute else "") + pattern
    if any(c in pattern for c in "*?[") or not pattern.replace("\\", "/").rstrip("/"):
        return  # globs are tested in Python (records._Where.in_python); "" is no filter
    if path_matches(path, pattern):
        assert set(folders.of_pattern(pattern.rstrip("/"))) <= set(folders.of_path(path))


def test_folders_of_odd_payloads_are_empty_not_an_error() -> None:
    for payload in (None, b"", b"\xff\xfe", b'{"path": 1', b"[1]", b'"path"', b'{"file": 3}',
                    b'{"file": {"path": 7}}', b'{"file": {"path": "a.txt"}}'):  # fmt: skip
        assert folders.of_payload(payload) == []
    assert folders.of_payload(b'{"file": {"path": "a\\\\b/c/d.txt"}}') == ["a", "b", "c"]
    assert folders.of_path(f"/{LONG}/a\x00b/\ud800/ok/x") == ["ok"]
    assert folders.literal(['a"b', "c\\d", "e,f"]) == '{"a\\"b","c\\\\d","e,f"}'


def _records() -> list[Record]:
    return [
        Record.create(
            Kind.FILE_UPDATE,
            "claude-code",
            {"actor": {"user": "ann"}, "agent": {"tool": "Edit"}, "file": {"path": path}},
            time=T0 + timedelta(minutes=i),
        )
        for i, path in enumerate(PATHS)
    ] + [Record.create(Kind.COMMAND_EXEC, "claude-code", {"command": {"text": "ls"}}, time=T0)]


def _ship(c: Collector, home: Path) -> str:
    folder = home / "laptop"
    folder.mkdir()
    device = c.token("device", "laptop")
    with new_ledger(folder, origin=LAPTOP) as ledger:
        ledger.append(_records())
        ledger.seal()
        shipping.enrol(ledger, folder / "ledger.sqlite", c.url, device)
        shipping.ship(ledger, folder / "ledger.sqlite", device)
    c.cli("seal")
    return c.token("auditor", "auditor")


def _change(c: Collector, statement: str, *args: object) -> None:
    """A statement with no rows to return, as someone with the database's password runs it."""
    import psycopg

    with psycopg.connect(c.db, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{c.schema}"')
        conn.execute(statement, args)


def _paths(c: Collector, token: str, path: str) -> list[str]:
    r = c.get("/api/v1/records", token, params={"path": path})
    assert r.status_code == 200, r.text
    return [json.loads(line)["path"] for line in r.text.splitlines()]


def test_shipped_records_keep_their_folders_and_a_path_query_finds_them(
    collector: Collector, tmp_path: Path
) -> None:
    c = collector
    auditor = _ship(c, tmp_path)
    stored = c.sql("SELECT seq, payload, folders FROM entries WHERE origin = %s", LAPTOP)
    assert len(stored) == len(PATHS) + 1
    for _, payload, names in stored:
        assert names == folders.of_payload(bytes(payload))
    by_seq = {int(seq): names for seq, _, names in stored}
    assert by_seq[0] == ["home", "ann", "work", "finance", "q1"]
    assert by_seq[1] == ["C:", "Users", "cy", "finance", "q2"]
    assert by_seq[len(PATHS)] == []  # a command has no file
    expected = [p for p in PATHS if path_matches(p, "finance")]
    assert len(expected) == 6  # "financial" is not "finance"; the odd names are
    # (jsonb cannot hold U+0000: the API's rows show U+FFFD there, records._PARSE)
    assert _paths(c, auditor, "finance") == [p.replace("\x00", "\ufffd") for p in expected]
    # A folder name too long to index is left out of both sides; the payload test decides.
    assert _paths(c, auditor, f"{LONG}/finance") == [PATHS[5]]
    assert _paths(c, auditor, "/home/ann/work") == [PATHS[0]]
    assert _paths(c, auditor, "nowhere") == []


def test_erasure_empties_folders_and_verify_names_a_changed_row(
    collector: Collector, tmp_path: Path
) -> None:
    c = collector
    _ship(c, tmp_path)
    assert c.cli("verify").returncode == 0
    _change(c, "UPDATE entries SET folders = '{home}' WHERE origin = %s AND seq = 0", LAPTOP)
    bad = c.cli("verify", check=False)
    assert bad.returncode != 0
    assert f"endpoint {LAPTOP} record 0" in bad.stderr and "folders" in bad.stderr, bad.stderr
    _change(c, "UPDATE entries SET folders = %s WHERE origin = %s AND seq = 0",
            ["home", "ann", "work", "finance", "q1"], LAPTOP)  # fmt: skip
    c.cli("erase", LAPTOP, "0", "--reason", "GDPR Art. 17", "--by", "admin-1")
    assert c.sql("SELECT folders FROM entries WHERE origin = %s AND seq = 0", LAPTOP) == [([],)]
    assert c.cli("verify").returncode == 0


def test_a_collector_made_before_the_folders_column_is_upgraded_on_start(
    collector: Collector, tmp_path: Path
) -> None:
    c = collector
    auditor = _ship(c, tmp_path)
    c.stop()
    # As an earlier version left it: no column, no index, nothing in config.
    _change(c, "ALTER TABLE entries DROP COLUMN folders")
    _change(c, "ALTER TABLE direct DROP COLUMN folders")
    _change(c, "DROP INDEX entries_received")
    _change(c, "DELETE FROM config WHERE key = 'folders'")
    assert c.cli("verify").returncode == 0  # an old store still verifies
    with c.serving(workers=2):  # both start by upgrading: one fills, the other finds it done
        assert c.sql("SELECT value FROM config WHERE key = 'folders'") == [("1",)]
        stored = c.sql("SELECT payload, folders FROM entries WHERE origin = %s", LAPTOP)
        assert all(names == folders.of_payload(bytes(p)) for p, names in stored)
        assert len(_paths(c, auditor, "finance")) == 6
        assert c.sql("SELECT count(*) FROM direct WHERE folders IS NULL") == [(0,)]
        assert c.sql("SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND indexname = "
                     "'entries_received'", c.schema) == [(1,)]  # fmt: skip
    assert "Traceback" not in c.log.read_text(errors="replace")  # neither worker failed to start
    assert c.cli("verify").returncode == 0

"""Verified views: nothing an auditor reads escapes ``affidavit verify``.

Each derived table (``actions``, ``tool_uses``, ``file_state``, ``blobs``) is filled by the
real hook on real files, then changed behind the ledger's back the way someone with write
access to the SQLite file could; ``verify`` must fail and name the row.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit import views
from affidavit.errors import VerificationError
from affidavit.ledger import Ledger
from affidavit.query import COLUMNS
from affidavit.record import Record
from ledger_helpers import affidavit, key_of, new_ledger, raw
from test_hook import QUIET, read_records, send, tool_event
from test_rollback import change

SECRET = b"quarterly numbers: the merger with Initech closes on the 14th\n"


@pytest.fixture
def hooked(tmp_path: Path) -> Path:
    """A ledger the hook wrote: a file read, created, edited; sealed."""
    ledger = tmp_path / "ledger.sqlite"
    new_ledger(tmp_path).close()
    work = tmp_path / "work" / "finance"
    work.mkdir(parents=True)
    target = work / "plan.txt"
    target.write_bytes(b"draft\n")
    read = {"file_path": str(target)}
    send(ledger, tool_event("PreToolUse", "Read", read, "toolu_read", work), *QUIET)
    response = {"type": "text", "file": {"filePath": str(target), "content": "draft\n"}}
    post = tool_event("PostToolUse", "Read", read, "toolu_read", work, tool_response=response)
    send(ledger, post, *QUIET)
    change(ledger, target, b"draft\nfinal\n", "toolu_edit")
    change(ledger, work / "notes.txt", b"first\n", "toolu_write", tool="Write")
    assert affidavit(ledger, "seal").returncode == 0
    return ledger


def verify_fails(ledger: Path, *words: str) -> str:
    result = affidavit(ledger, "verify")
    assert result.returncode == 1, (result.stdout, result.stderr)
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    return result.stderr


def test_a_hooked_ledger_verifies_with_every_view(hooked: Path) -> None:
    result = affidavit(hooked, "verify", "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)["views"]
    assert counts["actions"] == json.loads(result.stdout)["records"]
    assert counts["blobs"] >= 2 and counts["file_state"] >= 1 and counts["tool_uses"] >= 3


def test_a_forged_path_and_user_in_the_index_fail_verify(hooked: Path) -> None:
    """Issue 9, finding 1: the index edited in SQLite used to leave verify at OK."""
    with raw(hooked) as conn:
        seq = conn.execute(
            "SELECT seq FROM actions WHERE kind = 'file.update' ORDER BY seq LIMIT 1"
        ).fetchone()[0]
        conn.execute(
            "UPDATE actions SET path = '/elsewhere/alibi.txt', actor_user = 'mallory' "
            "WHERE seq = ?",
            (seq,),
        )
    verify_fails(hooked, f"actions row for seq {seq}", "differs from the committed payload")


def _row_of(ledger: Path, seq: int) -> dict[str, Any]:
    with raw(ledger) as conn:
        found = conn.execute("SELECT * FROM actions WHERE seq = ?", (seq,)).fetchone()
    return dict(zip(COLUMNS, found, strict=True))


@pytest.mark.parametrize("column", [c for c in COLUMNS if c != "seq"])
def test_every_actions_column_changed_is_caught_and_named(hooked: Path, column: str) -> None:
    with raw(hooked) as conn:
        seq = conn.execute(
            "SELECT seq FROM actions WHERE kind = 'file.update' ORDER BY seq LIMIT 1"
        ).fetchone()[0]
    old = _row_of(hooked, seq)[column]
    new: object = {int: 7, str: "forged"}.get(type(old), "forged")
    if column in ("erased", "corroborated"):
        new = 1 - int(old)
    with raw(hooked) as conn:
        conn.execute(f"UPDATE actions SET {column} = ? WHERE seq = ?", (new, seq))
    verify_fails(hooked, f"actions row for seq {seq}")


def test_a_deleted_or_added_index_row_is_caught(hooked: Path) -> None:
    with raw(hooked) as conn:
        conn.execute("DELETE FROM actions WHERE seq = 2")
    verify_fails(hooked, "actions row for seq 2 is missing")


def test_an_index_row_without_a_record_is_caught(hooked: Path) -> None:
    with raw(hooked) as conn:
        conn.execute(
            "INSERT INTO actions SELECT seq + 1000, time, kind, source, actor_user, actor_email,"
            " agent, session_id, tool_use_id, tool, path, folder, function, before_sha256,"
            " after_sha256, size, command, corroborated, erased, leaf_hash FROM actions"
            " WHERE seq = 1"
        )
    verify_fails(hooked, "actions row for seq 1001 has no record")


@pytest.mark.parametrize(
    ("table", "change_sql", "named"),
    [
        ("tool_uses", "UPDATE tool_uses SET kind = 'file.delete' WHERE rowid = 1", "tool_uses row"),
        ("tool_uses", "UPDATE tool_uses SET seq = 9999 WHERE rowid = 1", "tool_uses row"),
        ("file_state", "UPDATE file_state SET sha256 = lower(hex(randomblob(32)))", "file_state"),
        ("blobs", "UPDATE blobs SET data = zeroblob(40), codec = 'raw' WHERE rowid = 1", "blob "),
        (
            "blobs",
            "INSERT INTO blobs VALUES ('ab' || lower(hex(randomblob(31))), 1, 'raw', x'00')",
            "no live record refers to it",
        ),
    ],
)
def test_every_capture_table_changed_is_caught(
    hooked: Path, table: str, change_sql: str, named: str
) -> None:
    with raw(hooked) as conn:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0
        assert conn.execute(change_sql).rowcount > 0
    verify_fails(hooked, named)


def test_log_and_export_show_the_forgery_only_until_verify_names_it(hooked: Path) -> None:
    """The listing reads the index; verify is what an auditor runs before trusting it."""
    with raw(hooked) as conn:
        conn.execute("UPDATE actions SET path = '/x/y.txt', folder = '/x' WHERE seq = 3")
    log = affidavit(hooked, "log", "--path", "finance", "--format", "json")
    assert log.returncode == 0
    assert 3 not in [row["seq"] for row in json.loads(log.stdout)]
    verify_fails(hooked, "actions row for seq 3: path differs")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "ocsf", "ecs", "cef"])
def test_exports_carry_the_committed_fields_not_the_index(
    hooked: Path, tmp_path: Path, fmt: str
) -> None:
    """Issue 9, finding 1: `export --format csv` showed the forged path and user next to the
    real leaf hash. The index now only selects; the fields come from the committed payload."""
    with raw(hooked) as conn:
        seq, path = conn.execute(
            "SELECT seq, path FROM actions WHERE kind = 'file.update' ORDER BY seq LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE actions SET path = '/forged/alibi.txt', actor_user = 'mallory' WHERE seq = ?",
            (seq,),
        )
    out = tmp_path / f"out.{fmt}"
    result = affidavit(hooked, "export", "--format", fmt, "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "/forged/alibi.txt" not in text and "mallory" not in text
    assert path in text.replace("\\/", "/")


def test_an_export_refuses_a_record_whose_payload_was_changed(hooked: Path, tmp_path: Path) -> None:
    with raw(hooked) as conn:
        conn.execute("UPDATE records SET payload = CAST('{}' AS BLOB) WHERE seq = 2")
    result = affidavit(hooked, "export", "--format", "csv", "--out", str(tmp_path / "o.csv"))
    assert result.returncode == 1, result.stderr
    assert "record 2: its payload does not match its commitment" in result.stderr
    assert not (tmp_path / "o.csv").exists()


def test_the_index_is_written_with_the_record(tmp_path: Path) -> None:
    """No rebuild on first use: the row exists as soon as the append commits."""
    led = new_ledger(tmp_path)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    led.append(
        [
            Record.create("file.update", "t", {"file": {"path": f"/a/{i}.txt"}}, time=now)
            for i in range(50)
        ]
    )
    count = led.store.connection.execute("SELECT count(*) FROM actions").fetchone()[0]
    assert count == 50
    led.seal()
    led.verify(views=views.VIEWS)
    led.close()


# -- the triggers and the Python contract agree ---------------------------------------------

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
)
_value = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_paths = st.sampled_from(
    ["/a/b.txt", "a\\b\\c.txt", "/", "x", "", "/fin/ance/q3.xlsx", "é/ü/日本.txt", "a//b"]
)


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, keys in (
        ("actor", ["user", "email"]),
        ("agent", ["product", "session_id", "tool_use_id", "tool"]),
        ("file", ["path", "before_sha256", "after_sha256", "size"]),
        ("command", ["text"]),
    ):
        if draw(st.booleans()):
            if draw(st.integers(0, 5)) == 0:
                out[section] = draw(_value)
                continue
            part = {}
            for key in keys:
                if draw(st.booleans()):
                    part[key] = draw(_paths if key == "path" else st.one_of(_value, st.text()))
            out[section] = part
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(payloads(), min_size=1, max_size=6))
def test_the_triggers_derive_what_the_contract_says(bodies: list[dict[str, Any]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "l.sqlite"
        led = Ledger.create(path, origin="test.example/prop", key_path=key_of(path))
        led.store.connection.executemany(
            "INSERT INTO function_rules VALUES (?, ?, ?)",
            [(0, "*/fin/*", "finance"), (1, "*", "other")],
        )
        now = datetime(2026, 11, 1, tzinfo=UTC)
        led.append([Record.create("file.update", "t", b, time=now) for b in bodies])
        led.seal()
        led.verify(views=views.VIEWS)  # every row agrees with the contract
        for row in led.store.records():
            stored = led.store.connection.execute(
                "SELECT * FROM actions WHERE seq = ?", (row[0],)
            ).fetchone()
            want = views.expected_actions_row(led.store, row[0], row[1], row[2], row[4])
            got = dict(zip(COLUMNS, stored, strict=True))
            assert {k: got[k] for k in want} == want
        led.close()


# -- erasure leaves nothing behind ---------------------------------------------------------


def _file_bytes(ledger: Path) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(ledger) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


def test_erasing_a_read_leaves_no_content_path_or_blob(tmp_path: Path) -> None:
    """Issue 9, finding 2: after erase, the file's content stayed in blobs, its path in
    file_state. Now every copy goes, down to the bytes of the database file and its WAL."""
    ledger = tmp_path / "ledger.sqlite"
    new_ledger(tmp_path).close()
    work = tmp_path / "work" / "board-minutes-initech"
    work.mkdir(parents=True)
    target = work / "minutes.txt"
    target.write_bytes(SECRET)
    read = {"file_path": str(target)}
    send(ledger, tool_event("PreToolUse", "Read", read, "toolu_r1", work), *QUIET)
    response = {"type": "text", "file": {"filePath": str(target), "content": SECRET.decode()}}
    post = tool_event("PostToolUse", "Read", read, "toolu_r1", work, tool_response=response)
    send(ledger, post, *QUIET)
    [rec] = [r for r in read_records(ledger) if r.kind == "file.read"]
    with raw(ledger) as conn:
        assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] >= 1
        assert conn.execute("SELECT count(*) FROM file_state").fetchone()[0] >= 1
    needle = b"board-minutes-initech"
    assert needle in _file_bytes(ledger)
    erase_all = [str(r.seq) for r in read_records(ledger) if r.kind != "erasure"]
    result = affidavit(ledger, "erase", *erase_all, "--reason", "subject request", "--yes")
    assert result.returncode == 0, result.stderr
    with raw(ledger) as conn:
        assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM file_state").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM tool_uses").fetchone()[0] == 0
        assert (
            conn.execute(
                "SELECT count(*) FROM actions WHERE path IS NOT NULL OR actor_user IS NOT NULL"
            ).fetchone()[0]
            == 0
        )
    data = _file_bytes(ledger)
    assert needle not in data
    assert b"merger with Initech" not in data
    assert rec.seq >= 0
    assert affidavit(ledger, "seal").returncode == 0
    assert affidavit(ledger, "verify").returncode == 0


def test_a_blob_another_live_record_needs_is_kept(hooked: Path) -> None:
    [edit] = [r for r in read_records(hooked) if r.kind == "file.update"]
    before = edit.payload["file"]["before_sha256"]
    reads = [r for r in read_records(hooked) if r.kind == "file.read"]
    assert reads and reads[0].payload["file"]["before_sha256"] == before
    result = affidavit(hooked, "erase", str(reads[0].seq), "--reason", "test", "--yes")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(hooked) as conn:
        kept = conn.execute("SELECT count(*) FROM blobs WHERE sha256 = ?", (before,)).fetchone()
    assert kept[0] == 1  # the edit still needs it for rollback
    assert affidavit(hooked, "verify").returncode == 0


def test_a_ledger_with_the_old_hash_indexes_loses_them_and_still_erases_blobs(
    hooked: Path,
) -> None:
    """The before/after SHA-256 indexes made appends slower as the ledger grew; a ledger
    written with them drops them at its next writable open, and erasure still finds which
    blobs a live record needs without them."""
    with raw(hooked) as conn:
        conn.execute("CREATE INDEX actions_before ON actions (before_sha256)")
        conn.execute("CREATE INDEX actions_after ON actions (after_sha256)")
    Ledger.open(hooked, key_path=key_of(hooked)).close()
    with raw(hooked) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        blobs = {h for (h,) in conn.execute("SELECT sha256 FROM blobs")}
    assert not names & {"actions_before", "actions_after"}
    assert "actions_folder" in names
    erase = [str(r.seq) for r in read_records(hooked) if r.kind != "erasure"]
    result = affidavit(hooked, "erase", *erase, "--reason", "test", "--yes")
    assert result.returncode == 0, result.stderr
    with raw(hooked) as conn:
        assert blobs and conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 0
    assert affidavit(hooked, "verify").returncode == 0


def test_an_orphan_blob_is_named_beside_a_snapshot_without_hashes(tmp_path: Path) -> None:
    """verify checks every blob in one scan (``NOT IN`` the live hashes): a convention file
    without a hash (a NULL among them) must not hide an orphan."""
    led = new_ledger(tmp_path)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    snapshot = {"conventions": {"files": [{"path": "CLAUDE.md"}, {"sha256": "cd" * 32}]}}
    led.append([Record.create("convention.snapshot", "t", snapshot, time=now)])
    conn = led.store.connection
    conn.execute("INSERT INTO blobs VALUES (?, 1, 'raw', x'00')", ("ab" * 32,))
    led.seal()
    with pytest.raises(VerificationError, match=r"blob abab.*no live record refers to it"):
        led.verify(views=views.VIEWS)
    led.close()


def test_verify_names_views_only_after_the_records_hold(hooked: Path) -> None:
    with raw(hooked) as conn:
        conn.execute("UPDATE records SET payload = x'7b7d' WHERE seq = 1")
    message = verify_fails(hooked, "record 1")
    assert "actions" not in message


def test_library_verify_takes_the_views(hooked: Path) -> None:
    with raw(hooked) as conn:
        conn.execute("UPDATE actions SET tool = 'Bash' WHERE seq = 2")
    led = Ledger.open(hooked, key_path=key_of(hooked), readonly=True)
    led.verify()  # the log alone still holds
    with pytest.raises(VerificationError, match="actions row for seq 2: tool differs"):
        led.verify(views=views.VIEWS)
    led.close()

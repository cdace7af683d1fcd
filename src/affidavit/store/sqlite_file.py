"""Opening and creating a ledger's SQLite file, below :class:`~affidavit.store.sqlite.SqliteStore`.

The connection settings (WAL, ``synchronous=FULL``, ``secure_delete``, the busy timeout), the
schema a new file gets, the checks an open runs before anything is written (the file and WAL
headers, a damage note, SQLite's page check; :mod:`affidavit.store.damage`) and the install of
the derived ``actions`` index and its triggers (:mod:`affidavit.store.derived`). Functions over a
raw connection; the store's methods call them.

Only the standard library: the capture hook opens ledgers through this module.
"""

from __future__ import annotations

import os
import sqlite3

from affidavit.errors import LedgerCorruptError, LedgerExistsError, LedgerNotFoundError
from affidavit.store import derived
from affidavit.store.damage import (
    CHECK_LIMIT,
    damage_note,
    damaged,
    file_header_problem,
    read_note,
    wal_damage,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    StrPath = str | os.PathLike[str]

SCHEMA = 1
BUSY_TIMEOUT_MS = 30_000

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    leaf BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    salt BLOB,
    payload BLOB
);
CREATE TABLE nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL,
    published TEXT NOT NULL
);
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    codec TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE tool_uses (
    tool_use_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX tool_uses_id ON tool_uses (tool_use_id);
CREATE TABLE pending (
    tool_use_id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE file_state (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""


def connect(path: StrPath) -> sqlite3.Connection:
    """A writable connection with the ledger's settings."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    # Erased payloads and forgotten blobs are overwritten on disk, not just unlinked.
    conn.execute("PRAGMA secure_delete = ON")
    return conn


def create_file(path: StrPath, meta: dict[str, str]) -> sqlite3.Connection:
    """Create a new ledger file; refuses to touch an existing one."""
    if os.path.lexists(path):
        raise LedgerExistsError(f"a ledger already exists at {path}; not overwriting it")
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    # 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    conn = connect(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for statement in _DDL.split(";"):
            if statement.strip():
                conn.execute(statement)
        for statement in derived.statements(derived.ACTIONS_DDL + derived.TRIGGERS):
            conn.execute(statement)
        rows = {"schema": str(SCHEMA), "integrated": "0", **meta}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        if os.path.exists(path):
            os.unlink(path)
        raise
    return conn


def open_file(path: StrPath, *, readonly: bool) -> tuple[sqlite3.Connection, object]:
    """Connect to a ledger file after the checks that must come first (see
    :meth:`SqliteStore.open`); returns the connection and the schema marker as stored."""
    if not os.path.isfile(path):
        raise LedgerNotFoundError(
            f"no ledger at {path}; create one with `affidavit init` "
            "or choose another with --ledger / AFFIDAVIT_LEDGER"
        )
    # Before connecting: a writable connection would make an empty file a new database,
    # and its last close would drop a damaged WAL for good.
    problem = file_header_problem(path, page_count=False) or wal_damage(path)
    if problem is not None:
        raise damaged(path, problem, note=False)
    if not readonly and os.path.exists(damage_note(path)):
        raise LedgerCorruptError(read_note(path))
    conn: sqlite3.Connection | None = None
    try:
        if readonly:
            from pathlib import Path

            uri = Path(path).resolve().as_uri() + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        else:
            conn = connect(path)
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.DatabaseError as e:
        if conn is not None:
            conn.close()
        # No damage note: every open finds this again, cheaply, and the file may not
        # even be a ledger (a wrong --ledger path).
        problem = file_header_problem(path)
        if problem is not None:
            raise damaged(path, problem, note=False) from e
        raise LedgerCorruptError(f"{path} is not a readable Affidavit ledger: {e}") from e
    return conn, None if version is None else version[0]


def ensure_derived(conn: sqlite3.Connection) -> None:
    """Install the triggers that keep the derived tables in step (a ledger written by an
    earlier version, or one whose triggers were dropped) and re-derive the index; drop the
    indexes an earlier version kept (:data:`affidavit.store.derived.DROPPED_INDEXES`)."""
    names = {
        str(n)
        for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' OR type = 'index'"
        )
    }
    dropped = names.intersection(derived.DROPPED_INDEXES)
    if dropped:  # a ledger from before they were dropped: they only slow its appends
        for name in sorted(dropped):
            conn.execute(f"DROP INDEX IF EXISTS {name}")
    if names.issuperset(derived.TRIGGER_NAMES):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DROP TABLE IF EXISTS actions")
        conn.execute("DELETE FROM meta WHERE key = 'actions_rules'")
        for statement in derived.statements(derived.ACTIONS_DDL + derived.TRIGGERS):
            conn.execute(statement)
        for statement in derived.REBUILD:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def page_problems(conn: sqlite3.Connection) -> list[str]:
    """What SQLite's ``PRAGMA quick_check`` finds wrong with the file (empty: nothing).

    Reads every page: O(file size), about 0.6 s per million records.
    """
    try:
        rows = conn.execute(f"PRAGMA quick_check({CHECK_LIMIT})").fetchall()
    except sqlite3.DatabaseError as e:
        return [str(e)]
    found = [line for (text,) in rows for line in str(text).splitlines()]
    return [] if found == ["ok"] else [p for p in found if not p.startswith("*** ")]

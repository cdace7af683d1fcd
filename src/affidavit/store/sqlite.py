"""The embedded store: one SQLite file per ledger.

WAL journal, ``synchronous=FULL`` (every commit is fsync-ed before it returns), one writer at
a time through ``BEGIN IMMEDIATE`` and a generous busy timeout, any number of readers. A writer
that reports durability itself (the recorder service's group commit) may commit inside
:meth:`SqliteStore.unsynced` and fsync the log with :meth:`SqliteStore.sync` before it does.

Tables::

    meta(key, value)                      origin, verifier key, integrated size, schema
    records(seq, leaf, leaf_hash,         seq is the leaf index, from 0
            salt, payload)                salt/payload are NULL once erased
    nodes(level, idx, hash)               every complete subtree of level >= 1
    checkpoints(size, note, published)    every signed checkpoint ever published

and, for capture (derived or transient; the tree does not cover them)::

    blobs(sha256, size, codec, data)      file contents by hash, compressed, deduplicated
    tool_uses(tool_use_id, seq, ...)      which records saw which tool call (deduplication)
    pending(tool_use_id, created, state)  what a PreToolUse saw, until its PostToolUse
    file_state(path, size, mtime_ns, ...) last hash seen per path, keyed by its stat

and ``actions``, the flattened who-did-what index that :mod:`affidavit.query` derives.

A damaged file is never written to (:mod:`affidavit.store.damage`). Every open checks the
file's header and its write-ahead log's; a writable open also runs SQLite's
``PRAGMA quick_check`` over every page, unless the caller cannot afford O(file size) per call
(the hook, the query index) and opts out with ``check_pages=False``: such stores refuse while
a damage note lies beside the ledger, and every append first rereads the last records, where
a torn write lands. Opening, creating and those checks are in :mod:`affidavit.store.sqlite_file`.

Only the standard library: the capture hook appends through this module directly.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from affidavit import merkle
from affidavit.errors import LedgerCorruptError
from affidavit.store import sqlite_file
from affidavit.store.damage import clear_damage, damaged, summary, wal_damage
from affidavit.store.sqlite_file import BUSY_TIMEOUT_MS as BUSY_TIMEOUT_MS
from affidavit.store.sqlite_file import SCHEMA as SCHEMA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]

Row = tuple[int, bytes, bytes, bytes | None, bytes | None]

_TAIL = 16  # records an append rereads before the end


# SQLite maps at most its compile-time limit (2 GiB in common builds) and reads the rest.
_MAP_BYTES = 1 << 31


class SqliteStore:
    """A ledger's tables in one SQLite file. Not thread-safe: one store per thread/process.

    Implements :class:`~affidavit.store.log.LogStore`; :attr:`connection` is for the modules
    that own the other tables of the file (capture state, content, the query index).
    """

    def __init__(self, conn: sqlite3.Connection, path: StrPath) -> None:
        self._conn = conn
        self.path = os.fspath(path)
        # The end of the records this transaction appended after its tail check: the next
        # append in the same transaction starts there and need not reread the tail.
        self._checked_end: int | None = None
        self._wal: bool | None = None  # whether commits go to a write-ahead log (see sync)

    # -- opening (the work is in sqlite_file) -----------------------------------------------

    @classmethod
    def create(cls, path: StrPath, meta: dict[str, str]) -> SqliteStore:
        """Create a new ledger file; refuses to touch an existing one."""
        return cls(sqlite_file.create_file(path, meta), path)

    @classmethod
    def open(
        cls, path: StrPath, *, readonly: bool = False, check_pages: bool = False
    ) -> SqliteStore:
        """Open a ledger file; a writable open refuses a damaged one (see the module doc).

        A writable open checks what writing touches, at a cost that does not grow with the
        file: the header, the WAL, a damage note left by an earlier check, and (at each
        append) the last records. ``check_pages=True`` adds SQLite's page check of the whole
        file (``affidavit verify`` and ``status --check`` run it).
        """
        conn, schema = sqlite_file.open_file(path, readonly=readonly)
        store = cls(conn, path)
        if schema != str(SCHEMA):
            problems = store.page_problems()
            store.close()
            if problems:
                raise damaged(path, summary(problems), note=False)
            raise LedgerCorruptError(f"{path} has no Affidavit schema {SCHEMA} marker")
        try:
            if not readonly and check_pages:
                store.check_pages()
            if not readonly:
                sqlite_file.ensure_derived(conn)
        except BaseException:
            store.close()
            raise
        return store

    def page_problems(self) -> list[str]:
        """What SQLite's ``PRAGMA quick_check`` finds wrong with the file (empty: nothing).

        Reads every page: O(file size), about 0.6 s per million records.
        """
        return sqlite_file.page_problems(self._conn)

    def check_pages(self) -> None:
        """Raise :class:`LedgerCorruptError` naming the damage if any page is damaged.

        Also rereads the WAL header. A file found whole clears an earlier damage note.
        """
        problem = wal_damage(self.path)
        if problem is not None:
            raise damaged(self.path, problem)
        problems = self.page_problems()
        if problems:
            raise damaged(self.path, summary(problems))
        clear_damage(self.path)

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for the capture tables (same transaction as the records)."""
        return self._conn

    def close(self) -> None:
        self._conn.close()

    # -- transactions -----------------------------------------------------------------------

    def begin(self) -> None:
        """Take the write lock now, so concurrent writers queue instead of failing later."""
        self._checked_end = None
        self._conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._checked_end = None
        self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def unsynced(self) -> Iterator[None]:
        """Commits inside return before their fsync (``synchronous=NORMAL``): they are on
        disk, in order and whole, only after a later :meth:`sync`, or a commit outside.
        The caller MUST NOT report any of them durable before then. (WAL with NORMAL never
        corrupts the file; a crash of the machine may only lose the unsynced commits.) On a
        file system where SQLite could not turn WAL on, commits stay FULL and sync() has
        nothing to do: a rollback journal with NORMAL could be damaged by a crash."""
        if self._wal is None:
            self._wal = self._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        if not self._wal:
            yield
            return
        self._conn.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            self._conn.execute("PRAGMA synchronous = FULL")

    def sync(self) -> None:
        """fsync the write-ahead log: every commit that returned before this call is durable
        when it returns. Safe from another thread: it opens the log file itself, leaving
        the connection to its thread, so commits go on while the disk syncs."""
        if not self._wal:
            return  # no unsynced() commit went to a log: each was FULL
        fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rollback(self) -> None:
        self._checked_end = None
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Read as of one moment: every query inside sees the same committed state, however
        many commits other writers make meanwhile (one WAL read transaction)."""
        self._conn.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            self.rollback()  # nothing was written: ending the read is all it does

    @contextlib.contextmanager
    def paired_snapshot(self) -> Iterator[SqliteStore]:
        """:meth:`snapshot` on this connection and on a second, read-only one (yielded, for
        one other thread) that reads the very same committed state, so checks can run side
        by side. Both read transactions begin after a moment A; if the second connection's
        ``data_version`` moved since A, a writer committed in between, and both begin again.

        Both read the file through a memory map meanwhile: checks that read every page then
        spend about a tenth less CPU than copying each page in (measured at 1M records).
        """
        from pathlib import Path

        uri = Path(self.path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        twin = SqliteStore(conn, self.path)
        try:
            conn.execute(f"PRAGMA busy_timeout = {sqlite_file.BUSY_TIMEOUT_MS}")
            for c in (self._conn, conn):
                c.execute(f"PRAGMA mmap_size = {_MAP_BYTES}")
            while True:
                try:
                    before = conn.execute("PRAGMA data_version").fetchone()
                    for c in (self._conn, conn):
                        c.execute("BEGIN DEFERRED")
                        c.execute("SELECT count(*) FROM meta").fetchone()  # the snapshot
                    if conn.execute("PRAGMA data_version").fetchone() == before:
                        break
                except sqlite3.DatabaseError:
                    self.rollback()
                    self.check_pages()  # name the damage, if that is what it is
                    raise
                self.rollback()
                twin.rollback()
            yield twin
        finally:
            self.rollback()
            self._conn.execute("PRAGMA mmap_size = 0")
            twin.rollback()
            twin.close()

    def interrupt(self) -> None:
        """Stop the statement running on this connection (callable from another thread)."""
        self._conn.interrupt()

    # -- meta -------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- records ----------------------------------------------------------------------------

    def size(self) -> int:
        row = self._conn.execute("SELECT max(seq) FROM records").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def add_records(self, rows: Iterable[tuple[bytes, bytes, bytes | None, bytes | None]]) -> int:
        """Insert (leaf, leaf_hash, salt, payload) rows at the end; returns the first seq.

        Call inside :meth:`begin` / :meth:`commit`: the seqs are only real once committed.
        The tail is checked once per transaction: a batch of many events (the recorder
        service's group commit) appends after its own rows, which it has not read back.
        """
        first = self.size()
        if not (self._conn.in_transaction and first == self._checked_end):
            self._check_tail(first)
        listed = list(rows)
        self._conn.executemany(
            "INSERT INTO records (seq, leaf, leaf_hash, salt, payload) VALUES (?, ?, ?, ?, ?)",
            ((first + i, *row) for i, row in enumerate(listed)),
        )
        if listed and self._conn.in_transaction:
            self._checked_end = first + len(listed)
        return first

    def _check_tail(self, end: int) -> None:
        """Refuse to append after a damaged tail: the last records must read back whole.

        A torn write hits the pages written last, and SQLite reads a zeroed cell as a row of
        NULLs without complaint; rereading the last few records costs microseconds, where
        the full page check costs a read of the whole file.
        """
        try:
            integrated = int(self.meta("integrated") or 0)
        except ValueError:
            raise damaged(self.path, "its integrated size is not a number") from None
        if end < integrated:
            raise damaged(self.path, f"it holds {end} records but {integrated} were integrated")
        start = max(0, end - _TAIL)
        rows = self._conn.execute(
            "SELECT seq, leaf, leaf_hash FROM records WHERE seq >= ? ORDER BY seq", (start,)
        ).fetchall()
        if [seq for seq, _, _ in rows] != list(range(start, end)) or not all(
            type(leaf) is bytes and type(h) is bytes and merkle.leaf_hash(leaf) == h
            for _, leaf, h in rows
        ):
            raise damaged(self.path, f"its last records ({start}..{end - 1}) do not read back")

    def records(self, start: int = 0, end: int | None = None) -> Iterator[Row]:
        """Stream records with ``start <= seq < end`` in order, in constant memory."""
        sql = "SELECT seq, leaf, leaf_hash, salt, payload FROM records WHERE seq >= ?"
        args: list[Any] = [start]
        if end is not None:
            sql += " AND seq < ?"
            args.append(end)
        cursor = self._conn.execute(sql + " ORDER BY seq", args)
        while batch := cursor.fetchmany(4096):
            for row in batch:
                if type(row[1]) is not bytes or type(row[2]) is not bytes:
                    raise self._damaged_row(row[0])
                yield row

    def record(self, seq: int) -> Row | None:
        row: Row | None = self._conn.execute(
            "SELECT seq, leaf, leaf_hash, salt, payload FROM records WHERE seq = ?", (seq,)
        ).fetchone()
        if row is not None and (type(row[1]) is not bytes or type(row[2]) is not bytes):
            raise self._damaged_row(seq)
        return row

    def _damaged_row(self, seq: object) -> LedgerCorruptError:
        # SQLite reads a zeroed cell as NULLs: a record without its leaf is damage.
        return damaged(self.path, f"a records row is damaged (it reads as seq {seq}, no leaf)")

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._conn.execute(
            "SELECT leaf_hash FROM records WHERE seq >= ? AND seq < ? ORDER BY seq", (start, end)
        )
        return [r[0] for r in rows]

    def erase_payloads(self, seqs: Iterable[int]) -> int:
        """NULL the salt and payload of ``seqs``; secure_delete overwrites the old bytes."""
        self._conn.execute("PRAGMA secure_delete = ON")
        cursor = self._conn.executemany(
            "UPDATE records SET salt = NULL, payload = NULL WHERE seq = ? AND payload IS NOT NULL",
            ((s,) for s in seqs),
        )
        return cursor.rowcount

    def erased_count(self) -> int:
        return int(
            self._conn.execute("SELECT count(*) FROM records WHERE payload IS NULL").fetchone()[0]
        )

    def purge_erased(self) -> None:
        """Move the WAL into the main file and truncate it, so erased bytes leave the disk."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- tree -------------------------------------------------------------------------------

    def add_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        self._conn.executemany("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)

    def node_hashes(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of the subtrees ``(level, index)``; level 0 is a record's leaf hash."""
        out: list[bytes] = []
        for level, idx in keys:
            if level == 0:
                row = self._conn.execute(
                    "SELECT leaf_hash FROM records WHERE seq = ?", (idx,)
                ).fetchone()
            else:
                row = self._conn.execute(
                    "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx)
                ).fetchone()
            if row is None:
                raise LedgerCorruptError(f"subtree (level {level}, index {idx}) is missing")
            out.append(row[0])
        return out

    def nodes_at(self, level: int) -> Iterator[tuple[int, bytes]]:
        cursor = self._conn.execute(
            "SELECT idx, hash FROM nodes WHERE level = ? ORDER BY idx", (level,)
        )
        while batch := cursor.fetchmany(4096):
            yield from batch

    def node_levels(self) -> dict[int, int]:
        rows = self._conn.execute("SELECT level, count(*) FROM nodes GROUP BY level")
        return {int(level): int(count) for level, count in rows}

    # -- checkpoints ------------------------------------------------------------------------

    def add_checkpoint(self, size: int, note: str, published: str) -> None:
        self._conn.execute("INSERT INTO checkpoints VALUES (?, ?, ?)", (size, note, published))

    def checkpoints(self) -> Iterator[tuple[int, str, str]]:
        yield from self._conn.execute(
            "SELECT size, note, published FROM checkpoints ORDER BY size"
        ).fetchall()

    def latest_checkpoint(self) -> tuple[int, str, str] | None:
        row: tuple[int, str, str] | None = self._conn.execute(
            "SELECT size, note, published FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return row

    def checkpoint_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0])

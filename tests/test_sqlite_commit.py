"""How the SQLite store commits what a group commit gives it.

It rereads the last records before it appends, once per transaction: a batch of events in
one transaction (the recorder service's group commit) appends after rows it wrote itself and
does not reread them; the next transaction checks the tail again, so a tail damaged between
transactions is still refused before anything is appended. Commits inside ``unsynced()``
skip their fsync and ``sync()`` does it from any thread; outside, every commit is FULL again.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from affidavit import merkle
from affidavit.errors import LedgerCorruptError
from affidavit.record import Record
from affidavit.store.sqlite import SqliteStore
from ledger_helpers import new_ledger


def _row(i: int) -> tuple[bytes, bytes, bytes | None, bytes | None]:
    rec = Record.create("file.update", "test", {"n": i}, time=datetime(2026, 1, 1, tzinfo=UTC))
    return rec.leaf, merkle.leaf_hash(rec.leaf), rec.salt, rec.payload_json


def test_a_transaction_checks_the_tail_once_and_the_next_checks_again(tmp_path: Path) -> None:
    new_ledger(tmp_path).close()
    path = tmp_path / "ledger.sqlite"
    store = SqliteStore.open(path)
    reads: list[str] = []
    store.connection.set_trace_callback(reads.append)
    try:
        store.begin()
        firsts = [store.add_records([_row(i), _row(i + 100)]) for i in range(3)]
        store.commit()
        assert firsts == [0, 2, 4]
        tail_reads = [s for s in reads if s.startswith("SELECT seq, leaf, leaf_hash")]
        assert len(tail_reads) == 1, tail_reads
        # Damage the last record between transactions: the next append refuses.
        with sqlite3.connect(path) as raw:
            raw.execute("UPDATE records SET leaf_hash = ? WHERE seq = 5", (b"\0" * 32,))
        store.begin()
        with pytest.raises(LedgerCorruptError, match=r"last records \(0\.\.5\) do not read back"):
            store.add_records([_row(9)])
        store.rollback()
    finally:
        store.close()


def test_unsynced_commits_then_sync_from_another_thread(tmp_path: Path) -> None:
    new_ledger(tmp_path).close()
    path = tmp_path / "ledger.sqlite"
    store = SqliteStore.open(path)
    synchronous = "PRAGMA synchronous"
    try:
        assert store.connection.execute(synchronous).fetchone() == (2,)  # FULL
        with store.unsynced():
            assert store.connection.execute(synchronous).fetchone() == (1,)  # NORMAL
            store.begin()
            store.add_records([_row(1)])
            store.commit()
        assert store.connection.execute(synchronous).fetchone() == (2,)
        failed: list[BaseException] = []

        def sync() -> None:
            try:
                store.sync()
            except BaseException as e:
                failed.append(e)

        worker = threading.Thread(target=sync)
        worker.start()
        worker.join(60)
        assert not failed
        other = sqlite3.connect(path)  # committed, whole, seen by another reader
        try:
            assert other.execute("SELECT count(*) FROM records").fetchone() == (1,)
        finally:
            other.close()
    finally:
        store.close()


def test_without_a_write_ahead_log_commits_stay_full(tmp_path: Path) -> None:
    new_ledger(tmp_path).close()
    store = SqliteStore.open(tmp_path / "ledger.sqlite")
    try:
        # As on a file system where SQLite cannot keep a WAL: a rollback journal.
        assert store.connection.execute("PRAGMA journal_mode = DELETE").fetchone() == ("delete",)
        with store.unsynced():
            assert store.connection.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
            store.begin()
            store.add_records([_row(1)])
            store.commit()
        assert not (tmp_path / "ledger.sqlite-wal").exists()
        store.sync()  # nothing to do, and no error: every commit was FULL
    finally:
        store.close()

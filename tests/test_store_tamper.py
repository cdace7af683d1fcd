"""Tamper evidence against both log stores: edit the tables behind the ledger's back with
raw SQL (sqlite3 for the file, psycopg for the PostgreSQL schema), and the one verification
core must fail, naming the damaged record, subtree or checkpoint.

tests/test_tamper.py does the same through the CLI for SQLite files; this suite proves the
PostgreSQL store gives the core the same evidence, so nothing is lost by moving a log there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from affidavit.errors import ConsistencyError, VerificationError
from affidavit.ledger import Ledger
from ledger_helpers import grow, new_ledger
from pg_helpers import new_pg_ledger, raw_sql

SIZES = [8, 16, 21]


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger[Any]]:
    """A ledger of 21 records with checkpoints at 8, 16 and 21, in either store."""
    if request.param == "postgres":
        made: Ledger[Any] = new_pg_ledger(request.getfixturevalue("pg_schemas"))
    else:
        made = new_ledger(tmp_path)
    with made:
        grow(made, [8, 8, 5])
        yield made


def detected(ledger: Ledger[Any], where: str, *words: str) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        ledger.verify()
    assert caught.value.where == where, str(caught.value)
    for word in words:
        assert word in str(caught.value)
    return caught.value


def edit(ledger: Ledger[Any], sql: str, *args: object) -> None:
    with raw_sql(ledger.store) as conn:
        conn.execute(sql, args)


def test_the_untouched_ledger_verifies(ledger: Ledger[Any]) -> None:
    report = ledger.verify()
    assert (report.records, report.checkpoints, report.tree_size) == (21, 3, 21)


def test_one_byte_of_a_leaf_changed(ledger: Ledger[Any]) -> None:
    leaf = bytearray(ledger.store.record(12)[1])
    leaf[leaf.index(b'"time":"') + 10] ^= 0x01
    edit(ledger, "UPDATE records SET leaf = ? WHERE seq = 12", bytes(leaf))
    detected(ledger, "record 12", "leaf bytes do not hash")


def test_a_leaf_changed_with_its_leaf_hash_recomputed(ledger: Ledger[Any]) -> None:
    from affidavit import merkle

    leaf = ledger.store.record(5)[1].replace(b'"file.update"', b'"file.delete"')
    edit(
        ledger,
        "UPDATE records SET leaf = ?, leaf_hash = ? WHERE seq = 5",
        leaf,
        merkle.leaf_hash(leaf),
    )
    detected(ledger, "subtree (level 1, index 2)", "records 4..5")


def test_a_payload_changed(ledger: Ledger[Any]) -> None:
    body = ledger.store.record(3)[4].replace(b"user-3", b"user-9")
    edit(ledger, "UPDATE records SET payload = ? WHERE seq = 3", body)
    detected(ledger, "record 3", "commitment")


def test_a_payload_nulled_without_an_erasure(ledger: Ledger[Any]) -> None:
    edit(ledger, "UPDATE records SET payload = NULL, salt = NULL WHERE seq = 4")
    detected(ledger, "record 4", "no erasure record")


def test_a_record_deleted(ledger: Ledger[Any]) -> None:
    edit(ledger, "DELETE FROM records WHERE seq = 9")
    detected(ledger, "record 9", "missing")


def test_two_records_swapped(ledger: Ledger[Any]) -> None:
    a, b = ledger.store.record(2), ledger.store.record(3)
    edit(ledger, "DELETE FROM records WHERE seq IN (2, 3)")
    for seq, row in ((2, b), (3, a)):
        edit(ledger, "INSERT INTO records VALUES (?, ?, ?, ?, ?)", seq, *row[1:])
    detected(ledger, "subtree (level 1, index 1)")


def test_a_stored_subtree_hash_changed(ledger: Ledger[Any]) -> None:
    edit(ledger, "UPDATE nodes SET hash = ? WHERE level = 2 AND idx = 1", b"\x07" * 32)
    detected(ledger, "subtree (level 2, index 1)")


def test_a_checkpoint_note_edited(ledger: Ledger[Any]) -> None:
    note = next(n for s, n, _ in ledger.store.checkpoints() if s == 16)
    edit(
        ledger, "UPDATE checkpoints SET note = ? WHERE size = 16", note.replace("\n16\n", "\n15\n")
    )
    detected(ledger, "checkpoint 16")


def test_the_tail_truncated_against_a_kept_checkpoint(ledger: Ledger[Any]) -> None:
    kept = ledger.publish()
    edit(ledger, "DELETE FROM records WHERE seq >= 16")
    edit(ledger, "DELETE FROM nodes WHERE (idx + 1) * (1 << level) > 16")
    edit(ledger, "DELETE FROM checkpoints WHERE size > 16")
    edit(ledger, "UPDATE meta SET value = '16' WHERE key = 'integrated'")
    assert ledger.verify().tree_size == 16  # alone, a clean truncation looks whole...
    with pytest.raises(ConsistencyError, match="truncated"):
        ledger.verify(from_checkpoint=kept)  # ...which is what a kept checkpoint is for

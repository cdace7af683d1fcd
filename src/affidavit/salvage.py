"""What a damaged ledger file can still prove.

When the file is damaged (a torn page, a truncated file, a wrong header, a damaged
write-ahead log), :meth:`Ledger.verify` stops at the damage. :func:`salvage` instead reads
everything that can still be read, read-only and row by row, and finds the **last good
checkpoint**: of the checkpoints whose signature verifies and whose root it can rebuild,
per RFC 9162 section 2.1, from readable data alone, the one that proves the most records
(the newest of equals; normally simply the newest). Every intact record under it whose audit
path it could rebuild is **provable**: an inclusion proof for it can be computed from the
readable bytes, and it verifies against the signed root.

Hashes are rebuilt from the records' leaves wherever they are readable; a stored subtree
hash stands in only where a leaf under it is unreadable, and the signed root then decides
whether it was right. So a torn page costs the records on it and, because their audit
paths need the unreadable leaves, the intact records that share a smallest stored subtree
with them; everything else under the checkpoint stays provable. Records that SQLite can no
longer reach (below a lost interior page, or in a truncated file) are read from their
pages directly (:mod:`affidavit.store.pages`); a leaf proves itself by hashing to its own
stored leaf hash and, in the end, to the signed root.

The original file is never written. A file whose only damage is the 16-byte SQLite
signature is read through a private temporary copy with the signature restored; a truncated
file is read up to where it ends.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from binascii import b2a_base64
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

from affidavit import merkle
from affidavit.errors import AffidavitError, InputError, LedgerCorruptError
from affidavit.note import Checkpoint, Verifier, open_checkpoint
from affidavit.record import read_leaf
from affidavit.salvage_tree import RebuiltTree, ranges_of
from affidavit.salvage_tree import describe as describe
from affidavit.store import pages
from affidavit.store.damage import SQLITE_MAGIC, file_header_problem, wal_damage

_CHUNK = 4096

__all__ = ["Salvage", "salvage"]


@dataclass(frozen=True, slots=True)
class Salvage:
    """What :func:`salvage` found. Seq ranges are half-open ``range`` objects."""

    path: str
    damage: tuple[str, ...]  # what is wrong with the file, as specific as it can say
    records: int  # seqs the ledger knows of: 0 .. records - 1
    unreadable: tuple[range, ...]  # rows that cannot be read, or whose leaf does not hash
    checkpoint: Checkpoint | None  # the last good checkpoint
    note: str | None  # its signed note, exactly as stored
    provable: tuple[range, ...]  # records provable against it
    unproven: tuple[range, ...]  # readable records it does not prove (later, or cut off)
    payload_damaged: tuple[range, ...]  # provable envelopes whose payload no longer matches
    rejected: tuple[tuple[int, str], ...]  # checkpoints (size, why) that do not hold
    advice: str  # what would let more be proven, if anything


def salvage(
    path: Path, *, key: Verifier | None = None, kept: str | None = None, damage: str = ""
) -> Salvage:
    """Read what is left of the ledger at ``path`` and say what it still proves.

    ``key`` pins the verifier key (needed when the stored one is unreadable); ``kept`` is a
    checkpoint a verifier kept, tried beside the stored ones; ``damage`` is what the caller
    already found, reported when this finds nothing more specific. Raises
    :class:`LedgerCorruptError` when nothing of a ledger is readable.
    """
    found: list[str] = []
    with _reading(path, found) as (conn, file):
        meta = _meta(conn)
        verifier = key
        if verifier is None and "vkey" in meta:
            try:
                verifier = Verifier.from_vkey(meta["vkey"])
            except AffidavitError as e:
                found.append(f"the stored verifier key is damaged ({e}); pass --vkey")
        notes = _checkpoint_notes(conn, found)
        good, rejected = _signed(notes, kept, verifier)
        # No more records than the file could hold (a row takes well over 64 bytes), so a
        # damaged count cannot make this allocate without bound.
        most = os.path.getsize(path) // 64 + 1
        known = max([_int(meta.get("integrated")), *(cp.size for cp, _, _ in good)], default=0)
        leaves = _Leaves.read(conn, file, min(known, most), found)
        if not meta and not notes and not leaves.count:
            raise LedgerCorruptError(
                f"{path}: nothing of an Affidavit ledger is readable ({'; '.join(found)})"
            )
        if verifier is None:
            found.append("the verifier key is unreadable: checkpoints cannot be checked")
        tree = RebuiltTree(
            conn, leaves.hashes, leaves.ok, max((cp.size for cp, _, _ in good), default=0)
        )
    # The last good checkpoint: of those whose root is rebuilt, the one that proves the
    # most records, the newest of equals (an older one can prove no more than its size).
    chosen: tuple[Checkpoint, str] | None = None
    provable = b""
    for cp, note, label in sorted(good, key=lambda c: -c[0].size):
        if chosen is not None and cp.size <= provable.count(1):
            break
        why = tree.check(cp)
        if why is not None:
            if chosen is None:
                rejected.append((cp.size, f"{label}: {why}"))
            continue
        mask = tree.provable(cp.size)
        if chosen is None or mask.count(1) > provable.count(1):
            chosen, provable = (cp, note), mask
    provable += bytes(leaves.count - len(provable))
    advice = ""
    if verifier is None:
        advice = "pass the ledger's verifier key with --vkey to check its checkpoints"
    elif chosen is None and kept is None:
        advice = "pass a checkpoint you kept with --from to prove records against it"
    if not found and damage:
        found.append(damage)
    return Salvage(
        path=str(path),
        damage=tuple(dict.fromkeys(found)),
        records=leaves.count,
        unreadable=ranges_of(bytes(1 - ok for ok in leaves.ok)),
        checkpoint=chosen[0] if chosen else None,
        note=chosen[1] if chosen else None,
        provable=ranges_of(provable),
        unproven=ranges_of(bytes(ok & (1 - p) for ok, p in zip(leaves.ok, provable, strict=True))),
        payload_damaged=ranges_of(leaves.payload_damaged_below(chosen[0].size if chosen else 0)),
        rejected=tuple(sorted(rejected, reverse=True)),
        advice=advice,
    )


# -- opening --------------------------------------------------------------------------------


@contextmanager
def _reading(path: Path, found: list[str]) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """A read-only connection to what is left of ``path``, and the file it reads (a private
    copy when the signature is damaged); notes what is wrong in ``found``."""
    if not path.is_file():
        raise LedgerCorruptError(f"no ledger file at {path}")
    wal = wal_damage(path)
    if wal is not None:
        found.append(f"{wal}; what the file held before it is read")
    header = file_header_problem(path)
    if header is not None:
        found.append(header)
    with open(path, "rb") as f:
        signature = f.read(16)
    if len(signature) == 16 and signature != SQLITE_MAGIC:
        with tempfile.TemporaryDirectory(prefix="affidavit-salvage-") as tmp:
            copy = Path(tmp) / "ledger.sqlite"
            shutil.copyfile(path, copy)
            if wal is None and os.path.exists(f"{path}-wal"):
                shutil.copyfile(f"{path}-wal", f"{copy}-wal")
            with open(copy, "r+b") as f:
                f.write(SQLITE_MAGIC)
            found.append("read through a private copy with the SQLite signature restored")
            with closing(sqlite3.connect(copy, isolation_level=None)) as conn:
                yield _prepared(conn, found), copy
        return
    uri = path.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as conn:
        yield _prepared(conn, found), path


def _prepared(conn: sqlite3.Connection, found: list[str]) -> sqlite3.Connection:
    conn.execute("PRAGMA query_only = ON")
    # Past the end of a truncated file SQLite refuses the whole file; this makes it read
    # the pages that are there (and only changes how the schema is read: nothing is written).
    conn.execute("PRAGMA writable_schema = ON")
    try:
        rows = conn.execute("PRAGMA quick_check(20)").fetchall()
        problems = [line for (text,) in rows for line in str(text).splitlines()]
        problems = [p for p in problems if p != "ok" and not p.startswith("*** ")]
        if problems:
            found.append(f"SQLite's integrity check: {'; '.join(problems[:5])}")
    except sqlite3.DatabaseError as e:
        found.append(f"SQLite's integrity check cannot run: {e}")
    return conn


# -- reading rows defensively -------------------------------------------------------------


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("schema", "origin", "vkey", "integrated"):
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            continue
        if row is not None and isinstance(row[0], str):
            out[key] = row[0]
    return out


def _int(text: str | None) -> int:
    try:
        return max(0, int(text or 0))
    except ValueError:
        return 0


def _keyed(conn: sqlite3.Connection, sql: str, bound: int, op: str) -> Iterator[Any]:
    """Rows of ``sql`` (``... WHERE key {op} ? ORDER BY key ... LIMIT 1`` with the key
    first) one seek at a time, until the end or the first damaged page: a cursor steps one
    row ahead, so scanning would lose the last good row before the damage."""
    while True:
        try:
            row = conn.execute(sql, (bound,)).fetchone()
        except sqlite3.DatabaseError:
            return
        if row is None or type(row[0]) is not int or not _beyond(row[0], bound, op):
            return
        yield row
        bound = row[0]


def _beyond(key: int, bound: int, op: str) -> bool:
    return key > bound if op == ">" else key < bound


def _checkpoint_notes(conn: sqlite3.Connection, found: list[str]) -> list[tuple[int, str]]:
    """(size, note) of every readable checkpoint row: read forwards, then backwards, to the
    damage, so one damaged page costs only the rows on it."""
    rows: dict[int, str] = {}
    sql = "SELECT size, note FROM checkpoints WHERE size {} ? ORDER BY size {} LIMIT 1"
    for op, order, start in ((">", "ASC", -1), ("<", "DESC", 1 << 62)):
        for size, note in _keyed(conn, sql.format(op, order), start, op):
            if isinstance(note, str):
                rows[size] = note
    if not rows:
        found.append("no checkpoint is readable")
    return sorted(rows.items())


def _signed(
    notes: list[tuple[int, str]], kept: str | None, verifier: Verifier | None
) -> tuple[list[tuple[Checkpoint, str, str]], list[tuple[int, str]]]:
    """(checkpoint, note, label) of each note whose signature and size hold; (size, why)
    of each stored one that does not."""
    good: list[tuple[Checkpoint, str, str]] = []
    bad: list[tuple[int, str]] = []
    if verifier is None:
        return good, bad
    for size, note in notes + ([(-1, kept)] if kept is not None else []):
        label = "your kept checkpoint" if size == -1 else "checkpoint"
        try:
            cp = open_checkpoint(note, verifier)
        except AffidavitError as e:
            bad.append((size, f"{label}: its signature does not verify ({e})"))
            continue
        if size not in (-1, cp.size):
            bad.append((size, f"{label}: its note says size {cp.size}"))
            continue
        good.append((cp, note, label))
    return good, bad


class _Leaves:
    """Every readable leaf hash, packed: ``hashes[32*i : 32*i+32]`` when ``ok[i]``."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.hashes = bytearray(32 * count)
        self.ok = bytearray(count)
        self.payload_damaged: list[int] = []

    @classmethod
    def read(
        cls, conn: sqlite3.Connection, file: Path, size_hint: int, found: list[str]
    ) -> _Leaves:
        last = _last_seq(conn)
        leaves = cls(max(size_hint, last + 1))
        damaged_chunks = 0
        for start in range(0, leaves.count, _CHUNK):
            end = min(leaves.count, start + _CHUNK)
            sql = "SELECT seq, leaf, leaf_hash, salt, payload FROM records WHERE seq >= ?"
            try:
                rows = conn.execute(sql + " AND seq < ? ORDER BY seq", (start, end)).fetchall()
            except sqlite3.DatabaseError:
                damaged_chunks += 1
                rows = []
                for seq in range(start, end):  # one by one: each damaged page costs its rows
                    try:
                        row = conn.execute(sql + " AND seq = ?", (seq, seq)).fetchone()
                    except sqlite3.DatabaseError:
                        continue
                    if row is not None:
                        rows.append(row)
            for row in rows:
                leaves.add(*row)
        if damaged_chunks:
            found.append(f"the records table is damaged in {damaged_chunks} place(s)")
        if damaged_chunks or last < 0 or not all(leaves.ok):
            leaves.read_pages(file, found)
        return leaves

    def read_pages(self, file: Path, found: list[str]) -> None:
        """Records SQLite could not reach, read from their pages directly."""
        rescued: dict[int, tuple[bytes, bytes]] = {}
        for seq, columns in pages.table_leaf_rows(file):
            if len(columns) != 5 or (seq < self.count and self.ok[seq]):
                continue
            leaf, stored = columns[1], columns[2]
            if type(leaf) is bytes and type(stored) is bytes and _intact(leaf, stored):
                rescued[seq] = (leaf, stored)
        if not rescued:
            return
        self.grow(max(rescued) + 1)
        for seq, (leaf, stored) in rescued.items():
            self.add(seq, leaf, stored, None, None)  # the payload may lie on lost pages
        found.append(
            f"{len(rescued)} record(s) read from their pages directly, past damaged b-tree pages"
        )

    def grow(self, count: int) -> None:
        if count > self.count:
            self.hashes += bytes(32 * (count - self.count))
            self.ok += bytes(count - self.count)
            self.count = count

    def payload_damaged_below(self, size: int) -> bytes:
        mask = bytearray(min(size, self.count))
        for seq in self.payload_damaged:
            if seq < len(mask):
                mask[seq] = 1
        return bytes(mask)

    def add(self, seq: object, leaf: object, stored: object, salt: object, body: object) -> None:
        if type(seq) is not int or not 0 <= seq < self.count:
            return
        if type(leaf) is not bytes or type(stored) is not bytes:
            return
        committed = _intact(leaf, stored)
        if committed is None:
            return
        self.hashes[32 * seq : 32 * seq + 32] = stored
        self.ok[seq] = 1
        if salt is None and body is None:
            return  # erased: the envelope is what the tree proves
        if (
            type(salt) is not bytes
            or type(body) is not bytes
            or b2a_base64(sha256(salt + body).digest(), newline=False) != committed
        ):
            self.payload_damaged.append(seq)


def _intact(leaf: bytes, stored: bytes) -> bytes | None:
    """The commitment (base64) of a valid envelope beside its own leaf hash, else None."""
    if len(stored) != 32 or merkle.leaf_hash(leaf) != stored:
        return None
    try:
        return read_leaf(leaf)[0]
    except InputError:
        return None


def _last_seq(conn: sqlite3.Connection) -> int:
    sql = "SELECT seq FROM records WHERE seq < ? ORDER BY seq DESC LIMIT 1"
    return next((row[0] for row in _keyed(conn, sql, 1 << 62, "<")), -1)

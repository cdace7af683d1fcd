"""The narrow log-store protocol: what a ledger and the verification core need of a store.

A log store holds four things and nothing else the tree depends on:

* ``meta``: origin, verifier key, the integrated size, schema;
* ``records``: ``(seq, leaf, leaf_hash, salt, payload)``, seq from 0 without gaps; salt and
  payload are NULL once erased;
* ``nodes``: the hash of every complete subtree of level >= 1, so proofs are O(log n) reads;
* ``checkpoints``: every signed checkpoint ever published.

:class:`~affidavit.store.sqlite.SqliteStore` (one file per endpoint ledger) implements it;
the collector's PostgreSQL store is the second implementation. Everything else a ledger
file holds (capture state, content blobs, the query index) is reached through its own
module (:mod:`affidavit.capture.state`, :mod:`affidavit.capture.content`,
:mod:`affidavit.query`), never through this protocol.

Contracts: :meth:`add_records` and :meth:`add_nodes` are called between :meth:`begin` and
:meth:`commit`, and MUST NOT be visible to readers before the commit returns; the commit
MUST be durable when it returns. :meth:`snapshot` MUST give every read inside it one
committed state, however many commits other writers make meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

Row = tuple[int, bytes, bytes, bytes | None, bytes | None]
"""(seq, leaf, leaf_hash, salt, payload) of one record."""

NewRow = tuple[bytes, bytes, bytes | None, bytes | None]
"""(leaf, leaf_hash, salt, payload) of a record to append."""


class LogStore(Protocol):
    """Storage for one RFC 9162 log; see the module docstring for the contracts."""

    path: str
    """Where the store lives, for messages (a file path or a database and log name)."""

    def begin(self) -> None:
        """Start the one write transaction (waits for another writer to finish)."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def snapshot(self) -> AbstractContextManager[None]: ...

    def meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def size(self) -> int:
        """Number of records sequenced (the next seq)."""

    def add_records(self, rows: Iterable[NewRow]) -> int:
        """Append records after the last; returns the first new seq."""

    def records(self, start: int = 0, end: int | None = None) -> Iterator[Row]:
        """Records with ``start <= seq < end`` in seq order, streamed."""

    def record(self, seq: int) -> Row | None: ...

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes of records ``start <= seq < end``, in order."""

    def erased_count(self) -> int: ...

    def erase_payloads(self, seqs: Iterable[int]) -> int:
        """Set salt and payload of ``seqs`` to NULL, overwriting the old bytes."""

    def purge_erased(self) -> None:
        """After an erasure commits: make the erased bytes leave the medium (SQLite moves
        its write-ahead log into the file and truncates it)."""

    def add_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None: ...

    def node_hashes(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of subtrees ``(level, index)``; level 0 is a record's leaf hash."""

    def nodes_at(self, level: int) -> Iterator[tuple[int, bytes]]:
        """``(index, hash)`` of every stored subtree of ``level``, by index."""

    def node_levels(self) -> dict[int, int]:
        """How many subtree hashes each level holds."""

    def add_checkpoint(self, size: int, note: str, published: str) -> None: ...

    def checkpoints(self) -> Iterator[tuple[int, str, str]]:
        """``(size, note, published)`` of every checkpoint, by size."""

    def latest_checkpoint(self) -> tuple[int, str, str] | None: ...

    def check_pages(self) -> None:
        """Check the storage medium itself (for SQLite, every page); raise
        :class:`~affidavit.errors.LedgerCorruptError` naming damage."""

    def close(self) -> None: ...

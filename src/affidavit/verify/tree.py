"""The one tree folder: leaf hashes in, every stored subtree checked, roots at checkpoints.

Streams: the caller feeds leaf hashes in order (:meth:`TreeCheck.add`); the folder extends
the RFC 9162 frontier (:func:`affidavit.merkle.extend`), compares each complete subtree it
forms with the one the store holds (``nodes_at``, read level by level in index order), and
keeps the root at every size where a checkpoint was published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NoReturn

from affidavit import merkle
from affidavit.errors import VerificationError

_CHUNK = 4_096

NodesAt = Callable[[int], Iterator[tuple[int, bytes]]]


class TreeCheck:
    """Fold leaf hashes into the tree and check the stored subtrees as they complete."""

    def __init__(self, nodes_at: NodesAt | None, stops: Iterable[int]) -> None:
        self._nodes_at = nodes_at
        self._levels: dict[int, Iterator[tuple[int, bytes]]] = {}
        self.roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        self.nodes = 0
        self._frontier: list[bytes] = []
        self._batch: list[bytes] = []
        self.size = 0
        self._stops = iter([*sorted({s for s in stops if s > 0}), -1])
        self._next_stop = next(self._stops)

    def add(self, leaf_hash: bytes) -> None:
        self._batch.append(leaf_hash)
        if len(self._batch) >= _CHUNK or self.size + len(self._batch) == self._next_stop:
            self.flush()

    def add_batch(self, leaf_hashes: Sequence[bytes]) -> None:
        """:meth:`add` each hash in order, a slice at a time (a flush still lands exactly
        on every checkpoint size)."""
        at, end = 0, len(leaf_hashes)
        while at < end:
            room = _CHUNK - len(self._batch)
            if self._next_stop > 0:
                room = min(room, self._next_stop - self.size - len(self._batch))
            self._batch.extend(leaf_hashes[at : at + room])
            at += room
            if len(self._batch) >= _CHUNK or self.size + len(self._batch) == self._next_stop:
                self.flush()

    def flush(self) -> None:
        if not self._batch:
            return
        self._frontier, nodes = merkle.extend(self._frontier, self.size, self._batch)
        if self._nodes_at is not None:
            self._check(nodes)
        self.size += len(self._batch)
        self._batch = []
        if self.size == self._next_stop:
            self.roots[self.size] = merkle.fold(self._frontier)
            self._next_stop = next(self._stops)

    def root(self) -> bytes:
        self.flush()
        return merkle.fold(self._frontier)

    def _check(self, nodes: list[tuple[int, int, bytes]]) -> None:
        assert self._nodes_at is not None
        levels = self._levels
        for level, idx, h in nodes:
            cursor = levels.get(level)
            if cursor is None:
                cursor = levels[level] = self._nodes_at(level)
            stored = next(cursor, None)
            if stored is None or stored[0] != idx or stored[1] != h:
                self._fail(level, idx, stored)
        self.nodes += len(nodes)

    @staticmethod
    def _fail(level: int, idx: int, stored: tuple[int, bytes] | None) -> NoReturn:
        first = idx << level
        where = f"subtree (level {level}, index {idx})"
        span = f"records {first}..{first + (1 << level) - 1}"
        if stored is None or stored[0] != idx:
            raise VerificationError(f"{where} over {span} is missing", where=where)
        raise VerificationError(
            f"{where} does not match {span} under it: a record or the stored hash was changed",
            where=where,
        )

    def finish(self) -> None:
        """After the last leaf: no stored subtree may lie beyond the folded tree."""
        self.flush()
        for level, cursor in self._levels.items():
            extra = next(cursor, None)
            if extra is not None:
                where = f"subtree (level {level}, index {extra[0]})"
                raise VerificationError(f"{where} lies beyond the integrated tree", where=where)


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    """RFC 9162 root of a stream of leaf hashes, in constant memory."""
    fold = TreeCheck(None, ())
    for h in leaf_hashes:
        fold.add(h)
    return fold.root()

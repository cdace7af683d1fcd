"""The tree half of :mod:`affidavit.salvage`: RFC 9162 section 2.1 subtree hashes rebuilt from
whatever leaves a damaged ledger file still yields, and the seq ranges salvage reports.

:class:`RebuiltTree` hashes up from the readable leaves and reads a stored ``nodes`` hash only
where a child is unreadable (a stand-in the signed root then confirms or refutes);
:func:`ranges_of` and :func:`describe` turn per-record masks into the ranges the CLI prints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from affidavit import merkle
from affidavit.note import Checkpoint


class RebuiltTree:
    """RFC 9162 subtree hashes over the first ``size`` leaves, rebuilt from readable data.

    ``levels[k]`` packs the hash of every complete subtree of level k (``known`` marks
    which are known). A hash is computed from its two children when both are known, else
    read from the stored ``nodes`` table; ``stand_ins`` lists the subtrees read that way.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        leaf_hashes: bytes | bytearray,
        ok: bytes | bytearray,
        size: int,
    ) -> None:
        size = min(size, len(ok))
        self.size = size
        self.levels = [bytes(leaf_hashes[: 32 * size])]
        self.known = [bytes(ok[:size])]
        self.stand_ins: list[tuple[int, int]] = []
        level = 0
        while (size >> (level + 1)) > 0:
            below, known_below = self.levels[level], self.known[level]
            count = size >> (level + 1)
            hashes, known = bytearray(32 * count), bytearray(count)
            for i in range(count):
                if known_below[2 * i] and known_below[2 * i + 1]:
                    hashes[32 * i : 32 * i + 32] = merkle.node_hash(
                        below[64 * i : 64 * i + 32], below[64 * i + 32 : 64 * i + 64]
                    )
                    known[i] = 1
                    continue
                stored = _stored_node(conn, level + 1, i)
                if stored is not None:
                    hashes[32 * i : 32 * i + 32] = stored
                    known[i] = 1
                    self.stand_ins.append((level + 1, i))
            self.levels.append(bytes(hashes))
            self.known.append(bytes(known))
            level += 1

    def check(self, cp: Checkpoint) -> str | None:
        """Why ``cp``'s root cannot be rebuilt from the readable data, or None if it is."""
        if cp.size == 0:
            return None if cp.root == merkle.EMPTY_ROOT else "an empty tree with a wrong root"
        if cp.size > self.size:
            return f"it covers {cp.size} records, only {self.size} are known"
        frontier = []
        for level, idx in merkle.subtrees(0, cp.size):
            if not self.known[level][idx]:
                first = idx << level
                return (
                    f"records {first}..{first + (1 << level) - 1} and the subtree hash over "
                    "them are unreadable, so its root cannot be rebuilt"
                )
            frontier.append(self.levels[level][32 * idx : 32 * idx + 32])
        if merkle.fold(frontier) != cp.root:
            return "the readable records and subtree hashes do not hash to its root"
        return None

    def provable(self, size: int) -> bytes:
        """Mask of the intact leaves below ``size`` whose audit path is rebuilt: no stand-in
        lies above them."""
        cut = bytearray(self.known[0][:size])
        for level, idx in self.stand_ins:
            first, end = idx << level, (idx + 1) << level
            if end <= size:
                cut[first:end] = bytes(end - first)
        return bytes(cut)


def _stored_node(conn: sqlite3.Connection, level: int, idx: int) -> bytes | None:
    try:
        row = conn.execute(
            "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, idx)
        ).fetchone()
    except sqlite3.DatabaseError:
        return None
    if row is None or type(row[0]) is not bytes or len(row[0]) != 32:
        return None
    return bytes(row[0])


# -- ranges ---------------------------------------------------------------------------------


def ranges_of(mask: bytes | bytearray) -> tuple[range, ...]:
    """The runs of non-zero bytes in ``mask``, as ranges of their indexes."""
    out: list[range] = []
    start = None
    for i, bit in enumerate(mask):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            out.append(range(start, i))
            start = None
    if start is not None:
        out.append(range(start, len(mask)))
    return tuple(out)


def describe(ranges: Sequence[range]) -> str:
    """``0..995, 1000..1999`` (inclusive, as the CLI prints seq ranges)."""
    return ", ".join(str(r.start) if len(r) == 1 else f"{r.start}..{r[-1]}" for r in ranges)

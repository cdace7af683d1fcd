"""RFC 9162 section 2.1 Merkle trees: hashing, roots, inclusion and consistency proofs.

Pure functions over ``bytes`` and ``int``; nothing here reads a store. The ledger asks
:func:`inclusion_ranges` / :func:`consistency_ranges` which subtrees a proof needs, reads
their hashes (each one a :func:`fold` of at most log2(n) stored complete subtrees, see
:func:`subtrees`), so that a proof costs O(log n) reads whatever the tree size.

Edge-case policy, where the sources disagree (tested against the transparency-dev probes):

* Every hash given to a verifier (root, leaf hash, proof element) MUST be exactly
  :data:`HASH_SIZE` bytes; anything else fails verification.
* Inclusion needs ``0 <= index < size``; there is no inclusion in the empty tree.
* Consistency from size 0: the empty tree is consistent with every tree (C2SP
  tlog-witness), with an empty proof and ``root1 == EMPTY_ROOT``. A non-empty proof from
  size 0 is rejected, as transparency-dev does ("useless").
* Consistency with ``size1 == size2`` needs an empty proof and equal roots;
  ``size1 > size2`` is always an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from affidavit.errors import ConsistencyError, VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-entry list: SHA-256(0x00 || data) (RFC 9162 2.1.1)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right) (RFC 9162 2.1.1)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- tree shape ---------------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges ``[start, end)`` whose hashes form the audit path, in proof order.

    Transcribes PATH(m, D[n]) of RFC 9162 2.1.3.1: the recursion goes top-down, the proof
    lists the deepest sibling first.
    """
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form PROOF(size1, D[size2]) (RFC 9162 2.1.4.1), in order.

    Empty when ``size1 == 0`` or ``size1 == size2`` (see the module's policy).
    """
    if not 0 <= size1 <= size2:
        raise VerificationError(f"no consistency proof from size {size1} to size {size2}")
    if size1 in (0, size2):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, size2, size1, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        # SUBPROOF(m, D[m], false) = [MTH(D[m])]: the old tree's last subtree is not one the
        # verifier already knows as its root, so it must be sent.
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """(level, index) of the complete aligned subtrees that make up ``[start, end)``.

    Left to right, largest first. For every range that :func:`inclusion_ranges` or
    :func:`consistency_ranges` returns, ``fold`` of these subtrees' hashes is MTH of the range.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    out: list[tuple[int, int]] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length()
        while (1 << level) > end - start:
            level -= 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine subtree hashes right to left into one root; the empty list is EMPTY_ROOT."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def extend(
    frontier: Sequence[bytes], size: int, new_leaf_hashes: Sequence[bytes]
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append leaves to a compact range.

    ``frontier`` holds the hashes of the complete subtrees in the binary decomposition of
    ``size``, largest first; ``fold(frontier)`` is the root. Returns the new frontier and
    every subtree the new leaves completed, as (level >= 1, index, hash): storing those makes
    every later proof a handful of reads.
    """
    if len(frontier) != size.bit_count():
        raise ValueError(f"a frontier of size {size} has {size.bit_count()} hashes")
    stack = list(frontier)
    nodes: list[tuple[int, int, bytes]] = []
    for position, h in enumerate(new_leaf_hashes, start=size):
        level, n = 0, position
        while n & 1:
            h = node_hash(stack.pop(), h)
            level += 1
            n >>= 1
            nodes.append((level, n, h))
        stack.append(h)
    return stack, nodes


# -- in-memory generation -------------------------------------------------------------------


def _mth(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return leaf_hashes[start]
    k = _split(end - start)
    return node_hash(_mth(leaf_hashes, start, start + k), _mth(leaf_hashes, start + k, end))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves given as their leaf hashes."""
    frontier, _ = extend([], 0, leaf_hashes)
    return fold(frontier)


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path of ``index`` in the tree of all ``leaf_hashes``."""
    return [_mth(leaf_hashes, a, b) for a, b in inclusion_ranges(index, len(leaf_hashes))]


def consistency_proof(size1: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof from the first ``size1`` leaves to all of ``leaf_hashes``."""
    return [_mth(leaf_hashes, a, b) for a, b in consistency_ranges(size1, len(leaf_hashes))]


# -- verification ---------------------------------------------------------------------------


def _check_hashes(what: str, hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise VerificationError(f"{what} {i} is {len(h)} bytes, not {HASH_SIZE}")


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof implies (RFC 9162 2.1.3.2 steps 1-6)."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {size}")
    _check_hashes("leaf hash", [leaf])
    _check_hashes("proof hash", proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError(f"inclusion proof is too long ({len(proof)} hashes)")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(f"inclusion proof is too short ({len(proof)} hashes)")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """Raise :class:`VerificationError` unless ``leaf`` is at ``index`` of the tree."""
    _check_hashes("root", [root_hash])
    if root_from_inclusion_proof(leaf, index, size, proof) != root_hash:
        raise VerificationError(
            f"inclusion proof of leaf {index} does not lead to the root of size {size}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise unless the tree ``(size2, root2)`` extends ``(size1, root1)`` (RFC 9162 2.1.4.2)."""

    def fail(reason: str) -> ConsistencyError:
        return ConsistencyError(
            f"trees of size {size1} and {size2} are not consistent: {reason}",
            size1=size1,
            size2=size2,
            root1=root1,
            root2=root2,
            proof=tuple(proof),
        )

    _check_hashes("root", [root1, root2])
    _check_hashes("proof hash", proof)
    if not 0 <= size1 <= size2:
        raise fail("the first tree is larger than the second")
    if size1 == size2:
        if proof:
            raise fail("equal sizes need an empty proof")
        if root1 != root2:
            raise fail("equal sizes but different roots")
        return
    if size1 == 0:
        if proof:
            raise fail("a proof from the empty tree must be empty")
        if root1 != EMPTY_ROOT:
            raise fail("the root of the empty tree is not SHA-256 of nothing")
        return
    if not proof:
        raise fail("the proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise fail("the proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise fail("the proof is too short")
    if fr != root1:
        raise fail("the proof does not lead to the first root")
    if sr != root2:
        raise fail("the proof does not lead to the second root")

"""Subtrees of an RFC 9162 Merkle tree: draft-ietf-plants-merkle-tree-certs-04 section 4.

A subtree ``[start, end)`` is the Merkle tree MTH(D[start:end]) over a slice of the log
whose ``start`` is a multiple of BIT_CEIL(end - start) (section 4.1). Such a slice can be
proven to hold an entry (subtree inclusion proof, section 4.3) and to be part of the whole
log (subtree consistency proof, section 4.4). Witnesses cosign subtrees this way (the
tlog-witness ``sign-subtree`` API); with the same proofs an auditor can check one stretch
of the ledger against a checkpoint without fetching the rest.

Pure functions over ``bytes`` and ``int``, built on :mod:`affidavit.merkle`.

Edge-case policy (tested against the transparency-dev subtree probes):

* Every hash given to a verifier MUST be exactly :data:`~affidavit.merkle.HASH_SIZE`
  bytes, as in :mod:`affidavit.merkle`; anything else fails verification.
* An empty subtree ``[s, s)`` is outside the draft (it asks for ``start < end``). As
  transparency-dev does, and like consistency from the empty tree in :mod:`affidavit.merkle`,
  it is consistent with every tree of size >= s, given an empty proof and
  ``subtree_root == EMPTY_ROOT``. No entry is included in it.
* When the subtree is the whole tree (``start == 0 and end == size``) the proof is empty and
  the two roots must be equal, as for equal sizes in :mod:`affidavit.merkle`.
"""

from __future__ import annotations

from collections.abc import Sequence

from affidavit import merkle
from affidavit.errors import VerificationError


def is_valid_subtree(start: int, end: int) -> bool:
    """Whether ``[start, end)`` is a subtree (section 4.1); the empty interval is not."""
    if not 0 <= start < end:
        return False
    bit_ceil = 1 << (end - start - 1).bit_length()
    return start % bit_ceil == 0


def _require_subtree(start: int, end: int, size: int) -> None:
    # The empty interval is let through here: see the module's policy.
    if not (0 <= start == end or is_valid_subtree(start, end)):
        raise VerificationError(
            f"[{start}, {end}) is not a subtree: it needs 0 <= start < end and start a "
            "multiple of the smallest power of two >= end - start"
        )
    if end > size:
        raise VerificationError(f"subtree [{start}, {end}) does not fit in a tree of size {size}")


def _require_hashes(what: str, hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(hashes):
        if len(h) != merkle.HASH_SIZE:
            raise VerificationError(f"{what} {i} is {len(h)} bytes, not {merkle.HASH_SIZE}")


# -- generation ---------------------------------------------------------------------------


def subtree_inclusion_proof(
    index: int, start: int, end: int, leaf_hashes: Sequence[bytes]
) -> list[bytes]:
    """Inclusion proof of entry ``index`` in subtree ``[start, end)`` of ``leaf_hashes``.

    Section 4.3: the RFC 9162 audit path of ``index - start`` in the tree over D[start:end].
    """
    _require_subtree(start, end, len(leaf_hashes))
    if not start <= index < end:
        raise VerificationError(f"entry {index} is outside subtree [{start}, {end})")
    return merkle.inclusion_proof(index - start, leaf_hashes[start:end])


def subtree_consistency_ranges(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form SUBTREE_PROOF(start, end, D_size), in proof order.

    An iterative transcription of SUBTREE_SUBPROOF (section 4.4.1): ``[lo, hi)`` is the
    node the recursion is in, ``known`` is its boolean argument.
    """
    _require_subtree(start, end, size)
    if start == end:
        return []
    ranges: list[tuple[int, int]] = []
    lo, hi, known = 0, size, True
    while (start, end) != (lo, hi):
        mid = lo + (1 << ((hi - lo - 1).bit_length() - 1))
        if end <= mid:
            ranges.append((mid, hi))
            hi = mid
        elif mid <= start:
            ranges.append((lo, mid))
            lo = mid
        else:
            # start == lo < mid < end: the subtree's left part is a complete node of the
            # tree, so its hash is sent, and the verifier no longer holds the node it recurses
            # into; that node's hash must be sent too once the recursion reaches it.
            ranges.append((lo, mid))
            lo = start = mid
            known = False
    if not known:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def subtree_consistency_proof(start: int, end: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Consistency proof of subtree ``[start, end)`` with the tree of all ``leaf_hashes``."""
    return [
        merkle.root(leaf_hashes[a:b])
        for a, b in subtree_consistency_ranges(start, end, len(leaf_hashes))
    ]


# -- verification ---------------------------------------------------------------------------


def verify_subtree_inclusion(
    leaf_hash: bytes,
    index: int,
    *,
    start: int,
    end: int,
    proof: Sequence[bytes],
    subtree_root: bytes,
) -> None:
    """Raise :class:`VerificationError` unless entry ``index`` is in subtree ``[start, end)``.

    Sections 4.3.2 and 4.3.3: RFC 9162 inclusion within the tree over D[start:end].
    """
    where = f"subtree [{start}, {end})"
    if not is_valid_subtree(start, end):
        raise VerificationError(f"{where} is not a valid non-empty subtree")
    if not start <= index < end:
        raise VerificationError(f"entry {index} is outside {where}")
    try:
        merkle.verify_inclusion(leaf_hash, index - start, end - start, proof, subtree_root)
    except VerificationError as e:
        # merkle reports positions relative to the subtree; name the subtree so they make sense.
        raise VerificationError(f"inclusion of entry {index} in {where}: {e}") from e


def verify_subtree_consistency(
    start: int,
    end: int,
    *,
    size: int,
    proof: Sequence[bytes],
    subtree_root: bytes,
    tree_root: bytes,
) -> None:
    """Raise :class:`VerificationError` unless ``subtree_root`` is MTH(D[start:end]) of the
    tree of ``size`` entries whose root is ``tree_root`` (section 4.4.3)."""
    where = f"subtree [{start}, {end}) of a tree of size {size}"

    def fail(reason: str) -> VerificationError:
        return VerificationError(f"{where} is not consistent: {reason}")

    _require_hashes("subtree root", [subtree_root])
    _require_hashes("tree root", [tree_root])
    _require_hashes("proof hash", proof)
    _require_subtree(start, end, size)
    if start == end or (start, end) == (0, size):
        if proof:
            raise fail("the proof must be empty")
        if start == end and subtree_root != merkle.EMPTY_ROOT:
            raise fail("the root of an empty subtree is not SHA-256 of nothing")
        if (start, end) == (0, size) and subtree_root != tree_root:
            raise fail("the subtree is the whole tree but the roots differ")
        return

    # fn, sn and tn are the positions of the first and last entry of the subtree and of the
    # last entry of the tree, one level up per right shift.
    fn, sn, tn = start, end - 1, size - 1
    if sn == tn:
        while fn != sn:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    else:
        while fn != sn and sn & 1:
            fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    if fn == sn:
        # The subtree is a node of the tree: the verifier already holds its hash.
        fr = sr = subtree_root
        rest = proof
    else:
        if not proof:
            raise fail("the proof is empty")
        fr = sr = proof[0]
        rest = proof[1:]
    for c in rest:
        if tn == 0:
            raise fail(f"the proof is too long ({len(proof)} hashes)")
        if sn & 1 or sn == tn:
            # c is a left sibling; it belongs to the subtree only while fn < sn.
            if fn < sn:
                fr = merkle.node_hash(c, fr)
            sr = merkle.node_hash(c, sr)
            # Terminates: tn != 0 here, and sn is odd or equal to tn, so sn > 0.
            while not sn & 1:
                fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
        else:
            sr = merkle.node_hash(sr, c)
        fn, sn, tn = fn >> 1, sn >> 1, tn >> 1
    if tn != 0:
        raise fail(f"the proof is too short ({len(proof)} hashes)")
    if fr != subtree_root:
        raise fail("the proof does not lead to the subtree root")
    if sr != tree_root:
        raise fail("the proof does not lead to the tree root")

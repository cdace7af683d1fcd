"""Tests for affidavit.subtree: draft-ietf-plants-merkle-tree-certs section 4 subtree proofs.

Ground truth: every transparency-dev subtreeinclusion/subtreeconsistency probe read in place
from ../shared/, the draft's worked examples (sections 4.3.1 and 4.4.2), and a recursive
transcription of SUBTREE_SUBPROOF (section 4.4.1) compared with subtree.py by Hypothesis.
Where the project's policy overrides a probe, POLICY_OVERRIDES says which and why.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit import merkle
from affidavit.errors import VerificationError
from affidavit.subtree import (
    is_valid_subtree,
    subtree_consistency_proof,
    subtree_consistency_ranges,
    subtree_inclusion_proof,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)
from conftest import SHARED, shared_path

VECTORS = ("vectors", "transparency-dev-merkle")
TESTDATA = SHARED.joinpath(*VECTORS, "testdata")
PROPERTY = settings(deadline=None, max_examples=150)

_LENGTH = "our policy rejects any hash that is not 32 bytes (as affidavit.merkle does)"

# Probes whose expectation the project's policy overrides; each is asserted to still say
# wantErr=false, so an override goes stale loudly if the vectors change.
POLICY_OVERRIDES: dict[str, str] = {
    "subtreeconsistency/additional/sizes-are-equal-one-and-proof-is-empty.json": (
        "both roots are the 12-byte placeholder 'don't care 2'; " + _LENGTH
    ),
    "subtreeconsistency/additional/subtree-is-empty-sizes-are-equal-one-"
    "subtree-root-valid-tree-root-random-proof-is-empty.json": (
        "the tree root is the 12-byte placeholder 'don't care 1'; " + _LENGTH
    ),
    "subtreeconsistency/additional/subtree-is-empty-sizes-are-equal-zero-"
    "subtree-root-valid-tree-root-random-proof-is-empty.json": (
        "the tree root is the 12-byte placeholder 'don't care 1'; " + _LENGTH + ". Also, the "
        "tree has size 0, so its root is SHA-256 of nothing (equal sizes, equal roots)"
    ),
}


def probe_params(kind: str) -> list[Any]:
    """One parameter per probe file under testdata/<kind>/, its id the path in testdata/.

    Without ../shared/ a single parameter reaches shared_path(), which skips (or fails under
    CI=true), so missing vectors never turn into zero tests.
    """
    folder = TESTDATA / kind
    if not folder.is_dir():
        return [pytest.param(f"{kind}/", id=f"{kind}-missing")]
    paths = sorted(p.relative_to(TESTDATA).as_posix() for p in folder.rglob("*.json"))
    return [pytest.param(rel, id=rel) for rel in paths]


def load_probe(rel: str) -> Any:
    path = shared_path(*VECTORS, "testdata", *rel.split("/"))
    return json.loads(path.read_text(encoding="utf-8"))


def unb64(value: str | None) -> bytes:
    return base64.b64decode(value or "", validate=True)


def unb64_list(values: list[str] | None) -> list[bytes]:
    return [unb64(v) for v in values or []]


def check_probe(rel: str, probe: Any, verify: Callable[[], None]) -> None:
    want_error = probe["wantErr"]
    assert isinstance(want_error, bool)
    if rel in POLICY_OVERRIDES:
        assert want_error is False, f"{rel} changed; review POLICY_OVERRIDES"
        want_error = True
    if want_error:
        with pytest.raises(VerificationError):
            verify()
    else:
        verify()


def test_probe_sets_are_complete() -> None:
    testdata = shared_path(*VECTORS, "testdata")
    assert len(list((testdata / "subtreeinclusion").rglob("*.json"))) == 204
    assert len(list((testdata / "subtreeconsistency").rglob("*.json"))) == 118
    # With the 196 of test_merkle.py, the whole upstream testdata/ tree.
    assert len(list(testdata.rglob("*.json"))) == 518
    for rel in POLICY_OVERRIDES:
        assert (testdata / rel).is_file(), rel


@pytest.mark.parametrize("rel", probe_params("subtreeinclusion"))
def test_subtree_inclusion_probe(rel: str) -> None:
    probe = load_probe(rel)
    verify = partial(
        verify_subtree_inclusion,
        unb64(probe["leafHash"]),
        probe["leafIdx"],
        start=probe["start"],
        end=probe["end"],
        proof=unb64_list(probe["proof"]),
        subtree_root=unb64(probe["root"]),
    )
    check_probe(rel, probe, verify)


@pytest.mark.parametrize("rel", probe_params("subtreeconsistency"))
def test_subtree_consistency_probe(rel: str) -> None:
    probe = load_probe(rel)
    verify = partial(
        verify_subtree_consistency,
        probe["start"],
        probe["end"],
        size=probe["size"],
        proof=unb64_list(probe["proof"]),
        subtree_root=unb64(probe["root1"]),
        tree_root=unb64(probe["root2"]),
    )
    check_probe(rel, probe, verify)


def test_overridden_probes_with_real_hashes() -> None:
    # What the overridden probes claim, with 32-byte stand-ins for the placeholders: the
    # first two then hold; the third still fails, as a tree of size 0 has the empty root.
    real = hashlib.sha256(b"any 32-byte hash").digest()
    verify_subtree_consistency(0, 1, size=1, proof=[], subtree_root=real, tree_root=real)
    empty = merkle.EMPTY_ROOT
    verify_subtree_consistency(1, 1, size=1, proof=[], subtree_root=empty, tree_root=real)
    with pytest.raises(VerificationError, match="roots differ"):
        verify_subtree_consistency(0, 0, size=0, proof=[], subtree_root=empty, tree_root=real)


# -- the draft's worked examples ----------------------------------------------------------------

LEAVES14 = [merkle.leaf_hash(bytes([i])) for i in range(14)]


def mth(a: int, b: int) -> bytes:
    return merkle.root(LEAVES14[a:b])


def test_draft_example_subtree_inclusion() -> None:
    # Section 4.3.1: entry 10 of [8, 13) is proven by d[11], D[8:10] and d[12].
    proof = subtree_inclusion_proof(10, 8, 13, LEAVES14)
    assert proof == [LEAVES14[11], mth(8, 10), LEAVES14[12]]
    verify_subtree_inclusion(
        LEAVES14[10], 10, start=8, end=13, proof=proof, subtree_root=mth(8, 13)
    )


def test_draft_example_directly_contained_subtree() -> None:
    # Section 4.4.2, figure 7: [4, 8) in a tree of 14 needs D[0:4] and D[8:14].
    assert subtree_consistency_ranges(4, 8, 14) == [(0, 4), (8, 14)]
    proof = subtree_consistency_proof(4, 8, LEAVES14)
    assert proof == [mth(0, 4), mth(8, 14)]
    verify_subtree_consistency(
        4, 8, size=14, proof=proof, subtree_root=mth(4, 8), tree_root=mth(0, 14)
    )


def test_draft_example_subtree_not_contained_in_the_tree() -> None:
    # Section 4.4.2, figure 8: [8, 13) in a tree of 14 needs d[12], d[13], D[8:12], D[0:8].
    assert subtree_consistency_ranges(8, 13, 14) == [(12, 13), (13, 14), (8, 12), (0, 8)]
    proof = subtree_consistency_proof(8, 13, LEAVES14)
    verify_subtree_consistency(
        8, 13, size=14, proof=proof, subtree_root=mth(8, 13), tree_root=mth(0, 14)
    )


def test_a_subtree_proof_does_not_bind_the_tree_size() -> None:
    # [4, 8) takes the same turns in every tree of 9 to 16 entries: its proof in the tree of
    # 14 also verifies "in a tree of 9" or "of 16" against the same root, and in no other.
    # Only a signed checkpoint binds a size to a root.
    proof = subtree_consistency_proof(4, 8, LEAVES14)
    outcomes = {}
    for size in range(8, 18):
        check = partial(
            verify_subtree_consistency,
            4,
            8,
            size=size,
            proof=proof,
            subtree_root=mth(4, 8),
            tree_root=mth(0, 14),
        )
        outcomes[size] = not raises(check)
    assert outcomes == {size: 9 <= size <= 16 for size in range(8, 18)}


@pytest.mark.parametrize(
    ("start", "end", "valid"),
    [
        (0, 1, True),
        (0, 13, True),
        (4, 8, True),
        (8, 13, True),
        (12, 13, True),
        (5, 6, True),
        (2**63, 2**64, True),
        (0, 0, False),
        (1, 1, False),
        (2, 1, False),
        (-1, 0, False),
        (1, 3, False),
        (2, 5, False),
        (2, 6, False),
        (3, 5, False),
        (4, 9, False),
        (1, 15, False),
        (1, 2**63 + 2, False),
    ],
)
def test_is_valid_subtree(start: int, end: int, valid: bool) -> None:
    assert is_valid_subtree(start, end) is valid


# -- the draft, transcribed ---------------------------------------------------------------------
# MTH (RFC 9162 2.1.1) and SUBTREE_SUBPROOF (draft 4.4.1) over entries, with hashlib only.


def ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: Sequence[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = ref_split(n)
    return hashlib.sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:])).digest()


def ref_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subtree_subproof(start: int, end: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if (start, end) == (0, n):
        return [] if b else [ref_mth(entries)]
    k = ref_split(n)
    if end <= k:
        return [*ref_subtree_subproof(start, end, entries[:k], b), ref_mth(entries[k:])]
    if k <= start:
        return [*ref_subtree_subproof(start - k, end - k, entries[k:], b), ref_mth(entries[:k])]
    return [*ref_subtree_subproof(0, end - k, entries[k:], False), ref_mth(entries[:k])]


# Verifiers only see how proof hashes combine, not which ranges they cover, so a proof also
# verifies for other parameters whose recursion takes the same turns. These give the turns.


def ref_path_turns(m: int, n: int) -> list[str]:
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path_turns(m, k), "right"]
    return [*ref_path_turns(m - k, n - k), "left"]


def ref_subtree_turns(start: int, end: int, n: int, b: bool = True) -> list[str]:
    if (start, end) == (0, n):
        return [] if b else ["subtree part"]
    k = ref_split(n)
    if end <= k:
        return [*ref_subtree_turns(start, end, k, b), "right of the subtree"]
    if k <= start:
        return [*ref_subtree_turns(start - k, end - k, n - k, b), "left of the subtree"]
    return [*ref_subtree_turns(0, end - k, n - k, False), "left part of the subtree"]


@st.composite
def trees_with_subtree(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    """Entries of a tree, and a valid subtree [start, end) inside it."""
    size = draw(st.integers(1, 300), label="size")
    salt = draw(st.binary(max_size=4), label="salt")
    entries = [salt + i.to_bytes(2, "big") for i in range(size)]
    length = draw(st.integers(1, size), label="subtree size")
    align = 1 << (length - 1).bit_length()
    start = align * draw(st.integers(0, (size - length) // align), label="slot")
    return entries, start, start + length


def flip_bit(value: bytes, bit: int) -> bytes:
    flipped = bytearray(value)
    flipped[bit // 8 % len(value)] ^= 1 << (bit % 8)
    return bytes(flipped)


def raises(check: Callable[[], None]) -> bool:
    try:
        check()
    except VerificationError:
        return True
    return False


@PROPERTY
@given(trees_with_subtree())
def test_subtree_consistency_proof_matches_reference_and_verifies(
    tree: tuple[list[bytes], int, int],
) -> None:
    entries, start, end = tree
    hashes = [merkle.leaf_hash(e) for e in entries]
    proof = subtree_consistency_proof(start, end, hashes)
    assert proof == ref_subtree_subproof(start, end, entries, True)
    ranges = subtree_consistency_ranges(start, end, len(entries))
    assert [ref_mth(entries[a:b]) for a, b in ranges] == proof
    verify_subtree_consistency(
        start,
        end,
        size=len(entries),
        proof=proof,
        subtree_root=ref_mth(entries[start:end]),
        tree_root=ref_mth(entries),
    )


@PROPERTY
@given(trees_with_subtree(), st.data())
def test_subtree_consistency_fails_on_any_flipped_bit(
    tree: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    entries, start, end = tree
    proof = subtree_consistency_proof(start, end, [merkle.leaf_hash(e) for e in entries])
    subtree_root, tree_root = ref_mth(entries[start:end]), ref_mth(entries)
    target = data.draw(st.integers(-2, len(proof) - 1), label="target (-2 subtree, -1 tree)")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == -2:
        subtree_root = flip_bit(subtree_root, bit)
    elif target == -1:
        tree_root = flip_bit(tree_root, bit)
    else:
        proof[target] = flip_bit(proof[target], bit)
    with pytest.raises(VerificationError):
        verify_subtree_consistency(
            start,
            end,
            size=len(entries),
            proof=proof,
            subtree_root=subtree_root,
            tree_root=tree_root,
        )


@PROPERTY
@given(trees_with_subtree(), st.data())
def test_subtree_consistency_for_other_bounds_fails_unless_the_proof_is_the_same(
    tree: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    entries, start, end = tree
    size = len(entries)
    if (start, end) == (0, size):
        return  # the whole tree: an empty proof, covered by the policy tests
    proof = subtree_consistency_proof(start, end, [merkle.leaf_hash(e) for e in entries])
    # Another tree size often keeps the turns ([4, 8) takes the same ones in any tree of 9
    # to 16 entries), so both outcomes are exercised.
    resized = st.integers(0, 2 * size).map(lambda n: (start, end, n))
    nearby = st.tuples(*(st.integers(x - 3, x + 3) for x in (start, end, size)))
    anywhere = st.tuples(*(st.integers(-1, 2 * size) for _ in range(3)))
    other = data.draw(
        st.one_of(resized, nearby, anywhere).filter(lambda t: t != (start, end, size)),
        label="other start, end, size",
    )
    s, e, n = other
    same_turns = (
        is_valid_subtree(s, e)
        and e <= n
        and (s, e) != (0, n)
        and ref_subtree_turns(s, e, n) == ref_subtree_turns(start, end, size)
    )
    check = partial(
        verify_subtree_consistency,
        s,
        e,
        size=n,
        proof=proof,
        subtree_root=ref_mth(entries[start:end]),
        tree_root=ref_mth(entries),
    )
    assert raises(check) is not same_turns


@PROPERTY
@given(trees_with_subtree(), st.data())
def test_subtree_inclusion_matches_reference_and_rejects_tampering(
    tree: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    entries, start, end = tree
    hashes = [merkle.leaf_hash(e) for e in entries]
    index = data.draw(st.integers(start, end - 1), label="index")
    proof = subtree_inclusion_proof(index, start, end, hashes)
    assert proof == ref_path(index - start, entries[start:end])
    subtree_root = ref_mth(entries[start:end])
    verify_subtree_inclusion(
        hashes[index], index, start=start, end=end, proof=proof, subtree_root=subtree_root
    )

    target = data.draw(st.integers(-2, len(proof) - 1), label="target (-2 leaf, -1 root)")
    bit = data.draw(st.integers(0, 255), label="bit")
    leaf, bad_root, bad_proof = hashes[index], subtree_root, list(proof)
    if target == -2:
        leaf = flip_bit(leaf, bit)
    elif target == -1:
        bad_root = flip_bit(bad_root, bit)
    else:
        bad_proof[target] = flip_bit(bad_proof[target], bit)
    with pytest.raises(VerificationError):
        verify_subtree_inclusion(
            leaf, index, start=start, end=end, proof=bad_proof, subtree_root=bad_root
        )


@PROPERTY
@given(trees_with_subtree(), st.data())
def test_subtree_inclusion_for_other_bounds_fails_unless_the_path_is_the_same(
    tree: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    # The proof binds the entry's position inside the subtree, not the subtree's place in
    # the log: the cosigned subtree root does that.
    entries, start, end = tree
    hashes = [merkle.leaf_hash(e) for e in entries]
    index = data.draw(st.integers(start, end - 1), label="index")
    proof = subtree_inclusion_proof(index, start, end, hashes)
    n = 2 * len(entries)
    # Moving the whole subtree by a multiple of its alignment keeps the path's turns.
    align = 1 << (end - start - 1).bit_length()
    moved = st.integers(-start // align, n // align).map(
        lambda k: (index + k * align, start + k * align, end + k * align)
    )
    nearby = st.tuples(*(st.integers(x - 3, x + 3) for x in (index, start, end)))
    anywhere = st.tuples(st.integers(-1, n), st.integers(0, n), st.integers(0, n))
    other = data.draw(
        st.one_of(moved, nearby, anywhere).filter(lambda t: t != (index, start, end)),
        label="other index, start, end",
    )
    i, s, e = other
    same_turns = (
        is_valid_subtree(s, e)
        and s <= i < e
        and ref_path_turns(i - s, e - s) == ref_path_turns(index - start, end - start)
    )
    check = partial(
        verify_subtree_inclusion,
        hashes[index],
        i,
        start=s,
        end=e,
        proof=proof,
        subtree_root=ref_mth(entries[start:end]),
    )
    assert raises(check) is not same_turns


@PROPERTY
@given(trees_with_subtree())
def test_draft_identities_with_rfc9162_proofs(tree: tuple[list[bytes], int, int]) -> None:
    # Section 4.4.1: SUBTREE_PROOF(0, end, D_n) = PROOF(end, D_n) and
    # SUBTREE_PROOF(start, start + 1, D_n) = PATH(start, D_n).
    entries, start, end = tree
    hashes = [merkle.leaf_hash(e) for e in entries]
    assert subtree_consistency_proof(0, end, hashes) == merkle.consistency_proof(end, hashes)
    assert subtree_consistency_proof(start, start + 1, hashes) == merkle.inclusion_proof(
        start, hashes
    )


@PROPERTY
@given(trees_with_subtree(), st.data())
def test_draft_verifier_agrees_with_rfc9162_verifiers(
    tree: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    # Two independent algorithms (draft 4.4.3 in subtree.py, RFC 9162 2.1.3.2 / 2.1.4.2 in
    # merkle.py) must accept and reject the same claims, right or wrong.
    entries, _, end = tree
    hashes = [merkle.leaf_hash(e) for e in entries]
    size = len(entries)
    claimed = data.draw(st.integers(end, 2 * size + 1), label="claimed size")
    corrupt = data.draw(st.booleans(), label="corrupt")
    bit = data.draw(st.integers(0, 255), label="bit")
    tree_root = ref_mth(entries)

    proof = merkle.consistency_proof(end, hashes)
    if corrupt and proof:
        proof[bit % len(proof)] = flip_bit(proof[bit % len(proof)], bit)
    draft = partial(
        verify_subtree_consistency,
        0,
        end,
        size=claimed,
        proof=proof,
        subtree_root=ref_mth(entries[:end]),
        tree_root=tree_root,
    )
    rfc = partial(merkle.verify_consistency, end, claimed, proof, ref_mth(entries[:end]), tree_root)
    assert raises(draft) == raises(rfc)

    index = end - 1
    path = merkle.inclusion_proof(index, hashes)
    if corrupt and path:
        path[bit % len(path)] = flip_bit(path[bit % len(path)], bit)
    draft = partial(
        verify_subtree_consistency,
        index,
        index + 1,
        size=claimed,
        proof=path,
        subtree_root=hashes[index],
        tree_root=tree_root,
    )
    rfc = partial(merkle.verify_inclusion, hashes[index], index, claimed, path, tree_root)
    assert raises(draft) == raises(rfc)


# -- edge-case policy -------------------------------------------------------------------------

WRONG_LENGTHS = [b"", bytes(31), bytes(33), bytes(64)]
PROOF_4_8_IN_14 = subtree_consistency_proof(4, 8, LEAVES14)
PROOF_10_IN_8_13 = subtree_inclusion_proof(10, 8, 13, LEAVES14)


@pytest.mark.parametrize("bad", WRONG_LENGTHS, ids=lambda b: f"{len(b)}-bytes")
@pytest.mark.parametrize("where", ["subtree root", "tree root", "proof"])
def test_subtree_consistency_rejects_hashes_that_are_not_32_bytes(where: str, bad: bytes) -> None:
    subtree_root, tree_root, proof = mth(4, 8), mth(0, 14), list(PROOF_4_8_IN_14)
    if where == "subtree root":
        subtree_root = bad
    elif where == "tree root":
        tree_root = bad
    else:
        proof[1] = bad
    with pytest.raises(VerificationError):
        verify_subtree_consistency(
            4, 8, size=14, proof=proof, subtree_root=subtree_root, tree_root=tree_root
        )
    # Also where no hash is computed: the whole tree, and the empty subtree.
    with pytest.raises(VerificationError):
        verify_subtree_consistency(0, 3, size=3, proof=[], subtree_root=bad, tree_root=bad)
    with pytest.raises(VerificationError):
        verify_subtree_consistency(
            2, 2, size=3, proof=[], subtree_root=merkle.EMPTY_ROOT, tree_root=bad
        )


@pytest.mark.parametrize("bad", WRONG_LENGTHS, ids=lambda b: f"{len(b)}-bytes")
@pytest.mark.parametrize("where", ["leaf", "subtree root", "proof"])
def test_subtree_inclusion_rejects_hashes_that_are_not_32_bytes(where: str, bad: bytes) -> None:
    leaf, subtree_root, proof = LEAVES14[10], mth(8, 13), list(PROOF_10_IN_8_13)
    if where == "leaf":
        leaf = bad
    elif where == "subtree root":
        subtree_root = bad
    else:
        proof[2] = bad
    with pytest.raises(VerificationError):
        verify_subtree_inclusion(leaf, 10, start=8, end=13, proof=proof, subtree_root=subtree_root)


@pytest.mark.parametrize(("start", "size"), [(0, 0), (0, 5), (3, 3), (3, 5), (5, 5)])
def test_an_empty_subtree_is_consistent_with_every_tree_around_it(start: int, size: int) -> None:
    tree_root = merkle.EMPTY_ROOT if size == 0 else mth(0, size)
    verify_subtree_consistency(
        start, start, size=size, proof=[], subtree_root=merkle.EMPTY_ROOT, tree_root=tree_root
    )
    assert subtree_consistency_ranges(start, start, size) == []


def test_an_empty_subtree_needs_the_empty_root_no_proof_and_room_in_the_tree() -> None:
    empty = merkle.EMPTY_ROOT
    with pytest.raises(VerificationError):
        verify_subtree_consistency(1, 1, size=2, proof=[], subtree_root=mth(0, 1), tree_root=empty)
    with pytest.raises(VerificationError):
        verify_subtree_consistency(1, 1, size=2, proof=[empty], subtree_root=empty, tree_root=empty)
    with pytest.raises(VerificationError):
        verify_subtree_consistency(3, 3, size=2, proof=[], subtree_root=empty, tree_root=empty)


def test_the_whole_tree_as_subtree_needs_an_empty_proof_and_equal_roots() -> None:
    root = mth(0, 14)
    verify_subtree_consistency(0, 14, size=14, proof=[], subtree_root=root, tree_root=root)
    assert subtree_consistency_proof(0, 14, LEAVES14) == []
    with pytest.raises(VerificationError):
        verify_subtree_consistency(0, 14, size=14, proof=[root], subtree_root=root, tree_root=root)
    with pytest.raises(VerificationError):
        verify_subtree_consistency(
            0, 14, size=14, proof=[], subtree_root=root, tree_root=mth(0, 13)
        )


@pytest.mark.parametrize(
    ("start", "end", "size"),
    [(1, 3, 8), (2, 6, 8), (3, 5, 8), (1, 15, 15), (2, 1, 8), (-1, 0, 8), (4, 8, 7), (0, 1, -1)],
)
def test_subtree_consistency_needs_a_subtree_inside_the_tree(
    start: int, end: int, size: int
) -> None:
    root = merkle.EMPTY_ROOT
    with pytest.raises(VerificationError):
        verify_subtree_consistency(
            start, end, size=size, proof=[], subtree_root=root, tree_root=root
        )
    with pytest.raises(VerificationError):
        subtree_consistency_ranges(start, end, size)


@pytest.mark.parametrize(
    ("index", "start", "end"), [(0, 0, 0), (1, 1, 1), (7, 8, 16), (16, 8, 16), (3, 3, 5)]
)
def test_subtree_inclusion_needs_an_entry_inside_a_non_empty_subtree(
    index: int, start: int, end: int
) -> None:
    leaf = LEAVES14[0]
    with pytest.raises(VerificationError):
        verify_subtree_inclusion(leaf, index, start=start, end=end, proof=[], subtree_root=leaf)
    with pytest.raises(VerificationError):
        subtree_inclusion_proof(index, start, end, LEAVES14 + LEAVES14)

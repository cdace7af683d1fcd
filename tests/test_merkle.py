"""Tests for affidavit.merkle: RFC 9162 section 2.1 hashing, roots and proofs.

Three sources of truth, none of them merkle.py's own arithmetic:

* every transparency-dev inclusion and consistency probe, read in place from ../shared/;
* the RFC 6962 reference tree (node hashes, roots, known proofs) extracted from
  transparency-dev;
* a short recursive transcription of RFC 9162 section 2.1 below (MTH, PATH, PROOF),
  compared with merkle.py by Hypothesis.

The edge-case policy (module docstring of merkle.py) is pinned at the end; where it
overrides a probe's expectation, POLICY_OVERRIDES says which probe and why.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from functools import partial
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit import merkle
from affidavit.errors import ConsistencyError, VerificationError
from conftest import SHARED, shared_path

VECTORS = ("vectors", "transparency-dev-merkle")
TESTDATA = SHARED.joinpath(*VECTORS, "testdata")

# Proof-heavy properties walk trees of up to a few hundred leaves; no per-example deadline,
# because a slow machine must not turn into a failing test.
PROPERTY = settings(deadline=None, max_examples=150)


# -- transparency-dev probes ------------------------------------------------------------------

# Probes whose expectation the project's policy overrides. Each one is asserted to still say
# what is quoted here, so the override goes stale loudly if the vectors change.
POLICY_OVERRIDES: dict[str, str] = {
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json": (
        "wantErr=false, but both roots are the 12-byte placeholder 'don't care 2': "
        "transparency-dev only compares them, our policy rejects any hash that is not 32 bytes"
    ),
}


def probe_params(kind: str) -> list[Any]:
    """One parameter per probe file under testdata/<kind>/, its id the path in testdata/.

    Without ../shared/ there is nothing to list; a single parameter then reaches
    shared_path(), which skips the test (or fails it under CI=true), so the vectors can never
    silently turn into zero tests.
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
    # Upstream writes a missing proof as null and an empty one as [].
    return [unb64(v) for v in values or []]


def expected_error(rel: str, probe: Any) -> bool:
    if rel in POLICY_OVERRIDES:
        assert probe["wantErr"] is False, f"{rel} changed; review POLICY_OVERRIDES"
        return True
    want = probe["wantErr"]
    assert isinstance(want, bool)
    return want


def test_probe_sets_are_complete() -> None:
    # A truncated copy of the vectors would otherwise just mean fewer green tests.
    testdata = shared_path(*VECTORS, "testdata")
    assert len(list((testdata / "inclusion").rglob("*.json"))) == 98
    assert len(list((testdata / "consistency").rglob("*.json"))) == 98
    for rel in POLICY_OVERRIDES:
        assert (testdata / rel).is_file(), rel


@pytest.mark.parametrize("rel", probe_params("inclusion"))
def test_inclusion_probe(rel: str) -> None:
    probe = load_probe(rel)

    def verify() -> None:
        merkle.verify_inclusion(
            unb64(probe["leafHash"]),
            probe["leafIdx"],
            probe["treeSize"],
            unb64_list(probe["proof"]),
            unb64(probe["root"]),
        )

    if expected_error(rel, probe):
        with pytest.raises(VerificationError):
            verify()
    else:
        verify()


@pytest.mark.parametrize("rel", probe_params("consistency"))
def test_consistency_probe(rel: str) -> None:
    probe = load_probe(rel)
    size1, size2 = probe["size1"], probe["size2"]
    root1, root2 = unb64(probe["root1"]), unb64(probe["root2"])
    proof = unb64_list(probe["proof"])

    def verify() -> None:
        merkle.verify_consistency(size1, size2, proof, root1, root2)

    if not expected_error(rel, probe):
        verify()
        return
    if all(len(h) == merkle.HASH_SIZE for h in [root1, root2, *proof]):
        # Well-formed but wrong: a ConsistencyError holding the evidence.
        with pytest.raises(ConsistencyError) as info:
            verify()
        error = info.value
        assert (error.size1, error.size2) == (size1, size2)
        assert (error.root1, error.root2, error.proof) == (root1, root2, tuple(proof))
    else:
        with pytest.raises(VerificationError):
            verify()


def test_overridden_probe_holds_with_real_hashes() -> None:
    # The override is about hash length only: the same claim with 32-byte roots verifies.
    probe = load_probe("consistency/additional/sizes-are-equal-one-and-proof-is-empty.json")
    assert (probe["size1"], probe["size2"], probe["proof"]) == (1, 1, [])
    some_root = merkle.leaf_hash(unb64(probe["root1"]))
    merkle.verify_consistency(1, 1, [], some_root, some_root)


# -- RFC 6962 reference tree --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ref_tree() -> Any:
    path = shared_path(*VECTORS, "reference-tree.json")
    return json.loads(path.read_text(encoding="utf-8"))


def reference_leaf_hashes(ref_tree: Any) -> list[bytes]:
    return [merkle.leaf_hash(bytes.fromhex(x)) for x in ref_tree["leaf_inputs_hex"]]


def test_reference_hasher_known_answers(ref_tree: Any) -> None:
    answers = {kat["desc"]: bytes.fromhex(kat["want"]) for kat in ref_tree["hasher_kats"]}
    assert len(answers) == 4
    assert answers["empty tree root = SHA-256('')"] == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"") == answers["leaf hash of empty leaf = SHA-256(0x00)"]
    assert merkle.leaf_hash(b"L123456") == answers["leaf hash of ASCII 'L123456'"]
    node = answers["node hash of ASCII children 'N123','N456' = SHA-256(0x01||'N123'||'N456')"]
    assert merkle.node_hash(b"N123", b"N456") == node
    assert merkle.HASH_SIZE == len(merkle.EMPTY_ROOT) == 32


def test_reference_node_hashes(ref_tree: Any) -> None:
    leaves = reference_leaf_hashes(ref_tree)
    levels = [[bytes.fromhex(h) for h in level] for level in ref_tree["node_hashes_by_level_hex"]]
    assert levels[0] == leaves
    for level, hashes in enumerate(levels):
        for index, expected in enumerate(hashes):
            span = leaves[index << level : (index + 1) << level]
            assert merkle.root(span) == expected, (level, index)


def test_reference_extend_emits_every_interior_node_once(ref_tree: Any) -> None:
    leaves = reference_leaf_hashes(ref_tree)
    levels = [[bytes.fromhex(h) for h in level] for level in ref_tree["node_hashes_by_level_hex"]]
    frontier, nodes = merkle.extend([], 0, leaves)
    expected = [(lv, i, h) for lv in range(1, len(levels)) for i, h in enumerate(levels[lv])]
    assert sorted(nodes) == sorted(expected)
    assert frontier == levels[-1]


def test_reference_roots_for_every_size(ref_tree: Any) -> None:
    leaves = reference_leaf_hashes(ref_tree)
    roots = [bytes.fromhex(h) for h in ref_tree["root_hashes_by_tree_size_hex"]]
    assert len(roots) == 9
    for size, expected in enumerate(roots):
        assert merkle.root(leaves[:size]) == expected, size
        frontier, _ = merkle.extend([], 0, leaves[:size])
        assert merkle.fold(frontier) == expected, size


def test_reference_inclusion_proofs(ref_tree: Any) -> None:
    leaves = reference_leaf_hashes(ref_tree)
    assert len(ref_tree["inclusion_proofs"]) == 5
    for case in ref_tree["inclusion_proofs"]:
        index, size = case["leaf_index"], case["tree_size"]
        path = [bytes.fromhex(h) for h in case["audit_path_hex"]]
        assert merkle.inclusion_proof(index, leaves[:size]) == path, case
        merkle.verify_inclusion(leaves[index], index, size, path, merkle.root(leaves[:size]))


def test_reference_consistency_proofs(ref_tree: Any) -> None:
    leaves = reference_leaf_hashes(ref_tree)
    assert len(ref_tree["consistency_proofs"]) == 5
    for case in ref_tree["consistency_proofs"]:
        size1, size2 = case["size1"], case["size2"]
        path = [bytes.fromhex(h) for h in case["consistency_path_hex"]]
        assert merkle.consistency_proof(size1, leaves[:size2]) == path, case
        root1, root2 = merkle.root(leaves[:size1]), merkle.root(leaves[:size2])
        merkle.verify_consistency(size1, size2, path, root1, root2)


# -- RFC 9162 section 2.1, transcribed --------------------------------------------------------
# Written from the RFC's recursive definitions, over entries (not leaf hashes), with hashlib
# rather than merkle's helpers, so that the two share nothing but the specification.


def ref_split(n: int) -> int:
    """k, the largest power of two smaller than n (n > 1)."""
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


def ref_proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, entries, True)


def ref_subproof(m: int, entries: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [ref_mth(entries)]
    k = ref_split(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], b), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


# The verifiers see only how proof hashes are combined, never which ranges they cover. So a
# proof also verifies for another size whose PATH / PROOF recursion takes the same turns
# (the leaf at index 0 has the same path in trees of 3 and 4 entries, for example); the size
# is bound by the signed checkpoint, not by the proof. These give those turns.


def ref_path_turns(m: int, n: int) -> list[str]:
    if n == 1:
        return []
    k = ref_split(n)
    if m < k:
        return [*ref_path_turns(m, k), "sibling on the right"]
    return [*ref_path_turns(m - k, n - k), "sibling on the left"]


def ref_proof_turns(m: int, n: int, b: bool = True) -> list[str]:
    if m == n:
        return [] if b else ["old subtree root"]
    k = ref_split(n)
    if m <= k:
        return [*ref_proof_turns(m, k, b), "new right subtree"]
    return [*ref_proof_turns(m - k, n - k, False), "shared left subtree"]


@st.composite
def entry_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = 300) -> list[bytes]:
    size = draw(st.integers(min_size, max_size))
    salt = draw(st.binary(max_size=4))
    return [salt + i.to_bytes(2, "big") for i in range(size)]


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(e) for e in entries]


def ref_node(entries: Sequence[bytes], level: int, index: int) -> bytes:
    return ref_mth(entries[index << level : (index + 1) << level])


def assembled(entries: Sequence[bytes], ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """A proof built the way the ledger builds it: fold the stored complete subtrees."""
    out = []
    for a, b in ranges:
        parts = merkle.subtrees(a, b)
        out.append(merkle.fold([ref_node(entries, level, index) for level, index in parts]))
    return out


def flip_bit(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def raises(check: Callable[[], None]) -> bool:
    try:
        check()
    except VerificationError:
        return True
    return False


def test_empty_tree_root() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT == ref_mth([])


@PROPERTY
@given(entry_lists())
def test_root_matches_reference(entries: list[bytes]) -> None:
    assert merkle.root(leaf_hashes(entries)) == ref_mth(entries)


@PROPERTY
@given(entry_lists(), st.data())
def test_inclusion_proof_matches_reference_and_verifies(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes, size = leaf_hashes(entries), len(entries)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(index, hashes)
    assert proof == ref_path(index, entries)
    ranges = merkle.inclusion_ranges(index, size)
    assert [ref_mth(entries[a:b]) for a, b in ranges] == proof
    assert assembled(entries, ranges) == proof
    merkle.verify_inclusion(hashes[index], index, size, proof, ref_mth(entries))


@PROPERTY
@given(entry_lists(), st.data())
def test_inclusion_fails_on_any_flipped_bit(entries: list[bytes], data: st.DataObject) -> None:
    hashes, size = leaf_hashes(entries), len(entries)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(index, hashes)
    leaf, root = hashes[index], ref_mth(entries)
    target = data.draw(st.integers(-2, len(proof) - 1), label="target (-2 leaf, -1 root)")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == -2:
        leaf = flip_bit(leaf, bit)
    elif target == -1:
        root = flip_bit(root, bit)
    else:
        proof[target] = flip_bit(proof[target], bit)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(leaf, index, size, proof, root)


@PROPERTY
@given(entry_lists(min_size=2), st.data())
def test_inclusion_fails_for_another_index(entries: list[bytes], data: st.DataObject) -> None:
    hashes, size = leaf_hashes(entries), len(entries)
    index = data.draw(st.integers(0, size - 1), label="index")
    other = data.draw(st.integers(-1, 2 * size).filter(lambda i: i != index), label="other")
    proof = merkle.inclusion_proof(index, hashes)
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(hashes[index], other, size, proof, ref_mth(entries))


@PROPERTY
@given(entry_lists(), st.data())
def test_inclusion_for_another_size_fails_unless_the_path_is_the_same(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes, size = leaf_hashes(entries), len(entries)
    index = data.draw(st.integers(0, size - 1), label="index")
    other = data.draw(st.integers(0, 2 * size + 2).filter(lambda n: n != size), label="size")
    proof = merkle.inclusion_proof(index, hashes)
    same_turns = index < other and ref_path_turns(index, other) == ref_path_turns(index, size)
    check = partial(merkle.verify_inclusion, hashes[index], index, other, proof, ref_mth(entries))
    assert raises(check) is not same_turns


def test_inclusion_proof_does_not_bind_the_size() -> None:
    # Pinned so nobody relies on it: entry 0's proof in a tree of 4 also verifies "in a tree
    # of 3" against the same root. Only a signed checkpoint binds a size to a root.
    hashes = leaf_hashes([b"a", b"b", b"c", b"d"])
    proof = merkle.inclusion_proof(0, hashes)
    merkle.verify_inclusion(hashes[0], 0, 3, proof, merkle.root(hashes))


@PROPERTY
@given(entry_lists(), st.data())
def test_consistency_proof_matches_reference_and_verifies(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes, size2 = leaf_hashes(entries), len(entries)
    size1 = data.draw(st.integers(1, size2), label="size1")
    proof = merkle.consistency_proof(size1, hashes)
    assert proof == ref_proof(size1, entries)
    ranges = merkle.consistency_ranges(size1, size2)
    assert [ref_mth(entries[a:b]) for a, b in ranges] == proof
    assert assembled(entries, ranges) == proof
    merkle.verify_consistency(size1, size2, proof, ref_mth(entries[:size1]), ref_mth(entries))


@PROPERTY
@given(entry_lists(min_size=2), st.data())
def test_consistency_fails_on_any_flipped_bit(entries: list[bytes], data: st.DataObject) -> None:
    hashes, size2 = leaf_hashes(entries), len(entries)
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    proof = merkle.consistency_proof(size1, hashes)
    root1, root2 = ref_mth(entries[:size1]), ref_mth(entries)
    target = data.draw(st.integers(-2, len(proof) - 1), label="target (-2 root1, -1 root2)")
    bit = data.draw(st.integers(0, 255), label="bit")
    if target == -2:
        root1 = flip_bit(root1, bit)
    elif target == -1:
        root2 = flip_bit(root2, bit)
    else:
        proof[target] = flip_bit(proof[target], bit)
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(size1, size2, proof, root1, root2)


@PROPERTY
@given(entry_lists(min_size=2), st.data())
def test_consistency_for_other_sizes_fails_unless_the_proof_is_the_same(
    entries: list[bytes], data: st.DataObject
) -> None:
    hashes, size2 = leaf_hashes(entries), len(entries)
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    other1 = data.draw(st.integers(0, 2 * size2), label="other size1")
    other2 = data.draw(st.integers(0, 2 * size2), label="other size2")
    if (other1, other2) == (size1, size2):
        other2 += 1
    proof = merkle.consistency_proof(size1, hashes)
    root1, root2 = ref_mth(entries[:size1]), ref_mth(entries)
    same_turns = 0 < other1 < other2 and ref_proof_turns(other1, other2) == ref_proof_turns(
        size1, size2
    )
    check = partial(merkle.verify_consistency, other1, other2, proof, root1, root2)
    assert raises(check) is not same_turns


def test_consistency_proof_does_not_bind_the_second_size() -> None:
    # As for inclusion: the proof from 1 to 4 entries also verifies "from 1 to 3".
    hashes = leaf_hashes([b"a", b"b", b"c", b"d"])
    proof = merkle.consistency_proof(1, hashes)
    merkle.verify_consistency(1, 3, proof, hashes[0], merkle.root(hashes))


@PROPERTY
@given(entry_lists(), st.data())
def test_extend_in_batches_matches_reference(entries: list[bytes], data: st.DataObject) -> None:
    hashes = leaf_hashes(entries)
    cuts = data.draw(st.lists(st.integers(0, len(entries)), max_size=8), label="cuts")
    bounds = [0, *sorted(cuts), len(entries)]
    frontier: list[bytes] = []
    emitted: list[tuple[int, int]] = []
    for a, b in pairwise(bounds):
        frontier, nodes = merkle.extend(frontier, a, hashes[a:b])
        # The frontier is the binary decomposition of b, largest subtree first.
        levels = [lv for lv in reversed(range(b.bit_length())) if b >> lv & 1]
        starts = [sum(1 << x for x in levels[:i]) for i in range(len(levels))]
        assert frontier == [
            ref_mth(entries[s : s + (1 << lv)]) for s, lv in zip(starts, levels, strict=True)
        ]
        assert merkle.fold(frontier) == ref_mth(entries[:b])
        for level, index, node in nodes:
            assert level >= 1
            assert a < (index + 1) << level <= b, "a node completed by this batch"
            assert node == ref_node(entries, level, index), (level, index)
            emitted.append((level, index))
    n = len(entries)
    complete = [(lv, i) for lv in range(1, n.bit_length()) for i in range(n >> lv)]
    assert sorted(emitted) == sorted(complete)


@PROPERTY
@given(entry_lists(), st.data())
def test_fold_of_subtrees_is_mth_of_every_subtree_range(
    entries: list[bytes], data: st.DataObject
) -> None:
    # Valid for ranges that are nodes of some tree (start a multiple of the range's size
    # rounded up to a power of two): the only ranges proofs ever ask for.
    n = len(entries)
    length = data.draw(st.integers(1, n), label="length")
    align = 1 << (length - 1).bit_length()
    start = align * data.draw(st.integers(0, (n - length) // align), label="slot")
    end = start + length
    parts = merkle.subtrees(start, end)
    position = start
    for level, index in parts:
        assert index << level == position, "contiguous and aligned, left to right"
        position += 1 << level
    assert position == end
    assert merkle.fold([ref_node(entries, lv, i) for lv, i in parts]) == ref_mth(entries[start:end])


# -- edge-case policy -------------------------------------------------------------------------

ENTRIES = [bytes([i]) for i in range(7)]
HASHES = leaf_hashes(ENTRIES)
ROOT7 = merkle.root(HASHES)
ROOT3 = merkle.root(HASHES[:3])
PROOF_2_IN_7 = merkle.inclusion_proof(2, HASHES)
PROOF_3_TO_7 = merkle.consistency_proof(3, HASHES)
WRONG_LENGTHS = [b"", ROOT7[:31], ROOT7 + b"\x00", ROOT7 + ROOT7]


def test_policy_fixtures_are_valid() -> None:
    # The tests below change one thing at a time; this is the thing they start from.
    merkle.verify_inclusion(HASHES[2], 2, 7, PROOF_2_IN_7, ROOT7)
    merkle.verify_consistency(3, 7, PROOF_3_TO_7, ROOT3, ROOT7)


@pytest.mark.parametrize("bad", WRONG_LENGTHS, ids=lambda b: f"{len(b)}-bytes")
@pytest.mark.parametrize("where", ["leaf", "root", "proof first", "proof last"])
def test_inclusion_rejects_hashes_that_are_not_32_bytes(where: str, bad: bytes) -> None:
    leaf, root, proof = HASHES[2], ROOT7, list(PROOF_2_IN_7)
    if where == "leaf":
        leaf = bad
    elif where == "root":
        root = bad
    else:
        proof[0 if where == "proof first" else -1] = bad
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(leaf, 2, 7, proof, root)


@pytest.mark.parametrize("bad", WRONG_LENGTHS, ids=lambda b: f"{len(b)}-bytes")
@pytest.mark.parametrize("where", ["root1", "root2", "proof first", "proof last"])
def test_consistency_rejects_hashes_that_are_not_32_bytes(where: str, bad: bytes) -> None:
    root1, root2, proof = ROOT3, ROOT7, list(PROOF_3_TO_7)
    if where == "root1":
        root1 = bad
    elif where == "root2":
        root2 = bad
    else:
        proof[0 if where == "proof first" else -1] = bad
    with pytest.raises(VerificationError):
        merkle.verify_consistency(3, 7, proof, root1, root2)


@pytest.mark.parametrize("bad", WRONG_LENGTHS, ids=lambda b: f"{len(b)}-bytes")
def test_trivial_consistency_still_rejects_hashes_that_are_not_32_bytes(bad: bytes) -> None:
    # Equal sizes and size 0 compare roots without hashing; the length rule still applies.
    with pytest.raises(VerificationError):
        merkle.verify_consistency(4, 4, [], bad, bad)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(0, 4, [], merkle.EMPTY_ROOT, bad)


@pytest.mark.parametrize(("index", "size"), [(7, 7), (8, 7), (-1, 7), (0, 0), (0, -1)])
def test_inclusion_needs_an_index_inside_the_tree(index: int, size: int) -> None:
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(HASHES[0], index, size, [], ROOT7)


def test_no_inclusion_in_the_empty_tree() -> None:
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(merkle.EMPTY_ROOT, 0, 0, [], merkle.EMPTY_ROOT)
    with pytest.raises(VerificationError):
        merkle.inclusion_proof(0, [])


def test_consistency_with_equal_sizes_needs_an_empty_proof_and_equal_roots() -> None:
    merkle.verify_consistency(7, 7, [], ROOT7, ROOT7)
    merkle.verify_consistency(0, 0, [], merkle.EMPTY_ROOT, merkle.EMPTY_ROOT)
    assert merkle.consistency_proof(7, HASHES) == []
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(7, 7, [ROOT7], ROOT7, ROOT7)
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(7, 7, [], ROOT7, ROOT3)
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(0, 0, [], merkle.EMPTY_ROOT, ROOT7)


@pytest.mark.parametrize("size2", [1, 2, 7, 1 << 40])
def test_the_empty_tree_is_consistent_with_every_tree(size2: int) -> None:
    # C2SP tlog-witness: nothing to prove, so an empty proof, whatever the second root.
    merkle.verify_consistency(0, size2, [], merkle.EMPTY_ROOT, ROOT7)
    assert merkle.consistency_ranges(0, size2) == []


def test_consistency_from_the_empty_tree_needs_the_empty_root_and_no_proof() -> None:
    assert merkle.consistency_proof(0, HASHES) == []
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(0, 7, [], ROOT3, ROOT7)
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(0, 7, [ROOT7], merkle.EMPTY_ROOT, ROOT7)
    # transparency-dev's "consistency check on empty tree is useless" probe, 32-byte version.
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(0, 1, [merkle.EMPTY_ROOT], merkle.EMPTY_ROOT, HASHES[0])


@pytest.mark.parametrize(("size1", "size2"), [(8, 7), (1, 0), (-1, 7), (3, -1)])
def test_consistency_needs_sizes_in_order(size1: int, size2: int) -> None:
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(size1, size2, [], ROOT7, ROOT7)
    with pytest.raises(VerificationError):
        merkle.consistency_ranges(size1, size2)

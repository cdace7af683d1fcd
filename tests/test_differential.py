"""Our tree, proofs and checkpoint notes against code we did not write.

A clone without ``../shared/`` skips the standards vectors; these tests still hold the core
to independent implementations installed from PyPI:

* RFC 9162 trees and proofs: ``pymerkle`` (its default configuration, SHA-256 with the
  0x00 / 0x01 leaf and node prefixes, hashing the raw leaf bytes itself, is RFC 9162 section
  2.1 exact; ``disable_security=True`` drops the prefixes and is not). Its 1-based indices
  are converted at the call. Inclusion paths must be byte-identical; consistency proofs
  differ in shape (pymerkle's own format), so each side's proof is checked against the
  other side's roots.
* C2SP signed notes: no independent Python implementation is usable. sigstore-python's
  checkpoint code is private (``sigstore._internal``) and verifies Rekor's key-hint
  convention against a Rekor keyring, not the C2SP key ID. So the note is checked here with
  ``cryptography``'s Ed25519 over the exact bytes the ``c2sp.org/signed-note`` spec names,
  with the key ID and signature line rebuilt from the spec in this file.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pymerkle
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from affidavit import Ledger, Record, VerificationError, Verifier, merkle
from affidavit.note import open_checkpoint

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def leaves(n: int) -> list[bytes]:
    return [f"leaf {i}".encode() * (1 + i % 3) for i in range(n)]


def reference(data: list[bytes]) -> pymerkle.InmemoryTree:
    tree = pymerkle.InmemoryTree(algorithm="sha256")  # security on: RFC 9162 prefixes
    for item in data:
        tree.append_entry(item)
    return tree


# -- RFC 9162 trees and proofs against pymerkle ----------------------------------------------


@given(st.integers(min_value=0, max_value=300))
def test_roots_match_pymerkle(n: int) -> None:
    data = leaves(n)
    hashes = [merkle.leaf_hash(d) for d in data]
    tree = reference(data)
    assert [tree.get_leaf(i + 1) for i in range(n)] == hashes
    assert merkle.root(hashes) == tree.get_root()  # the empty tree too: SHA-256 of nothing


@given(st.integers(min_value=1, max_value=300).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(min_value=0, max_value=n - 1))))  # fmt: skip
def test_inclusion_paths_are_pymerkles_and_each_side_accepts_the_other(
    case: tuple[int, int],
) -> None:
    n, index = case
    data = leaves(n)
    hashes = [merkle.leaf_hash(d) for d in data]
    tree = reference(data)
    ours = merkle.inclusion_proof(index, hashes)
    theirs = tree.prove_inclusion(index + 1, n)
    assert theirs.path[0] == hashes[index]  # pymerkle puts the leaf first, then the path
    assert list(theirs.path[1:]) == ours
    root = tree.get_root(n)
    merkle.verify_inclusion(hashes[index], index, n, theirs.path[1:], root)
    pymerkle.verify_inclusion(hashes[index], merkle.root(hashes), theirs, index=index + 1, size=n)


@given(st.integers(min_value=1, max_value=300).flatmap(lambda n: st.tuples(
    st.integers(min_value=1, max_value=n), st.just(n))))  # fmt: skip
def test_consistency_holds_against_pymerkle_roots_both_ways(case: tuple[int, int]) -> None:
    old, new = case
    data = leaves(new)
    hashes = [merkle.leaf_hash(d) for d in data]
    tree = reference(data)
    old_root, new_root = tree.get_root(old), tree.get_root(new)
    merkle.verify_consistency(old, new, merkle.consistency_proof(old, hashes), old_root, new_root)
    theirs = tree.prove_consistency(old, new)
    pymerkle.verify_consistency(
        merkle.root(hashes[:old]), merkle.root(hashes), theirs, prior_size=old, later_size=new
    )


def test_a_proof_pymerkle_rejects_is_rejected_by_us_too() -> None:
    data = leaves(21)
    hashes = [merkle.leaf_hash(d) for d in data]
    tree = reference(data)
    wrong_root = tree.get_root(20)  # a real root, of another tree
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(hashes[5], 5, 21, merkle.inclusion_proof(5, hashes), wrong_root)
    with pytest.raises(pymerkle.InvalidProof):
        pymerkle.verify_inclusion(hashes[5], wrong_root, tree.prove_inclusion(6, 21))
    with pytest.raises(VerificationError):
        merkle.verify_consistency(13, 21, merkle.consistency_proof(13, hashes), wrong_root,
                                  tree.get_root(21))  # fmt: skip


def test_pymerkle_without_its_prefixes_is_not_rfc_9162() -> None:
    """Why the default configuration is the one compared with: the other gives other roots."""
    data = leaves(5)
    bare = pymerkle.InmemoryTree(algorithm="sha256", disable_security=True)
    for item in data:
        bare.append_entry(item)
    assert bare.get_root() != merkle.root([merkle.leaf_hash(d) for d in data])


# -- a real ledger against pymerkle and Ed25519 ----------------------------------------------


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ledger, list[str]]:
    folder = tmp_path_factory.mktemp("differential")
    ledger = Ledger.create(folder / "l.sqlite", origin="example.com/diff", key_path=folder / "k")
    notes = []
    for batch in range(3):
        payloads = [{"n": batch * 50 + i} for i in range(37)]
        ledger.append([Record.create("file.update", "test", p, time=T0) for p in payloads])
        notes.append(ledger.seal())
    return ledger, notes


def test_ledger_checkpoints_commit_to_pymerkles_root_of_the_stored_leaves(
    sealed: tuple[Ledger, list[str]],
) -> None:
    ledger, notes = sealed
    size = ledger.store.size()
    tree = reference([ledger.record(seq).leaf for seq in range(size)])
    verifier = ledger.verifier
    checkpoints = [open_checkpoint(note, verifier) for note in notes]
    for cp in checkpoints:
        assert cp.root == tree.get_root(cp.size)
    for seq in (0, 1, 36, 37, 73, size - 1):
        proof = ledger.prove_inclusion(seq)
        theirs = tree.prove_inclusion(seq + 1, proof.tree_size)
        assert list(theirs.path[1:]) == list(proof.proof)
        cp = open_checkpoint(proof.checkpoint, verifier)
        pymerkle.verify_inclusion(proof.leaf_hash, cp.root, theirs, index=seq + 1, size=cp.size)
    old, new = checkpoints[0], checkpoints[-1]
    growth = ledger.prove_consistency(old.size, new.size)
    merkle.verify_consistency(old.size, new.size, growth.proof,
                              tree.get_root(old.size), tree.get_root(new.size))  # fmt: skip


def spec_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """Parse a verifier key as c2sp.org/signed-note writes it: name+hex(key ID)+base64(0x01
    ‖ public key); check the key ID is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]."""
    name, key_id_hex, encoded = vkey.split("+", 2)  # base64 may hold "+" too
    raw = base64.b64decode(encoded)
    assert raw[0] == 0x01 and len(raw) == 33, "an Ed25519 verifier key"
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert key_id.hex() == key_id_hex
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def test_checkpoint_signatures_verify_with_ed25519_over_the_spec_bytes(
    sealed: tuple[Ledger, list[str]],
) -> None:
    ledger, notes = sealed
    name, key_id, public = spec_key(ledger.verifier.vkey())
    for note in notes:
        text, signatures = note.split("\n\n")
        text += "\n"  # the signed message: the text, with its final newline
        [line] = signatures.splitlines()
        dash, signer, blob = line.split(" ")
        assert (dash, signer) == ("\u2014", name)
        signature = base64.b64decode(blob)
        assert signature[:4] == key_id and len(signature) == 68
        public.verify(signature[4:], text.encode())
        lines = text.splitlines()
        assert lines[0] == name and int(lines[1]) > 0 and len(base64.b64decode(lines[2])) == 32
        with pytest.raises(InvalidSignature):
            public.verify(signature[4:], text.replace(lines[1], str(int(lines[1]) + 1)).encode())


def test_a_note_signed_by_the_spec_opens_with_our_code_and_a_changed_one_does_not(
    tmp_path: Path,
) -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = "example.com/independent"
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    encoded = base64.b64encode(b"\x01" + public).decode()
    vkey = f"{name}+{key_id.hex()}+{encoded}"
    root = merkle.root([merkle.leaf_hash(d) for d in leaves(9)])
    text = f"{name}\n9\n{base64.b64encode(root).decode()}\n"
    blob = base64.b64encode(key_id + private.sign(text.encode())).decode()
    note = f"{text}\n\u2014 {name} {blob}\n"
    checkpoint = open_checkpoint(note, Verifier.from_vkey(vkey))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (name, 9, root)
    with pytest.raises(VerificationError):
        open_checkpoint(note.replace("\n9\n", "\n8\n"), Verifier.from_vkey(vkey))

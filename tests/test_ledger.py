"""Tests for affidavit.ledger: append, integrate, publish, prove, verify, erase, key files.

Proofs are checked twice: with affidavit.merkle and with a minimal RFC 9162 verifier
written below from the RFC's text (hashlib only); checkpoints are opened by hand from the
C2SP signed-note text and their signature checked with ``cryptography`` directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from affidavit import merkle
from affidavit.errors import (
    ConsistencyError,
    InputError,
    LedgerError,
    LedgerExistsError,
    VerificationError,
)
from affidavit.ledger import Ledger
from affidavit.note import Signer, Verifier
from affidavit.record import Kind, Record
from affidavit.store.log import LogStore
from ledger_helpers import ORIGIN, Clock, grow, key_of, make_records, new_ledger
from pg_helpers import new_pg_ledger, raw_sql

# -- an independent RFC 9162 verifier (section 2.1), from the RFC text, hashlib only --------


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of 2.1.1, recursively over the leaf bytes."""
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return h(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:]))


def rfc_verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def rfc_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: Sequence[bytes]
) -> bool:
    """2.1.4.2, step by step (the RFC defines it for 0 < first < second)."""
    assert 0 < first < second
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h(b"\x01" + c + fr)
            sr = h(b"\x01" + c + sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# -- C2SP signed note and tlog-checkpoint, parsed by hand, verified with cryptography -------


def open_by_hand(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Check the note's Ed25519 signature by ``vkey``; return (origin, size, root)."""
    name, key_id_hex, key_b64 = vkey.split("+", 2)
    typed = base64.b64decode(key_b64, validate=True)
    assert typed[0] == 0x01 and len(typed) == 33
    public = typed[1:]
    key_id = h(name.encode() + b"\n" + b"\x01" + public)[:4]
    assert key_id.hex() == key_id_hex
    text, signatures = note[: note.rindex("\n\n") + 1], note[note.rindex("\n\n") + 2 :]
    checked = 0
    for line in signatures.splitlines():
        assert line.startswith("\u2014 ")
        signer_name, encoded = line[2:].split(" ")
        blob = base64.b64decode(encoded, validate=True)
        if signer_name == name and blob[:4] == key_id:
            assert len(blob) == 4 + 64
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            checked += 1
    assert checked == 1
    origin, size, root, rest = text.split("\n", 3)
    assert rest == ""
    return origin, int(size), base64.b64decode(root, validate=True)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger[Any]]:
    """The core ledger tests run against both log stores."""
    if request.param == "postgres":
        with new_pg_ledger(request.getfixturevalue("pg_schemas")) as pg:
            yield pg
        return
    with new_ledger(tmp_path) as ledger:
        yield ledger


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Ledger]:
    with new_ledger(tmp_path) as ledger:
        yield ledger


def leaves_of(ledger: Ledger[Any]) -> list[bytes]:
    return [leaf for _, leaf, _, _, _ in ledger.rows()]


def count(store: LogStore, sql: str) -> int:
    with raw_sql(store) as conn:
        return int(conn.execute(sql).fetchone()[0])


# -- sequencing -----------------------------------------------------------------------------


def test_append_returns_seqs_that_another_connection_already_sees(ledger: Ledger) -> None:
    records = make_records(3)
    first = ledger.append(records)
    assert first == range(0, 3)
    # Still open here: the rows must be committed, not merely buffered in this connection.
    with raw_sql(ledger.store) as conn:
        rows = conn.execute("SELECT seq, leaf FROM records ORDER BY seq").fetchall()
    assert rows == [(i, r.leaf) for i, r in enumerate(records)]
    second = ledger.append(make_records(2, start=3))
    assert second == range(3, 5)
    assert count(ledger.store, "SELECT count(*) FROM records") == 5


def test_append_stores_leaf_hash_salt_and_payload(ledger: Ledger) -> None:
    records = make_records(2)
    ledger.append(records)
    for (seq, leaf, leaf_hash, salt, body), r in zip(ledger.rows(), records, strict=True):
        assert leaf == r.leaf
        assert leaf_hash == h(b"\x00" + r.leaf)
        assert salt == r.salt and body == r.payload_json
        assert ledger.record(seq) == r


def test_append_of_nothing_is_an_empty_range(ledger: Ledger) -> None:
    assert ledger.append([]) == range(0, 0)
    assert ledger.store.size() == 0


def test_append_is_all_or_nothing_when_the_iterable_raises(ledger: Ledger) -> None:
    ledger.append(make_records(2))

    def broken() -> Iterator[Record]:
        yield from make_records(3, start=2)
        raise InputError("line 4: not JSON")

    with pytest.raises(InputError, match="line 4"):
        ledger.append(broken())
    assert ledger.store.size() == 2
    assert count(ledger.store, "SELECT count(*) FROM records") == 2
    assert ledger.append(make_records(1, start=2)) == range(2, 3)


def test_record_of_unknown_seq_is_an_input_error(ledger: Ledger) -> None:
    ledger.append(make_records(1))
    with pytest.raises(InputError, match="no record 1"):
        ledger.record(1)


# -- integration ----------------------------------------------------------------------------


def test_integrate_stores_every_complete_subtree(ledger: Ledger) -> None:
    leaves: list[bytes] = []
    # Irregular batches, so that integration resumes from every kind of frontier.
    for batch in (1, 2, 1, 5, 7, 16, 3, 1, 9):
        records = make_records(batch, start=len(leaves))
        ledger.append(records)
        leaves += [r.leaf for r in records]
        assert ledger.integrate() == len(leaves)
        size = len(leaves)
        with raw_sql(ledger.store) as conn:
            levels = dict(conn.execute("SELECT level, count(*) FROM nodes GROUP BY level"))
            nodes = conn.execute("SELECT level, idx, hash FROM nodes").fetchall()
        expected = {lv: size >> lv for lv in range(1, size.bit_length()) if size >> lv}
        assert levels == expected
        for level, idx, stored in nodes:
            span = leaves[idx << level : (idx + 1) << level]
            assert stored == rfc_mth(span), (level, idx)
        assert ledger.root(size) == rfc_mth(leaves)


def test_integrate_without_new_records_changes_nothing(ledger: Ledger) -> None:
    ledger.append(make_records(6))
    assert ledger.integrate() == 6
    before = count(ledger.store, "SELECT count(*) FROM nodes")
    assert ledger.integrate() == 6
    assert count(ledger.store, "SELECT count(*) FROM nodes") == before == 4


# -- publishing -----------------------------------------------------------------------------


def test_publish_keeps_every_checkpoint(ledger: Ledger) -> None:
    notes = grow(ledger, [3, 1, 4, 8])
    with raw_sql(ledger.store) as conn:
        stored = conn.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
    assert stored == list(zip([3, 4, 8, 16], notes, strict=True))
    leaves = leaves_of(ledger)
    for size, note in stored:
        assert open_by_hand(note, ledger.verifier.vkey()) == (ORIGIN, size, rfc_mth(leaves[:size]))


def test_publishing_an_unchanged_tree_returns_the_same_note(ledger: Ledger) -> None:
    (note,) = grow(ledger, [5])
    assert ledger.publish() == note
    assert ledger.seal() == note
    ledger.append(make_records(1, start=5))  # sequenced but not integrated: tree unchanged
    assert ledger.publish() == note
    assert count(ledger.store, "SELECT count(*) FROM checkpoints") == 1


def test_publish_of_the_empty_tree_signs_the_empty_root(ledger: Ledger) -> None:
    note = ledger.publish()
    assert open_by_hand(note, ledger.verifier.vkey()) == (ORIGIN, 0, h(b""))


def test_status_counts_the_three_states(ledger: Ledger) -> None:
    (note,) = grow(ledger, [4])
    ledger.append(make_records(3, start=4))
    ledger.integrate()
    ledger.append(make_records(1, start=7))
    st = ledger.status()
    assert (st.size, st.integrated, st.published, st.erased) == (8, 7, 4, 0)
    assert st.origin == ORIGIN and st.vkey == ledger.verifier.vkey()
    assert st.last_checkpoint == note
    assert st.last_published_at is not None and st.last_published_at.endswith("Z")


# -- proofs ---------------------------------------------------------------------------------


def test_inclusion_proofs_verify_with_merkle_and_the_rfc(ledger: Ledger) -> None:
    grow(ledger, [1, 2, 4, 6, 13])
    leaves = leaves_of(ledger)
    vkey = ledger.verifier.vkey()
    for size, _, _ in ledger.store.checkpoints():
        for seq in range(size):
            p = ledger.prove_inclusion(seq, tree_size=size)
            origin, cp_size, root = open_by_hand(p.checkpoint, vkey)
            assert (origin, cp_size, p.index, p.tree_size) == (ORIGIN, size, seq, size)
            assert p.leaf_hash == h(b"\x00" + leaves[seq])
            assert root == rfc_mth(leaves[:size])
            merkle.verify_inclusion(p.leaf_hash, seq, size, p.proof, root)
            assert rfc_verify_inclusion(seq, size, p.leaf_hash, p.proof, root)
            if p.proof:  # a wrong sibling must fail both
                bad = (h(p.proof[0]), *p.proof[1:])
                assert not rfc_verify_inclusion(seq, size, p.leaf_hash, bad, root)
                with pytest.raises(VerificationError):
                    merkle.verify_inclusion(p.leaf_hash, seq, size, bad, root)


def test_inclusion_proof_defaults_to_the_latest_checkpoint(ledger: Ledger) -> None:
    notes = grow(ledger, [3, 4])
    p = ledger.prove_inclusion(1)
    assert (p.tree_size, p.checkpoint) == (7, notes[-1])


def test_consistency_proofs_verify_with_merkle_and_the_rfc(ledger: Ledger) -> None:
    grow(ledger, [1, 1, 2, 3, 5, 8, 13])
    leaves = leaves_of(ledger)
    sizes = [s for s, _, _ in ledger.store.checkpoints()]
    vkey = ledger.verifier.vkey()
    for size2 in sizes:
        for size1 in range(size2 + 1):
            c = ledger.prove_consistency(size1, size2)
            origin, cp_size, root2 = open_by_hand(c.checkpoint, vkey)
            assert (origin, cp_size, c.size1, c.size2) == (ORIGIN, size2, size1, size2)
            root1 = rfc_mth(leaves[:size1])
            assert root2 == rfc_mth(leaves[:size2])
            merkle.verify_consistency(size1, size2, c.proof, root1, root2)
            if 0 < size1 < size2:
                assert rfc_verify_consistency(size1, size2, root1, root2, c.proof)
                assert not rfc_verify_consistency(size1, size2, h(root1), root2, c.proof)
            else:
                assert c.proof == ()


def test_proofs_need_a_published_checkpoint(ledger: Ledger) -> None:
    ledger.append(make_records(3))
    with pytest.raises(LedgerError, match="seal"):
        ledger.prove_inclusion(0)
    grow(ledger, [2])
    ledger.append(make_records(1, start=5))
    with pytest.raises(InputError, match="seal"):
        ledger.prove_inclusion(5)
    with pytest.raises(InputError, match="no checkpoint of size 4"):
        ledger.prove_inclusion(0, tree_size=4)
    with pytest.raises(InputError):
        ledger.prove_inclusion(-1)
    with pytest.raises(InputError):
        ledger.prove_consistency(6)


# -- verification ---------------------------------------------------------------------------


def test_verify_a_clean_ledger(ledger: Ledger) -> None:
    grow(ledger, [5, 6, 21])
    ledger.append(make_records(2, start=32))  # sequenced, not yet integrated
    report = ledger.verify()
    assert (report.records, report.erased, report.checkpoints, report.tree_size) == (34, 0, 3, 32)
    assert report.nodes == sum(32 >> lv for lv in range(1, 6))
    assert report.root == rfc_mth(leaves_of(ledger)[:32])
    assert report.from_size is None


def test_verify_an_empty_ledger(ledger: Ledger) -> None:
    report = ledger.verify()
    assert (report.records, report.tree_size, report.root) == (0, 0, h(b""))


def test_verify_from_an_earlier_checkpoint_after_growth(ledger: Ledger) -> None:
    notes = grow(ledger, [7])
    grow(ledger, [9, 1])
    assert ledger.verify(from_checkpoint=notes[0]).from_size == 7
    assert ledger.verify(from_checkpoint=ledger.publish()).from_size == 17


def test_verify_with_a_pinned_key(ledger: Ledger) -> None:
    grow(ledger, [3])
    assert ledger.verify(key=Verifier.from_vkey(ledger.verifier.vkey())).tree_size == 3
    stranger = Signer.generate(ORIGIN).verifier()
    with pytest.raises(VerificationError, match="pinned") as caught:
        ledger.verify(key=stranger)
    assert caught.value.where == "verifier key"


def test_verify_from_a_checkpoint_of_another_log_fails(tmp_path: Path, ledger: Ledger) -> None:
    grow(ledger, [3])
    with new_ledger(tmp_path, "other.sqlite") as other:
        (foreign,) = grow(other, [3])
    with pytest.raises(VerificationError, match="not signed by this ledger's key"):
        ledger.verify(from_checkpoint=foreign)


def test_verify_from_a_larger_checkpoint_is_a_consistency_error(ledger: Ledger) -> None:
    grow(ledger, [3, 3])
    kept = ledger.publish()
    with raw_sql(ledger.store) as conn:
        conn.execute("DELETE FROM checkpoints WHERE size = 6")
    with pytest.raises(ConsistencyError, match="truncated") as caught:
        ledger.verify(from_checkpoint=kept)
    assert (caught.value.size1, caught.value.size2) == (6, 3)


# -- erasure --------------------------------------------------------------------------------


def test_erase_removes_payload_and_salt_and_records_why(sqlite_ledger: Ledger) -> None:
    ledger = sqlite_ledger
    grow(ledger, [6])
    secret = b"user-3@example.com"
    assert secret in Path(ledger.store.path).read_bytes() + wal_bytes(Path(ledger.store.path))
    seq = ledger.erase([3, 1, 3], "GDPR request 42")
    assert seq == 6
    with raw_sql(ledger.store) as conn:
        rows = dict(
            (s, (salt, body))
            for s, salt, body in conn.execute("SELECT seq, salt, payload FROM records")
        )
    assert rows[1] == rows[3] == (None, None)
    assert all(rows[s][0] is not None and rows[s][1] is not None for s in (0, 2, 4, 5, 6))
    erasure = ledger.record(6)
    assert erasure.envelope.kind == Kind.ERASURE
    assert erasure.payload == {"seqs": [1, 3], "reason": "GDPR request 42"}
    erasure.verify_commitment()
    # The envelopes stay, so the published checkpoint still covers the same leaves.
    assert ledger.record(3).erased and ledger.record(3).envelope.commitment
    assert secret not in Path(ledger.store.path).read_bytes() + wal_bytes(Path(ledger.store.path))

    report = ledger.verify()
    assert (report.records, report.erased) == (7, 2)
    ledger.seal()
    assert ledger.verify().erased == 2
    assert ledger.status().erased == 2


def wal_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_erasing_an_erasure_record_is_refused(ledger: Ledger) -> None:
    grow(ledger, [3])
    erasure = ledger.erase([0], "test")
    with pytest.raises(InputError, match="erasure record"):
        ledger.erase([erasure], "again")
    assert ledger.record(erasure).payload is not None
    assert ledger.store.size() == 4


@pytest.mark.parametrize("seqs", [[3], [0, 3], [-1], [1, 99]])
def test_erasing_an_unknown_seq_is_refused_and_changes_nothing(
    ledger: Ledger, seqs: list[int]
) -> None:
    grow(ledger, [3])
    before = list(ledger.rows())
    with pytest.raises(InputError, match="no record"):
        ledger.erase(seqs, "test")
    assert list(ledger.rows()) == before


@pytest.mark.parametrize(("seqs", "reason"), [([], "why"), ([0], ""), ([0], "  \n")])
def test_erase_needs_seqs_and_a_reason(ledger: Ledger, seqs: list[int], reason: str) -> None:
    grow(ledger, [1])
    with pytest.raises(InputError):
        ledger.erase(seqs, reason)
    assert ledger.store.size() == 1


def test_erasing_twice_keeps_both_erasures_and_verifies(ledger: Ledger) -> None:
    grow(ledger, [4])
    ledger.erase([0], "first")
    ledger.erase([0, 2], "second")
    assert ledger.verify().erased == 2
    assert ledger.record(5).payload == {"seqs": [0, 2], "reason": "second"}


# -- keys and files -------------------------------------------------------------------------


def test_key_file_has_mode_0600(tmp_path: Path) -> None:
    with new_ledger(tmp_path) as ledger:
        key = key_of(tmp_path / "ledger.sqlite")
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text().startswith(f"PRIVATE+KEY+{ORIGIN}+")
        assert ledger.signer is not None
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".key-")]
    assert leftovers == []


def test_create_refuses_to_overwrite_a_ledger(tmp_path: Path) -> None:
    new_ledger(tmp_path).close()
    path = tmp_path / "ledger.sqlite"
    before = path.read_bytes()
    key_of(path).unlink()
    with pytest.raises(LedgerExistsError):
        Ledger.create(path, origin=ORIGIN, key_path=key_of(path))
    assert path.read_bytes() == before
    assert not key_of(path).exists()


def test_create_refuses_to_overwrite_a_key(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    key_of(path).write_text("do not touch\n")
    with pytest.raises(LedgerError, match="already exists"):
        Ledger.create(path, origin=ORIGIN, key_path=key_of(path))
    assert key_of(path).read_text() == "do not touch\n"
    assert not path.exists()


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    with new_ledger(tmp_path) as ledger:
        ledger.append(make_records(2))
        os.chmod(key_of(tmp_path / "ledger.sqlite"), 0o644)
        with pytest.raises(LedgerError, match="chmod 600"):
            ledger.seal()
        assert ledger.status().published == 0


def test_another_ledgers_key_refuses_to_publish(tmp_path: Path) -> None:
    new_ledger(tmp_path, "other.sqlite").close()
    with new_ledger(tmp_path) as mine:
        mine.append(make_records(2))
    wrong = key_of(tmp_path / "other.sqlite")
    with Ledger.open(tmp_path / "ledger.sqlite", key_path=wrong, clock=Clock()) as ledger:
        with pytest.raises(LedgerError, match="not this ledger's key"):
            ledger.seal()
        assert ledger.latest_checkpoint() is None


def test_the_signer_is_passed_in_and_the_ledger_reads_no_key(tmp_path: Path) -> None:
    """The key can live elsewhere (another account, a service): the ledger only asks it
    to sign, and refuses a signer whose key is not the ledger's."""
    from affidavit.note import Signer, open_checkpoint

    signer = Signer.generate(ORIGIN)
    path = tmp_path / "ledger.sqlite"
    with Ledger.create(path, origin=ORIGIN, signer=signer, clock=Clock()) as ledger:
        ledger.append(make_records(3))
        note = ledger.seal()
    assert not any(p.name.endswith(".key") for p in tmp_path.iterdir())
    assert open_checkpoint(note, signer.verifier()).size == 3
    with Ledger.open(path, signer=Signer.generate(ORIGIN)) as wrong:
        wrong.append(make_records(1, start=3))
        with pytest.raises(LedgerError, match="not this ledger's key"):
            wrong.seal()
    with pytest.raises(InputError, match="either a signer or a key_path"):
        Ledger.create(tmp_path / "other.sqlite", origin=ORIGIN)


def test_a_ledger_opened_without_a_key_cannot_publish(tmp_path: Path) -> None:
    new_ledger(tmp_path).close()
    with (
        Ledger.open(tmp_path / "ledger.sqlite") as ledger,
        pytest.raises(LedgerError, match="without its signing key"),
    ):
        ledger.publish()


def test_a_readonly_ledger_verifies(tmp_path: Path) -> None:
    with new_ledger(tmp_path) as ledger:
        grow(ledger, [3])
    with Ledger.open(tmp_path / "ledger.sqlite", readonly=True) as ledger:
        assert ledger.verify().tree_size == 3


def test_records_survive_reopening(tmp_path: Path) -> None:
    with new_ledger(tmp_path) as ledger:
        notes = grow(ledger, [4])
    with Ledger.open(
        tmp_path / "ledger.sqlite", key_path=key_of(tmp_path / "ledger.sqlite")
    ) as again:
        assert again.latest_checkpoint() == (4, notes[0])
        assert [json.loads(leaf)["kind"] for leaf in leaves_of(again)] == ["file.update"] * 4
        assert again.verify().tree_size == 4


def test_only_erasures_written_by_erase_account_for_a_missing_payload(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from affidavit import merkle

    led = Ledger.create(tmp_path / "l.sqlite", origin="test.example/forge", key_path=tmp_path / "k")
    now = datetime.now(UTC)
    led.append([Record.create("file.update", "t", {"file": {"path": "/a"}}, time=now)])
    for source in ("someone-else", "affidavit"):
        forged = Record.create("erasure", source, {"seqs": [0], "reason": "x"}, time=now)
        with pytest.raises(InputError, match="only by `affidavit erase`"):
            led.append([forged])
    # Written below the library, a forged erasure is itself a failure.
    forged = Record.create("erasure", "someone-else", {"seqs": [0], "reason": "x"}, time=now)
    store = led.store
    store.begin()
    store.add_records(
        [(forged.leaf, merkle.leaf_hash(forged.leaf), forged.salt, forged.payload_json)]
    )
    store.commit()
    store.connection.execute("UPDATE records SET salt = NULL, payload = NULL WHERE seq = 0")
    with pytest.raises(VerificationError, match="record 1: an erasure record from source"):
        led.verify()
    led.close()


def test_an_erasure_may_only_name_earlier_records(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from affidavit import merkle

    led = Ledger.create(tmp_path / "l.sqlite", origin="test.example/forge", key_path=tmp_path / "k")
    now = datetime.now(UTC)
    forged = Record.create("erasure", "affidavit", {"seqs": [1], "reason": "x"}, time=now)
    store = led.store
    store.begin()
    store.add_records(
        [(forged.leaf, merkle.leaf_hash(forged.leaf), forged.salt, forged.payload_json)]
    )
    store.commit()
    led.append([Record.create("file.update", "t", {"file": {"path": "/a"}}, time=now)])
    store.connection.execute("UPDATE records SET salt = NULL, payload = NULL WHERE seq = 1")
    with pytest.raises(VerificationError, match="names record 1, which is not earlier"):
        led.verify()
    led.close()

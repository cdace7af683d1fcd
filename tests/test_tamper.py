"""Tamper evidence: edit a ledger's SQLite file behind its back; `affidavit verify` must fail.

One ledger is built per module (37 records, checkpoints at 8, 16, 21, 32 and 37) and copied
for each test. Each test damages the copy with plain sqlite3, then runs the real CLI in a
subprocess and checks that it exits 1 and names the damaged record, subtree or checkpoint,
in its message and in the ``where`` field of ``--json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from affidavit import merkle
from affidavit.ledger import Ledger
from affidavit.note import Checkpoint, Signer, Verifier, open_checkpoint, sign_checkpoint
from affidavit.record import Envelope, Kind, Record, parse_time
from ledger_helpers import T0, Clock, affidavit, grow, key_of, new_ledger, raw

SIZES = [8, 16, 21, 32, 37]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    with new_ledger(folder) as ledger:
        grow(ledger, [8, 8])
    path = folder / "ledger.sqlite"
    saved = affidavit(path, "checkpoint", "--out", str(folder / "kept-16.txt"))
    assert saved.returncode == 0, saved.stderr
    with Ledger.open(path, key_path=key_of(path), clock=Clock()) as ledger:
        grow(ledger, [5, 11, 5])
        assert [s for s, _, _ in ledger.store.checkpoints()] == SIZES
    return folder


@pytest.fixture
def ledger_path(template: Path, tmp_path: Path) -> Path:
    for item in template.iterdir():
        if item.is_file():
            shutil.copy2(item, tmp_path / item.name)
    return tmp_path / "ledger.sqlite"


def assert_verifies(path: Path, *args: str) -> dict[str, object]:
    result = affidavit(path, "verify", "--json", *args)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    assert report["ok"] is True
    return report


def assert_detected(
    path: Path, where: str, *words: str, args: tuple[str, ...] = (), named: bool = True
) -> str:
    """`verify` and `verify --json` exit 1; ``where`` is reported, ``words`` are in the message.

    ``named``: the message itself names ``where`` (records, subtrees and checkpoints).
    Returns the message.
    """
    plain = affidavit(path, "verify", *args)
    assert plain.returncode == 1, (plain.stdout, plain.stderr)
    assert plain.stdout == ""
    assert plain.stderr.startswith("FAILED: ")
    message = plain.stderr.removeprefix("FAILED: ").strip()
    for word in (where, *words) if named else words:
        assert word in message, (word, message)

    as_json = affidavit(path, "verify", "--json", *args)
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report == {"ok": False, "where": where, "error": message}
    return message


def test_untouched_copy_verifies(ledger_path: Path) -> None:
    report = assert_verifies(ledger_path)
    assert (report["records"], report["checkpoints"], report["tree_size"]) == (37, 5, 37)
    assert (
        assert_verifies(ledger_path, "--from", str(ledger_path.parent / "kept-16.txt"))["from_size"]
        == 16
    )
    plain = affidavit(ledger_path, "verify")
    assert plain.returncode == 0 and plain.stdout.startswith("OK: 37 records")


# -- records --------------------------------------------------------------------------------


def leaf_of(path: Path, seq: int) -> bytes:
    with raw(path) as conn:
        leaf: bytes = conn.execute("SELECT leaf FROM records WHERE seq = ?", (seq,)).fetchone()[0]
    return leaf


def test_one_byte_of_a_leaf_changed(ledger_path: Path) -> None:
    leaf = bytearray(leaf_of(ledger_path, 12))
    at = leaf.index(b'"time":"') + 10
    leaf[at] ^= 0x01  # one digit of the year
    with raw(ledger_path) as conn:
        conn.execute("UPDATE records SET leaf = ? WHERE seq = 12", (bytes(leaf),))
    assert_detected(ledger_path, "record 12", "leaf bytes do not hash")


@pytest.mark.parametrize(
    ("seq", "where"),
    [
        (12, "subtree (level 1, index 6)"),
        # Record 36 is the lone leaf at the end of a tree of 37: no stored subtree covers
        # it, only the root signed in checkpoint 37.
        (36, "checkpoint 37"),
    ],
)
def test_a_leaf_changed_with_its_leaf_hash_recomputed(
    ledger_path: Path, seq: int, where: str
) -> None:
    leaf = leaf_of(ledger_path, seq).replace(b'"kind":"file.update"', b'"kind":"file.delete"')
    with raw(ledger_path) as conn:
        conn.execute(
            "UPDATE records SET leaf = ?, leaf_hash = ? WHERE seq = ?",
            (leaf, merkle.leaf_hash(leaf), seq),
        )
    assert_detected(ledger_path, where)


def test_one_payload_field_changed(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        (body,) = conn.execute("SELECT payload FROM records WHERE seq = 3").fetchone()
        assert b'"n":3' in body
        conn.execute(
            "UPDATE records SET payload = ? WHERE seq = 3", (body.replace(b'"n":3', b'"n":4'),)
        )
    assert_detected(ledger_path, "record 3", "commitment")


def test_a_salt_changed(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        conn.execute("UPDATE records SET salt = zeroblob(16) WHERE seq = 30")
    assert_detected(ledger_path, "record 30", "commitment")


def test_a_payload_nulled_without_an_erasure_record(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        conn.execute("UPDATE records SET payload = NULL, salt = NULL WHERE seq = 8")
    assert_detected(ledger_path, "record 8", "no erasure record names it")


def test_a_record_deleted(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        conn.execute("DELETE FROM records WHERE seq = 7")
    assert_detected(ledger_path, "record 7", "missing")


def test_the_last_record_deleted(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        conn.execute("DELETE FROM records WHERE seq = 36")
    assert_detected(ledger_path, "record 36", "records 36..36 are gone", named=False)


def test_two_records_swapped(ledger_path: Path) -> None:
    columns = "leaf, leaf_hash, salt, payload"
    with raw(ledger_path) as conn:
        six = conn.execute(f"SELECT {columns} FROM records WHERE seq = 6").fetchone()
        nine = conn.execute(f"SELECT {columns} FROM records WHERE seq = 9").fetchone()
        update = "UPDATE records SET leaf = ?, leaf_hash = ?, salt = ?, payload = ? WHERE seq = ?"
        conn.execute(update, (*nine, 6))
        conn.execute(update, (*six, 9))
    assert_detected(ledger_path, "subtree (level 1, index 3)", "records 6..7")


def test_a_record_inserted_in_the_middle(ledger_path: Path) -> None:
    forged = Record.create(Kind.FILE_DELETE, "test.suite", {"path": "alibi.txt"}, time=T0)
    with raw(ledger_path) as conn:
        conn.execute("UPDATE records SET seq = -seq - 1 WHERE seq >= 5")
        conn.execute("UPDATE records SET seq = -seq WHERE seq < 0")
        conn.execute(
            "INSERT INTO records VALUES (5, ?, ?, ?, ?)",
            (forged.leaf, merkle.leaf_hash(forged.leaf), forged.salt, forged.payload_json),
        )
        assert conn.execute("SELECT count(*), max(seq) FROM records").fetchone() == (38, 37)
    assert_detected(ledger_path, "subtree (level 1, index 2)", "records 4..5")


# -- tree and checkpoints -------------------------------------------------------------------


def test_a_stored_subtree_hash_changed(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        (old,) = conn.execute("SELECT hash FROM nodes WHERE level = 2 AND idx = 1").fetchone()
        conn.execute(
            "UPDATE nodes SET hash = ? WHERE level = 2 AND idx = 1",
            (bytes([old[0] ^ 0x80]) + old[1:],),
        )
    assert_detected(ledger_path, "subtree (level 2, index 1)", "records 4..7")


def test_a_stored_subtree_deleted(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        conn.execute("DELETE FROM nodes WHERE level = 3 AND idx = 2")
    assert_detected(ledger_path, "subtree (level 3, index 2)", "missing")


def origin_and_verifier(path: Path) -> tuple[str, Verifier]:
    with raw(path) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    return meta["origin"], Verifier.from_vkey(meta["vkey"])


def test_a_checkpoint_replaced_by_one_signed_with_another_key(ledger_path: Path) -> None:
    origin, verifier = origin_and_verifier(ledger_path)
    with raw(ledger_path) as conn:
        (note,) = conn.execute("SELECT note FROM checkpoints WHERE size = 21").fetchone()
        genuine = open_checkpoint(note, verifier)
        forged = sign_checkpoint(Checkpoint(origin, 21, genuine.root), Signer.generate(origin))
        conn.execute("UPDATE checkpoints SET note = ? WHERE size = 21", (forged,))
    assert_detected(ledger_path, "checkpoint 21", "no verifiable signatures")


def test_a_checkpoint_note_edited(ledger_path: Path) -> None:
    with raw(ledger_path) as conn:
        (note,) = conn.execute("SELECT note FROM checkpoints WHERE size = 16").fetchone()
        edited = note.replace("\n16\n", "\n15\n", 1)
        assert edited != note
        conn.execute("UPDATE checkpoints SET note = ? WHERE size = 16", (edited,))
    assert_detected(ledger_path, "checkpoint 16", "does not verify")


def test_a_checkpoint_whose_root_no_longer_matches(ledger_path: Path) -> None:
    # A validly signed checkpoint moved to another size: the signature holds, the root not.
    with raw(ledger_path) as conn:
        (note,) = conn.execute("SELECT note FROM checkpoints WHERE size = 16").fetchone()
        conn.execute("DELETE FROM checkpoints WHERE size = 21")
        conn.execute("UPDATE checkpoints SET note = ? WHERE size = 32", (note,))
    assert_detected(ledger_path, "checkpoint 32", "size 16")


# -- truncation and rewrites, against a checkpoint the verifier kept --------------------------


def truncate(path: Path, size: int) -> None:
    with raw(path) as conn:
        conn.execute("DELETE FROM records WHERE seq >= ?", (size,))
        conn.execute("DELETE FROM nodes WHERE (idx + 1) << level > ?", (size,))
        conn.execute("DELETE FROM checkpoints WHERE size > ?", (size,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'integrated'", (str(size),))


def test_the_tail_truncated(ledger_path: Path) -> None:
    kept = ledger_path.parent / "kept.txt"
    assert affidavit(ledger_path, "checkpoint", "--out", str(kept)).returncode == 0
    truncate(ledger_path, 30)
    # A clean truncation leaves a ledger that agrees with itself: only the kept checkpoint
    # can tell (the threat model's "against any checkpoint a verifier kept").
    assert assert_verifies(ledger_path)["tree_size"] == 21
    message = assert_detected(
        ledger_path, "kept checkpoint", "truncated", args=("--from", str(kept)), named=False
    )
    assert "kept a checkpoint of size 37" in message
    assert "latest is 21" in message


def rewrite_history(path: Path, seq: int) -> None:
    """Change one payload, make its envelope agree, and rebuild the whole log with the key.

    The forged record is made by the library, so its commitment, leaf and leaf hash are
    right; the tree and every checkpoint are then rebuilt at the same sizes as before.
    """
    with raw(path) as conn:
        rows = conn.execute(
            "SELECT leaf, leaf_hash, salt, payload FROM records ORDER BY seq"
        ).fetchall()
        conn.execute("DELETE FROM records")
        conn.execute("DELETE FROM nodes")
        conn.execute("DELETE FROM checkpoints")
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'integrated'")
    envelope = Envelope.from_leaf(rows[seq][0])
    payload = {**json.loads(rows[seq][3]), "path": "docs/innocent.txt"}
    forged = Record.create(envelope.kind, envelope.source, payload, time=parse_time(envelope.time))
    rows[seq] = (forged.leaf, merkle.leaf_hash(forged.leaf), forged.salt, forged.payload_json)
    with Ledger.open(path, key_path=key_of(path), clock=Clock()) as ledger:
        done = 0
        for size in SIZES:
            ledger.store.begin()
            ledger.store.add_records(rows[done:size])
            ledger.store.commit()
            ledger.seal()
            done = size


@pytest.mark.parametrize("kept_size", [16, 37])
def test_history_rewritten_and_resigned_with_the_same_key(
    ledger_path: Path, kept_size: int
) -> None:
    kept = ledger_path.parent / f"kept-{kept_size}.txt"
    if kept_size == 37:
        assert affidavit(ledger_path, "checkpoint", "--out", str(kept)).returncode == 0
    rewrite_history(ledger_path, 3)
    # Rebuilt with the real key, the ledger agrees with itself...
    assert assert_verifies(ledger_path)["tree_size"] == 37
    # ...but not with what the verifier kept.
    message = assert_detected(
        ledger_path,
        "kept checkpoint",
        "history was rewritten",
        f"(size {kept_size})",
        args=("--from", str(kept)),
        named=False,
    )
    assert "not consistent" in message


def test_the_ledger_key_replaced_and_every_checkpoint_resigned(ledger_path: Path) -> None:
    origin, verifier = origin_and_verifier(ledger_path)
    impostor = Signer.generate(origin)
    with raw(ledger_path) as conn:
        for size, note in conn.execute("SELECT size, note FROM checkpoints").fetchall():
            cp = open_checkpoint(note, verifier)
            conn.execute(
                "UPDATE checkpoints SET note = ? WHERE size = ?",
                (sign_checkpoint(cp, impostor), size),
            )
        conn.execute("UPDATE meta SET value = ? WHERE key = 'vkey'", (impostor.verifier().vkey(),))
    assert_verifies(ledger_path)
    kept = str(ledger_path.parent / "kept-16.txt")
    assert_detected(
        ledger_path,
        "kept checkpoint",
        "not signed by this ledger's key",
        args=("--from", kept),
        named=False,
    )
    assert_detected(
        ledger_path, "verifier key", "pinned", args=("--vkey", verifier.vkey()), named=False
    )


def test_an_erasure_records_own_payload_removed(ledger_path: Path) -> None:
    erased = affidavit(ledger_path, "erase", "1", "--reason", "request", "--yes", "--json")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout) == {"erased": [1], "erasure_seq": 37}
    assert affidavit(ledger_path, "seal").returncode == 0
    assert assert_verifies(ledger_path)["erased"] == 1
    with raw(ledger_path) as conn:
        conn.execute("UPDATE records SET payload = NULL, salt = NULL WHERE seq = 37")
    # An erasure must keep its payload: without it nothing says what it erased.
    assert_detected(ledger_path, "record 37", "erasure record without its payload")

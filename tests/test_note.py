"""Tests for affidavit.note: C2SP signed-note and tlog-checkpoint with Ed25519.

Ground truth is read in place from ../shared/vectors/: golang.org/x/mod note vectors, the
C2SP spec examples, a real Rekor v2 checkpoint, and a generated witness cosignature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit.errors import InputError, VerificationError
from affidavit.note import (
    MAX_SIGNATURES,
    Checkpoint,
    Note,
    SignatureLine,
    Signer,
    Verifier,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)
from conftest import shared_path

ROOT = hashlib.sha256(b"affidavit").digest()
LOG = Signer.from_seed("example.com/log", bytes(range(32)))
OTHER = Signer.from_seed("example.com/other", bytes(range(1, 33)))


def load(*parts: str) -> Any:
    return json.loads(shared_path("vectors", *parts).read_text(encoding="utf-8"))


@pytest.fixture
def golang() -> Any:
    return load("golang-mod", "note-vectors.json")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def checkpoint_note(origin: str = "example.com/log", size: int = 7) -> str:
    return sign_checkpoint(Checkpoint(origin, size, ROOT), LOG)


# golang.org/x/mod vectors: each item of its "expectations" list is a test below.


def test_sign_reproduces_golang_signed_note_byte_for_byte(golang: Any) -> None:
    signer = Signer.from_private_key_string(golang["signer_keys"]["PeterNeumann"])
    assert sign_note(golang["text"], [signer]) == golang["signed_note_peter"]


def test_golang_key_strings_round_trip(golang: Any) -> None:
    skey = golang["signer_keys"]["PeterNeumann"]
    signer = Signer.from_private_key_string(skey)
    assert signer.private_key_string() == skey
    assert signer.key_id.hex() == "c74f20a3"
    assert len(signer.seed) == 32 and len(signer.public_key) == 32
    assert signer.verifier().vkey() == golang["verifier_keys"]["PeterNeumann"]
    for vkey in golang["verifier_keys"].values():
        assert Verifier.from_vkey(vkey).vkey() == vkey


def test_open_verifies_known_key_and_keeps_unknown_line(golang: Any) -> None:
    peter, enoch = golang["signature_lines"]["PeterNeumann"], golang["signature_lines"]["EnochRoot"]
    note = golang["text"] + "\n" + peter + "\n" + enoch + "\n"
    peter_key = Verifier.from_vkey(golang["verifier_keys"]["PeterNeumann"])
    enoch_key = Verifier.from_vkey(golang["verifier_keys"]["EnochRoot"])

    opened = open_note(note, [peter_key])
    assert opened == Note(
        golang["text"],
        (peter_key,),
        (SignatureLine("EnochRoot", enoch_key.key_id, base64.b64decode(enoch.split()[2])[4:]),),
    )
    assert opened.unverified[0].line() == enoch + "\n"
    both = open_note(note.encode("utf-8"), [enoch_key, peter_key])
    assert both.verified == (peter_key, enoch_key)  # in line order
    assert both.unverified == ()
    with pytest.raises(VerificationError, match="note has no verifiable signatures"):
        open_note(note, [])


def test_more_than_100_signature_lines_is_malformed(golang: Any) -> None:
    peter_key = Verifier.from_vkey(golang["verifier_keys"]["PeterNeumann"])
    others = [SignatureLine(f"w{i}", b"\0\0\0\0", b"sig").line() for i in range(MAX_SIGNATURES)]
    head = golang["signed_note_peter"]
    assert len(open_note(head + "".join(others[:99]), [peter_key]).unverified) == 99
    with pytest.raises(InputError, match="101 signature lines"):
        open_note(head + "".join(others), [peter_key])


@pytest.mark.parametrize(
    "case",
    [
        "text only",
        "blank line, no signatures",
        "signature line without final newline",
        "leading 0x01",
        "leading 0xff",
        "key name with space",
        "key name with plus",
        "unexpected line after signatures",
    ],
)
def test_golang_malformed_notes(golang: Any, case: str) -> None:
    text, peter = golang["text"], golang["signature_lines"]["PeterNeumann"] + "\n"
    sig = peter.split()[2]
    note: str | bytes = {
        "text only": text,
        "blank line, no signatures": text + "\n",
        "signature line without final newline": text + "\n" + peter[:-1],
        "leading 0x01": "\x01" + text + "\n" + peter,
        "leading 0xff": b"\xff" + (text + "\n" + peter).encode("utf-8"),
        "key name with space": text + "\n— Bad Name " + sig + "\n",
        "key name with plus": text + "\n— Peter+Neumann " + sig + "\n",
        "unexpected line after signatures": text + "\n" + peter + "Unexpected line.\n",
    }[case]
    with pytest.raises(InputError):
        open_note(note, [Verifier.from_vkey(golang["verifier_keys"]["PeterNeumann"])])


def test_golang_invalid_vkeys_are_rejected(golang: Any) -> None:
    for vkey in golang["invalid_vkeys_must_reject"]:
        with pytest.raises(InputError, match="verifier key for 'PeterNeumann'"):
            Verifier.from_vkey(vkey)


def test_known_key_signing_twice_is_rejected_unknown_duplicates_kept_once(golang: Any) -> None:
    # Policy (see note.py): golang.org/x/mod accepts peter twice; we fail closed.
    text, lines = golang["text"], golang["signature_lines"]
    peter, enoch = lines["PeterNeumann"] + "\n", lines["EnochRoot"] + "\n"
    peter_key = Verifier.from_vkey(golang["verifier_keys"]["PeterNeumann"])
    with pytest.raises(VerificationError, match="signs the note twice") as info:
        open_note(text + "\n" + peter + peter, [peter_key])
    assert info.value.where == "line 5"
    enoch_abcd = enoch[:60] + "ABCD" + enoch[60:]
    opened = open_note(text + "\n" + peter + enoch + enoch + enoch_abcd, [peter_key])
    assert [u.line() for u in opened.unverified] == [enoch, enoch_abcd]


def test_sumdb_tree_note_body_parses(golang: Any) -> None:
    checkpoint = Checkpoint.parse_body(golang["sumdb_tree_note"]["text"])
    assert checkpoint.origin == "go.sum database tree"  # spaces: a SHOULD NOT, still parsed
    assert checkpoint.size == 123456789012
    assert checkpoint.root == hashlib.sha256(b"\x00hello world").digest()
    assert checkpoint.body() == golang["sumdb_tree_note"]["text"]


# C2SP spec examples, Rekor v2, and the generated cosignature.


def test_c2sp_signed_note_example_verifies() -> None:
    example = load("c2sp", "spec-examples.json")["signed_note_example"]
    verifier = Verifier.from_vkey(example["vkey"])
    opened = open_note(example["note"], [verifier])
    assert opened.text == "This is an example message.\n"
    assert opened.verified == (verifier,)


@pytest.mark.parametrize("name", ["checkpoint_example", "cosigned_checkpoint_example"])
def test_c2sp_checkpoint_examples_parse(name: str) -> None:
    note = load("c2sp", "spec-examples.json")[name]["note"]
    body = note[: note.rfind("\n\n") + 1]
    checkpoint = Checkpoint.parse_body(body)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert b64(checkpoint.root) == "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    assert checkpoint.extensions == ()
    # Well-formed, but no key was published: a same-named key with another id is ignored.
    stranger = Signer.from_seed("example.com/behind-the-sofa", bytes(32)).verifier()
    with pytest.raises(VerificationError, match="no verifiable signatures"):
        open_checkpoint(note, stranger)


def test_rekor_v2_checkpoint_verifies_and_vkey_derives() -> None:
    rekor = load("sigstore-python", "rekor-v2-checkpoint-and-inclusion.json")
    name = rekor["checkpoint_note"].split("\n")[0]
    derived = Verifier(name, base64.b64decode(rekor["log_public_key_raw_ed25519_b64"]))
    assert derived.vkey() == rekor["derived_vkey"]
    assert derived.key_id.hex() == rekor["key_id_full_sha256_hex"][:8]
    checkpoint = open_checkpoint(
        rekor["checkpoint_note"], Verifier.from_vkey(rekor["derived_vkey"])
    )
    assert checkpoint == Checkpoint(name, 646, base64.b64decode(rekor["root_hash_b64"]))
    assert checkpoint.size == rekor["tree_size"]


def test_witness_cosignature_is_ignored_not_an_error() -> None:
    cosig = load("generated", "cosignature-v1-ed25519.json")
    note = sign_note(cosig["checkpoint_body"], [LOG]) + cosig["signature_line"] + "\n"
    assert open_checkpoint(note, LOG.verifier()).body() == cosig["checkpoint_body"]
    # Same name and key as the witness, but type 0x01: a different key id, so ignored.
    witness = Verifier(cosig["cosigner_name"], bytes.fromhex(cosig["cosigner_public_key_hex"]))
    opened = open_note(note, [LOG.verifier(), witness])
    assert opened.verified == (LOG.verifier(),)
    (line,) = opened.unverified
    assert line.key_id.hex() == cosig["key_id_hex"] != witness.key_id.hex()
    assert len(line.signature) == 8 + 64  # timestamp || signature


# Malformed notes and signatures.


def test_every_truncation_is_malformed() -> None:
    note = checkpoint_note()
    for cut in range(len(note)):
        with pytest.raises(InputError):
            open_note(note[:cut], [LOG.verifier()])


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("o\n1\nroot\n— example.com/log AAAAAAA=\n", "no blank line"),
        ("text\n\n— a AAAAAAA=\n\n", "no signature lines"),
        ("text\r\n\n— a AAAAAAA=\n", "U\\+000D \\(line 1\\)"),
        ("text\n\ttab\n\n— a AAAAAAA=\n", "U\\+0009 \\(line 2\\)"),
        ("text\n\n— a AAAAAAA=\n\x00", "U\\+0000 \\(line 4\\)"),
        ("te\udcffxt\n\n— a AAAAAAA=\n", "not valid UTF-8"),
        (b"text\n\n\xe2\x80\x94 a\xc0\xaf AAAAAAA=\n", "not valid UTF-8 \\(line 3\\)"),
        ("text\n\n- a AAAAAAA=\n", "line 3: a signature line starts with an em dash"),
        ("text\n\n—a AAAAAAA=\n", "line 3: a signature line starts with an em dash"),
        ("text\n\n— a\n", "line 3: no signature after the key name"),
        ("text\n\n—  AAAAAAA=\n", "line 3: key name is empty"),
        ("text\n\n— a AAAA AAA=\n", "line 3: signature is not valid base64"),
        ("text\n\n— a AAAAAAA\n", "line 3: signature is not valid base64"),
        ("text\n\n— a AAAAAAB=\n", "line 3: signature is not canonical base64"),
        ("text\n\n— a AAAAAAA==\n", "line 3: signature is not"),
        ("text\n\n— a AAAAAA==\n", "line 3: a signature needs a 4-byte key id"),
        ("text\n\n— a\u00a0b AAAAAAA=\n", "line 3: .*contains a space"),
    ],
)
def test_malformed_note(note: str | bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        open_note(note, [LOG.verifier()])


def test_bad_signature_from_known_key_rejects_whole_note() -> None:
    note = checkpoint_note()
    line = note.split("\n")[4]
    raw = bytearray(base64.b64decode(line.split()[2]))
    raw[10] ^= 1
    forged = note.replace(line, f"— {LOG.name} {b64(bytes(raw))}")
    with pytest.raises(VerificationError, match=r"line 5: signature by .* does not verify") as info:
        open_note(forged, [LOG.verifier(), OTHER.verifier()])
    assert info.value.where == "line 5"
    short = note.replace(line, f"— {LOG.name} {b64(bytes(raw[:-1]))}")
    with pytest.raises(VerificationError, match="does not verify"):
        open_note(short, [LOG.verifier()])


def test_name_or_key_id_alone_does_not_make_a_key_known() -> None:
    note = checkpoint_note()
    same_name = Signer.from_seed(LOG.name, bytes(32)).verifier()
    assert same_name.key_id != LOG.key_id
    with pytest.raises(VerificationError, match="no verifiable signatures"):
        open_note(note, [same_name])
    renamed = note.replace(f"— {LOG.name} ", "— example.com/renamed ")
    with pytest.raises(VerificationError, match="no verifiable signatures"):
        open_note(renamed, [LOG.verifier()])


def test_extra_signatures_all_verified_in_order() -> None:
    note = sign_note("hello\n\nworld\n", [LOG, OTHER])
    opened = open_note(note, [OTHER.verifier(), LOG.verifier()])
    assert opened.text == "hello\n\nworld\n"  # empty lines in the text are allowed
    assert opened.verified == (LOG.verifier(), OTHER.verifier())
    assert open_note(note, [OTHER.verifier()]).unverified[0].name == LOG.name


@pytest.mark.parametrize(
    ("text", "signers", "message"),
    [
        ("no newline", [LOG], "must end with a newline"),
        ("tab\there\n", [LOG], "U\\+0009"),
        ("surrogate \udc80\n", [LOG], "not valid UTF-8"),
        ("x\n", [], "needs 1 to 100 signers, not 0"),
        ("x\n", [LOG] * 101, "not 101"),
        ("x\n", [LOG, OTHER, LOG], "the same key is given twice"),
    ],
)
def test_sign_note_rejects_bad_input(text: str, signers: list[Signer], message: str) -> None:
    with pytest.raises(InputError, match=message):
        sign_note(text, signers)


# Checkpoints.


def test_checkpoint_body_is_exactly_three_lines() -> None:
    assert Checkpoint("example.com/log", 0, ROOT).body() == f"example.com/log\n0\n{b64(ROOT)}\n"
    assert checkpoint_note(size=0).startswith(f"example.com/log\n0\n{b64(ROOT)}\n\n— ")


@pytest.mark.parametrize("size", ["0", "1", "10", "9223372036854775807"])
def test_checkpoint_size_accepted(size: str) -> None:
    assert Checkpoint.parse_body(f"o\n{size}\n{b64(ROOT)}\n").size == int(size)


@pytest.mark.parametrize(
    "size",
    ["9223372036854775808", "9" * 5000, "00", "01", "-1", "+1", " 1", "1 ", "1.0", "0x1", "١"],
)
def test_checkpoint_size_rejected(size: str) -> None:
    with pytest.raises(InputError, match="checkpoint line 2: tree size"):
        Checkpoint.parse_body(f"o\n{size}\n{b64(ROOT)}\n")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("o\n1\n", "has 2 lines"),
        ("o\n1\n" + b64(ROOT), "does not end with a newline"),
        ("\n1\n" + b64(ROOT) + "\n", "line 1 is empty"),
        ("o\n1\n" + b64(ROOT) + "\n\next\n", "line 4 is empty"),
        ("o\n1\n" + b64(ROOT[:31]) + "\n", "root hash is 31 bytes"),
        ("o\n1\n" + b64(ROOT + b"\0") + "\n", "root hash is 33 bytes"),
        ("o\n1\n" + b64(ROOT)[:-2] + "B=\n", "root hash is not canonical base64"),
        ("o\n1\n" + b64(ROOT).replace("=", "") + "\n", "root hash is not valid base64"),
        ("o\x7f\x1b\n1\n" + b64(ROOT) + "\n", "U\\+001B"),
    ],
)
def test_checkpoint_body_rejected(body: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Checkpoint.parse_body(body)


def test_extension_lines_are_parsed_kept_and_never_signed() -> None:
    body = f"o\n5\n{b64(ROOT)}\nfirst ext\nsecond\n"
    checkpoint = Checkpoint.parse_body(body)
    assert checkpoint.extensions == ("first ext", "second")
    assert checkpoint.body() == body
    with pytest.raises(InputError, match="extension lines"):
        sign_checkpoint(Checkpoint("o", 5, ROOT, ("ext",)), Signer.from_seed("o", bytes(32)))


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", 2**63, ROOT, ()),
        ("o", 1, ROOT[:16], ()),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("a\nb",)),
    ],
)
def test_checkpoint_rejects_invalid_values(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(InputError):
        Checkpoint(origin, size, root, extensions)


def test_wrong_origin() -> None:
    with pytest.raises(InputError, match="is not the signer's name"):
        sign_checkpoint(Checkpoint("example.com/elsewhere", 1, ROOT), LOG)
    # A valid signature by the log key over another origin: key reused across logs.
    note = sign_note(Checkpoint("example.com/elsewhere", 1, ROOT).body(), [LOG])
    with pytest.raises(VerificationError, match=r"origin 'example\.com/elsewhere'") as info:
        open_checkpoint(note, LOG.verifier())
    assert info.value.where == "origin"


def test_open_checkpoint_rejects_other_key_and_bad_body() -> None:
    with pytest.raises(VerificationError, match="no verifiable signatures"):
        open_checkpoint(checkpoint_note(), OTHER.verifier())
    with pytest.raises(InputError, match="checkpoint line 2"):
        open_checkpoint(sign_note(f"{LOG.name}\nx\n{b64(ROOT)}\n", [LOG]), LOG.verifier())


# Keys.


def test_generated_signer_round_trips_and_signs() -> None:
    signer = Signer.generate("example.com/fresh")
    assert len(signer.seed) == 32 and len(signer.key_id) == 4
    assert Signer.from_private_key_string(signer.private_key_string()) == signer
    assert Verifier.from_vkey(signer.verifier().vkey()) == signer.verifier()
    assert Signer.generate("example.com/fresh") != signer
    signature = signer.sign(b"message")
    assert len(signature) == 64
    signer.verifier().verify(b"message", signature)
    for message, sig in [(b"messagf", signature), (b"message", signature[:63]), (b"message", b"")]:
        with pytest.raises(VerificationError):
            signer.verifier().verify(message, sig)
    assert "seed" not in repr(signer) and signer.seed.hex() not in repr(signer)
    assert pickle.loads(pickle.dumps(signer.verifier())) == signer.verifier()  # plain values


def test_invalid_public_key_point_fails_verification_cleanly() -> None:
    for key in (b"\xff" * 32, bytes(32)):
        with pytest.raises(VerificationError, match="does not verify"):
            Verifier("example.com/odd", key).verify(b"message", LOG.sign(b"message"))


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb", "a\tb", "a\u2003b", "a\udc80"])
def test_invalid_key_names_rejected(name: str) -> None:
    with pytest.raises(InputError):
        Signer.from_seed(name, bytes(32))
    with pytest.raises(InputError):
        Verifier(name, LOG.public_key)


def test_seed_and_public_key_lengths() -> None:
    with pytest.raises(InputError, match="32 bytes, not 31"):
        Signer.from_seed("a", bytes(31))
    with pytest.raises(InputError, match="32 bytes, not 33"):
        Verifier("a", bytes(33))


def vkey_with(name: str = "example.com/log", key_id: str | None = None, key: bytes = b"") -> str:
    key = key or bytes([1]) + LOG.public_key
    return f"{name}+{key_id if key_id is not None else LOG.key_id.hex()}+{b64(key)}"


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        (vkey_with(key_id="00000000"), "key id does not match the key \\(whose id is "),
        (vkey_with(key=bytes([4]) + LOG.public_key), "type byte is 0x04"),
        (vkey_with(key=bytes([1]) + LOG.public_key[:31]), "is 31 bytes, not 32"),
        (vkey_with(key=bytes([1]) + LOG.public_key + b"\0"), "is 33 bytes, not 32"),
        (vkey_with(key=b"\x00"), "type byte is 0x00"),
        (vkey_with()[:-1] + "!", "not valid base64"),
        (vkey_with()[:-1], "not valid base64"),
        (vkey_with(key_id="c74f20a"), "not 8 hex digits"),
        (vkey_with(key_id="c74f20a3z"), "not 8 hex digits"),
        (vkey_with(key_id=" c74f20a"), "not 8 hex digits"),
        (vkey_with(name="a b"), "contains a space"),
        (vkey_with(name="a\nb"), "contains a space"),
        (vkey_with(name=""), "is empty"),
        ("example.com/log+" + LOG.key_id.hex(), "is not of the form"),
        ("", "is not of the form"),
    ],
)
def test_from_vkey_is_strict(vkey: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Verifier.from_vkey(vkey)


def test_from_vkey_accepts_uppercase_key_id_as_golang_does() -> None:
    assert Verifier.from_vkey(vkey_with(key_id=LOG.key_id.hex().upper())) == LOG.verifier()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda s: s.replace("PRIVATE+KEY", "PRIVATE+KEX"), "is not of the form"),
        (lambda s: s.split("+", 2)[2], "is not of the form"),
        (
            lambda s: s.replace(LOG.key_id.hex(), "00000000"),
            "key id does not match the key \\(whose id is ",
        ),
        (lambda s: s[:-44] + b64(b"\x04" + LOG.seed), "type byte is 0x04"),
        (lambda s: s + "\n", "not valid base64"),
        (lambda s: s.replace("example.com/log", "AYEK FAL"), "the name is not a valid key name"),
    ],
)
def test_private_key_string_is_strict_and_never_echoes_the_seed(
    tamper: Callable[[str], str], message: str
) -> None:
    text = tamper(LOG.private_key_string())
    with pytest.raises(InputError, match=message) as info:
        Signer.from_private_key_string(text)
    for shown in (str(info.value), str(info.value.__cause__ or "")):
        assert b64(b"\x01" + LOG.seed)[:8] not in shown and "AYEK" not in shown


# Properties.

names = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="+"),
    min_size=1,
    max_size=40,
).filter(lambda s: not any(c.isspace() for c in s))
checkpoints = st.builds(
    Checkpoint,
    origin=names,
    size=st.integers(min_value=0, max_value=2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
)
seeds = st.binary(min_size=32, max_size=32)


@given(checkpoints, seeds)
def test_sign_then_open_checkpoint_round_trips(checkpoint: Checkpoint, seed: bytes) -> None:
    signer = Signer.from_seed(checkpoint.origin, seed)
    note = sign_checkpoint(checkpoint, signer)
    assert open_checkpoint(note, signer.verifier()) == checkpoint
    assert open_checkpoint(note.encode("utf-8"), signer.verifier()) == checkpoint
    assert Checkpoint.parse_body(checkpoint.body()) == checkpoint
    assert Verifier.from_vkey(signer.verifier().vkey()) == signer.verifier()
    assert Signer.from_private_key_string(signer.private_key_string()) == signer


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\n")))
def test_sign_then_open_note_round_trips(body: str) -> None:
    text = body + "\n"
    assert open_note(sign_note(text, [LOG]), [LOG.verifier()]).text == text


@given(checkpoints, st.data())
def test_any_flipped_byte_fails_to_open(checkpoint: Checkpoint, data: st.DataObject) -> None:
    signer = Signer.from_seed(checkpoint.origin, bytes(32))
    note = bytearray(sign_checkpoint(checkpoint, signer).encode("utf-8"))
    index = data.draw(st.integers(min_value=0, max_value=len(note) - 1), label="index")
    note[index] ^= data.draw(st.integers(min_value=1, max_value=255), label="mask")
    with pytest.raises((VerificationError, InputError)):
        open_checkpoint(bytes(note), signer.verifier())


def test_every_single_byte_change_of_a_checkpoint_fails_to_open() -> None:
    # Exhaustive, because Hypothesis rarely hits the pad bits of the last base64 character,
    # the one change that only canonical-base64 checking catches.
    note = checkpoint_note().encode("utf-8")
    for index in range(len(note)):
        for mask in range(1, 256):
            changed = bytearray(note)
            changed[index] ^= mask
            with pytest.raises((VerificationError, InputError)):
                open_checkpoint(bytes(changed), LOG.verifier())

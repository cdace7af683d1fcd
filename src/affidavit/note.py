"""C2SP signed notes and transparency-log checkpoints, signed with Ed25519.

Implements:

* c2sp.org/signed-note v1.0.0: the note format ("Format"), signature lines and key IDs
  ("Signatures"), and signature type 0x01 ("Ed25519 signatures"), via ``cryptography``.
* c2sp.org/tlog-checkpoint v1.0.0: the checkpoint note text ("Note text") and the log's
  key name matching the origin ("Signatures").
* The golang.org/x/mod/sumdb/note key strings (not part of C2SP): verifier keys
  ``<name>+<hex key id>+base64(0x01 || public key)`` and private keys
  ``PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || seed)``, the form of the key file.

Policy where the specs leave room:

* At most 100 signature lines per note (golang.org/x/mod's limit; the spec asks for 16).
* Base64 must be canonical (RFC 4648 section 4, padded, zero pad bits): a note has one
  encoding, so changing any byte of a signed note changes what it says or fails to parse.
* A known key (name AND key id match) that signs a note twice is a VerificationError, even
  when the lines are identical; golang.org/x/mod silently keeps the first, which leaves the
  second unchecked. Identical lines from unknown keys are kept once, as golang.org/x/mod does.
* ``open_checkpoint`` requires the origin to equal the verifier's key name (the spec's
  SHOULD, enforced), and ignores other signatures (witness cosignatures, rotated keys).
* Extension lines are parsed and kept in ``Checkpoint.extensions``; ``sign_checkpoint``
  refuses them (the spec calls them NOT RECOMMENDED, and Affidavit never needs them).

Errors: InputError for malformed text or keys, VerificationError when a signature or the
origin does not hold. Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from affidavit.errors import InputError, VerificationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ED25519 = 0x01
"""signed-note signature type byte for Ed25519."""
MAX_SIGNATURES = 100
"""Most signature lines a note may carry (golang.org/x/mod's limit)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")  # [0-9], not \d: \d also matches non-ASCII digits


class NoteSigner(Protocol):
    """What signing a note needs: a key name, its key id, and signatures.

    :class:`Signer` holds the private key in memory; :class:`affidavit.keys.FileSigner`
    reads a key file on first use; a recorder service can hold the key in another account.
    """

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...

    def verifier(self) -> Verifier: ...


@dataclass(frozen=True, slots=True)
class Signer:
    """A named Ed25519 private key; ``seed`` is the 32-byte RFC 8032 private key."""

    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "signer name")
        if len(self.seed) != 32:
            raise InputError(f"an Ed25519 seed is 32 bytes, not {len(self.seed)}")

    @classmethod
    def generate(cls, name: str) -> Signer:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        return cls(name, seed)

    @classmethod
    def from_private_key_string(cls, text: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key id>+base64(0x01 || seed)``, exactly.

        Messages never quote ``text``: it holds the secret.
        """
        parts = text.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InputError("private key is not of the form PRIVATE+KEY+<name>+<key id>+<key>")
        try:
            _check_name(parts[2], "name")
        except InputError:
            raise InputError("private key: the name is not a valid key name") from None
        signer = cls(parts[2], _parse_typed_key(parts[3], parts[4], "private key"))
        _check_key_id(parts[3], signer.key_id, "private key")
        return signer

    def private_key_string(self) -> str:
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{_b64(bytes([ED25519]) + self.seed)}"

    @property
    def public_key(self) -> bytes:
        return _private(self.seed).public_key().public_bytes_raw()

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.public_key)

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return _private(self.seed).sign(message)


@dataclass(frozen=True, slots=True)
class Verifier:
    """A named Ed25519 public key; ``key_id`` is derived, as signed-note recommends."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "verifier name")
        if len(self.public_key) != 32:
            raise InputError(f"an Ed25519 public key is 32 bytes, not {len(self.public_key)}")
        object.__setattr__(self, "key_id", _key_id(self.name, self.public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key id>+base64(0x01 || 32-byte key)``, checking the key id."""
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise InputError(f"verifier key {vkey[:80]!r} is not of the form <name>+<id>+<key>")
        what = f"verifier key for {parts[0][:80]!r}"
        verifier = cls(parts[0], _parse_typed_key(parts[1], parts[2], what))
        _check_key_id(parts[1], verifier.key_id, what)
        return verifier

    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{_b64(bytes([ED25519]) + self.public_key)}"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Return None if ``signature`` is this key's over ``message``, else raise."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            if len(signature) != 64:
                raise InvalidSignature
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature as e:
            raise VerificationError(f"signature by {self.vkey()} does not verify") from e


def _private(seed: bytes) -> Ed25519PrivateKey:
    # cryptography is imported on first use (signing, a new key, a signature check):
    # commands that only read the ledger (status, prove, log) never need it, and it was a
    # large part of their start-up.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True, slots=True)
class SignatureLine:
    """One signature line, ``— <name> base64(key id || signature)``."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_name(self.name, "key name")
        if len(self.key_id) != 4 or not self.signature:
            raise InputError("a signature needs a 4-byte key id and at least one byte")

    def line(self) -> str:
        """The line as it appears in a note, final newline included."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text, the known keys that signed it, and the other lines."""

    text: str
    verified: tuple[Verifier, ...]
    unverified: tuple[SignatureLine, ...]


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (ending in a newline) with each signer, in order; return the note."""
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise InputError("note text must end with a newline")
    if not 0 < len(signers) <= MAX_SIGNATURES:
        raise InputError(f"a note needs 1 to {MAX_SIGNATURES} signers, not {len(signers)}")
    if len({(s.name, s.key_id) for s in signers}) != len(signers):
        raise InputError("the same key is given twice; open_note rejects a key signing twice")
    message = text.encode("utf-8")
    lines = [SignatureLine(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return text + "\n" + "".join(lines)


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> Note:
    """Parse ``note`` and verify every signature by a known key (name and key id).

    Raises InputError if the note is malformed, VerificationError if a known key's
    signature fails, a known key signs twice, or no known key signed.
    """
    text, lines, first = _split_note(note)
    known: dict[tuple[str, bytes], Verifier] = {}
    for v in verifiers:
        if known.setdefault((v.name, v.key_id), v) != v:
            raise InputError(f"two different verifier keys share name and key id {v.vkey()}")
    message = text.encode("utf-8")
    verified: list[Verifier] = []
    unverified: list[SignatureLine] = []
    for number, raw in enumerate(lines, start=first):
        sig = _parse_signature_line(raw, number)
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        where = f"line {number}"
        if verifier in verified:
            raise VerificationError(f"{where}: {verifier.vkey()} signs the note twice", where=where)
        try:
            verifier.verify(message, sig.signature)
        except VerificationError as e:
            raise VerificationError(f"{where}: {e}; the note is rejected", where=where) from e
        verified.append(verifier)
    if not verified:
        raise VerificationError(
            f"note has no verifiable signatures: none of its {len(lines)} signature lines is"
            " by a known key (same name and key id); check the verifier key"
        )
    return Note(text, tuple(verified), tuple(unverified))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, RFC 6962 root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for number, line in enumerate((self.origin, *self.extensions), start=1):
            _check_text(line, "checkpoint line")
            if not line or "\n" in line:
                raise InputError(f"checkpoint line {number} must be one non-empty line")
        if not 0 <= self.size < 2**63:
            raise InputError(f"checkpoint tree size {self.size} is not in [0, 2**63)")
        if len(self.root) != 32:
            raise InputError(f"checkpoint root hash is {len(self.root)} bytes, not 32")

    def body(self) -> str:
        """The note text: origin, size, base64 root, then any extension lines."""
        return "\n".join((self.origin, str(self.size), _b64(self.root), *self.extensions)) + "\n"

    @classmethod
    def parse_body(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text strictly (tlog-checkpoint "Note text")."""
        _check_text(text, "checkpoint")
        if not text.endswith("\n"):
            raise InputError("checkpoint text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise InputError(f"checkpoint has {len(lines)} lines; needs origin, size and root")
        for number, line in enumerate(lines, start=1):
            if not line:
                raise InputError(f"checkpoint line {number} is empty")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size) or int(size) >= 2**63:
            raise InputError(
                f"checkpoint line 2: tree size {size[:30]!r} is not a decimal below 2**63"
                " without sign or leading zeros"
            )
        root_hash = _b64decode(root, "checkpoint line 3: root hash")
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner) -> str:
    """The signed checkpoint note; the signer's name must be the origin."""
    if cp.extensions:
        raise InputError("Affidavit does not sign checkpoints with extension lines")
    if cp.origin != signer.name:
        raise InputError(
            f"checkpoint origin {cp.origin!r} is not the signer's name {signer.name!r}"
        )
    return sign_note(cp.body(), [signer])


def open_checkpoint(note: str | bytes, verifier: Verifier) -> Checkpoint:
    """Verify a checkpoint note signed by ``verifier`` whose origin is ``verifier.name``."""
    checkpoint = Checkpoint.parse_body(open_note(note, [verifier]).text)
    if checkpoint.origin != verifier.name:
        raise VerificationError(
            f"checkpoint origin {checkpoint.origin!r} is not the log key name {verifier.name!r}",
            where="origin",
        )
    return checkpoint


def _split_note(note: str | bytes) -> tuple[str, list[str], int]:
    """The text, the signature lines, and the line number of the first one."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as e:
            line = e.object.count(b"\n", 0, e.start) + 1
            raise InputError(f"note is not valid UTF-8 (line {line})") from e
    _check_text(note, "note")
    if not note.endswith("\n"):
        raise InputError("note does not end with a newline; is it truncated?")
    split = note.rfind("\n\n")  # the last blank line ends the text (signed-note "Format")
    if split < 0:
        raise InputError("note has no blank line between its text and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise InputError("note has no signature lines after its last blank line")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InputError(f"note has {len(lines)} signature lines; at most {MAX_SIGNATURES}")
    return text, lines, text.count("\n") + 2


def _parse_signature_line(raw: str, number: int) -> SignatureLine:
    if not raw.startswith(_SIG_PREFIX):
        raise InputError(f"line {number}: a signature line starts with an em dash and a space")
    name, space, encoded = raw[len(_SIG_PREFIX) :].partition(" ")
    try:
        if not space:
            raise InputError("no signature after the key name")
        signature = _b64decode(encoded, "signature")
        return SignatureLine(name, signature[:4], signature[4:])
    except InputError as e:
        raise InputError(f"line {number}: {e}") from e


def _parse_typed_key(key_id: str, encoded: str, what: str) -> bytes:
    """The 32 key bytes of ``base64(0x01 || key)``; messages quote neither argument."""
    if not _HEX8.fullmatch(key_id):
        raise InputError(f"{what}: key id is not 8 hex digits")
    raw = _b64decode(encoded, what)
    if not raw or raw[0] != ED25519:
        kind = f"0x{raw[0]:02x}" if raw else "missing"
        raise InputError(f"{what}: type byte is {kind}, not 0x01 (Ed25519)")
    if len(raw) != 33:
        raise InputError(f"{what}: Ed25519 key is {len(raw) - 1} bytes, not 32")
    return raw[1:]


def _check_key_id(written: str, derived: bytes, what: str) -> None:
    if written.lower() != derived.hex():
        raise InputError(f"{what}: key id does not match the key (whose id is {derived.hex()})")


def _key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4] (signed-note "Ed25519 signatures")."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def _check_name(name: str, what: str) -> None:
    """signed-note: non-empty, no Unicode spaces, no '+'; in a note, also no controls."""
    _check_text(name, what)
    if not name:
        raise InputError(f"{what} is empty")
    if any(c == "+" or c.isspace() for c in name):
        raise InputError(f"{what} {name[:80]!r} contains a space or '+'")


def _check_text(text: str, what: str) -> None:
    """signed-note "Format": valid UTF-8, no ASCII control characters but newline."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        line = text.count("\n", 0, e.start) + 1
        raise InputError(f"{what} is not valid UTF-8 (line {line})") from e
    control = _CONTROL.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        code = ord(control.group())
        raise InputError(f"{what} contains control character U+{code:04X} (line {line})")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:  # binascii.Error, or non-ASCII text
        raise InputError(f"{what} is not valid base64") from e
    if _b64(raw) != text:
        raise InputError(f"{what} is not canonical base64")
    return raw

"""Witness cosignatures: C2SP ``tlog-cosignature`` v1.0, the Ed25519 ``cosignature/v1`` type.

A cosignature is a signed-note signature line ``— <name> base64(key id || timestamp ||
signature)`` whose key id is ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``, whose
``timestamp`` is a big-endian u64 of POSIX seconds, and whose Ed25519 signature covers::

    cosignature/v1
    time <timestamp>
    <the checkpoint's note body, final newline included>

A cosigner's public key is written as a vkey with signature type 0x04. The signer is passed
in (anything with ``sign`` and ``public_key``); the clock too, as a timestamp. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from typing import Protocol

from affidavit.errors import InputError, VerificationError

COSIGNATURE_V1 = 0x04
_MAX_TIME = 2**63 - 1


class RawSigner(Protocol):
    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Cosigner:
    """A witness's public identity: its name and Ed25519 public key."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        data = self.name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + self.public_key
        return hashlib.sha256(data).digest()[:4]

    def vkey(self) -> str:
        typed = base64.b64encode(bytes([COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{typed}"

    @classmethod
    def from_vkey(cls, vkey: str) -> Cosigner:
        """Parse ``<name>+<hex key id>+base64(0x04 || key)``, checking the key id."""
        parts = vkey.strip().split("+", 2)
        where = f"cosigner key {vkey[:80]!r}"
        if len(parts) != 3 or not parts[0]:
            raise InputError(f"{where} is not of the form <name>+<key id>+<key>")
        try:
            typed = base64.b64decode(parts[2], validate=True)
        except ValueError as e:
            raise InputError(f"{where}: the key is not base64") from e
        if len(typed) != 33 or typed[0] != COSIGNATURE_V1:
            raise InputError(f"{where}: not an Ed25519 cosignature/v1 key (type 0x04)")
        cosigner = cls(parts[0], typed[1:])
        if cosigner.key_id.hex() != parts[1].lower():
            raise InputError(f"{where}: its key id does not match its name and key")
        return cosigner


def signed_message(body: str, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signs over a checkpoint's note body."""
    if not body.endswith("\n"):
        raise InputError("a checkpoint body ends with a newline")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, signer: RawSigner, timestamp: int) -> str:
    """The signature line (no newline) by which ``name`` cosigns the checkpoint ``body``."""
    if not 0 <= timestamp <= _MAX_TIME:
        raise InputError(f"cosignature time {timestamp} is out of range")
    cosigner = Cosigner(name, signer.public_key)
    signature = signer.sign(signed_message(body, timestamp))
    blob = cosigner.key_id + struct.pack(">Q", timestamp) + signature
    return f"\u2014 {name} {base64.b64encode(blob).decode()}"


def verify_cosignature(line: str, body: str, cosigner: Cosigner) -> int:
    """Check one cosignature line by ``cosigner`` over ``body``; returns its timestamp."""
    where = f"cosignature by {cosigner.name}"
    prefix = f"\u2014 {cosigner.name} "
    if not line.startswith(prefix):
        raise VerificationError(f"{where}: the line is not signed by that name", where=where)
    try:
        blob = base64.b64decode(line[len(prefix) :].strip(), validate=True)
    except ValueError as e:
        raise VerificationError(f"{where}: the signature is not base64", where=where) from e
    if len(blob) != 4 + 8 + 64 or blob[:4] != cosigner.key_id:
        raise VerificationError(f"{where}: not a cosignature/v1 by this key", where=where)
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    if timestamp > _MAX_TIME:
        raise VerificationError(f"{where}: its time is out of range", where=where)
    # Here, not at the top: `affidavit status` loads this module (through the shipping
    # state) and checks no signature.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(cosigner.public_key).verify(
            blob[12:], signed_message(body, timestamp)
        )
    except InvalidSignature as e:
        raise VerificationError(f"{where}: the signature does not verify", where=where) from e
    return int(timestamp)

"""Every error Affidavit raises on purpose.

The hierarchy, with the CLI exit code each maps to (see the README's "Exit codes")::

    AffidavitError                 root; anything else escaping is a bug
    ├── InputError            (2)  malformed input: JSON Lines, a note, a proof, a key, a path
    ├── LedgerError           (2)  the ledger cannot be used as asked
    │   ├── LedgerNotFoundError    no ledger at that path (run `affidavit init`)
    │   ├── LedgerExistsError      `init` would overwrite a ledger
    │   ├── LedgerCorruptError     the store is not a readable Affidavit ledger
    │   └── AccessRefusedError     this account may not sign or write (the service's job)
    └── VerificationError     (1)  a check failed: the evidence does not hold
        └── ConsistencyError       two checkpoints do not describe one growing log

Errors carry their evidence as attributes and say what to do next in their message.
"""

from __future__ import annotations


class AffidavitError(Exception):
    """Root of every error Affidavit raises on purpose."""


class InputError(AffidavitError):
    """Input that is not what it must be; the message names the place (file, line, field)."""


class LedgerError(AffidavitError):
    """The ledger cannot be used as asked."""


class LedgerNotFoundError(LedgerError):
    """No ledger exists at the given path."""


class LedgerExistsError(LedgerError):
    """A ledger already exists where one was to be created."""


class LedgerCorruptError(LedgerError):
    """The store exists but is not a readable Affidavit ledger."""


class AccessRefusedError(LedgerError):
    """This account cannot read the signing key or write the ledger: they belong to the
    recorder service's account (``affidavit service``), which signs and writes for it."""


class VerificationError(AffidavitError):
    """A proof, signature, hash or commitment does not verify.

    ``where`` names the first failing item (``"record 17"``, ``"checkpoint 4096"``...),
    so a caller can report it without parsing the message.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


class ConsistencyError(VerificationError):
    """Two tree states are not consistent: the log was truncated or rewritten.

    Holds both sides and the proof that failed, so the evidence can be shown to a third party.
    """

    def __init__(
        self,
        message: str,
        *,
        size1: int,
        size2: int,
        root1: bytes,
        root2: bytes,
        proof: tuple[bytes, ...] = (),
        where: str | None = None,
    ) -> None:
        super().__init__(message, where=where)
        self.size1 = size1
        self.size2 = size2
        self.root1 = root1
        self.root2 = root2
        self.proof = proof

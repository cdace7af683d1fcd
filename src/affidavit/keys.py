"""Signing keys on disk: the file signer a ledger is given, and the 0600 key file.

The ledger never reads a key itself: it is handed a :class:`~affidavit.note.NoteSigner`
(``Ledger(store, signer=...)``). :class:`FileSigner` is the one for a key file beside the
ledger, read only when something is signed, so commands that never sign (``log``,
``verify``) never touch the key. A recorder service holding the key under its own account
passes its own signer instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from affidavit.errors import AccessRefusedError, LedgerError
from affidavit.files import write_atomically
from affidavit.note import Signer, Verifier


def write_key_file(path: Path, signer: Signer) -> None:
    """Write the signing key with mode 0600 (folder 0700), durably; never over an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        write_atomically(path, signer.private_key_string() + "\n", mode=0o600, exclusive=True)
    except FileExistsError:
        raise LedgerError(f"a signing key already exists at {path}; not overwriting it") from None


def read_key_file(path: Path) -> Signer:
    """The key in ``path``; refuses a key file other users can read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise LedgerError(
            f"no signing key at {path}; publishing needs the key made by `affidavit init` "
            "(choose it with --key / AFFIDAVIT_KEY)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise LedgerError(f"cannot read the signing key at {path}: {e}") from e
    if mode & 0o077:
        raise LedgerError(
            f"signing key {path} is readable by other users (mode {mode & 0o777:o}); "
            f"run: chmod 600 {path}"
        )
    return Signer.from_private_key_string(text)


class FileSigner:
    """A :class:`~affidavit.note.NoteSigner` over a key file, read on first use."""

    def __init__(self, path: Path | str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._signer: Signer | None = None

    def _key(self) -> Signer:
        if self._signer is None:
            self._signer = read_key_file(self.path)
        return self._signer

    @property
    def name(self) -> str:
        return self._key().name

    @property
    def key_id(self) -> bytes:
        return self._key().key_id

    def verifier(self) -> Verifier:
        return self._key().verifier()

    def sign(self, message: bytes) -> bytes:
        return self._key().sign(message)

    def __repr__(self) -> str:
        return f"FileSigner({str(self.path)!r})"


def owner_of(path: Path) -> str:
    """``uid N (name)`` of the file's owner, for messages."""
    try:
        uid = path.stat().st_uid
    except OSError:
        return "another account"
    try:
        import pwd

        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def this_account() -> str:
    getuid = getattr(os, "getuid", None)
    return f"uid {getuid()}" if getuid else "this account"


def require_key_access(path: Path, action: str) -> FileSigner:
    """A signer over ``path`` with the key read now; :class:`AccessRefusedError` (one line)
    when this account cannot read it, as the agent's account cannot in service mode."""
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise AccessRefusedError(
            f"{action}: refused: this account ({this_account()}) cannot read the signing key "
            f"{path}, owned by {owner_of(path)}; the recorder service (`affidavit service`) "
            "signs for it, so run this as the service's account"
        ) from None
    except OSError:
        pass  # missing or unreadable otherwise: read_key_file says which
    signer = FileSigner(path)
    signer.verifier()  # reads the key: fail here, before anything is written
    return signer


def require_write_access(ledger: Path, action: str) -> None:
    """:class:`AccessRefusedError` (one line) when this account cannot write the ledger
    (or cannot even reach its folder); a ledger that does not exist is left to the caller."""

    def refused(owner: Path) -> AccessRefusedError:
        return AccessRefusedError(
            f"{action}: refused: this account ({this_account()}) cannot write the ledger "
            f"{ledger}, whose folder is owned by {owner_of(owner)}; only the recorder "
            "service (`affidavit service`) writes it"
        )

    try:
        ledger.stat()
    except PermissionError:
        raise refused(ledger.parent) from None
    except OSError:
        return
    if not os.access(ledger, os.W_OK) or not os.access(ledger.parent, os.W_OK):
        raise refused(ledger.parent)

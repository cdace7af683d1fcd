"""Where a source's secret (an OAuth access token, an API key) comes from.

A source names its secret by reference, never by value, so the reference can sit in a
record or a table and the secret in neither:

* ``keyring:SERVICE:USERNAME``: the OS keyring through the ``keyring`` package (macOS
  Keychain, Windows Credential Locker, the freedesktop Secret Service; the ``keyring``
  extra), ``keyring.get_password(SERVICE, USERNAME)``;
* ``env:NAME``: the environment variable NAME of the process that pulls;
* anything else: a file path holding the bare secret, or JSON with ``access_token``
  (or ``api_key``). With ``private=True`` the file must be a regular file owned by this
  account and readable by nobody else (mode 0600 or 0400), as OpenSSH asks of a private
  key; a looser file is refused, naming the ``chmod`` that fixes it.

The secret is returned to the caller and appears in no message, record or log line.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from affidavit.errors import InputError

MAX_SECRET = 64 << 10
"""Largest secret file read; an access token is a few kilobytes."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A parsed reference: ``kind`` is ``file``, ``env`` or ``keyring``."""

    kind: str
    name: str
    user: str = ""

    @classmethod
    def parse(cls, text: str) -> SecretRef:
        if text.startswith("keyring:"):
            service, sep, user = text.removeprefix("keyring:").rpartition(":")
            if not sep or not service or not user:
                raise InputError(f"{text!r}: a keyring secret is keyring:SERVICE:USERNAME")
            return cls("keyring", service, user)
        if text.startswith("env:"):
            name = text.removeprefix("env:")
            if not name or "=" in name or "\0" in name:
                raise InputError(f"{text!r}: an environment secret is env:NAME")
            return cls("env", name)
        if not text or "\0" in text:
            raise InputError("the secret reference is empty (a file, env:NAME or keyring:...)")
        return cls("file", text)

    def describe(self) -> str:
        """Where the secret is, for messages (never the secret)."""
        if self.kind == "keyring":
            return f"the keyring entry {self.name}:{self.user}"
        if self.kind == "env":
            return f"the environment variable {self.name}"
        return str(self.name)

    def __str__(self) -> str:
        if self.kind == "keyring":
            return f"keyring:{self.name}:{self.user}"
        if self.kind == "env":
            return f"env:{self.name}"
        return self.name


def read_secret(ref: SecretRef | str, *, private: bool = False) -> str:
    """The secret ``ref`` names; :class:`InputError` naming where, never what, otherwise."""
    ref = SecretRef.parse(ref) if isinstance(ref, str) else ref
    if ref.kind == "keyring":
        return _from_keyring(ref)
    if ref.kind == "env":
        value = os.environ.get(ref.name, "").strip()
        if not value or any(c.isspace() for c in value):
            raise InputError(f"{ref.describe()}: not set, or not one token")
        return value
    return read_secret_file(Path(ref.name), private=private)


def read_secret_file(path: Path, *, private: bool = False) -> str:
    """A token from ``path``: the bare token, or JSON with ``access_token`` / ``api_key``."""
    flags = os.O_RDONLY
    if private:  # the checked file must be the file read: no symlink swapped in between
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise InputError(f"{path}: cannot read the secret file ({type(e).__name__})") from e
    try:
        info = os.fstat(fd)
        if private:
            _check_private(path, info)
        raw = os.read(fd, MAX_SECRET + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_SECRET:
        raise InputError(f"{path}: over {MAX_SECRET} bytes; not a secret file")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: the secret file is not UTF-8 text") from e
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        value = next(
            (body[k] for k in ("access_token", "api_key") if isinstance(body, dict) and k in body),
            None,
        )
        text = value if isinstance(value, str) else ""
    if not text or any(c.isspace() for c in text) or not text.isprintable():
        raise InputError(f"{path}: no secret in it (one line, or JSON with access_token)")
    return text


def _check_private(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise InputError(f"{path}: owned by uid {info.st_uid}, not by this account")
    if info.st_mode & 0o077:
        raise InputError(
            f"{path}: readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run `chmod 600 {path}`"
        )


def _from_keyring(ref: SecretRef) -> str:
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise InputError(
            f"{ref.describe()}: the keyring package is not installed; "
            "pip install 'affidavit[keyring]'"
        ) from None
    try:
        value = keyring.get_password(ref.name, ref.user)
    except keyring.errors.KeyringError as e:
        raise InputError(f"{ref.describe()}: the keyring refused ({type(e).__name__})") from e
    if not value or any(c.isspace() for c in value.strip()):
        raise InputError(f"{ref.describe()}: no such entry in the keyring, or not one token")
    return value.strip()

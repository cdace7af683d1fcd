"""An in-memory OS keyring for tests: a real ``keyring`` backend class, set as the process's
keyring with ``keyring.set_keyring`` the way an application configures one, so the code under
test goes through the keyring package's own API and nothing of ours is replaced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keyring
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """Secrets in a dict: nothing written to disk, nothing shared with the machine's keyring."""

    priority = 1  # type: ignore[assignment]  # keyring declares it a classproperty

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.secrets.pop((service, username), None) is None:
            raise PasswordDeleteError(f"no entry {service}:{username}")


@contextmanager
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The process's keyring is a fresh :class:`MemoryKeyring` inside the block."""
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        yield ring
    finally:
        keyring.set_keyring(before)

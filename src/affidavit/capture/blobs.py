"""Content blobs reached through a store, for the code above capture (evidence packs, the
archive, the rollback drill): they read and keep file contents here, never through the
store's raw connection.

A thin face over :mod:`affidavit.capture.snapshots`, whose blob functions take the
connection the hook already holds. When the content store of issue 9 lands (a ``blobs``
owner with ``forget()``), these three functions become its methods.
"""

from __future__ import annotations

from collections.abc import Iterator

from affidavit.capture import snapshots
from affidavit.capture.snapshots import Snapshot
from affidavit.store.sqlite import SqliteStore


def get(store: SqliteStore, sha256: str) -> bytes | None:
    """The content named ``sha256``, or None; ValueError if the stored bytes do not hash to
    their name."""
    return snapshots.get_blob(store.connection, sha256)


def names(store: SqliteStore) -> Iterator[str]:
    """The name of every stored content, in order."""
    for (sha,) in store.connection.execute("SELECT sha256 FROM blobs ORDER BY sha256"):
        yield str(sha)


def keep(store: SqliteStore, snap: Snapshot) -> None:
    """Store the snapshot's content (call inside the store's write transaction)."""
    snapshots.keep(store.connection, snap)

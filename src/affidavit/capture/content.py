"""The content store: file contents by SHA-256 in a ledger file's ``blobs`` table.

Contents go in once per hash, zlib-compressed when that saves space, for rollback and
diffs. A blob is kept only while a live record refers to it: erasing the last record that
does deletes it (:mod:`affidavit.store.derived`), and ``affidavit verify`` checks every blob
against its name, its size and the records (:mod:`affidavit.views`). This module is the
only one that writes SQL against ``blobs``. Standard library only: the hook uses it.
"""

from __future__ import annotations

import zlib

from affidavit.capture import digest

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3  # the thin client never opens a ledger: sqlite3 is not loaded for it
    from collections.abc import Iterator

    from affidavit.store.sqlite import SqliteStore


def put_blob(conn: sqlite3.Connection, sha256: str, data: bytes) -> None:
    """Store content once by hash; zlib only when it saves space."""
    packed = zlib.compress(data, 6)
    codec, body = ("zlib", packed) if len(packed) < len(data) else ("raw", data)
    conn.execute(
        "INSERT OR IGNORE INTO blobs (sha256, size, codec, data) VALUES (?, ?, ?, ?)",
        (sha256, len(data), codec, body),
    )


def get_blob(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    """The content named ``sha256``, checked against its name; None if not kept."""
    row = conn.execute("SELECT codec, data FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None:
        return None
    codec, body = row
    data = zlib.decompress(body) if codec == "zlib" else bytes(body)
    if digest.sha256_hex(data) != sha256:
        raise ValueError(f"stored content {sha256} does not hash to its name")
    return data


def blob_names(conn: sqlite3.Connection) -> Iterator[str]:
    """Every blob's name, in order."""
    for (sha,) in conn.execute("SELECT sha256 FROM blobs ORDER BY sha256"):
        yield str(sha)


# -- through a store, for the code above capture (packs, the archive, the drill) -----------


def get(store: SqliteStore, sha256: str) -> bytes | None:
    """The content named ``sha256``, or None; ValueError if the stored bytes do not hash to
    their name."""
    return get_blob(store.connection, sha256)


def names(store: SqliteStore) -> Iterator[str]:
    """The name of every stored content, in order."""
    return blob_names(store.connection)


def keep(store: SqliteStore, sha256: str | None, data: bytes | None) -> None:
    """Store content under its hash (call inside the store's write transaction); nothing
    when there is no content (a missing file, or one too large to keep)."""
    if sha256 is not None and data is not None:
        put_blob(store.connection, sha256, data)

"""Capture state: the tables of a ledger file that capture keeps beside the records.

* ``pending(tool_use_id, created, state)``: what a PreToolUse saw, until its PostToolUse;
* ``file_state(path, size, mtime_ns, inode, sha256)``: the last hash seen per path, keyed by
  its stat, so a later Bash diff knows a file's before-hash;
* ``tool_uses(tool_use_id, seq, source, kind)``: which records saw which tool call (or
  deduplication key), so a later source does not record it twice.

None of them is covered by the tree: ``affidavit verify`` checks ``file_state`` and
``tool_uses`` against the records (:mod:`affidavit.views`), and erasing a record drops its
rows (:mod:`affidavit.store.derived`). This module is the only one that writes SQL against
them. Standard library only: the hook uses it.
"""

from __future__ import annotations

import zlib

from affidavit.capture import jsontext

TYPE_CHECKING = False  # not typing's: importing typing costs the hook a few ms
if TYPE_CHECKING:
    import sqlite3  # the thin client never opens a ledger: sqlite3 is not loaded for it
    from collections.abc import Iterable
    from typing import Any

Stat = tuple[int, int, int]  # size, mtime_ns, inode


# -- pending --------------------------------------------------------------------------------


def load_pending(conn: sqlite3.Connection, use_id: str, packed: bool = False) -> Any:
    """The state a PreToolUse kept for ``use_id`` (JSON; zlib-packed when ``packed``)."""
    row = conn.execute("SELECT state FROM pending WHERE tool_use_id = ?", (use_id,)).fetchone()
    if row is None:
        return None
    data = zlib.decompress(row[0]) if packed else row[0]
    return jsontext.loads(data)


def pending_bytes(conn: sqlite3.Connection, use_id: str) -> bytes | None:
    """The state a PreToolUse kept for ``use_id``, as stored (the service hands it over)."""
    row = conn.execute("SELECT state FROM pending WHERE tool_use_id = ?", (use_id,)).fetchone()
    return None if row is None else bytes(row[0])


def keep_pending(conn: sqlite3.Connection, use_id: str, created: str, state: bytes) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO pending (tool_use_id, created, state) VALUES (?, ?, ?)",
        (use_id, created, state),
    )


def drop_pending(conn: sqlite3.Connection, use_id: str) -> None:
    conn.execute("DELETE FROM pending WHERE tool_use_id = ?", (use_id,))


# -- file_state -----------------------------------------------------------------------------


def remember(conn: sqlite3.Connection, path: str, st: Stat, sha256: str) -> None:
    """Cache a file's hash under its stat, so a later Bash diff knows its before-hash.

    A name that is not UTF-8 (``os.fsdecode`` leaves lone surrogates in it) is not SQLite
    text, so it is not cached: its later diff has no before-hash, as for a file never seen.
    """
    try:
        conn.execute(
            "INSERT OR REPLACE INTO file_state (path, size, mtime_ns, inode, sha256) "
            "VALUES (?, ?, ?, ?, ?)",
            (path, *st, sha256),
        )
    except UnicodeEncodeError:
        return


def recall(conn: sqlite3.Connection, path: str, st: Stat) -> str | None:
    try:
        row = conn.execute(
            "SELECT sha256 FROM file_state "
            "WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
            (path, *st),
        ).fetchone()
    except UnicodeEncodeError:
        return None  # never cached (see remember)
    return None if row is None else str(row[0])


def recall_for(conn: sqlite3.Connection, user: str | None, path: str, st: Stat) -> str | None:
    """:func:`recall`, for the service: only a hash a live record of ``user`` (the peer's
    account name, as the service records it in ``actor.user``) committed to for ``path``.

    ``file_state`` is one row per path, shared by every account the service records. Without
    this scope, anyone in the socket's group could learn the hash of a file they can stat but
    not read (another user's 0600 file in a folder they can enter), or plant a row that makes
    another user's later diff name a wrong before-hash. An account without a name gets nothing.
    """
    if not user:
        return None
    try:
        row = conn.execute(
            "SELECT f.sha256 FROM file_state f "
            "WHERE f.path = ? AND f.size = ? AND f.mtime_ns = ? AND f.inode = ? "
            "AND EXISTS (SELECT 1 FROM actions a WHERE a.path = f.path AND a.erased = 0 "
            "AND a.actor_user = ? AND (a.after_sha256 = f.sha256 OR a.before_sha256 = f.sha256))",
            (path, *st, user),
        ).fetchone()
    except UnicodeEncodeError:
        return None  # never cached (see remember)
    return None if row is None else str(row[0])


# -- tool_uses ------------------------------------------------------------------------------


def index_keys(conn: sqlite3.Connection, rows: Iterable[tuple[str, int, str, str]]) -> None:
    """Index records under keys: ``(tool_use_id or key, seq, source, kind)``."""
    conn.executemany(
        "INSERT INTO tool_uses (tool_use_id, seq, source, kind) VALUES (?, ?, ?, ?)", rows
    )


def seen(conn: sqlite3.Connection, key: str) -> list[tuple[int, str, str]]:
    """(seq, source, kind) of every record already indexed under a tool_use_id or key."""
    rows = conn.execute(
        "SELECT seq, source, kind FROM tool_uses WHERE tool_use_id = ? ORDER BY seq", (key,)
    )
    return [(int(s), str(src), str(k)) for s, src, k in rows]


def sessions_seen_by(conn: sqlite3.Connection, source: str) -> set[str]:
    """Sessions in which ``source`` indexed any tool call (read once per import)."""
    rows = conn.execute(
        "SELECT DISTINCT json_extract(CAST(r.payload AS TEXT), '$.agent.session_id') "
        "FROM tool_uses t JOIN records r ON r.seq = t.seq "
        "WHERE t.source = ? AND r.payload IS NOT NULL",
        (source,),
    )
    return {s for (s,) in rows if isinstance(s, str)}

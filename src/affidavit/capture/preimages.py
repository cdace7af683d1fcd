"""Shell pre-images: the bytes of files a ``Bash`` command is about to destroy, for rollback.

At PreToolUse the hook asks :mod:`affidavit.capture.shell_targets` which existing files the
command will delete, move over, truncate or rewrite, and reads each regular file inside the
workspace (the session's cwd, which the shell diff covers) up to the per-file cap. The bytes
wait in the tool call's ``pending`` state, not in the content store: at PostToolUse the shell
diff (:meth:`Before.recall`) hands a pre-image to the ``file.delete`` / ``file.update`` record
of a file that really changed, and only then is it kept (``snapshots.keep``) in the same
transaction as the record that names its hash. So a pre-image never outlives the command in
the content store without a record that refers to it, which ``affidavit verify`` requires.

A pre-image is matched by the file's stat (size, mtime_ns, inode) as the workspace manifest
saw it before the command, so the path may be spelled in any way (``./a``, a symlinked cwd).

What could not be taken is said in the PreToolUse record, ``preimages``::

    {"taken": 2, "bytes": 1234, "missed": [{"path": "/w/big.iso", "reason": "..."}]}

(``missed`` lists at most :data:`shell_targets.MAX_MISSES`; ``missed_more`` counts the rest).
Standard library only, and it never raises: a failure is a reason in the record.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat

from affidavit.capture import shell_commands, shell_targets
from affidavit.capture.snapshots import Snapshot
from affidavit.capture.state import recall

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

    from affidavit.capture.snapshots import Stat

MAX_FILES = 1000  # pre-images taken for one command
MAX_TOTAL_BYTES = 64 * 2**20  # and their bytes together (at least one file at the cap)


class Taken:
    """Pre-images read for one command: by stat, (sha256, bytes); and the misses."""

    __slots__ = ("files", "missed", "more", "total")

    def __init__(self) -> None:
        self.files: dict[Stat, tuple[str, bytes]] = {}
        self.missed: list[dict[str, str]] = []
        self.more = 0
        self.total = 0

    def miss(self, path: str | None, reason: str) -> None:
        if len(self.missed) < shell_targets.MAX_MISSES:
            self.missed.append({"path": path, "reason": reason} if path else {"reason": reason})
        else:
            self.more += 1

    def summary(self) -> dict[str, Any]:
        """The ``preimages`` field of the PreToolUse record; empty when nothing was named."""
        if not self.files and not self.missed and not self.more:
            return {}
        out: dict[str, Any] = {"taken": len(self.files), "bytes": self.total}
        if self.missed:
            out["missed"] = self.missed
        if self.more:
            out["missed_more"] = self.more
        return out

    def state(self) -> list[list[Any]]:
        """JSON for the ``pending`` row: ``[size, mtime_ns, inode, sha256, base64 bytes]``."""
        return [
            [*st, sha, base64.b64encode(data).decode("ascii")]
            for st, (sha, data) in self.files.items()
        ]


def take(tool: object, tool_input: dict[str, Any], cwd: str, max_bytes: int) -> Taken:
    """Read the pre-images of a ``Bash`` command run in ``cwd`` (nothing for other tools)."""
    taken = Taken()
    if tool != "Bash":
        return taken
    try:
        found = shell_commands.targets(tool_input.get("command"), cwd)
        for path, reason in found.misses:
            taken.miss(path, reason)
        taken.more += found.dropped
        top = os.path.realpath(cwd)
        budget = max(MAX_TOTAL_BYTES, max_bytes)
        for path in found.paths:
            _take_one(taken, path, top, max_bytes, budget)
    except Exception as e:  # a parser bug must cost a pre-image, never the event
        taken.miss(None, f"pre-images not taken: {type(e).__name__}: {e}")
    return taken


def _take_one(taken: Taken, path: str, top: str, max_bytes: int, budget: int) -> None:
    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        return  # absent (or not a name this system can hold): nothing to lose
    if stat.S_ISLNK(st.st_mode):
        path = os.path.realpath(path)  # '>' and sed write through to the target
        try:
            st = os.stat(path)
        except (OSError, ValueError):
            return
    if not stat.S_ISREG(st.st_mode):
        return
    folder = os.path.realpath(os.path.dirname(path))
    if folder != top and not folder.startswith(top.rstrip(os.sep) + os.sep):
        taken.miss(path, "outside the workspace; the shell diff does not cover it")
        return
    if st.st_size > max_bytes:
        taken.miss(path, f"{st.st_size} bytes, over the {max_bytes}-byte cap")
        return
    if len(taken.files) >= MAX_FILES or taken.total + st.st_size > budget:
        taken.miss(path, f"over the {MAX_FILES}-file / {budget}-byte budget of one command")
        return
    try:
        # O_NONBLOCK: a FIFO swapped in after the stat must not hang the agent.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        with open(fd, "rb") as f:
            now = os.fstat(f.fileno())
            if not stat.S_ISREG(now.st_mode):
                return
            data = f.read(max_bytes + 1)
    except OSError as e:
        taken.miss(path, f"cannot read: {e.strerror or e}")
        return
    if len(data) > max_bytes:
        taken.miss(path, f"grew past the {max_bytes}-byte cap while read")
        return
    key = (now.st_size, now.st_mtime_ns, now.st_ino)
    if key not in taken.files:
        taken.files[key] = (hashlib.sha256(data).hexdigest(), data)
        taken.total += len(data)


class Before:
    """The before-hash of a file the shell diff saw change, from a pre-image or the cache.

    ``recall`` prefers the pre-image (it brings the bytes, which go to ``blobs`` so the
    record can be rolled back) and falls back to the stat-keyed hash cache.
    """

    __slots__ = ("blobs", "conn", "files")

    def __init__(
        self, conn: sqlite3.Connection | None, state: object, blobs: list[Snapshot]
    ) -> None:
        self.conn, self.blobs = conn, blobs
        self.files: dict[tuple[int, int, int], list[Any]] = {}
        kept = state[2] if isinstance(state, list) and len(state) > 2 else None
        for row in kept if isinstance(kept, list) else ():
            if isinstance(row, list) and len(row) == 5:
                self.files[(row[0], row[1], row[2])] = row

    def preimage(self, st: tuple[int, ...]) -> str | None:
        """The hash of the pre-image taken of the file with stat ``st``, its bytes queued
        for ``blobs``; None when no pre-image was taken of it."""
        row = self.files.get((st[0], st[1], st[2]))
        if row is not None:
            data = base64.b64decode(row[4])
            if hashlib.sha256(data).hexdigest() == row[3]:
                self.blobs.append(Snapshot(True, row[3], len(data), data))
                return str(row[3])
        return None

    def recall(self, path: str, st: tuple[int, ...]) -> str | None:
        found = self.preimage(st)
        if found is not None or self.conn is None:
            return found
        return recall(self.conn, path, (st[0], st[1], st[2]))

"""File snapshots: hashes, the content store, and the workspace manifest for Bash.

Contents go into the ledger file's ``blobs`` table keyed by SHA-256 (hex), zlib-compressed
when that helps, deduplicated. Files over the per-file cap are hashed, not kept. The
manifest (path → size, mtime_ns, inode) of the workspace before and after a shell command
shows what the command created, changed, deleted or renamed, which Write/Edit hooks never
see. Standard library only: this runs in the hook.
"""

from __future__ import annotations

import os
import stat

from affidavit.capture import digest as hashing
from affidavit.capture.content import get_blob as get_blob  # the content store
from affidavit.capture.content import put_blob
from affidavit.capture.state import recall as recall  # the capture state
from affidavit.capture.state import remember as remember

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3  # annotations only: the thin client never opens a ledger

DEFAULT_MAX_FILE_BYTES = 20 * 2**20
DEFAULT_MANIFEST_CAP = 50_000
SKIP_DIRS = frozenset({".git", ".hg", ".svn"})

Stat = tuple[int, int, int]  # size, mtime_ns, inode


class Snapshot:
    """What a file held at one instant: hash, size and (under the cap) its bytes."""

    __slots__ = ("data", "exists", "sha256", "size")

    def __init__(self, exists: bool, sha256: str | None, size: int, data: bytes | None) -> None:
        self.exists, self.sha256, self.size, self.data = exists, sha256, size, data


MISSING = Snapshot(False, None, 0, None)


def snapshot(path: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Snapshot:
    """Hash a regular file (streaming past the cap); a missing path is MISSING.

    Symlinks are followed: the content the agent wrote through is what counts.
    """
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return MISSING
    if not stat.S_ISREG(st.st_mode):
        return MISSING
    digest = hashing.new(st.st_size)
    kept: list[bytes] | None = [] if st.st_size <= max_bytes else None
    size = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                if kept is not None:
                    kept.append(chunk)
                    if size > max_bytes:
                        kept = None
    except OSError:
        return MISSING
    return Snapshot(True, digest.hexdigest(), size, None if kept is None else b"".join(kept))


def keep(conn: sqlite3.Connection, snap: Snapshot) -> None:
    if snap.sha256 is not None and snap.data is not None:
        put_blob(conn, snap.sha256, snap.data)


# -- manifests ------------------------------------------------------------------------------


def scan(roots: list[str], cap: int = DEFAULT_MANIFEST_CAP) -> tuple[dict[str, Stat], bool]:
    """(path → (size, mtime_ns, inode)) for regular files under ``roots``, and whether the
    cap was hit (then the manifest is partial and the caller must record that)."""
    out: dict[str, Stat] = {}
    stack = [r for r in roots if r]
    seen: set[str] = set()
    while stack:
        top = stack.pop()
        if top in seen:
            continue
        seen.add(top)
        try:
            entries = os.scandir(top)
        except OSError:
            continue
        with entries:
            for e in entries:
                try:
                    if e.is_dir(follow_symlinks=False):
                        if e.name not in SKIP_DIRS:
                            stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        st = e.stat(follow_symlinks=False)
                        out[e.path] = (st.st_size, st.st_mtime_ns, st.st_ino)
                        if len(out) >= cap:
                            return out, True
                except OSError:
                    continue
    return out, False


def diff(
    before: dict[str, Stat], after: dict[str, Stat]
) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
    """(created, updated, deleted, renamed as (old, new)); a rename keeps its inode."""
    created = [p for p in after if p not in before]
    deleted = [p for p in before if p not in after]
    updated = [p for p, st in after.items() if p in before and before[p] != st]
    by_inode = {before[p][2]: p for p in deleted}
    renamed: list[tuple[str, str]] = []
    for p in list(created):
        old = by_inode.pop(after[p][2], None)
        if old is not None and before[old][0] == after[p][0]:
            renamed.append((old, p))
            created.remove(p)
            deleted.remove(old)
    return sorted(created), sorted(updated), sorted(deleted), sorted(renamed)


def stat_of(path: str) -> Stat | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)

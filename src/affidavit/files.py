"""Durable file writes: the one way Affidavit puts a file on disk that must survive a crash.

A write goes to a temporary file in the target's folder, is fsync-ed, then renamed over the
target (or, with ``exclusive=True``, hard-linked to it, which fails instead of replacing a
file that is already there), and the folder is fsync-ed so the new name itself is durable
(tessera ``storage/posix/README.md``, "Life of a Leaf"; POSIX rename(2) and link(2)). A
reader therefore sees the old file whole or the new file whole, never a mix; a failure at
any point leaves the old file as it was and no temporary file behind.

Standard library only: the capture hook writes its spool files with it.
"""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False  # not typing's: the hook imports this module (in-flight markers)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700


def write_atomically(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    mode: int | None = None,
    exclusive: bool = False,
    owner: tuple[int, int] | None = None,
) -> None:
    """Write ``data`` (``str`` as UTF-8) to ``path`` whole or not at all.

    ``mode`` is the new file's permission bits exactly (the umask does not apply); ``None``
    gives what ``open()`` would, 0666 less the umask. ``exclusive`` never replaces an
    existing file: it raises :class:`FileExistsError` and leaves that file alone. ``owner``
    is a (uid, gid) to give the file (only root can give it away).
    """
    body = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_writer(path, mode=mode, exclusive=exclusive, owner=owner) as f:
        f.write(body)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    mode: int | None = None,
    exclusive: bool = False,
    owner: tuple[int, int] | None = None,
) -> Iterator[BinaryIO]:
    """:func:`write_atomically` for a writer that streams: yields the temporary file (binary,
    readable and seekable, as ``zipfile`` needs), and puts it in place when the block ends.
    An exception inside the block removes the temporary file and leaves ``path`` untouched.
    """
    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    if exclusive and os.path.lexists(target):
        raise FileExistsError(f"{target} exists")
    tmp, fd = _create_temp(folder, os.path.basename(target), mode)
    try:
        with os.fdopen(fd, "w+b") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)  # exact: the umask narrowed the creation mode
            if owner is not None:
                os.fchown(f.fileno(), *owner)
            yield f
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, target)  # fails, instead of replacing, if the name appeared meanwhile
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(folder)


def _create_temp(folder: str, name: str, mode: int | None) -> tuple[str, int]:
    """A new temporary file beside ``name``: (its path, an fd open for writing).

    Created 0600 when a mode is given, so the data is never readable more widely than the
    caller asked, even for the instant before the fchmod; else 0666 less the umask.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    # A dot file that no glob of ours (*.json in the spool, say) matches, and unique per try.
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(6).hex()}.tmp")
        try:
            return tmp, os.open(tmp, flags, PRIVATE_FILE if mode is not None else 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {os.path.join(folder, name)}")


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Make the names in ``folder`` durable. A platform that cannot open a folder (Windows)
    skips it: the rename itself is still atomic there."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder; nothing more to do
        pass
    finally:
        os.close(fd)


def make_private_folder(folder: str | os.PathLike[str], *, narrow: bool = False) -> None:
    """Create ``folder`` 0700 if missing (its missing parents get the usual mode). With
    ``narrow``, a folder that exists and belongs to us is made 0700 too: only for folders
    Affidavit owns outright (the spool), never one a user chose to put a ledger in."""
    os.makedirs(folder, mode=PRIVATE_FOLDER, exist_ok=True)
    if narrow:
        with contextlib.suppress(OSError):
            st = os.stat(folder)
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(folder, PRIVATE_FOLDER)

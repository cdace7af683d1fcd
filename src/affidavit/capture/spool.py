"""The hook's spool: events the ledger could not take, kept beside it until the next run.

``<ledger>.spool/`` (mode 0700) holds one file per event (mode 0600, written with
:func:`affidavit.files.write_atomically`). A file holds what the ledger would have held:
the event's drafts, already redacted (:func:`affidavit.capture.writer.redacted`), and the
size and SHA-256 of the hook's input; never the raw input, which may carry a credential the
agent typed. Input that is not an event keeps a redacted excerpt, as its ``capture.error``
record in the ledger would.

A run claims a file by renaming it to ``<name>.<pid>.claimed`` inside its write transaction
and deletes it once that transaction has committed (:func:`settle`), so nothing that was
replayed stays on disk; the ``spool:<name>`` key indexed with the replay tells a later run
that a claimed file left by a killed run was recorded already, and that run deletes it.
Files written by an older version (``stdin``: the raw input, base64) are still replayed,
then deleted the same way.

``<ledger>.reserve`` is :data:`RESERVE_BYTES` of random bytes that a spool write on a full
disk deletes to make room. Standard library only: this runs in the hook.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress

from affidavit.capture import jsontext
from affidavit.files import PRIVATE_FILE, make_private_folder, write_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

FORMAT = 2
RESERVE_BYTES = 256 * 1024
"""Disk space kept in ``<ledger>.reserve`` for spooling events when the disk is full."""


def folder_of(ledger: str) -> str:
    return ledger + ".spool"


def write(ledger: str, entry: dict[str, Any]) -> str:
    """Write one spool file, 0600 in a 0700 folder; no temp file is left on failure."""
    folder = folder_of(ledger)
    make_private_folder(folder, narrow=True)
    name = os.path.join(folder, f"{time.time_ns()}-{os.getpid()}.json")
    write_atomically(name, jsontext.dumps(entry), mode=PRIVATE_FILE)
    return name


def claim(ledger: str) -> list[tuple[str, str]]:
    """(key, claimed path) of every spooled event this process now holds, oldest first.

    Call under the ledger's write lock: a claimed file seen here belongs to a run that is
    over (killed before its commit, or between its commit and the deletion).
    """
    folder = folder_of(ledger)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    out: list[tuple[str, str]] = []
    for name in names:
        if name.endswith(".json"):
            base = name
        elif name.endswith(".claimed"):
            base = name.rsplit(".", 2)[0]
        else:
            continue  # a temp file that a spool write is still filling
        path = os.path.join(folder, name)
        mine = os.path.join(folder, f"{base}.{os.getpid()}.claimed")
        try:
            if path != mine:
                os.rename(path, mine)
        except OSError:
            continue  # another hook took it
        out.append((f"spool:{base}", mine))
    return out


def settle(claimed: list[str], *, committed: bool) -> None:
    """After the transaction: delete what was recorded, or put the claims back."""
    for mine in claimed:
        with suppress(OSError):
            if committed:
                os.unlink(mine)
            else:
                os.rename(mine, mine.rsplit(".", 2)[0])


def read(path: str) -> dict[str, Any]:
    """One claimed entry; ValueError (or OSError) when it cannot be read back."""
    with open(path, encoding="utf-8") as f:
        entry = jsontext.loads(f.read())
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    return entry


def keep_reserve(ledger: str) -> None:
    """Make the reserve if it is missing (after a run that could write)."""
    path = ledger + ".reserve"
    if os.path.exists(path):
        return
    with suppress(OSError):  # no room yet: the next run tries again
        # Random: a compressing file system keeps it all.
        write_atomically(path, os.urandom(RESERVE_BYTES), mode=PRIVATE_FILE)


def release_reserve(ledger: str) -> bool:
    """Delete the reserve; whether there was one to free."""
    try:
        os.unlink(ledger + ".reserve")
    except OSError:
        return False
    return True


def open_error_log(ledger: str) -> IO[str]:
    """``<ledger>.errors.log`` for appending, created 0600: only its owner can read it."""
    fd = os.open(ledger + ".errors.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    return os.fdopen(fd, "a", encoding="utf-8")


def append_error_log(ledger: str, line: dict[str, Any]) -> None:
    """One JSON line in the error log; a log that cannot be written is skipped."""
    with suppress(OSError), open_error_log(ledger) as log:
        log.write(jsontext.dumps(line) + "\n")

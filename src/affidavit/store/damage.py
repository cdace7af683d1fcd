"""Damage to a ledger file: finding it, naming it, and noting it for the writers that do
not look for themselves.

What an SQLite file shows of its own damage (https://sqlite.org/fileformat2.html): a header
whose signature or page size is wrong, a file shorter than its header's page count, a
write-ahead log whose header does not check out (SQLite then ignores the log, and the
commits in it vanish), and whatever ``PRAGMA quick_check`` or a query reports as
``SQLITE_CORRUPT`` / ``SQLITE_NOTADB``. :func:`explain` turns SQLite's errors into
Affidavit's, naming the file.

A check that finds damage leaves ``<ledger>.damaged`` beside the ledger (one line: what is
wrong), so that writers which cannot afford to read the whole file (the hook) refuse too; the
next full check that finds the file whole removes it.

Only the standard library: the capture hook uses this module.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import time

from affidavit.errors import LedgerCorruptError, LedgerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    StrPath = str | os.PathLike[str]

WAL_MAGIC = (0x377F0682, 0x377F0683)
WAL_HEADER = 32
_WAL_REREADS = 3  # a header read while a writer restarts the WAL can be torn: read it again
CHECK_LIMIT = 20
_DAMAGE_ADVICE = (
    "Affidavit will not write to it; `affidavit verify` shows which records are still provable"
)


# -- damage ---------------------------------------------------------------------------------


def summary(problems: list[str]) -> str:
    more = len(problems) - 1
    extra = f" (and {more}{'+' if len(problems) >= CHECK_LIMIT else ''} more)" if more else ""
    return f"SQLite's integrity check found {problems[0]!r}{extra}"


def read_note(path: StrPath) -> str:
    try:
        with open(damage_note(path), encoding="utf-8") as f:
            text = f.readline().strip()
    except OSError:
        text = ""
    return text or f"ledger {os.fspath(path)} is damaged. {_DAMAGE_ADVICE}"


def damage_note(path: StrPath) -> str:
    """The file a check that finds ``path`` damaged leaves beside it (one line: what)."""
    return os.fspath(path) + ".damaged"


def _note_damage(path: StrPath, message: str) -> None:
    try:  # best effort: the ledger's folder may be read-only for a verifier
        with open(damage_note(path), "w", encoding="utf-8") as f:
            f.write(message + "\n")
    except OSError:
        pass


def clear_damage(path: StrPath) -> None:
    with contextlib.suppress(OSError):
        os.unlink(damage_note(path))


def damaged(path: StrPath, problem: str, *, note: bool = True) -> LedgerCorruptError:
    """The error for a damaged ledger file; with ``note``, notes the damage beside it, so
    that stores which skip the full page check refuse to write too."""
    message = f"ledger {os.fspath(path)} is damaged: {problem}. {_DAMAGE_ADVICE}"
    if note:
        _note_damage(path, message)
    return LedgerCorruptError(message)


def _is_damage(e: sqlite3.Error) -> bool:
    name = getattr(e, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


def explain(path: StrPath, e: sqlite3.Error) -> LedgerError:
    """SQLite's error ``e`` on ledger ``path`` as the Affidavit error a person can act on."""
    name = getattr(e, "sqlite_errorname", "") or ""
    if _is_damage(e):
        return damaged(path, str(e))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return LedgerError(
            f"ledger {os.fspath(path)} stayed busy: another process held it past the busy "
            f"timeout ({e}); nothing was changed, try again"
        )
    return LedgerError(f"ledger {os.fspath(path)}: {e}")


SQLITE_MAGIC = b"SQLite format 3\x00"


def file_header_problem(path: StrPath, *, page_count: bool = True) -> str | None:
    """What the first 100 bytes of a database file say is wrong with it, or None.

    Names the damages a header shows (https://sqlite.org/fileformat2.html): a file too
    short to be a database, a signature that is not SQLite's, an impossible page size and,
    with ``page_count``, a file shorter than the page count its header records. Only trust
    the page count once SQLite has found the file damaged: a checkpoint in another process
    writes page 1 before it extends the file.
    """
    try:
        with open(path, "rb") as f:
            header = f.read(100)
        size = os.path.getsize(path)
    except OSError as e:
        return f"it cannot be read: {e}"
    if len(header) < 100:
        return f"it is cut short: {size} bytes, less than a database header"
    if header[:16] != SQLITE_MAGIC:
        return (
            f"its header is damaged: the first 16 bytes are {header[:16]!r}, not {SQLITE_MAGIC!r}"
        )
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"its header is damaged: page size {page_size} is not a power of two from 512"
    pages, counter, valid_for = (struct.unpack(">I", header[i : i + 4])[0] for i in (28, 24, 92))
    if page_count and pages and counter == valid_for and size < pages * page_size:
        return (
            f"it is cut short: its header counts {pages} pages of {page_size} bytes "
            f"({pages * page_size} bytes), the file holds {size} bytes"
        )
    return None


def wal_damage(path: StrPath) -> str | None:
    """What is wrong with the header of ``path``'s write-ahead log, or None if nothing is.

    SQLite ignores a WAL whose header does not check out, so the commits in it vanish and
    their seqs would be handed out again. An absent or empty WAL is normal.
    """
    wal = os.fspath(path) + "-wal"
    problem = None
    for attempt in range(_WAL_REREADS):
        try:
            with open(wal, "rb") as f:
                header = f.read(WAL_HEADER)
        except FileNotFoundError:
            return None
        except OSError as e:
            return f"its write-ahead log {wal} cannot be read: {e}"
        problem = _wal_header_problem(header)
        if problem is None:
            return None
        time.sleep(0.05 * (attempt + 1))
    return f"its write-ahead log {wal} {problem}: the commits in it are lost"


def _wal_header_problem(header: bytes) -> str | None:
    if not header:
        return None
    if len(header) < WAL_HEADER:
        return f"is cut short ({len(header)} bytes, not even a header)"
    magic = struct.unpack(">I", header[:4])[0]
    if magic not in WAL_MAGIC:
        return "has no WAL header (its first bytes are not SQLite's WAL magic number)"
    # The header checksum (https://sqlite.org/fileformat2.html#walformat): pairs of 32-bit
    # words, big-endian when the magic number's low bit is set.
    words = struct.unpack((">" if magic & 1 else "<") + "6I", header[:24])
    s0 = s1 = 0
    for x0, x1 in zip(words[::2], words[1::2], strict=True):
        s0 = (s0 + x0 + s1) & 0xFFFFFFFF
        s1 = (s1 + x1 + s0) & 0xFFFFFFFF
    if (s0, s1) != struct.unpack(">2I", header[24:32]):
        return "has a damaged header (its checksum does not match)"
    return None

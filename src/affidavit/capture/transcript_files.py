"""Find transcript files and read them line by line, strict about the structure used.

The reading half of :mod:`affidavit.capture.transcripts`: which files an import reads
(:func:`discover`), how a JSONL file is cut into lines (:func:`read_lines`: bounded length,
a last line without its newline held back while it may still be being written), how a line
becomes an object or a one-line reason (:func:`decode`), the field checks that turn a wrong
type into :class:`BadLine`, and the short redacted excerpt a ``capture.error`` record keeps.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from affidavit.capture.redact import redact_text

MAX_LINE = 64 * 2**20
EXCERPT_CHARS = 160
_EXCERPT_READ = 4096  # redact more than is kept, so a secret cut by the excerpt is still found


@dataclass(frozen=True, slots=True)
class Source:
    """One file to import: a JSONL transcript or a Cowork ``local_<id>.json`` session record."""

    path: Path
    kind: str  # "transcript" | "cowork-session"
    size: int


class BadLine(Exception):
    """A line whose structure is wrong where it matters; reported, then skipped."""


# -- discovery ------------------------------------------------------------------------------


def discover(paths: Iterable[Path]) -> tuple[list[Source], list[str]]:
    """The files under ``paths`` to import, in a stable order, and one error per bad path."""
    sources: list[Source] = []
    errors: list[str] = []
    seen: set[str] = set()

    def add(path: str, kind: str, size: int) -> None:
        if path not in seen:
            seen.add(path)
            sources.append(Source(Path(path), kind, size))

    for given in paths:
        top = os.path.abspath(given)
        try:
            st = os.stat(top)
        except (OSError, ValueError) as e:  # ValueError: a NUL in the path
            errors.append(f"{given}: cannot read: {getattr(e, 'strerror', None) or e}")
            continue
        if not stat.S_ISDIR(st.st_mode):
            add(top, "cowork-session" if top.endswith(".json") else "transcript", st.st_size)
            continue
        before = len(sources)
        for folder, dirs, files in os.walk(top, onerror=lambda e: errors.append(os_error(e))):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".jsonl"):
                    kind = "transcript"
                elif name.startswith("local_") and name.endswith(".json"):
                    kind = "cowork-session"
                else:
                    continue
                path = os.path.join(folder, name)
                try:
                    add(path, kind, os.stat(path).st_size)
                except OSError as e:
                    errors.append(os_error(e))
        if len(sources) == before:
            errors.append(
                f"{given}: no transcripts (*.jsonl) or Cowork session records (local_*.json) in it"
            )
    return sources, errors


def os_error(e: OSError) -> str:
    return f"{e.filename}: cannot read: {e.strerror or e}"


# -- lines ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a file: its number, its bytes, and whether it is complete.

    ``pending`` marks a last line without a newline that is not yet a whole JSON value: the
    agent is still writing it. It is neither imported nor an error, and the next import,
    which reads the file from the start again, finds it whole.
    """

    number: int
    raw: bytes
    pending: bool = False
    too_long: bool = False
    size: int = 0  # of a line too long, counted while skipping it


def read_lines(
    f: IO[bytes], limit: int = MAX_LINE, progress: Callable[[int], None] | None = None
) -> Iterator[Line]:
    """The lines of ``f``; one longer than ``limit`` bytes comes back ``too_long``, holding its
    first ``limit`` bytes, and the rest of it is skipped without being kept in memory."""
    number = 0
    while raw := f.readline(limit + 1):
        number += 1
        if progress is not None:
            progress(len(raw))
        if len(raw) > limit and not raw.endswith(b"\n"):
            size = len(raw)
            while rest := f.readline(1 << 20):
                size += len(rest)
                if rest.endswith(b"\n"):
                    break
            yield Line(number, raw[:limit], too_long=True, size=size)
            continue
        if not raw.endswith(b"\n") and _unfinished(raw):
            yield Line(number, raw, pending=True)
            continue
        yield Line(number, raw)


def _unfinished(raw: bytes) -> bool:
    """Whether a last line without its newline may still be growing into a JSON object.

    One that parses is whole: an object cannot be the prefix of a longer one, and many
    tools end a file without a newline. One that does not parse is unfinished if it starts
    an object and its bytes are UTF-8 up to a possibly cut last character; anything else
    (binary, a list, a broken character mid-line) no appending can mend, so it is an error.
    """
    text = raw.lstrip()
    if not text.startswith(b"{"):
        return False
    try:
        json.loads(raw)
    except UnicodeDecodeError as e:
        return e.reason == "unexpected end of data"
    except (ValueError, RecursionError):
        return True
    return False


def decode(raw: bytes) -> dict[str, Any]:
    """The JSON object on a line, or :class:`BadLine` saying in one line why not."""
    try:
        obj = json.loads(raw)
    except UnicodeDecodeError as e:
        raise BadLine(f"not UTF-8 text ({e.reason} at byte {e.start + 1})") from e
    except RecursionError as e:
        raise BadLine("JSON nests too deeply") from e
    except json.JSONDecodeError as e:
        raise BadLine(f"not JSON: {e.msg} (character {e.pos + 1})") from e
    except ValueError as e:
        raise BadLine(f"not JSON text ({e})") from e
    if type(obj) is not dict:
        raise BadLine(f"expected a JSON object, got {kind_of(obj)}")
    return obj


def excerpt(raw: bytes, size: int | None = None) -> dict[str, Any]:
    """What a ``capture.error`` keeps of a bad line: its length, hash and first characters,
    secrets masked. Bytes that are not UTF-8 show as ``\\xNN``; the excerpt is bounded.

    ``raw`` may be only the head of a line of ``size`` bytes (one too long to keep): its hash
    is then ``head_sha256``, so it is never mistaken for the hash of the whole line.
    """
    head = raw[:_EXCERPT_READ].decode("utf-8", "backslashreplace").rstrip("\r\n")
    clean, _ = redact_text(head)
    cut = clean[:EXCERPT_CHARS]
    whole = size is None or size <= len(raw)
    return {
        "bytes": len(raw) if whole else size,
        "sha256" if whole else "head_sha256": hashlib.sha256(raw).hexdigest(),
        "excerpt": cut + ("…" if len(clean) > EXCERPT_CHARS or len(raw) > _EXCERPT_READ else ""),
    }


# -- fields ---------------------------------------------------------------------------------


def text_field(obj: Mapping[str, Any], key: str) -> str | None:
    """A string field or None; any other type is a :class:`BadLine`."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise BadLine(f"field {key!r} must be a string, not {kind_of(value)}")


def kind_of(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def content_of(obj: Mapping[str, Any]) -> str | list[Any] | None:
    """``message.content``: a string, a list of blocks, or None."""
    message = obj.get("message")
    if message is None:
        return None
    if not isinstance(message, dict):
        raise BadLine(f"field 'message' must be an object, not {kind_of(message)}")
    content = message.get("content")
    if content is None or isinstance(content, str | list):
        return content
    raise BadLine(f"message.content must be a string or a list, not {kind_of(content)}")


def text_of(content: object) -> str:
    """The text of a string or of the ``text`` blocks of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        return "\n".join(parts)
    return ""

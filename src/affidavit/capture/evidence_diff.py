"""Diff and restore of a file edit from the evidence its record carries, not from files.

A record an ``http`` hook sent to the collector holds ``evidence {before, after, patch,
cut}`` (:mod:`affidavit.server.hook_evidence`) instead of contents in a content store: the
collector never reads the user's files. From it, :func:`diff_of` gives the unified diff of the
edit and :func:`restore_of` what undoing it takes: the text to put back and a patch that does
it, which the user applies on the machine that holds the file (nothing here writes there).
``patch`` is Claude Code's ``structuredPatch`` (hunks of ``oldStart``, ``oldLines``,
``newStart``, ``newLines``, ``lines``), used when the texts themselves were over the cap. Pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from affidavit.errors import InputError

_NO_NEWLINE = "\n\\ No newline at end of file\n"


@dataclass(frozen=True, slots=True)
class Restore:
    """Undoing one edit: ``before`` is the text to put back (None: the edit created the file,
    so undoing it deletes the file), ``patch`` the unified diff from now back to it."""

    path: str
    before: str | None
    patch: str


def _parts(kind: str, payload: Mapping[str, Any], seq: int) -> tuple[str, dict[str, Any]]:
    if kind not in ("file.create", "file.update"):
        raise InputError(f"record {seq} is a {kind}, not a file edit")
    file = payload.get("file")
    path = file.get("path") if isinstance(file, Mapping) else None
    evidence = payload.get("evidence")
    if not isinstance(path, str):
        raise InputError(f"record {seq} names no file path")
    if not isinstance(evidence, Mapping):
        raise InputError(
            f"record {seq} carries no before/after evidence (only edits an http hook sent do)"
        )
    return path, dict(evidence)


def _unified(old: str | None, new: str | None, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile="/dev/null" if old is None else old_name,
        tofile="/dev/null" if new is None else new_name,
    )
    return "".join(line if line.endswith("\n") else line + _NO_NEWLINE for line in lines)


def _hunks(path: str, patch: object) -> str:
    """Claude Code's structuredPatch as unified diff text."""
    if not isinstance(patch, list) or not patch:
        raise InputError("the record kept neither the texts nor a patch of this edit")
    out = [f"--- a/{path.lstrip('/')}\n", f"+++ b/{path.lstrip('/')}\n"]
    for hunk in patch:
        if not isinstance(hunk, Mapping) or not isinstance(hunk.get("lines"), list):
            raise InputError("the record's patch is not a list of hunks with lines")
        nums = [hunk.get(k) for k in ("oldStart", "oldLines", "newStart", "newLines")]
        if not all(isinstance(n, int) for n in nums):
            raise InputError("a hunk of the record's patch has no line numbers")
        out.append("@@ -{},{} +{},{} @@\n".format(*nums))
        out += [f"{line}\n" for line in hunk["lines"] if isinstance(line, str)]
    return "".join(out)


def diff_of(kind: str, payload: Mapping[str, Any], *, seq: int) -> str:
    """The unified diff of the edit in record ``seq``."""
    path, evidence = _parts(kind, payload, seq)
    before, after = evidence.get("before"), evidence.get("after")
    name = path.lstrip("/")
    if isinstance(after, str) and (isinstance(before, str) or kind == "file.create"):
        old = before if isinstance(before, str) else None
        return _unified(old, after, f"a/{name}", f"b/{name}")
    return _hunks(path, evidence.get("patch"))


def restore_of(kind: str, payload: Mapping[str, Any], *, seq: int) -> Restore:
    """What undoing record ``seq`` takes; refuses when the record did not keep enough."""
    path, evidence = _parts(kind, payload, seq)
    before, after = evidence.get("before"), evidence.get("after")
    if not isinstance(after, str):
        raise InputError(f"record {seq} did not keep the text after the edit (over the cap?)")
    if kind == "file.create":
        return Restore(path, None, _unified(after, None, path, path))
    if not isinstance(before, str):
        raise InputError(f"record {seq} did not keep the text before the edit (over the cap?)")
    return Restore(path, before, _unified(after, before, path, path))

"""Refuse a malformed request before it touches the ledger: one line naming the field.

The hook is a client like any other process of the user's, so every field is checked for
type and shape, and every kept content against the hash it is sent under (else a peer could
plant bytes that a later rollback would restore under another file's hash).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zlib
from typing import Any

from affidavit.capture.wire import FrameError

_SHA = re.compile(r"[0-9a-f]{64}")
OPS = ("record", "pending", "recall", "meta", "drain", "seal", "gaps")
_MARKER = re.compile(r"[0-9]{1,10}-[0-9]{1,20}")  # inflight.Marker's name: <pid>-<ns>
_GAP_TEXT = ("hook_event_name", "session_id", "tool_name", "tool_use_id", "delivery")


def _fail(field: str, what: str) -> FrameError:
    return FrameError(f"field {field!r}: {what}")


def _is(value: object, kind: type | tuple[type, ...], field: str) -> None:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _fail(field, f"expected {names}, got {type(value).__name__}")


def op_of(msg: dict[str, Any]) -> str:
    op = msg.get("op")
    if op not in OPS:
        raise _fail("op", f"unknown operation {op!r}; expected one of {', '.join(OPS)}")
    return str(op)


def record(msg: dict[str, Any]) -> None:
    """Check a ``record`` request in place (see :mod:`affidavit.capture.client`)."""
    _is(msg.get("delivery", ""), str, "delivery")
    _is(msg.get("claims", {}), dict, "claims")
    problems = msg.get("problems", [])
    _is(problems, list, "problems")
    for i, p in enumerate(problems):
        _is(p, str, f"problems[{i}]")
    if msg.get("event") is None:
        _is(msg.get("problem", ""), str, "problem")
        _is(msg.get("input", {}), dict, "input")
        return
    _is(msg["event"], dict, "event")
    _is(msg.get("observed", {}), dict, "observed")
    for i, item in enumerate(_list(msg, "extra")):
        if not (isinstance(item, list) and len(item) == 2):
            raise _fail(f"extra[{i}]", "expected [kind, payload]")
        _is(item[0], str, f"extra[{i}][0]")
        _is(item[1], dict, f"extra[{i}][1]")
    for i, item in enumerate(_list(msg, "reads")):
        if not (isinstance(item, list) and len(item) == 4):
            raise _fail(f"reads[{i}]", "expected [path, cwd, sha256, size]")
        _is(item[0], str, f"reads[{i}][0]")
        _is(item[1], (str, type(None)), f"reads[{i}][1]")
        _is(item[2], (str, type(None)), f"reads[{i}][2]")
        _is(item[3], int, f"reads[{i}][3]")
    for i, item in enumerate(_list(msg, "remembered")):
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[1], list)):
            raise _fail(f"remembered[{i}]", "expected [path, [size, mtime_ns, inode], sha256]")
        _is(item[0], str, f"remembered[{i}][0]")
        if len(item[1]) != 3 or not all(type(v) is int for v in item[1]):
            raise _fail(f"remembered[{i}][1]", "expected three integers")
        _sha(item[2], f"remembered[{i}][2]")
    pending = msg.get("pending")
    if pending is not None:
        if not (isinstance(pending, list) and len(pending) == 2):
            raise _fail("pending", "expected [tool_use_id, base64 state]")
        _is(pending[0], str, "pending[0]")
        msg["pending"] = [pending[0], _b64(pending[1], "pending[1]")]
    _is(msg.get("done_pending") or "", str, "done_pending")
    conv = msg.get("conventions")
    if conv is not None:
        _is(conv, dict, "conventions")
        for name in ("key", "print"):
            _is(conv.get(name), str, f"conventions.{name}")
        draft = conv.get("draft")
        if not (isinstance(draft, list) and len(draft) == 2 and isinstance(draft[1], dict)):
            raise _fail("conventions.draft", "expected [kind, payload]")
        if draft[0] != "convention.snapshot":
            raise _fail("conventions.draft", f"kind {draft[0]!r} is not convention.snapshot")
    msg["blobs"] = [_blob(item, i) for i, item in enumerate(_list(msg, "blobs"))]


def _list(msg: dict[str, Any], field: str) -> list[Any]:
    value = msg.get(field, [])
    _is(value, list, field)
    return value  # type: ignore[no-any-return]


def _sha(value: object, field: str) -> str:
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise _fail(field, "expected a SHA-256 in lower-case hex")
    return value


def _b64(value: object, field: str) -> bytes:
    _is(value, str, field)
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as e:
        raise _fail(field, f"not base64 ({e})") from None


def _blob(item: object, i: int) -> tuple[str, int, bytes | None]:
    field = f"blobs[{i}]"
    if not (isinstance(item, list) and len(item) == 3):
        raise _fail(field, "expected [sha256, size, base64 zlib data or null]")
    sha = _sha(item[0], f"{field}[0]")
    _is(item[1], int, f"{field}[1]")
    if item[2] is None:
        return sha, item[1], None
    try:
        data = zlib.decompress(_b64(item[2], f"{field}[2]"))
    except zlib.error as e:
        raise _fail(f"{field}[2]", f"not zlib data ({e})") from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise _fail(f"{field}[2]", f"content does not hash to {sha}")
    return sha, len(data), data


def recall_items(msg: dict[str, Any]) -> list[tuple[str, tuple[int, int, int]]]:
    out = []
    for i, item in enumerate(_list(msg, "items")):
        ok = isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
        if not ok or not isinstance(item[1], list) or len(item[1]) != 3:
            raise _fail(f"items[{i}]", "expected [path, [size, mtime_ns, inode]]")
        if not all(type(v) is int for v in item[1]):
            raise _fail(f"items[{i}][1]", "expected three integers")
        out.append((item[0], (item[1][0], item[1][1], item[1][2])))
    return out


def text(msg: dict[str, Any], field: str) -> str:
    value = msg.get(field)
    _is(value, str, field)
    return str(value)


def drain_entries(msg: dict[str, Any]) -> list[dict[str, Any]]:
    entries = _list(msg, "entries")
    for i, item in enumerate(entries):
        _is(item, dict, f"entries[{i}]")
        key = item.get("key")
        if not isinstance(key, str) or not key.startswith("spool:") or "/" in key:
            raise _fail(f"entries[{i}].key", "expected spool:<file name>")
        if "entry" in item:
            _is(item["entry"], dict, f"entries[{i}].entry")
    return entries


def gap_markers(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``gaps`` request's markers, each as ``{"name", "pid", "facts"}`` with only the
    facts :func:`affidavit.capture.inflight.gap_draft` uses, each of its type."""
    out = []
    for i, item in enumerate(_list(msg, "markers")):
        field = f"markers[{i}]"
        _is(item, dict, field)
        name = item.get("name")
        if not isinstance(name, str) or not _MARKER.fullmatch(name):
            raise _fail(f"{field}.name", "expected an in-flight marker's name, <pid>-<ns>")
        facts = item.get("facts", {})
        _is(facts, dict, f"{field}.facts")
        kept: dict[str, Any] = {}
        for key in _GAP_TEXT:
            if key in facts:
                _is(facts[key], str, f"{field}.facts.{key}")
                kept[key] = facts[key][:200]
        started = facts.get("started")
        if isinstance(started, (int, float)) and not isinstance(started, bool):
            kept["started"] = float(started)
        head = facts.get("input")
        if head is not None:
            _is(head, dict, f"{field}.facts.input")
            _is(head.get("bytes"), int, f"{field}.facts.input.bytes")
            kept["input"] = {"bytes": head["bytes"], "sha256": _sha(head.get("sha256"), field)}
        pid = int(name.split("-", 1)[0])
        kept["pid"] = pid
        out.append({"name": name, "pid": pid, "facts": kept})
    return out

"""The file page: one path's history across people and devices, and each edit's change side
by side, from what the records carry.

A hook record keeps the tool's input (``tool.input``, capped at 1 KiB by the capture): an
``Edit`` has ``old_string`` and ``new_string``, a ``MultiEdit`` a list of ``edits``, a
``Write`` the new ``content``. The file's full text before and after is on the endpoint that
made the change (its snapshots), not on the collector, so a change larger than what the
record kept is shown as far as the record goes and says so; hashes are always shown.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

import psycopg

from affidavit.errors import InputError

MAX_HISTORY = 200
Row = tuple[str, str, str, str, str]
"""(tag, left line number, left text, right line number, right text)."""


@dataclass(frozen=True, slots=True)
class Change:
    org_seq: int
    origin: str
    seq: int
    time: str
    kind: str
    actor: str
    tool: str
    session: str
    before: str
    after: str
    rows: list[Row]
    partial: bool


def history(conn: psycopg.Connection[Any], schema: str, path: str) -> list[Change]:
    if not path or len(path) > 4096:
        raise InputError("path: the file's path as records name it (1-4096 characters)")
    found = conn.execute(
        "SELECT org_seq, origin, seq, time, kind, payload FROM ("
        "SELECT org_seq, origin, seq, time, kind, payload, "
        "convert_from(payload, 'UTF8')::jsonb AS p "
        f'FROM "{schema}".entries WHERE org_seq IS NOT NULL AND starts_with(kind, %s)) AS e '
        "WHERE p #>> '{file,path}' = %s OR p #>> '{file,old_path}' = %s "
        f"ORDER BY org_seq DESC LIMIT {MAX_HISTORY}",
        ("file.", path, path),
    ).fetchall()
    return [_change(*row) for row in found]


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _change(org_seq: int, origin: str, seq: int, time: str, kind: str, raw: Any) -> Change:
    try:
        p = json.loads(bytes(raw)) if raw is not None else {}
    except (ValueError, UnicodeDecodeError):
        p = {}
    p = p if isinstance(p, dict) else {}
    actor, agent, file, tool = (_obj(p, k) for k in ("actor", "agent", "file", "tool"))
    given = _obj(tool, "input")
    rows, partial = side_by_side(given)
    return Change(
        int(org_seq),
        origin,
        int(seq),
        time,
        kind,
        _text(actor.get("email")) or _text(actor.get("user")),
        _text(agent.get("tool")),
        _text(agent.get("session_id")),
        _text(file.get("before_sha256")),
        _text(file.get("after_sha256")),
        rows,
        partial or raw is None,
    )


def side_by_side(given: dict[str, Any]) -> tuple[list[Row], bool]:
    """Rows of the change the tool input describes; ``partial`` when the record kept less."""
    pairs: list[tuple[str, str]] = []
    if isinstance(given.get("edits"), list):
        pairs = [
            (_text(e.get("old_string")), _text(e.get("new_string")))
            for e in given["edits"]
            if isinstance(e, dict)
        ]
    elif "old_string" in given or "new_string" in given:
        pairs = [(_text(given.get("old_string")), _text(given.get("new_string")))]
    elif "content" in given:
        pairs = [("", _text(given.get("content")))]
    rows: list[Row] = []
    for old, new in pairs:
        rows += _rows(old.splitlines(), new.splitlines())
    partial = not pairs or "…[cut " in json.dumps(given, ensure_ascii=False)
    return rows, partial


def _rows(a: list[str], b: list[str]) -> list[Row]:
    out: list[Row] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            left = (str(i1 + k + 1), a[i1 + k]) if i1 + k < i2 else ("", "")
            right = (str(j1 + k + 1), b[j1 + k]) if j1 + k < j2 else ("", "")
            out.append((tag, *left, *right))
    return out

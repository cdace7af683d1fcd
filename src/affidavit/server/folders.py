"""The folders a record's file lies in, as the collector keeps them for ``path`` queries.

A ``path`` filter (``finance``: any file under a folder named ``finance``; ``/srv/finance``:
under that folder from the root) selects a few records of each day among millions, and the
folder can be anywhere in a path, so no b-tree on the path serves it. Every stored record
(``entries`` and ``direct``) therefore keeps the folder names of its ``file.path`` in a
``folders`` array with a GIN index: a record under ``finance`` has ``finance`` among them,
so ``folders @> '{finance}'`` finds its candidates by index, beside the time index, and only
those are parsed and tested with the full rule (:func:`affidavit.query.path_matches`). The
array is a necessary condition, never the answer: a folder it misses would hide a record,
one it has too many selects nothing more than the payload test allows.

The array is derived from the payload, like ``kind`` and ``time`` from the leaf; it is set
by whoever stores the record (ingest, the direct append, the upgrade of an older store),
emptied with the payload by an erasure (a folder name can be personal data), and checked
against the payload by ``affidavit server verify``.

A folder name PostgreSQL cannot hold in an index key (longer than :data:`LONGEST` bytes, a
U+0000, a lone surrogate) is left out on both sides, of the record's array and of the
query's: the query then asks for the other folders only, and the payload test decides.
"""

from __future__ import annotations

import json
from typing import Any

LONGEST = 512  # bytes of UTF-8; a GIN key must fit in a third of a page


def _indexable(name: str) -> bool:
    if not name or "\x00" in name:
        return False
    try:
        return len(name.encode("utf-8")) <= LONGEST
    except UnicodeEncodeError:  # a lone surrogate, from a "\ud800" escape
        return False


def of_path(path: str) -> list[str]:
    """The folder names of a file's path, in order, each once: ``a/b/c.md`` -> ``[a, b]``."""
    names = path.replace("\\", "/").split("/")[:-1]
    return list(dict.fromkeys(n for n in names if _indexable(n)))


def of_payload(payload: bytes | None) -> list[str]:
    """The folders of the payload's ``file.path``; none for a payload without one (or none
    at all: erased), and for one that is not a JSON object."""
    if payload is None or b'"path"' not in payload:
        return []
    try:
        data: Any = json.loads(payload)
    except ValueError:
        return []
    file = data.get("file") if isinstance(data, dict) else None
    path = file.get("path") if isinstance(file, dict) else None
    return of_path(path) if isinstance(path, str) else []


def of_pattern(pattern: str) -> list[str]:
    """The folders every record a folder ``pattern`` (not a glob) matches must have."""
    names = pattern.replace("\\", "/").split("/")
    return list(dict.fromkeys(n for n in names if _indexable(n)))


def literal(names: list[str]) -> str:
    """``names`` as a PostgreSQL array literal: a batch's arrays are ragged, so each travels
    as one text and is cast (``::text[]``) where it is stored."""
    quoted = ('"' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in names)
    return "{" + ",".join(quoted) + "}"

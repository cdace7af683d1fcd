"""``GET /api/v1/records``: every record the organisation holds, with the filters of
``affidavit log``, as JSON lines, paged by org seq.

Query parameters: ``actor``, ``agent``, ``session``, ``tool``, ``kind`` (repeatable, prefix
match: ``file`` is ``file.*``), ``path`` (a folder or glob, as ``log --path``), ``since`` and
``until`` (RFC 3339 times), ``device`` (an endpoint origin), ``after`` (an org seq: the page
starts after it) and ``limit`` (1-5000, default 1000). A full page carries the header
``X-Next-After``; ask again with ``after`` set to it. Business functions need the folder
rules of an endpoint's affidavit.toml, which the collector does not hold: ``function`` is
refused rather than answered wrongly.

Each row names its record three ways: ``org_seq`` (its leaf in the org log), ``origin`` and
``seq`` (its place in the endpoint's own log) and ``leaf_hash`` (base64, the same in both).
The payload fields are read with the same JSON paths as the endpoint's ``actions`` index
(:data:`affidavit.store.derived.PAYLOAD_COLUMNS`); an erased record keeps its envelope
fields and loses the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg

from affidavit.query import path_matches
from affidavit.store.derived import PAYLOAD_COLUMNS

MAX_LIMIT = 5000
COLUMNS = (
    "org_seq", "origin", "seq", "leaf_hash", "time", "kind",
    *(c for c, _, _ in PAYLOAD_COLUMNS),
)  # fmt: skip
_EQUAL = {"agent": "agent", "session": "session_id", "tool": "tool"}
_KNOWN = {"actor", "agent", "session", "tool", "kind", "path", "since", "until", "device"}


class BadQuery(Exception):
    """A query parameter the API does not take, or a value it cannot use (HTTP 400)."""


def _pointer(path: str) -> str:
    # "$.actor.user" -> '{actor,user}' for PostgreSQL's #>> operator
    return "{" + ",".join(path.removeprefix("$.").split(".")) + "}"


_FIELDS = ", ".join(f"p #>> '{_pointer(path)}' AS {column}" for column, path, _ in PAYLOAD_COLUMNS)


def parse(params: Mapping[str, Sequence[str]]) -> tuple[dict[str, Any], int, int]:
    """(filters, after, limit) from the query string; :class:`BadQuery` names what is wrong."""
    unknown = set(params) - _KNOWN - {"after", "limit", "function"}
    if unknown:
        raise BadQuery(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    if "function" in params:
        raise BadQuery(
            "function: the collector does not hold the endpoints' folder rules; filter by path"
        )
    try:
        after = int(params.get("after", ["-1"])[-1])
        limit = int(params.get("limit", ["1000"])[-1])
    except ValueError:
        raise BadQuery("after and limit are integers") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit: 1 to {MAX_LIMIT}")
    filters: dict[str, Any] = {k: v[-1] for k, v in params.items() if k in _KNOWN and v}
    filters["kind"] = list(params.get("kind", []))
    return filters, after, limit


def page(
    conn: psycopg.Connection[Any], schema: str, filters: dict[str, Any], after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of matching records in org seq order; the next ``after``, or None at the end."""
    clauses, args = ["org_seq > %s"], [after]
    if filters.get("device"):
        clauses.append("origin = %s")
        args.append(filters["device"])
    for key in ("since", "until"):
        if filters.get(key):
            clauses.append("time >= %s" if key == "since" else "time < %s")
            args.append(filters[key])
    if filters["kind"]:
        parts = []
        for kind in filters["kind"]:
            parts.append("(kind = %s OR starts_with(kind, %s))")
            args += [kind, kind + "."]
        clauses.append("(" + " OR ".join(parts) + ")")
    out: list[dict[str, Any]] = []
    cursor_at = after
    # The payload filters are applied to each chunk here (path globs as `log` matches them),
    # so a page is read in chunks until it is full or the log ends.
    while len(out) < limit:
        args[0] = cursor_at
        rows = conn.execute(
            f"SELECT org_seq, origin, seq, leaf_hash, time, kind, {_FIELDS} FROM ("
            "SELECT org_seq, origin, seq, encode(leaf_hash, 'base64') AS leaf_hash, time, kind, "
            "convert_from(payload, 'UTF8')::jsonb AS p "
            f'FROM "{schema}".entries WHERE {" AND ".join(clauses)} '
            f"ORDER BY org_seq LIMIT {MAX_LIMIT}) AS e",
            args,
        ).fetchall()
        for row in rows:
            record = dict(zip(COLUMNS, row, strict=True))
            if _matches(record, filters):
                out.append(record)
                if len(out) == limit:
                    return out, int(record["org_seq"])
        if len(rows) < MAX_LIMIT:
            return out, None
        cursor_at = int(rows[-1][0])
    return out, None


def _matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    actor = filters.get("actor")
    if actor and actor not in (record["actor_user"], record["actor_email"]):
        return False
    for key, column in _EQUAL.items():
        if filters.get(key) and record[column] != filters[key]:
            return False
    path = filters.get("path")
    return not path or (record["path"] is not None and path_matches(record["path"], path))


def lines(records: list[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"

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
fields and loses the rest. The auditor's console reads through the same :func:`page`,
newest first, so the API and the console never disagree on what a filter selects.

Every record means the shipped ones (``entries``) and those the collector appended to the
org log itself (an ``http`` hook's, an OpenTelemetry event, a join or a gap: the ``direct``
table that :func:`affidavit.server.orglog.append_direct` fills); a direct record's ``origin``
is its source and its ``seq`` its org seq.

A record that only corroborates another (the same hook event, recorded a second time: by
the command hook and an ``http`` hook on one machine, :mod:`.twins`) is left out, so nothing
is counted twice; ``corroborating=1`` lists those too, each with ``corroborates`` naming the
record it repeats (``origin:seq``).

``person`` is who the identity join (:mod:`.identity`) found for the record's session: the
e-mail or account id of an ``identity.link``, or ``unattributed`` when the OpenTelemetry
receiver has not seen that session with a person. ``actor`` matches it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from affidavit.query import path_matches
from affidavit.server import folders
from affidavit.store.derived import PAYLOAD_COLUMNS

MAX_LIMIT = 5000
COLUMNS = (
    "org_seq", "origin", "seq", "leaf_hash", "time", "kind",
    *(c for c, _, _ in PAYLOAD_COLUMNS), "person", "corroborates",
)  # fmt: skip
_EQUAL = {"agent": "agent", "session": "session_id", "tool": "tool"}
_KNOWN = {"actor", "agent", "session", "tool", "kind", "path", "since", "until", "device"}
_FLAGS = {"corroborating"}


class BadQuery(Exception):
    """A query parameter the API does not take, or a value it cannot use (HTTP 400)."""


def _pointer(path: str) -> str:
    # "$.actor.user" -> '{actor,user}' for PostgreSQL's #>> operator
    return "{" + ",".join(path.removeprefix("$.").split(".")) + "}"


_FIELDS = ", ".join(f"p #>> '{_pointer(path)}' AS {column}" for column, path, _ in PAYLOAD_COLUMNS)


def parse(params: Mapping[str, Sequence[str]]) -> tuple[dict[str, Any], int, int]:
    """(filters, after, limit) from the query string; :class:`BadQuery` names what is wrong."""
    unknown = set(params) - _KNOWN - _FLAGS - {"after", "limit", "function"}
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
    for flag in _FLAGS & set(params):
        if params[flag][-1:] not in (["0"], ["1"]):
            raise BadQuery(f"{flag}: 0 or 1")
        filters[flag] = params[flag][-1] == "1"
    return filters, after, limit


def page(
    conn: psycopg.Connection[Any],
    schema: str,
    filters: dict[str, Any],
    after: int,
    limit: int,
    *,
    newest_first: bool = False,
    also: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of matching records in org seq order; the next ``after``, or None at the end.

    ``newest_first`` (the console's timeline) reads backwards: ``after`` is then the org seq
    the page starts below (-1: the newest), and the cursor returned is the next one down.
    ``also`` is one more test a record must pass (the console's business-function filter).
    """
    if newest_first and after < 0:
        after = 2**63 - 1
    w = _where(filters)
    # A later page of an open window (``since`` without ``until``, oldest first) starts at its
    # cursor, past the window's lowest org seq: the bound would cost a read of the window's
    # index entries on every page and select nothing fewer.
    later = after >= 0 and not newest_first and not filters.get("until")
    walk = later
    if not later and filters.get("since"):
        window = _narrow_to_window(conn, schema, filters, w)
        if window is None:
            return [], None
        walk = window
    if walk:
        # Records are sequenced about as they happen, so a window's records fill most of its
        # org seq range: walking that range in org seq order reads each once, and every page
        # starts where the last stopped. PostgreSQL cannot know this (it takes time and org
        # seq as independent), and with the time test indexable it read the whole window
        # through the time index for every page and sorted it (at 10M records, a day's five
        # folders took 1.1 s in pages of 1,000, 0.16 s a page). ``time || ''`` is the same
        # test that no index answers, which leaves the walk (or, for a rare folder, the
        # folders index) as the plans to choose from.
        w.envelope[:] = [_WALK.get(clause, clause) for clause in w.envelope]
    inner = ["org_seq < %s" if newest_first else "org_seq > %s", *w.envelope, *w.raw]
    hit = " AND ".join(w.payload)
    out: list[dict[str, Any]] = []
    cursor_at = after
    # A chunk of candidates is taken in org seq order by the envelope filters alone (a walk
    # of the org seq index that stops at the chunk), and only they are parsed and tested
    # (``hit``) with the payload filters; the chunk's last candidate comes back even when it
    # fails them, as the next chunk's cursor. Asked for the first N matches in one statement,
    # PostgreSQL cannot know how far a payload filter reads, and at 1M records it chose to
    # parse and sort them all (27 s for a folder). The first chunk is one page (and one row
    # to know whether more follow), which is all a page needs with no payload filter or a
    # common one (the console's newest page, a busy folder; a twin left out); each further
    # chunk is four times larger, up to MAX_LIMIT, so a rare match costs few round trips.
    # Starting at MAX_LIMIT parsed 5,000 payloads for every page: 0.5 s at 1M records.
    chunk = min(MAX_LIMIT, limit + 1)
    direction, last = ("DESC", "min") if newest_first else ("", "max")
    while len(out) < limit:
        candidates = _candidates(schema, " AND ".join(inner), direction, chunk)
        rows = conn.execute(
            f"WITH c AS MATERIALIZED ({candidates}) "
            "SELECT e.org_seq, e.origin, e.seq, encode(e.leaf_hash, 'base64'), e.time, e.kind, "
            f"{_FIELDS}, {_PERSON}, {hit}, (SELECT count(*) FROM c), "
            f"(SELECT {last}(org_seq) FROM c) FROM (SELECT r.*, j.p FROM c AS r "
            f"CROSS JOIN LATERAL {_PARSE}) AS e {_seen(schema)} "
            f"WHERE ({hit}) OR e.org_seq = (SELECT {last}(org_seq) FROM c) "
            f"ORDER BY e.org_seq {direction}",
            [*[cursor_at, *w.envelope_args, *w.raw_args] * 2, *w.payload_args, *w.payload_args],
        ).fetchall()
        for *fields, matched, _, _ in rows:
            record = dict(zip(COLUMNS, fields, strict=True))
            if matched and _matches(record, filters) and (also is None or also(record)):
                out.append(record)
                if len(out) == limit:
                    return out, int(record["org_seq"])
        if not rows or rows[0][-2] < chunk:
            return out, None
        cursor_at = int(rows[0][-1])
        chunk = min(MAX_LIMIT, chunk * 4)
    return out, None


# jsonb cannot hold U+0000 (a binary input's excerpt escapes it): U+FFFD here, in the query's
# view only; the stored payload is untouched.
_PARSE = (
    "(SELECT replace(convert_from(r.payload, 'UTF8'), '\\u0000', '\\ufffd')::jsonb AS p "
    "OFFSET 0) AS j"
)
_PERSON = (
    "coalesce(h.email, h.account_uuid, 'unattributed'), h.twin_origin || ':' || h.twin_seq::text"
)


def _narrow_to_window(
    conn: psycopg.Connection[Any], schema: str, filters: dict[str, Any], w: _Where
) -> bool | None:
    """Bound a ``since`` window by org seq: None when no record lies in it, else whether it
    is dense (its records fill at least a quarter of the org seq range they span).

    A page reads in org seq order, and a time filter alone does not say where in that order
    its records are: PostgreSQL then either walks the org seq index from the first record,
    testing each time (at 10M records, every record before the last day), or reads the
    whole window and sorts it again for every page. The window's lowest and highest org seq,
    read from the (time, org_seq) index alone, bound the walk to the window. They are
    implied by the time filter (each record in the window has an org seq between them), so
    they select nothing it would not. Without ``until`` there is no upper bound: a record
    sequenced later has a higher org seq than any now in the window. With ``until``, one
    that arrives between the two statements (an old record shipped late) waits for the next
    query, as if it had come a moment later. A window that is not dense (records with its
    times sequenced far apart: a laptop that shipped a month late) is read by its indexes.
    """
    since, until = filters["since"], filters.get("until")
    where = "time >= %s" + (" AND time < %s" if until else "")
    args = [since, until] if until else [since]
    # ``+ 0``: min and max over the org seq index itself would walk it from one end, the very
    # scan this avoids.
    row = conn.execute(
        f"SELECT min(org_seq + 0), max(org_seq + 0), count(*) FROM ("
        f'SELECT org_seq FROM "{schema}".entries WHERE {where} UNION ALL '
        f'SELECT org_seq FROM "{schema}".direct WHERE {where}) AS w',
        args * 2,
    ).fetchone()
    if row is None or row[0] is None:
        return None
    low, high, count = int(row[0]), int(row[1]), int(row[2])
    w.envelope.append("org_seq >= %s")
    w.envelope_args.append(low)
    if until:
        w.envelope.append("org_seq <= %s")
        w.envelope_args.append(high)
    return high - low + 1 <= 4 * count


def _candidates(schema: str, where: str, direction: str, chunk: int) -> str:
    """The first ``chunk`` records by org seq that ``where`` selects, shipped and direct.

    Each half is ordered and cut on its own, so each walks its own org seq index and stops:
    over the two together as one union PostgreSQL sorts every row of both instead, as
    the direct half (a join) comes unordered. The halves select org seqs alone and the rows
    are read by them after the cut: where PostgreSQL finds the candidates by other indexes
    (a time window, a folder) and sorts them, it sorts numbers, not their payloads (at 10M
    records, a day's payloads sorted on disk took 0.4 s a chunk)."""
    halves = (
        f'SELECT org_seq, origin, time, kind, payload, folders FROM "{schema}".entries '
        "WHERE org_seq IS NOT NULL",
        "SELECT d.org_seq, d.source AS origin, d.time, d.kind, r.payload, d.folders "
        f'FROM "{schema}".direct d JOIN "{schema}_org".records r ON r.seq = d.org_seq',
    )
    cut = f"ORDER BY org_seq {direction} LIMIT {chunk}"
    both = " UNION ALL ".join(
        f"(SELECT org_seq FROM ({h}) AS u WHERE {where} {cut})" for h in halves
    )
    # Each row is then looked up by its org seq (OFFSET 0: a lateral lookup that PostgreSQL
    # keeps as one, rather than a hash join that reads every row of the table).
    return (
        f"WITH k AS MATERIALIZED (SELECT org_seq FROM ({both}) AS b {cut}) "
        "SELECT e.* FROM k CROSS JOIN LATERAL (SELECT org_seq, origin, seq, leaf_hash, time, "
        f'kind, payload FROM "{schema}".entries WHERE org_seq = k.org_seq OFFSET 0) AS e '
        "UNION ALL SELECT e.* FROM k CROSS JOIN LATERAL (SELECT d.org_seq, d.source, "
        f'd.org_seq, r.leaf_hash, d.time, d.kind, r.payload FROM "{schema}".direct d '
        f'JOIN "{schema}_org".records r ON r.seq = d.org_seq WHERE d.org_seq = k.org_seq '
        "OFFSET 0) AS e"
    )


def _seen(schema: str) -> str:
    """The identity join's row of each record, if any (``person``, and the record it
    corroborates, :mod:`.twins`).

    Looked up record by record through its primary key (OFFSET 0 keeps PostgreSQL from
    turning the lookup into a hash join): a join that does not keep the org seq order makes
    the planner parse and sort every record the envelope filters let through, all 10M for a
    ``path`` alone, before it can return the first page (27 s at 1M records)."""
    return (
        "LEFT JOIN LATERAL (SELECT email, account_uuid, twin_origin, twin_seq "
        f'FROM "{schema}".hook_seen s WHERE s.origin = e.origin AND s.seq = e.seq OFFSET 0) '
        "AS h ON TRUE"
    )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True, slots=True)
class _Where:
    """The SQL of a filter set: clauses on the envelope columns, on the raw payload bytes
    (before any parse) and on the parsed payload ``p``, each with its arguments."""

    envelope: list[str] = field(default_factory=list)
    envelope_args: list[Any] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    raw_args: list[Any] = field(default_factory=list)
    payload: list[str] = field(default_factory=lambda: ["TRUE"])
    payload_args: list[Any] = field(default_factory=list)
    in_python: bool = False
    """A filter only :func:`_matches` can apply: a path glob."""


_SINCE, _UNTIL = "time >= %s", "time < %s"
_WALK = {_SINCE: "(time || '') >= %s", _UNTIL: "(time || '') < %s"}  # see page()


def _where(filters: dict[str, Any]) -> _Where:
    w = _Where(payload=[])
    if not filters.get("corroborating"):
        # A second record of a hook event another record already holds (:mod:`.twins`)
        w.payload.append("h.twin_seq IS NULL")
    if filters.get("device"):
        w.envelope.append("origin = %s")
        w.envelope_args.append(filters["device"])
    for key in ("since", "until"):
        if filters.get(key):
            w.envelope.append(_SINCE if key == "since" else _UNTIL)
            w.envelope_args.append(filters[key])
    if filters.get("kind"):
        parts = []
        for kind in filters["kind"]:
            parts.append("(kind = %s OR starts_with(kind, %s))")
            w.envelope_args.extend([kind, kind + "."])
        w.envelope.append("(" + " OR ".join(parts) + ")")
    # JSON writes a string without " \\ or control characters as is unless it escapes, and
    # every escape has a backslash: a payload with neither the bytes "value" nor any backslash
    # cannot match, so it is skipped before the JSON parse. That keeps a sparse person filter
    # fast, and no payload (canonical or not) that the JSON test would match is ever skipped.
    for key in _EQUAL:
        value = filters.get(key)
        if value and not any(c in value for c in '"\\') and value.isprintable():
            w.raw.append("(payload LIKE %s OR position(%s::bytea in payload) > 0)")
            w.raw_args.extend([('%"' + _like(value) + '"%').encode(), b"\\"])
    if filters.get("actor"):
        w.payload.append(
            "(p #>> '{actor,user}' = %s OR p #>> '{actor,email}' = %s "
            "OR h.email = %s OR h.account_uuid = %s)"
        )
        w.payload_args.extend([filters["actor"]] * 4)
    for key, column in _EQUAL.items():
        if filters.get(key):
            path = next(p for c, p, _ in PAYLOAD_COLUMNS if c == column)
            w.payload.append(f"p #>> '{_pointer(path)}' = %s")
            w.payload_args.append(filters[key])
    pattern = str(filters.get("path") or "").replace("\\", "/").rstrip("/")
    if pattern and any(c in pattern for c in "*?["):
        w = replace(w, in_python=True)
    elif pattern:
        # Its folder names, by the folders index (:mod:`.folders`): a candidate has them all
        names = folders.of_pattern(pattern)
        if names:
            w.envelope.append("folders @> %s::text[]")
            w.envelope_args.append(names)
        elif pattern.isprintable() and '"' not in pattern:
            # As above: the path's bytes "<folder>/" are in the payload unless JSON escaped
            # something (a backslash, also a Windows separator), so the rest skip the parse.
            w.raw.append("(payload LIKE %s OR position(%s::bytea in payload) > 0)")
            w.raw_args.extend([("%" + _like(pattern) + "/%").encode(), b"\\"])
        # path_matches of a folder: under it at the root, or (relative) under any folder so named
        path = "replace(p #>> '{file,path}', '\\', '/')"
        w.payload.append(
            f"{path} LIKE %s" if pattern.startswith("/") else f"({path} LIKE %s OR {path} LIKE %s)"
        )
        w.payload_args.append(_like(pattern) + "/%")
        if not pattern.startswith("/"):
            w.payload_args.append("%/" + _like(pattern) + "/%")
    return replace(w, envelope=w.envelope or ["TRUE"], payload=w.payload or ["TRUE"])


def newest_paths(
    conn: psycopg.Connection[Any], schema: str, filters: dict[str, Any], scan: int
) -> tuple[list[str | None], bool] | None:
    """The file paths of the matching records among the newest ``scan`` that the envelope
    filters (device, kind, time) select, newest first: a bounded sample for counting; and
    whether the scan stopped at ``scan`` (older records were not looked at). None when a
    filter needs Python (a path glob) and :func:`page` must be used instead."""
    w = _where(filters)
    if w.in_python:
        return None
    hit = " AND ".join(w.raw + w.payload)
    # Each half (shipped, direct) cut on its own (:func:`_candidates`): ordered as one union,
    # the direct half (a join) comes unordered and PostgreSQL sorted every record of the
    # collector for each page of the console (0.5 s at 1M records).
    candidates = _candidates(schema, " AND ".join(w.envelope), "DESC", int(scan))
    rows = conn.execute(
        f"WITH c AS MATERIALIZED ({candidates}) "
        f"SELECT p #>> '{{file,path}}', {hit} FROM (SELECT r.origin, r.seq, r.payload, j.p "
        f"FROM c AS r CROSS JOIN LATERAL {_PARSE}) AS e {_seen(schema)}",
        [*w.envelope_args * 2, *w.raw_args, *w.payload_args],  # in the text's order
    ).fetchall()
    return [path for path, matched in rows if matched], len(rows) == scan


def _matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    actor = filters.get("actor")
    if actor and actor not in (record["actor_user"], record["actor_email"], record["person"]):
        return False
    for key, column in _EQUAL.items():
        if filters.get(key) and record[column] != filters[key]:
            return False
    path = filters.get("path")
    return not path or (record["path"] is not None and path_matches(record["path"], path))


def lines(records: list[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"

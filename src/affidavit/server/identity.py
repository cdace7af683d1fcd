"""The identity join: hook records meet OpenTelemetry records on session, tool use and prompt.

A hook payload names a session (``agent.session_id``) but no person; Claude Code's and
Cowork's OpenTelemetry events name both (``session.id``, ``user.email``,
``user.account_uuid``, ``organization.id``). The join runs beside the org log's integrator:

1. :func:`scan` indexes what arrived since its last turn: shipped endpoint records (the
   ``entries`` table) and hook records the collector received itself (org log records whose
   source names a hook; their origin is that source and their seq the org seq, as
   ``GET /api/v1/records`` names them) go into ``hook_seen``; ``otel.*`` org log records into
   ``otel_seen``. Both tables are derived: the org log and ``entries`` stay the truth.
2. :func:`link` gives every hook record whose session the receiver has seen with a person
   one ``identity.link`` record, whose payload names the hook record (origin, seq, leaf
   hash) and the OpenTelemetry record used as evidence (``otel_seq``, its org seq) and how
   they matched (``match``): the same tool use if there is one, else the same prompt, else
   the session's first event. Events arrive in any order, so a record linked by prompt or
   session gets a second, exact link when its tool use's event arrives; the newest link is
   the one that counts. So attribution is a record with proofs, not a mutable column.

Links are appended and their hook rows marked in one transaction under the org log's writer
lock (as the integrator takes entries), so a crash cannot link a record twice.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from affidavit.record import Kind, Record
from affidavit.server import orglog
from affidavit.server.orglog import SOURCE
from affidavit.server.schema import Collector

_DDL = """
CREATE TABLE IF NOT EXISTS {s}.hook_seen (
    origin TEXT NOT NULL, seq BIGINT NOT NULL, session_id TEXT NOT NULL, tool_use_id TEXT,
    prompt_id TEXT, leaf_hash BYTEA NOT NULL, seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    link_seq BIGINT, link_match TEXT, email TEXT, account_uuid TEXT,
    PRIMARY KEY (origin, seq));
CREATE INDEX IF NOT EXISTS hook_seen_use ON {s}.hook_seen (session_id, tool_use_id);
CREATE INDEX IF NOT EXISTS hook_seen_unlinked ON {s}.hook_seen (session_id) WHERE link_seq IS NULL;
CREATE TABLE IF NOT EXISTS {s}.otel_seen (
    org_seq BIGINT PRIMARY KEY, kind TEXT NOT NULL, session_id TEXT, tool_use_id TEXT,
    prompt_id TEXT, tool TEXT, device TEXT NOT NULL, email TEXT, account_uuid TEXT,
    organization_id TEXT, seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    matched BOOLEAN NOT NULL DEFAULT false, gap_seq BIGINT);
CREATE INDEX IF NOT EXISTS otel_seen_use ON {s}.otel_seen (session_id, tool_use_id);
CREATE INDEX IF NOT EXISTS otel_seen_open ON {s}.otel_seen (seen_at)
    WHERE kind = 'otel.tool_result' AND NOT matched AND gap_seq IS NULL;
CREATE TABLE IF NOT EXISTS {s}.join_cursor (name TEXT PRIMARY KEY, position BIGINT NOT NULL);
ALTER TABLE {s}.hook_seen ADD COLUMN IF NOT EXISTS kind TEXT,
    ADD COLUMN IF NOT EXISTS event_key BYTEA, ADD COLUMN IF NOT EXISTS witness TEXT,
    ADD COLUMN IF NOT EXISTS keyed BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS twin_origin TEXT, ADD COLUMN IF NOT EXISTS twin_seq BIGINT,
    ADD COLUMN IF NOT EXISTS twin_link BIGINT;
CREATE INDEX IF NOT EXISTS hook_seen_unkeyed ON {s}.hook_seen (seen_at) WHERE NOT keyed;
CREATE INDEX IF NOT EXISTS hook_seen_key ON {s}.hook_seen (event_key);
CREATE TABLE IF NOT EXISTS {s}.identity_links (
    origin TEXT NOT NULL, seq BIGINT NOT NULL, link_seq BIGINT NOT NULL,
    PRIMARY KEY (origin, seq, link_seq))
"""
_CHUNK = 5000
_LOOKBACK = 1000  # entries ids committed out of order by concurrent ships are read again
_SKIP_KINDS = (Kind.ORG_ENTRY, Kind.WITNESS_CONFLICT, Kind.IDENTITY_LINK, Kind.CAPTURE_GAP)


def tables_made(conn: psycopg.Connection[Any], schema: str) -> bool:
    """Whether :func:`ensure_tables` has run: the last table its statements make exists,
    and they all run in one transaction."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".identity_links',)
    ).fetchone()
    return row is not None and bool(row[0])


def ensure_tables(conn: psycopg.Connection[Any], schema: str) -> None:
    # Made already: nothing to do, and no lock to take. ``ALTER TABLE ... IF NOT EXISTS``
    # locks the table even when it changes nothing, and `server seal` run beside a serving
    # collector deadlocked with its identity scan.
    if tables_made(conn, schema):
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"ddl:{schema}",))
        if tables_made(conn, schema):
            return  # another worker made them while this one waited
        for statement in _DDL.format(s=f'"{schema}"').split(";"):
            conn.execute(statement)
        _index_links(conn, schema)


def _index_links(conn: psycopg.Connection[Any], schema: str) -> None:
    """Fill ``identity_links`` from the org log's ``identity.link`` records: a collector made
    before the table has them only in the log. One read of the org log, once."""
    rows = conn.execute(
        f'SELECT seq, payload FROM "{schema}_org".records WHERE payload IS NOT NULL '
        "AND position(%s::bytea in leaf) > 0",
        (LINK_MARKER,),
    ).fetchall()
    found = [(t, int(seq)) for seq, payload in rows if (t := link_target(payload)) is not None]
    conn.execute(
        f'INSERT INTO "{schema}".identity_links SELECT * FROM unnest(%b::text[], %b::bigint[], '
        "%b::bigint[]) ON CONFLICT DO NOTHING",
        ([t[0] for t, _ in found], [t[1] for t, _ in found], [s for _, s in found]),
    )


LINK_MARKER = b'"kind":"identity.link"'
"""In the leaf of every ``identity.link`` record (canonical JSON: no spaces)."""


def link_target(payload: bytes | memoryview | None) -> tuple[str, int] | None:
    """The (origin, seq) of the hook record an ``identity.link`` payload names, if it does."""
    try:
        body = json.loads(bytes(payload or b"null"))
        hook = body["hook"]
        origin, seq = hook["origin"], hook["seq"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(origin, str) or not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return origin, seq


def _cursor(conn: psycopg.Connection[Any], s: str, name: str) -> int:
    row = conn.execute(f"SELECT position FROM {s}.join_cursor WHERE name = %s", (name,)).fetchone()
    return -1 if row is None else int(row[0])


def _move(conn: psycopg.Connection[Any], s: str, name: str, position: int) -> None:
    conn.execute(
        f"INSERT INTO {s}.join_cursor VALUES (%s, %s) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        (name, position),
    )


def scan(conn: psycopg.Connection[Any], c: Collector) -> int:
    """Index entries and org log records that arrived since the last scan; returns how many
    were read. The payloads are read by PostgreSQL (``jsonb``), in ranges of the cursor."""
    s, org = f'"{c.schema}"', f'"{c.org_schema}"'
    done = 0
    while True:
        with conn.transaction():
            after = _cursor(conn, s, "entries")
            top = conn.execute(f"SELECT max(received) FROM {s}.entries").fetchone()
            upto = min(after + _RANGE, int(top[0])) if top and top[0] is not None else after
            if upto <= after:
                break
            conn.execute(_SCAN_ENTRIES.format(s=s), (after - _LOOKBACK, upto))
            _move(conn, s, "entries", upto)
            done += upto - after
    while True:
        with conn.transaction():
            after = _cursor(conn, s, "org")
            top = conn.execute(f"SELECT max(seq) FROM {org}.records").fetchone()
            upto = min(after + _RANGE, int(top[0])) if top and top[0] is not None else after
            if upto <= after:
                return done
            conn.execute(
                _SCAN_ORG.format(s=s, org=org),
                (after, upto, [str(k) for k in _SKIP_KINDS]),
            )
            _move(conn, s, "org", upto)
            done += upto - after


_RANGE = 50_000
_HOOK_COLUMNS = (
    "(origin, seq, session_id, tool_use_id, prompt_id, leaf_hash, kind, event_key, witness)"
)
_AGENT = "p #>> '{{agent,session_id}}', p #>> '{{agent,tool_use_id}}', p #>> '{{agent,prompt_id}}'"
# Which hook event a record stands for (:mod:`.twins`): session, event, kind (every file.*
# kind as one, so a claimed file meets the observed one), tool use and file path; an event
# without a tool use is told by its whole source event: `raw` in older records, else `raw_rest`
# with the sections the mapper filled from the rest of it (`agent`, `prompt`, `tool`: see
# capture.events.source_event). jsonb's text of equal JSON is equal.
_KEY = (
    "CASE WHEN jsonb_typeof(p #> '{{agent,event}}') = 'string' THEN sha256(convert_to("
    "jsonb_build_array(p #>> '{{agent,session_id}}', p #>> '{{agent,event}}', "
    "CASE WHEN starts_with(@KIND, 'file.') THEN 'file' ELSE @KIND END, "
    "p #>> '{{agent,tool_use_id}}', p #>> '{{file,path}}', "
    "CASE WHEN p #> '{{agent,tool_use_id}}' IS NULL THEN coalesce(p -> 'raw', jsonb_build_array("
    "p -> 'raw_rest', p -> 'agent', p -> 'prompt', p -> 'tool')) END)::text, 'UTF8')) END"
)
_ORG_KEY = _KEY.replace("@KIND", "(l ->> 'kind')")
_SESSION = "jsonb_typeof(p #> '{{agent,session_id}}') = 'string'"
# jsonb cannot hold U+0000 (a binary input's excerpt escapes it): U+FFFD in the join's view
# only; the stored payload is untouched.
_JSONB = "replace(convert_from(payload, 'UTF8'), '\\u0000', '\\ufffd')::jsonb"
# Entries are read again back to _LOOKBACK ids: concurrent ships may commit out of order.
# OFFSET 0 keeps the subquery a subquery: pulled up, its `p` is pasted into each of the four
# places that read it, and every payload was parsed four times (half the scan's time).
_SCAN_ENTRIES = (
    f"INSERT INTO {{s}}.hook_seen {_HOOK_COLUMNS} SELECT origin, seq, {_AGENT}, leaf_hash, "
    f"kind, {_KEY.replace('@KIND', 'kind')}, origin "
    "FROM (SELECT origin, seq, leaf_hash, kind, " + _JSONB + " AS p "
    "FROM {s}.entries WHERE received > %s AND received <= %s AND payload IS NOT NULL "
    f"OFFSET 0) e WHERE {_SESSION} ON CONFLICT DO NOTHING"
)
_SCAN_ORG = (
    "WITH r AS MATERIALIZED (SELECT seq, leaf_hash, convert_from(leaf, 'UTF8')::jsonb AS l, "
    f"{_JSONB} AS p FROM {{org}}.records "
    "WHERE seq > %s AND seq <= %s), "
    "o AS (INSERT INTO {s}.otel_seen (org_seq, kind, session_id, tool_use_id, prompt_id, "
    f"tool, device, email, account_uuid, organization_id) SELECT seq, l ->> 'kind', {_AGENT}, "
    "p #>> '{{agent,tool}}', coalesce(p ->> 'device', 'unknown'), p #>> '{{actor,email}}', "
    "p #>> '{{actor,account_uuid}}', p #>> '{{actor,org_uuid}}' FROM r "
    "WHERE starts_with(l ->> 'kind', 'otel.') RETURNING 1) "
    f"INSERT INTO {{s}}.hook_seen {_HOOK_COLUMNS} SELECT l ->> 'source', seq, {_AGENT}, leaf_hash, "
    f"l ->> 'kind', {_ORG_KEY}, "
    "(l ->> 'source') || ':' || coalesce(p #>> '{{actor,device}}', '') FROM r "
    "WHERE NOT starts_with(l ->> 'kind', 'otel.') AND l ->> 'kind' <> ALL(%s) "
    f"AND strpos(l ->> 'source', 'hook') > 0 AND {_SESSION}"
)


def link(conn: psycopg.Connection[Any], c: Collector) -> int:
    """Append an ``identity.link`` for every hook record whose session has a known person."""
    s = f'"{c.schema}"'
    total = 0
    for query in (_EXACT, _FALLBACK):
        while True:
            rows = conn.execute(query.format(s=s, limit=_CHUNK)).fetchall()
            if not rows:
                break
            _link_batch(conn, c, rows)
            total += len(rows)
    return total


_PICKED = (
    "h.origin, h.seq, h.session_id, h.tool_use_id, h.prompt_id, h.leaf_hash, "
    "o.org_seq, o.email, o.account_uuid, o.organization_id, "
)
_PERSON = "(o.email IS NOT NULL OR o.account_uuid IS NOT NULL)"
# First the hook records whose own tool use the telemetry reported (an index lookup each),
# also those linked earlier by their prompt or session only (events arrive in any order):
# they get a second, exact link. Then the rest of the seen sessions: the same prompt's
# first event, else the session's.
_EXACT = (
    f"SELECT DISTINCT ON (h.origin, h.seq) {_PICKED} 'tool_use' FROM {{s}}.hook_seen h "
    "JOIN {s}.otel_seen o ON o.session_id = h.session_id AND o.tool_use_id = h.tool_use_id "
    f"AND {_PERSON} WHERE h.link_match IS DISTINCT FROM 'tool_use' "
    "AND h.tool_use_id IS NOT NULL ORDER BY h.origin, h.seq, o.org_seq LIMIT {limit}"
)
_FALLBACK = (
    f"SELECT {_PICKED} CASE WHEN o.prompt_id = h.prompt_id THEN 'prompt' ELSE 'session' END "
    "FROM {s}.hook_seen h CROSS JOIN LATERAL ("
    "SELECT org_seq, email, account_uuid, organization_id, prompt_id FROM {s}.otel_seen o "
    f"WHERE o.session_id = h.session_id AND {_PERSON} "
    "ORDER BY (o.prompt_id = h.prompt_id) DESC NULLS LAST, o.org_seq LIMIT 1) o "
    "WHERE h.link_seq IS NULL LIMIT {limit}"
)


def _link_batch(conn: psycopg.Connection[Any], c: Collector, rows: list[tuple[Any, ...]]) -> None:
    now = datetime.now(UTC)
    records = [
        Record.create(
            Kind.IDENTITY_LINK,
            SOURCE,
            {
                "session_id": session,
                "tool_use_id": tool_use,
                "prompt_id": prompt,
                "hook": {
                    "origin": origin,
                    "seq": int(seq),
                    "leaf_hash": base64.b64encode(leaf_hash).decode(),
                },
                "otel_seq": int(otel_seq),
                "user": {"email": email, "account_uuid": account, "organization_id": org},
                "match": match,
            },
            time=now,
        )
        for origin, seq, session, tool_use, prompt, leaf_hash, otel_seq, email, account, org,
            match in rows
    ]  # fmt: skip

    def mark(first: int) -> None:
        origins, seqs = [r[0] for r in rows], [int(r[1]) for r in rows]
        links = list(range(first, first + len(rows)))
        conn.execute(
            f'UPDATE "{c.schema}".hook_seen h SET link_seq = v.link, email = v.email, '
            "account_uuid = v.account, link_match = v.match FROM unnest(%b::text[], "
            "%b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::text[]) "
            "AS v(origin, seq, link, email, account, match) "
            "WHERE h.origin = v.origin AND h.seq = v.seq",
            (origins, seqs, links, *([r[i] for r in rows] for i in (7, 8, 10))),
        )
        # Every link, not only the newest (the console's record page lists them all).
        conn.execute(
            f'INSERT INTO "{c.schema}".identity_links SELECT * FROM unnest(%b::text[], '
            "%b::bigint[], %b::bigint[])",
            (origins, seqs, links),
        )

    append_marked(conn, c, records, mark)


def append_marked(
    conn: psycopg.Connection[Any],
    c: Collector,
    records: Sequence[Record],
    mark: Callable[[int], None],
) -> int:
    """Append ``records`` and run ``mark(first seq)`` in the same transaction."""
    return orglog.append_direct(conn, c, records, then=lambda seqs: mark(seqs.start)).start

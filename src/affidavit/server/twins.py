"""One hook event recorded twice: the second record corroborates the first, and is counted once.

A machine can send the same hook event both ways: its command hook writes the endpoint's
ledger, which ships to the collector, and an ``http`` hook (a Cowork plugin, managed
settings) POSTs it to ``/v1/hooks``. Both records stay (they are two independent witnesses,
each with its own proof), but the organisation's views count the event once: the record the
org log sequenced second (a shipped record once the integrator took it, an http hook's when
it arrived) is marked as corroborating the first, so ``GET /api/v1/records``,
``log --server``, ``export --server`` and the console leave it out unless asked for
(``corroborating=1``).

Which event a record stands for is its ``event_key`` in ``hook_seen`` (computed by
:func:`affidavit.server.identity.scan`): session, hook event, kind (every ``file.*`` kind as
one), tool use id and file path; for an event without a tool use id (a prompt, a session
start, a stop), its whole raw event. Pairing, one record at a time in org seq order (a
shipped record waits until the org log holds it):

* a tool use id names one tool call, so a record with a key already held corroborates the
  first record that has it, whoever sent either;
* without one, two equal events can be two real events (two identical stops), so a record
  corroborates the first record of its key from *another* witness (an endpoint log, or an
  http hook's source and token) that no record of its own witness corroborates yet;
* a ``file.claim`` (what an http hook's shell command names, not observed) never stands
  above an observed ``file.*`` record of the same file: when the observed one comes second,
  the claim becomes the corroborating one instead, if nothing corroborates the claim yet.

Each turn's pairs are written to the org log as ``capture.corroboration`` records naming both
records (origin, seq, leaf hash), in the same transaction as the marks in ``hook_seen``: the
marks are derived, the records are the proof.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from affidavit.record import Kind, Record
from affidavit.server.identity import append_marked
from affidavit.server.orglog import SOURCE
from affidavit.server.schema import Collector

_CHUNK = 5000
PAIRS_PER_RECORD = 500
CLAIM = "file.claim"


@dataclass(slots=True)
class _Seen:
    """One ``hook_seen`` row, as the pairing needs it."""

    origin: str
    seq: int
    key: bytes | None
    witness: str
    kind: str
    session: str
    tool_use: str | None
    leaf_hash: bytes
    twins: set[str] = field(default_factory=set)  # witnesses of the records corroborating it

    def ref(self) -> dict[str, Any]:
        leaf = base64.b64encode(self.leaf_hash).decode()
        return {"origin": self.origin, "seq": self.seq, "leaf_hash": leaf}


_ROW = (
    "h.origin, h.seq, h.event_key, coalesce(h.witness, h.origin), coalesce(h.kind, ''), "
    "h.session_id, h.tool_use_id, h.leaf_hash"
)
# Each row with its org seq: a shipped entry's once the integrator took it, a record the
# collector appended itself (an http hook's: its origin is its source) its own seq.
_FROM = (
    "FROM {s}.hook_seen h LEFT JOIN {s}.entries e ON e.origin = h.origin AND e.seq = h.seq "
    "LEFT JOIN {s}.direct d ON d.org_seq = h.seq AND d.source = h.origin"
)
_ORG_SEQ = "coalesce(e.org_seq, d.org_seq)"


def _seen(row: tuple[Any, ...]) -> _Seen:
    origin, seq, key, witness, kind, session, tool_use, leaf_hash = row
    return _Seen(origin, int(seq), key, witness, kind, session, tool_use, bytes(leaf_hash))


def pair(conn: psycopg.Connection[Any], c: Collector) -> int:
    """Pair every record indexed since the last turn; returns how many corroborate another."""
    s = f'"{c.schema}"'
    # Rows with no key (not a hook event, or indexed before keys were) pair with nothing.
    conn.execute(f"UPDATE {s}.hook_seen SET keyed = true WHERE NOT keyed AND event_key IS NULL")
    total = 0
    while True:
        rows = conn.execute(
            f"SELECT {_ROW} {_FROM.format(s=s)} WHERE NOT h.keyed AND {_ORG_SEQ} IS NOT NULL "
            f"ORDER BY {_ORG_SEQ} LIMIT {_CHUNK}"
        ).fetchall()
        if not rows:
            return total
        total += _pair_batch(conn, c, [_seen(r) for r in rows])


def _pair_batch(conn: psycopg.Connection[Any], c: Collector, batch: list[_Seen]) -> int:
    s = f'"{c.schema}"'
    keys = list({r.key for r in batch if r.key is not None})
    held: dict[bytes, list[_Seen]] = defaultdict(list)
    for row in conn.execute(
        f"SELECT {_ROW} {_FROM.format(s=s)} WHERE h.event_key = ANY(%s) AND h.keyed "
        f"AND h.twin_seq IS NULL ORDER BY {_ORG_SEQ}",
        (keys,),
    ):
        first = _seen(row)
        held[first.key or b""].append(first)
    by_place = {(r.origin, r.seq): r for rs in held.values() for r in rs}
    for origin, seq, witness in conn.execute(
        f"SELECT twin_origin, twin_seq, coalesce(witness, origin) FROM {s}.hook_seen "
        "WHERE event_key = ANY(%s) AND twin_seq IS NOT NULL",
        (keys,),
    ):
        if (origin, int(seq)) in by_place:
            by_place[origin, int(seq)].twins.add(witness)
    pairs: list[tuple[_Seen, _Seen]] = []  # (corroborating, corroborated)
    for new in batch:
        if new.key is None:
            continue
        firsts = held[new.key]
        match = next((f for f in firsts if _may_corroborate(new, f)), None)
        if match is None:
            firsts.append(new)
        elif match.kind == CLAIM and new.kind != CLAIM and not match.twins:
            firsts[firsts.index(match)] = new  # the observed record stands; the claim steps back
            new.twins.add(match.witness)
            pairs.append((match, new))
        else:
            match.twins.add(new.witness)
            pairs.append((new, match))
    _write(conn, c, batch, pairs)
    return len(pairs)


def _may_corroborate(new: _Seen, first: _Seen) -> bool:
    if new.tool_use is not None:
        return True
    return new.witness != first.witness and new.witness not in first.twins


def _write(
    conn: psycopg.Connection[Any],
    c: Collector,
    batch: list[_Seen],
    pairs: list[tuple[_Seen, _Seen]],
) -> None:
    """Append the corroboration records and mark the batch, in one transaction."""
    s = f'"{c.schema}"'

    def mark(first: int) -> None:
        conn.execute(
            f"UPDATE {s}.hook_seen h SET keyed = true FROM unnest(%b::text[], %b::bigint[]) "
            "AS v(origin, seq) WHERE h.origin = v.origin AND h.seq = v.seq",
            ([r.origin for r in batch], [r.seq for r in batch]),
        )
        if pairs:
            links = [first + i // PAIRS_PER_RECORD for i in range(len(pairs))]
            conn.execute(
                f"UPDATE {s}.hook_seen h SET keyed = true, twin_origin = v.twin_origin, "
                "twin_seq = v.twin_seq, twin_link = v.link FROM unnest(%b::text[], "
                "%b::bigint[], %b::text[], %b::bigint[], %b::bigint[]) "
                "AS v(origin, seq, twin_origin, twin_seq, link) "
                "WHERE h.origin = v.origin AND h.seq = v.seq",
                (
                    [a.origin for a, _ in pairs],
                    [a.seq for a, _ in pairs],
                    [b.origin for _, b in pairs],
                    [b.seq for _, b in pairs],
                    links,
                ),
            )

    if not pairs:
        with conn.transaction():
            mark(0)
        return
    now = datetime.now(UTC)
    records = [
        Record.create(
            Kind.CAPTURE_CORROBORATION,
            SOURCE,
            {
                "corroboration": {
                    "rule": "the same hook event recorded twice; the first record counts",
                    "pairs": [
                        {
                            "record": a.ref(),
                            "of": b.ref(),
                            "kind": a.kind,
                            "session_id": a.session,
                            "tool_use_id": a.tool_use,
                        }
                        for a, b in pairs[i : i + PAIRS_PER_RECORD]
                    ],
                }
            },
            time=now,
        )
        for i in range(0, len(pairs), PAIRS_PER_RECORD)
    ]
    append_marked(conn, c, records, mark)

"""The org log: one RFC 9162 log over every record the organisation's endpoints shipped.

Its leaves are ``org.entry`` records whose payload names an endpoint record by reference,
``{"origin", "seq", "leaf_hash", "kind"}``, with the endpoint record's time: an inclusion
proof in the org log, then the endpoint's own inclusion proof of that leaf hash, lead from
the org checkpoint to the laptop's record. ``witness.conflict`` records sit in the same log.

A shipped entry is sequenced when it is stored: the ship's transaction takes the org log's
writer lock last, appends one ``org.entry`` per new entry (:func:`sequence`) and writes the
entries with their org seqs, so each entry is in the log once and no entry row is written
twice. Integration and publishing are done by one integrator at a time across every worker
and host: whoever holds the PostgreSQL advisory lock ``affidavit.integrator:<schema>``
integrates the tree and publishes a checkpoint signed with the collector's org key; the
others skip their turn. Entries stored without an org seq (by a collector before this
version) are moved into the log by the integrator, in the order they were received.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg

from affidavit import merkle
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record, parse_time
from affidavit.server import folders, witnesses
from affidavit.server.schema import Collector
from affidavit.store.postgres import PostgresStore

SOURCE = "affidavit.collector"
_BATCH = 20_000


def org_store(conn: psycopg.Connection[Any], c: Collector) -> PostgresStore:
    """The org log's store on ``conn``, for writers: no query is run (the server checked the
    schema when it started), so appending costs no metadata round trips."""
    return PostgresStore(conn, c.org_schema, owned=False)


def entry_record(origin: str, seq: int, leaf_hash: bytes, kind: str, time: str) -> Record:
    """The ``org.entry`` leaf that names one shipped endpoint record, at its time."""
    return Record.create(
        Kind.ORG_ENTRY,
        SOURCE,
        {
            "origin": origin,
            "seq": seq,
            "leaf_hash": base64.b64encode(leaf_hash).decode(),
            "kind": kind,
        },
        time=parse_time(time),
    )


def sequence(conn: psycopg.Connection[Any], c: Collector, records: Sequence[Record]) -> int:
    """Append ``records`` to the org log inside the caller's open transaction; returns the
    first one's org seq. Takes the log's writer lock, held until that transaction ends, so
    call it last: build the records before, commit soon after. The lock and the insert go
    to the server together (a pipeline): one round trip, not three, while others wait."""
    store = org_store(conn, c)
    rows = [(r.leaf, merkle.leaf_hash(r.leaf), r.salt, r.payload_json) for r in records]
    with conn.pipeline():
        store.lock_writer()
        return store.add_records(rows)


def org_ledger(
    conn: psycopg.Connection[Any], c: Collector, *, clock: Callable[[], datetime] | None = None
) -> Ledger[PostgresStore]:
    store = PostgresStore.open(conn, c.org_schema, owned=False)
    if clock is None:
        return Ledger(store, signer=c.org_signer())
    return Ledger(store, signer=c.org_signer(), clock=clock)


def integrate(conn: psycopg.Connection[Any], c: Collector, *, wait: bool = False) -> int | None:
    """Move any entries without an org seq into the org log, integrate and publish; returns
    the org log's size, or None when another integrator holds the lock (and ``wait`` is
    false)."""
    key = f"affidavit.integrator:{c.schema}"
    if wait:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
    else:
        row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,))
        got = row.fetchone()
        if got is None or not got[0]:
            return None
    try:
        ledger = org_ledger(conn, c)
        while _take_batch(conn, c, ledger):
            pass
        ledger.seal()
        witnesses.ask_all(conn, c, ledger)  # under the lock: one request per witness at a time
        return ledger.store.size()
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))


def _take_batch(conn: psycopg.Connection[Any], c: Collector, ledger: Ledger[PostgresStore]) -> int:
    store = ledger.store
    store.begin()
    try:
        pending = conn.execute(
            f'SELECT origin, seq, leaf_hash, kind, time FROM "{c.schema}".entries '
            f"WHERE org_seq IS NULL ORDER BY received LIMIT {_BATCH}"
        ).fetchall()
        if not pending:
            store.rollback()
            return 0
        records = [entry_record(o, int(seq), h, kind, time) for o, seq, h, kind, time in pending]
        first = store.add_records(
            (r.leaf, merkle.leaf_hash(r.leaf), r.salt, r.payload_json) for r in records
        )
        conn.execute(
            f'UPDATE "{c.schema}".entries e SET org_seq = v.org_seq '
            "FROM unnest(%b::text[], %b::bigint[], %b::bigint[]) AS v(origin, seq, org_seq) "
            "WHERE e.origin = v.origin AND e.seq = v.seq",
            (
                [p[0] for p in pending],
                [int(p[1]) for p in pending],
                list(range(first, first + len(pending))),
            ),
        )
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return len(pending)


def append_direct(
    conn: psycopg.Connection[Any],
    c: Collector,
    records: Sequence[Record],
    *,
    then: Callable[[range], None] | None = None,
) -> range:
    """Append records the collector itself received (not shipped by an endpoint log: an
    ``http`` hook, an OpenTelemetry log, a pulled API feed, a join or a gap it found) to the
    org log; returns their org seqs. They are sequenced under the log's writer lock like every
    other org leaf and published by the integrator's next seal, so their proofs lead straight
    to the org checkpoint. Each is listed in the ``direct`` table (org seq, source, kind,
    time, the folders of its file) in the same transaction, so ``GET /api/v1/records`` finds
    them by index beside the shipped entries without parsing every org leaf.

    ``then(seqs)`` runs on ``conn`` inside the same transaction, before the commit: a puller
    stores its cursor there, so the records and the cursor land together or not at all."""
    records = list(records)
    if any(r.envelope.kind == Kind.ERASURE for r in records):
        raise ValueError("an erasure is made by Ledger.erase, never appended")
    store = org_store(conn, c)
    rows = [(r.leaf, merkle.leaf_hash(r.leaf), r.salt, r.payload_json) for r in records]
    names = [folders.literal(folders.of_payload(r.payload_json)) for r in records]
    conn.execute("BEGIN")
    try:
        # Everything was built before the lock; holding it costs one round trip, the
        # listing and the commit. Arrays travel in binary (``%b``) here and in the join's
        # batch writes: psycopg dumps a 5,000-element text array about four times faster
        # than as text, which was the largest single cost of the join and seal.
        with conn.pipeline():
            store.lock_writer()
            first = store.add_records(rows)
            seqs = range(first, first + len(records))
            conn.execute(
                f'INSERT INTO "{c.schema}".direct (org_seq, source, kind, time, folders) '
                "SELECT q, s, k, t, f::text[] FROM unnest(%b::bigint[], %b::text[], "
                "%b::text[], %b::text[], %b::text[]) AS v(q, s, k, t, f)",
                (
                    list(seqs),
                    [r.envelope.source for r in records],
                    [r.envelope.kind for r in records],
                    [r.envelope.time for r in records],
                    names,
                ),
            )
        if then is not None:
            then(seqs)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return seqs


def record_conflict(
    conn: psycopg.Connection[Any],
    c: Collector,
    *,
    origin: str,
    cosigned: str,
    refused: str,
    reason: str,
    now: datetime,
) -> int:
    """Append a ``witness.conflict`` with both checkpoints as evidence; returns its org seq."""
    record = Record.create(
        Kind.WITNESS_CONFLICT,
        SOURCE,
        {"origin": origin, "cosigned": cosigned, "refused": refused, "reason": reason},
        time=now,
    )
    return append_direct(conn, c, [record]).start

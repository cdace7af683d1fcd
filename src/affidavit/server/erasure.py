"""Erasure on the collector: an admin removes the payload it holds of one endpoint record.

The same rule as :meth:`affidavit.ledger.Ledger.erase` on an endpoint, applied to the
collector's copy: the record's envelope and leaf hash stay (so the endpoint's tree, the
cosigned checkpoint and the org log all still verify), its salt and payload become NULL,
and a ``collector.erasure`` record on the org log names it by (origin, seq, leaf hash) with
the reason and the admin who asked. Both happen in one transaction under the org log's
writer lock: there is no instant where a payload is gone and no record says why.

``affidavit server verify`` accepts a stored record without its payload only when an
erasure names it: the endpoint's own ``erasure`` record, or a ``collector.erasure`` here.
Erasing the collector's copy does not erase the endpoint's (run ``affidavit erase`` there).
The entries table is then rewritten (``VACUUM FULL``) so the bytes leave its files;
PostgreSQL's WAL archive and backups keep them until they expire.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import psycopg

from affidavit import merkle
from affidavit.errors import InputError
from affidavit.record import Kind, Record, read_leaf
from affidavit.server import orglog
from affidavit.server.schema import Collector


def erase(
    conn: psycopg.Connection[Any],
    c: Collector,
    origin: str,
    seq: int,
    *,
    reason: str,
    by: str,
    now: datetime,
) -> int:
    """Null the payload of ``origin``'s record ``seq`` and record it; returns the org seq of
    the ``collector.erasure`` record."""
    if not reason.strip():
        raise InputError("an erasure needs a reason (--reason)")
    store = orglog.org_ledger(conn, c).store
    store.begin()
    try:
        row = conn.execute(
            f'SELECT leaf_hash, payload IS NULL FROM "{c.schema}".entries '
            "WHERE origin = %s AND seq = %s FOR UPDATE",
            (origin, seq),
        ).fetchone()
        if row is None:
            raise InputError(f"the collector holds no record {seq} of {origin!r}")
        leaf_hash, gone = row
        if gone:
            raise InputError(f"record {seq} of {origin} has no payload here already")
        payload = {
            "origin": origin,
            "seq": seq,
            "leaf_hash": base64.b64encode(leaf_hash).decode(),
            "reason": reason,
            "by": by,
        }
        record = Record.create(Kind.COLLECTOR_ERASURE, orglog.SOURCE, payload, time=now)
        leaf = record.leaf
        org_seq = store.add_records(
            [(leaf, merkle.leaf_hash(leaf), record.salt, record.payload_json)]
        )
        conn.execute(
            f'UPDATE "{c.schema}".entries SET salt = NULL, payload = NULL, folders = '
            "ARRAY[]::text[] WHERE origin = %s AND seq = %s",  # a folder name can be personal
            (origin, seq),
        )
        store.commit()
    except BaseException:
        store.rollback()
        raise
    # Rewrite the table without the old row version, so the payload leaves its files (as the
    # log store's own erase does). It locks the table, holding shipping, while it runs.
    conn.execute(f'VACUUM FULL "{c.schema}".entries')
    return org_seq


def named(leaf: bytes, payload: bytes | None) -> tuple[str, int, bytes] | None:
    """The (origin, seq, leaf hash) an org log record erases, if it is a collector erasure."""
    if b'"kind":"collector.erasure"' not in leaf or payload is None:
        return None
    _, kind, source, _ = read_leaf(leaf)
    if kind != Kind.COLLECTOR_ERASURE or source != orglog.SOURCE:
        return None
    ref = json.loads(payload)
    return str(ref["origin"]), int(ref["seq"]), base64.b64decode(ref["leaf_hash"])

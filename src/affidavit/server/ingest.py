"""Enrolment and shipping: the collector as a witness of every endpoint log.

A ship request carries an endpoint's new records, its newest signed checkpoint, and the
RFC 9162 consistency proof from the last checkpoint the collector cosigned. In one
transaction, with the endpoint's row locked (``SELECT ... FOR UPDATE``: one writer per
endpoint, any number of workers), the collector checks

* the checkpoint's signature by the key pinned at enrolment (C2SP signed-note);
* consistency with the last checkpoint it cosigned (tlog-witness: an inconsistent one is a
  rolled-back or rewritten log, refused and recorded as ``witness.conflict``);
* every new record with the one row checker (:class:`~affidavit.verify.rows.RowCheck`);
* that the records extend the tree it holds (its compact range) to exactly the checkpoint's
  root, which proves each one's inclusion;

then stores the new records once by (origin, seq), duplicates of held records being
skipped, each with its ``org.entry`` leaf in the org log (sequenced in the same transaction,
see :mod:`.orglog`), and returns a C2SP ``cosignature/v1`` over the checkpoint. Anything
wrong rejects the whole batch and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from affidavit import merkle
from affidavit.cosignature import cosign
from affidavit.errors import InputError, VerificationError
from affidavit.note import Checkpoint, Verifier, open_checkpoint
from affidavit.record import read_leaf
from affidavit.server import folders, orglog
from affidavit.server.schema import Collector
from affidavit.server.tokens import Principal
from affidavit.verify.rows import RowCheck

MAX_RECORDS = 10_000


class Refused(Exception):
    """The request is refused with an HTTP status and a one-line reason; nothing changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Conflict(Exception):
    """A signed checkpoint contradicts one the collector cosigned: evidence of a fork."""

    def __init__(self, origin: str, cosigned: str, refused: str, reason: str) -> None:
        super().__init__(reason)
        self.origin, self.cosigned, self.refused, self.reason = origin, cosigned, refused, reason


@dataclass(frozen=True, slots=True)
class Shipped:
    acked: int
    checkpoint: str
    cosignature: str
    stored: int
    duplicates: int


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind):
        raise Refused(422, f"field {name!r}: expected {kind.__name__}")
    return value


def _b64(value: object, where: str, *, optional: bool = False) -> bytes | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise Refused(422, f"{where}: expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise Refused(422, f"{where}: not base64") from None


def enrol(
    conn: psycopg.Connection[Any], c: Collector, who: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    """Pin an endpoint log's key to the device token that enrols it (idempotent)."""
    origin, vkey = _field(body, "origin", str), _field(body, "vkey", str)
    try:
        verifier = Verifier.from_vkey(vkey)
    except InputError as e:
        raise Refused(422, f"field 'vkey': {e}") from None
    if verifier.name != origin:
        raise Refused(422, f"the key is named {verifier.name!r}, not the origin {origin!r}")
    s = c.schema
    with conn.transaction():
        row = conn.execute(
            f'SELECT vkey, token_id, size, cosigned_note FROM "{s}".endpoints '
            "WHERE origin = %s FOR UPDATE",
            (origin,),
        ).fetchone()
        if row is None:
            conn.execute(
                f'INSERT INTO "{s}".endpoints (origin, vkey, token_id) VALUES (%s, %s, %s)',
                (origin, vkey, who.token_id),
            )
            size, note = 0, None
        elif row[0] != vkey or row[1] != who.token_id:
            raise Refused(409, f"{origin} is already enrolled with another key or token")
        else:
            size, note = int(row[2]), row[3]
    return {
        "collector": c.origin,
        "org_vkey": c.org_vkey,
        "witness_vkey": c.witness_vkey,
        "held": size,
        "cosigned": note,
    }


def _records(body: dict[str, Any]) -> list[tuple[int, bytes, bytes | None, bytes | None]]:
    items = _field(body, "records", list)
    if len(items) > MAX_RECORDS:
        raise Refused(413, f"{len(items)} records in one batch; send at most {MAX_RECORDS}")
    out: list[tuple[int, bytes, bytes | None, bytes | None]] = []
    for i, item in enumerate(items):
        where = f"records[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("seq"), int):
            raise Refused(422, f"{where}: expected an object with an integer seq")
        seq = item["seq"]
        if out and seq != out[-1][0] + 1:
            raise Refused(422, f"{where}: seq {seq} does not follow {out[-1][0]}")
        leaf = _b64(item.get("leaf"), f"{where}.leaf")
        assert leaf is not None
        salt = _b64(item.get("salt"), f"{where}.salt", optional=True)
        payload = _b64(item.get("payload"), f"{where}.payload", optional=True)
        out.append((seq, leaf, salt, payload))
    return out


def ship(
    conn: psycopg.Connection[Any],
    c: Collector,
    who: Principal,
    body: dict[str, Any],
    *,
    now: Callable[[], datetime],
) -> Shipped:
    """Verify and store one batch and cosign its checkpoint; see the module docstring."""
    origin = _field(body, "origin", str)
    note = _field(body, "checkpoint", str)
    proof = [_b64(p, f"proof[{i}]") for i, p in enumerate(_field(body, "proof", list))]
    records = _records(body)
    s = c.schema
    with conn.transaction():
        row = conn.execute(
            f'SELECT vkey, token_id, size, frontier, cosigned_size, cosigned_note FROM "{s}".'
            "endpoints WHERE origin = %s FOR UPDATE",
            (origin,),
        ).fetchone()
        if row is None:
            raise Refused(404, f"{origin} is not enrolled; run `affidavit enrol` first")
        vkey, token_id, held, frontier, _, last_note = row
        if token_id != who.token_id:
            raise Refused(403, f"{origin} was enrolled with another token")
        verifier = Verifier.from_vkey(vkey)
        try:
            cp = open_checkpoint(note, verifier)
        except (VerificationError, InputError) as e:
            raise Refused(422, f"checkpoint: {e}") from None
        if cp.origin != origin:
            raise Refused(422, f"the checkpoint is for {cp.origin!r}, not {origin!r}")
        last = None if last_note is None else open_checkpoint(last_note, verifier)
        repeat = _check_against_cosigned(conn, c, verifier, cp, note, (last, last_note), proof)
        if repeat is not None:
            return repeat

        first = records[0][0] if records else held
        if first > held:
            raise Refused(409, f"the collector holds {held} records of {origin}; send from {held}")
        new = [r for r in records if r[0] >= held]
        duplicates = len(records) - len(new)
        if duplicates:
            _check_duplicates(conn, s, origin, records[:duplicates])
        if records and records[-1][0] >= cp.size:
            raise Refused(422, f"record {records[-1][0]} is past the checkpoint ({cp.size})")
        if held + len(new) != cp.size:
            raise Refused(
                422, f"the checkpoint covers {cp.size} records; send seqs {held}..{cp.size - 1}"
            )
        rows, hashes = _checked_rows(new, held)
        frontier, _ = merkle.extend(list(frontier), held, hashes)
        if merkle.fold(frontier) != cp.root:
            raise Refused(422, "the records do not hash to the checkpoint's root; batch refused")
        timestamp = int(now().timestamp())
        line = cosign(cp.body(), c.witness_name, c.witness_signer(), timestamp)
        entries = [orglog.entry_record(origin, r[0], r[2], r[5], r[6]) for r in rows]
        # One statement: the endpoint's new state and the cosignature (its row is ours).
        conn.execute(
            f'WITH moved AS (UPDATE "{s}".endpoints SET size = %(size)s, frontier = %(frontier)s, '
            "cosigned_size = %(size)s, cosigned_note = %(note)s WHERE origin = %(origin)s) "
            f'INSERT INTO "{s}".cosignatures VALUES (%(origin)s, %(size)s, %(note)s, %(line)s, '
            "%(time)s) ON CONFLICT (origin, size) DO NOTHING",
            {"size": cp.size, "frontier": frontier, "note": note, "origin": origin,
             "line": line, "time": timestamp},
        )  # fmt: skip
        if rows:
            columns = _columns(rows)  # before the lock: it parses each payload
            # Last, as everything else is done: from here the org log's writer lock is held
            # until the commit, so the entries get their org seqs as they are stored.
            with conn.pipeline():
                first = orglog.sequence(conn, c, entries)
                org_seqs = list(range(first, first + len(rows)))
                conn.execute(_STORE.format(s=s), (origin, *columns, org_seqs))
    return Shipped(cp.size, note, line, len(new), duplicates)


# Each record's folders (:mod:`.folders`) travel as one array literal, as a batch's arrays
# are ragged and PostgreSQL's are not.
_STORE = (
    'INSERT INTO "{s}".entries (origin, seq, leaf, leaf_hash, salt, payload, kind, time, '
    "folders, org_seq) SELECT %s, q, l, h, salt, p, k, t, f::text[], o FROM unnest("
    "%b::bigint[], %b::bytea[], %b::bytea[], %b::bytea[], %b::bytea[], %b::text[], %b::text[], "
    "%b::text[], %b::bigint[]) AS v(q, l, h, salt, p, k, t, f, o)"
)


def _columns(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
    return [*columns, [folders.literal(folders.of_payload(payload)) for payload in columns[4]]]


def _check_against_cosigned(
    conn: psycopg.Connection[Any],
    c: Collector,
    verifier: Verifier,
    cp: Checkpoint,
    note: str,
    cosigned: tuple[Checkpoint | None, str | None],
    proof: list[bytes | None],
) -> Shipped | None:
    """Raise :class:`Conflict` if ``cp`` contradicts the last cosigned checkpoint; return the
    stored answer when ``cp`` is one already cosigned (a retried request)."""
    last, last_note = cosigned
    origin = cp.origin
    if last is None or last_note is None:
        return None
    if cp.size <= last.size:
        stored = conn.execute(
            f'SELECT checkpoint, cosignature FROM "{c.schema}".cosignatures '
            "WHERE origin = %s AND size = %s",
            (origin, cp.size),
        ).fetchone()
        if stored is not None and open_checkpoint(stored[0], verifier).root == cp.root:
            return Shipped(cp.size, stored[0], stored[1], 0, 0)
        if stored is not None or cp.size == last.size:
            raise Conflict(origin, last_note, note, f"a different tree of size {cp.size}")
        raise Refused(409, f"the collector already cosigned size {last.size} of {origin}")
    try:
        merkle.verify_consistency(last.size, cp.size, [p or b"" for p in proof], last.root, cp.root)
    except VerificationError as e:
        raise Conflict(
            origin, last_note, note, f"size {cp.size} does not extend size {last.size}: {e}"
        ) from None
    return None


def _check_duplicates(
    conn: psycopg.Connection[Any], s: str, origin: str, records: list[Any]
) -> None:
    held = dict(
        conn.execute(
            f'SELECT seq, leaf_hash FROM "{s}".entries WHERE origin = %s AND seq = ANY(%s)',
            (origin, [r[0] for r in records]),
        ).fetchall()
    )
    for seq, leaf, _, _ in records:
        if held.get(seq) != merkle.leaf_hash(leaf):
            raise Refused(422, f"record {seq} differs from the one the collector holds")


def _checked_rows(
    new: list[tuple[int, bytes, bytes | None, bytes | None]], held: int
) -> tuple[list[tuple[Any, ...]], list[bytes]]:
    check = RowCheck(start=held)
    rows, hashes = [], []
    for seq, leaf, salt, payload in new:
        try:
            h = check.add(seq, leaf, merkle.leaf_hash(leaf), salt, payload)
            _, kind, _, time = read_leaf(leaf)
        except VerificationError as e:
            raise Refused(422, f"{e}; batch refused") from None
        rows.append((seq, leaf, h, salt, payload, kind, time))
        hashes.append(h)
    return rows, hashes

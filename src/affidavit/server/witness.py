"""The collector as a witness of any C2SP log: ``POST /add-checkpoint``, c2sp.org/tlog-witness.

A request body is ``old <size>``, at most 63 base64 consistency-proof lines, an empty line
and a signed checkpoint (c2sp.org/tlog-checkpoint). The logs it witnesses are the ones an
admin added (``affidavit server logs add VKEY``: the vkey names the origin). In one
transaction, with the log's row locked (so the size check and the update are atomic, as
the spec asks: two concurrent requests cannot roll the log back), it answers

* 404 when the origin is not one it witnesses; 403 when no signature verifies by the log's
  key (signatures by other keys are ignored); 400 when the body is malformed or the old
  size is past the checkpoint's;
* 409 with ``text/x.tlog.size`` (the size it last cosigned, and a newline) when the old size
  is not that size; 409 too when the sizes are equal but the roots differ: two signed trees
  of one size are a fork, recorded on the org log as ``witness.conflict``;
* 422 when the RFC 9162 consistency proof does not verify (a non-empty proof from size 0
  included: tlog-witness says the proof MUST be empty then);
* 200 with its ``cosignature/v1`` line (:mod:`affidavit.cosignature`) once the new size is
  stored.

The spec has no request authentication beyond the log's signature, so neither has this.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from affidavit import merkle
from affidavit.cosignature import cosign
from affidavit.errors import InputError, VerificationError
from affidavit.note import Checkpoint, Verifier, open_checkpoint
from affidavit.server.ingest import Conflict, Refused
from affidavit.server.schema import Collector

MAX_BODY = 64 * 1024
MAX_PROOF = 63
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    old: int
    proof: tuple[bytes, ...]
    note: str


class SizeConflict(Exception):
    """The old size is not the one the witness holds: answered 409 with that size."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the witness holds size {size}")
        self.size = size


def parse(body: bytes) -> AddCheckpoint:
    """Split an add-checkpoint body; :class:`Refused` (400) naming the line when malformed."""
    if len(body) > MAX_BODY:
        raise Refused(413, f"the body is over {MAX_BODY} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused(400, f"the body is not UTF-8 (byte {e.start})") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Refused(400, "no empty line between the old size and proof lines and the checkpoint")
    lines = head.split("\n")
    word, _, size = lines[0].partition(" ")
    if word != "old" or not size.isascii() or not size.isdigit() or size != str(int(size)):
        raise Refused(400, f"line 1: expected 'old <size>' in decimal, got {lines[0][:40]!r}")
    if len(lines) - 1 > MAX_PROOF:
        raise Refused(400, f"{len(lines) - 1} proof lines; at most {MAX_PROOF}")
    proof = []
    for i, line in enumerate(lines[1:], start=2):
        try:
            proof.append(base64.b64decode(line, validate=True))
        except (binascii.Error, ValueError):
            raise Refused(400, f"line {i}: not a base64 hash") from None
    return AddCheckpoint(int(size), tuple(proof), note)


def add_checkpoint(
    conn: psycopg.Connection[Any], c: Collector, req: AddCheckpoint, *, now: Callable[[], datetime]
) -> str:
    """Check ``req`` against the log's last cosigned checkpoint and cosign it; the response
    body (one signature line and its newline). See the module docstring for the refusals."""
    try:
        origin = Checkpoint.parse_body(req.note[: req.note.find("\n\n") + 1]).origin
    except (InputError, VerificationError) as e:
        raise Refused(400, f"checkpoint: {e}") from None
    s = c.schema
    with conn.transaction():
        row = conn.execute(
            f'SELECT vkey, size, checkpoint FROM "{s}".witnessed_logs WHERE origin = %s FOR UPDATE',
            (origin,),
        ).fetchone()
        if row is None:
            raise Refused(404, f"{origin!r} is not a log this witness knows")
        vkey, held, last_note = row
        verifier = Verifier.from_vkey(vkey)
        try:
            cp = open_checkpoint(req.note, verifier)
        except InputError as e:
            raise Refused(400, f"checkpoint: {e}") from None
        except VerificationError as e:
            raise Refused(403, f"checkpoint: {e}") from None
        if req.old > cp.size:
            raise Refused(400, f"old size {req.old} is past the checkpoint's size {cp.size}")
        if req.old != held:
            raise SizeConflict(int(held))
        last = None if last_note is None else open_checkpoint(last_note, verifier)
        if last is not None and cp.size == last.size and cp.root != last.root:
            raise Conflict(origin, last_note, req.note, f"a different tree of size {cp.size}")
        if last is None and req.proof:
            raise Refused(422, "a consistency proof from size 0 must be empty")
        if last is not None:
            try:
                merkle.verify_consistency(last.size, cp.size, list(req.proof), last.root, cp.root)
            except VerificationError as e:
                raise Refused(422, f"consistency proof from size {req.old}: {e}") from None
        line = cosign(cp.body(), c.witness_name, c.witness_signer(), int(now().timestamp()))
        conn.execute(
            f'UPDATE "{s}".witnessed_logs SET size = %s, checkpoint = %s WHERE origin = %s',
            (cp.size, req.note, origin),
        )
    return line + "\n"


def add_log(conn: psycopg.Connection[Any], c: Collector, vkey: str) -> str:
    """Witness the log whose checkpoints ``vkey`` verifies (its name is the origin)."""
    verifier = Verifier.from_vkey(vkey)
    conn.execute(
        f'INSERT INTO "{c.schema}".witnessed_logs (origin, vkey) VALUES (%s, %s) '
        "ON CONFLICT (origin) DO UPDATE SET vkey = EXCLUDED.vkey",
        (verifier.name, vkey),
    )
    return verifier.name


async def route(request: Request) -> Response:
    """``POST /add-checkpoint``: plain-text answers, as tlog-witness clients expect."""
    from affidavit.server import orglog

    server = request.app.state.server
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return PlainTextResponse(f"the body is over {MAX_BODY} bytes\n", 413)

    def run() -> str:
        c = server.collector
        return str(server.run(lambda conn: add_checkpoint(conn, c, parse(bytes(body)), now=_now)))

    try:
        return PlainTextResponse(await run_in_threadpool(run))
    except Refused as e:
        return PlainTextResponse(f"{e}\n", e.status)
    except SizeConflict as e:
        # Set as a header, not media_type: Starlette would add a charset the spec does not name.
        return Response(f"{e.size}\n".encode(), 409, headers={"Content-Type": SIZE_TYPE})
    except Conflict as e:
        conflict = e

        def record(conn: psycopg.Connection[Any]) -> int:
            return orglog.record_conflict(
                conn, server.collector, origin=conflict.origin, cosigned=conflict.cosigned,
                refused=conflict.refused, reason=conflict.reason, now=_now(),
            )  # fmt: skip

        seq = await run_in_threadpool(server.run, record)
        return PlainTextResponse(f"{e.reason}; recorded as witness.conflict {seq}\n", 409)


def _now() -> datetime:
    return datetime.now(UTC)

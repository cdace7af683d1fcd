"""``GET /api/v1/records/{org_seq}``: one record the organisation holds, payload included.

The list (:mod:`.records`) gives the index columns; this gives the whole payload of one
record, which ``affidavit diff SEQ --server URL`` and ``affidavit rollback SEQ --server URL``
need for an edit an ``http`` hook sent (its ``evidence``,
:mod:`affidavit.capture.evidence_diff`). A shipped record is read from ``entries``, one the
collector received itself from the org log. An erased record answers with ``payload: null``.
Auditor and admin tokens.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from affidavit.server.hooks import Server
from affidavit.server.ingest import Refused
from affidavit.server.tokens import AuthError

ROLES = ("auditor", "admin")


def one(conn: psycopg.Connection[Any], schema: str, org_seq: int) -> dict[str, Any] | None:
    """The record at ``org_seq``: origin, seq, time, kind, source, payload; None if none."""
    row = conn.execute(
        f'SELECT origin, seq, leaf, payload FROM "{schema}".entries WHERE org_seq = %s',
        (org_seq,),
    ).fetchone()
    if row is None:
        found = conn.execute(
            f'SELECT leaf, payload FROM "{schema}_org".records WHERE seq = %s', (org_seq,)
        ).fetchone()
        if found is None:
            return None
        row = (None, org_seq, *found)
    origin, seq, leaf_bytes, payload = row
    leaf = json.loads(bytes(leaf_bytes))
    if origin is None:
        if leaf.get("kind") == "org.entry":
            return None  # an entry of the org log, not a record of its own
        origin = leaf["source"]  # a direct record: its source stands for the device log
    return {
        "org_seq": org_seq,
        "origin": origin,
        "seq": int(seq),
        "time": leaf["time"],
        "kind": leaf["kind"],
        "source": leaf["source"],
        "payload": None if payload is None else json.loads(bytes(payload)),
    }


async def get_record(request: Request) -> Response:
    server: Server = request.app.state.server
    org_seq = int(request.path_params["org_seq"])
    try:
        await run_in_threadpool(server.authenticate, request.headers.get("authorization"), ROLES)
        schema = server.collector.schema
        found = await run_in_threadpool(server.run, lambda conn: one(conn, schema, org_seq))
    except AuthError as e:
        return JSONResponse({"error": str(e)}, 401, headers={"WWW-Authenticate": "Bearer"})
    except Refused as e:
        return JSONResponse({"error": str(e)}, e.status)
    if found is None:
        return JSONResponse({"error": f"no record at org seq {org_seq}"}, 404)
    return JSONResponse(found)

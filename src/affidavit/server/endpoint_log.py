"""One endpoint's log as the collector holds it, for an auditor: ``GET /api/v1/endpoint`` and
``GET /api/v1/entries``, from which ``affidavit evidence --server URL`` rebuilds the log and
builds an ordinary evidence pack.

``/api/v1/endpoint?device=ORIGIN`` answers ``{"origin", "vkey", "size", "checkpoint",
"cosignature"}``: the key pinned at enrolment, the checkpoint the collector last cosigned
(byte for byte as the endpoint signed it) and the collector's cosignature line.
``/api/v1/entries?device=ORIGIN&after=SEQ&limit=N`` answers JSON lines ``{"seq", "org_seq",
"leaf", "salt", "payload"}`` (bytes in base64; salt and payload null when erased) for the
records after ``SEQ``, up to the cosigned size, with ``X-Next-After`` on a full page. Nothing
here is trusted by the client: it checks the rebuilt tree against the signed checkpoint.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import psycopg

from affidavit.server.ingest import Refused
from affidavit.server.schema import Collector

MAX_LIMIT = 5000


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def device(params: dict[str, str]) -> str:
    origin = params.get("device")
    if not origin:
        raise Refused(400, "name the endpoint log: device=ORIGIN")
    return origin


def endpoint(conn: psycopg.Connection[Any], c: Collector, origin: str) -> dict[str, Any]:
    row = conn.execute(
        f'SELECT e.vkey, e.cosigned_size, e.cosigned_note, s.cosignature FROM "{c.schema}".'
        f'endpoints e LEFT JOIN "{c.schema}".cosignatures s '
        "ON s.origin = e.origin AND s.size = e.cosigned_size WHERE e.origin = %s",
        (origin,),
    ).fetchone()
    if row is None:
        raise Refused(404, f"no endpoint log {origin!r} is enrolled")
    vkey, size, note, line = row
    return {"origin": origin, "vkey": vkey, "size": size or 0, "checkpoint": note,
            "cosignature": line}  # fmt: skip


def entries(
    conn: psycopg.Connection[Any], c: Collector, origin: str, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    rows = conn.execute(
        f'SELECT seq, org_seq, leaf, salt, payload FROM "{c.schema}".entries e '
        f'WHERE origin = %s AND seq > %s AND seq < (SELECT coalesce(cosigned_size, 0) FROM "'
        f'{c.schema}".endpoints WHERE origin = %s) ORDER BY seq LIMIT %s',
        (origin, after, origin, limit),
    ).fetchall()
    out = [
        {"seq": s, "org_seq": o, "leaf": _b64(leaf), "salt": _b64(salt), "payload": _b64(p)}
        for s, o, leaf, salt, p in rows
    ]
    return out, (int(rows[-1][0]) if len(rows) == limit else None)


def page(params: dict[str, str]) -> tuple[int, int]:
    """(after, limit) from the query string."""
    try:
        after = int(params.get("after", "-1"))
        limit = int(params.get("limit", "1000"))
    except ValueError:
        raise Refused(400, "after and limit are integers") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise Refused(400, f"limit: 1 to {MAX_LIMIT}")
    return after, limit


def lines(found: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in found)

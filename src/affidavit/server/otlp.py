"""``POST /v1/logs``: the collector as an OTLP/HTTP logs receiver for Claude Code and Cowork.

Implements the server side of OTLP/HTTP in the OTLP specification
(opentelemetry.io/docs/specs/otlp/, "OTLP/HTTP Request", "OTLP/HTTP Response", "Failures"):

* bodies in ``application/x-protobuf`` or ``application/json``, optionally
  ``Content-Encoding: gzip``; other media types get 415;
* a success is 200 with an ``ExportLogsServiceResponse`` in the request's encoding, whose
  ``partial_success`` counts the log records that were rejected (a value that cannot be
  canonical JSON, say) and says why; records accepted beside them are stored;
* a body that cannot be decoded is 400 with a ``google.rpc.Status`` in the request's
  encoding (JSON for anything else), and nothing of it is stored;
* authentication is a collector token with the ``device`` or ``admin`` role, sent as
  ``Authorization: Bearer <token>`` (how ``OTEL_EXPORTER_OTLP_HEADERS`` and Cowork's console
  send headers) or as ``X-Affidavit-Token: <token>``.

Accepted records go into the org log through :func:`affidavit.server.orglog.append_direct`.
"""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime
from typing import Any

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from affidavit.errors import InputError
from affidavit.server import orglog
from affidavit.server.ingest import Refused
from affidavit.server.otlp_decode import BadOtlp, decode
from affidavit.server.otlp_events import to_record
from affidavit.server.tokens import AuthError

MAX_BODY = 4 * 1024 * 1024  # before and after gzip
ROLES = ("device", "admin")
PROTOBUF, JSON = "application/x-protobuf", "application/json"
_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 503: 14}  # google.rpc.Code per status


async def receive_logs(request: Request) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media not in (PROTOBUF, JSON):
            raise Refused(415, f"Content-Type {media or '(none)'!r}: send {PROTOBUF} or {JSON}")
        server = request.app.state.server
        header = request.headers.get("authorization")
        if header is None and request.headers.get("x-affidavit-token"):
            header = "Bearer " + request.headers["x-affidavit-token"]
        who = await run_in_threadpool(server.authenticate, header, ROLES)
        body = await _body(request)
        events = decode(body, media)
        accepted, rejected = await run_in_threadpool(_store, server, who.name, events)
    except AuthError as e:
        return _status(401, str(e), media, {"WWW-Authenticate": "Bearer"})
    except Refused as e:
        return _status(e.status, str(e), media)
    except BadOtlp as e:
        return _status(400, str(e), media)
    except psycopg.OperationalError:
        # Retryable, as the OTLP spec's failure section lists 503: the exporter sends again.
        message = "the collector's database is unavailable; retry"
        return _status(503, message, media, {"Retry-After": "5"})
    return _success(accepted, rejected, media)


def _store(server: Any, sender: str, events: list[Any]) -> tuple[int, list[str]]:
    now = datetime.now(UTC)
    records, rejected = [], []
    for n, event in enumerate(events):
        try:
            records.append(to_record(event, sender=sender, now=now))
        except InputError as e:
            rejected.append(f"log record {n}: {e}")
    if records:
        server.run(lambda conn: orglog.append_direct(conn, server.collector, records))
    return len(records), rejected


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, f"the body is over {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(413, f"the body is over {MAX_BODY} bytes")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return _gunzip(bytes(body))
    if encoding not in ("", "identity"):
        raise Refused(415, f"Content-Encoding {encoding!r}: send gzip or none")
    return bytes(body)


def _gunzip(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_BODY + 1)
    except zlib.error as e:
        raise BadOtlp(f"the gzip body is corrupt: {e}") from None
    if len(out) > MAX_BODY:
        raise Refused(413, f"the body is over {MAX_BODY} bytes once decompressed")
    if not inflater.eof:
        raise BadOtlp("the gzip body is truncated")
    return out


def _success(accepted: int, rejected: list[str], media: str) -> Response:
    message = "; ".join(rejected)[:1000]
    if media == PROTOBUF:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsPartialSuccess,
            ExportLogsServiceResponse,
        )

        response = ExportLogsServiceResponse()
        if rejected:
            response.partial_success.CopyFrom(
                ExportLogsPartialSuccess(rejected_log_records=len(rejected), error_message=message)
            )
        return Response(response.SerializeToString(), media_type=PROTOBUF)
    body: dict[str, Any] = {}
    if rejected:
        # OTLP JSON: int64 fields are decimal strings.
        body["partialSuccess"] = {"rejectedLogRecords": str(len(rejected)), "errorMessage": message}
    return Response(json.dumps(body), media_type=JSON)


def _status(
    status: int, message: str, media: str, headers: dict[str, str] | None = None
) -> Response:
    code = _CODES.get(status, 2)
    if media == PROTOBUF:
        return Response(_status_pb(code, message), status, headers, PROTOBUF)
    return Response(json.dumps({"code": code, "message": message}), status, headers, JSON)


def _status_pb(code: int, message: str) -> bytes:
    """google.rpc.Status {int32 code = 1; string message = 2;} in protobuf wire format; two
    fields, so written by hand rather than pulling in googleapis-common-protos."""
    text = message.encode("utf-8", "replace")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)

"""The collector's ASGI app (Starlette), one per uvicorn worker process.

Workers are stateless: everything lives in PostgreSQL, reached through a psycopg pool, so any
number of them can serve one database. Every request is authenticated with a bearer token
(:mod:`.tokens`); the role decides what it may do. Database work runs in Starlette's thread
pool. Each worker also runs the org log's integrator every few seconds, and the scheduled
pulls of external feeds (:mod:`.compliance`) every ``AFFIDAVIT_SERVER_PULL_EVERY`` seconds
(default 30); advisory locks make exactly one of them do each piece of work at a time.

Configuration comes from the environment, because uvicorn starts workers as new processes:
``AFFIDAVIT_SERVER_DB`` (the PostgreSQL URL), ``AFFIDAVIT_SERVER_SCHEMA`` and
``AFFIDAVIT_SERVER_KEYS`` (the key folder). ``affidavit server`` sets them from its options.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from affidavit.errors import AffidavitError
from affidavit.server import (
    compliance,
    console,
    endpoint_log,
    hooks,
    identity,
    ingest,
    org_pack,
    orglog,
    otlp,
    reconcile,
    record_one,
    records,
    tiles,
    witness,
    witnesses,
)
from affidavit.server.schema import DEFAULT_SCHEMA, Collector, default_keys_dir, upgrade
from affidavit.server.tokens import Authenticator, AuthError, Principal
from affidavit.store.postgres import prepare

MAX_BODY = 32 * 1024 * 1024
SEAL_EVERY_S = float(os.environ.get("AFFIDAVIT_SERVER_SEAL_EVERY", "2"))
PULL_EVERY_S = float(os.environ.get("AFFIDAVIT_SERVER_PULL_EVERY", "30"))
log = logging.getLogger("affidavit.server")
T = TypeVar("T")

READ = ("auditor", "admin")
SHIP = ("device", "admin")


def _now() -> datetime:
    return datetime.now(UTC)


class Server:
    """What every request handler needs: the pool, the collector, the authenticator."""

    def __init__(self, url: str, schema: str, keys: Path) -> None:
        self.pool = ConnectionPool(
            url, min_size=1, max_size=8, kwargs={"autocommit": True}, configure=prepare, open=False
        )
        self.schema, self.keys = schema, keys
        self.auth = Authenticator(schema)
        self._collector: Collector | None = None
        self._stop = threading.Event()

    @property
    def collector(self) -> Collector:
        if self._collector is None:
            with self.pool.connection() as conn:
                self._collector = Collector.load(conn, self.schema, self.keys)
        return self._collector

    def run(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self.pool.connection() as conn:
            return fn(conn)

    def authenticate(self, header: str | None, roles: tuple[str, ...]) -> Principal:
        who = self.run(lambda conn: self.auth.authenticate(conn, header))
        if who.role not in roles:
            raise ingest.Refused(403, f"a {who.role} token may not do this")
        return who

    def integrator(self) -> None:
        """Seal the org log every few seconds; another worker holding the lock is fine."""
        grace = reconcile.grace_seconds()
        while not self._stop.wait(SEAL_EVERY_S):
            try:  # the identity join and the gaps; sealing below never waits on them
                self.run(lambda conn: reconcile.run(conn, self.collector, grace_s=grace))
            except Exception as e:
                log.warning("identity join failed: %s", type(e).__name__)
            try:
                self.run(lambda conn: orglog.integrate(conn, self.collector))
            except Exception as e:  # keep sealing: a database restart must not end the loop
                log.warning("org log integration failed: %s", type(e).__name__)

    def puller(self) -> None:
        """Run the external feeds that are due (a source's own errors are recorded by it)."""
        while not self._stop.wait(PULL_EVERY_S):
            try:
                self.run(lambda conn: compliance.run_due(conn, self.collector, now=_now()))
            except Exception as e:  # keep pulling: one bad turn must not end the schedule
                log.warning("scheduled pull failed: %s", type(e).__name__)


async def _call(
    request: Request, roles: tuple[str, ...], fn: Callable[[Server, Principal], Any]
) -> Response:
    server: Server = request.app.state.server
    try:
        who = await run_in_threadpool(
            server.authenticate, request.headers.get("authorization"), roles
        )
        result = await run_in_threadpool(fn, server, who)
    except AuthError as e:
        return JSONResponse({"error": str(e)}, 401, headers={"WWW-Authenticate": "Bearer"})
    except ingest.Refused as e:
        return JSONResponse({"error": str(e)}, e.status)
    except ingest.Conflict as e:
        conflict = e
        seq = await run_in_threadpool(server.run, lambda conn: _record(conn, server, conflict))
        message = f"refused: {e.reason}; recorded as witness.conflict {seq} on the org log"
        return JSONResponse({"error": message, "conflict": seq}, 409)
    except AffidavitError as e:
        return JSONResponse({"error": str(e)}, 400)
    return result if isinstance(result, Response) else JSONResponse(result)


def _record(conn: psycopg.Connection[Any], server: Server, e: ingest.Conflict) -> int:
    return orglog.record_conflict(
        conn,
        server.collector,
        origin=e.origin,
        cosigned=e.cosigned,
        refused=e.refused,
        reason=e.reason,
        now=_now(),
    )


async def _json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise ingest.Refused(413, f"the body is over {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ingest.Refused(413, f"the body is over {MAX_BODY} bytes")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ingest.Refused(400, f"the body is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise ingest.Refused(422, "the body must be a JSON object")
    return value


async def whoami(request: Request) -> Response:
    return await _call(
        request, ("device", *READ), lambda s, who: {"name": who.name, "role": who.role}
    )


async def _with_body(request: Request, roles: tuple[str, ...], fn: Callable[..., Any]) -> Response:
    try:
        body = await _json_body(request)
    except ingest.Refused as e:
        return JSONResponse({"error": str(e)}, e.status)
    return await _call(request, roles, lambda s, who: fn(s, who, body))


async def enrol(request: Request) -> Response:
    def run(s: Server, who: Principal, body: dict[str, Any]) -> Any:
        return s.run(lambda conn: ingest.enrol(conn, s.collector, who, body))

    return await _with_body(request, SHIP, run)


async def ship(request: Request) -> Response:
    def run(s: Server, who: Principal, body: dict[str, Any]) -> Any:
        done = s.run(lambda conn: ingest.ship(conn, s.collector, who, body, now=_now))
        return {
            "acked": done.acked,
            "checkpoint": done.checkpoint,
            "cosignature": done.cosignature,
            "stored": done.stored,
            "duplicates": done.duplicates,
        }

    return await _with_body(request, SHIP, run)


async def seal(request: Request) -> Response:
    def run(s: Server, who: Principal) -> Any:
        grace = reconcile.grace_seconds()
        s.run(lambda conn: reconcile.run(conn, s.collector, grace_s=grace, wait=True))
        size = s.run(lambda conn: orglog.integrate(conn, s.collector, wait=True))
        latest = s.run(lambda conn: orglog.org_ledger(conn, s.collector).latest_checkpoint())
        return {"size": size, "checkpoint": None if latest is None else latest[1]}

    return await _call(request, ("admin",), run)


def _org_read(s: Server, fn: Callable[[Any, int], Response]) -> Response:
    """Run ``fn(org store, published size)`` on the org log."""

    def run(conn: psycopg.Connection[Any]) -> Response:
        ledger = orglog.org_ledger(conn, s.collector)
        latest = ledger.latest_checkpoint()
        if latest is None:
            raise ingest.Refused(404, "the org log has no checkpoint yet")
        return fn(ledger.store, latest[0])

    return s.run(run)


async def checkpoint(request: Request) -> Response:
    def run(s: Server, who: Principal) -> Response:
        def note(conn: psycopg.Connection[Any]) -> Response:
            latest = orglog.org_ledger(conn, s.collector).latest_checkpoint()
            if latest is None:
                raise ingest.Refused(404, "the org log has no checkpoint yet")
            return Response(
                witnesses.cosigned_note(conn, s.collector, *latest),
                media_type="text/plain; charset=utf-8",
                headers={"Cache-Control": tiles.CHECKPOINT_CACHE},
            )

        return s.run(note)

    return await _call(request, ("device", *READ), run)


async def tile(request: Request) -> Response:
    path = request.path_params["path"]

    def run(s: Server, who: Principal) -> Response:
        try:
            level, index, width = tiles.parse(path)

            def read(store: Any, size: int) -> Response:
                data = (
                    tiles.entries(store, size, index, width)
                    if level is None
                    else tiles.tile(store, size, level, index, width)
                )
                return Response(
                    data,
                    media_type="application/octet-stream",
                    headers={"Cache-Control": tiles.TILE_CACHE},
                )

            return _org_read(s, read)
        except tiles.NotFound as e:
            raise ingest.Refused(404, str(e)) from None

    return await _call(request, ("device", *READ), run)


async def gaps(request: Request) -> Response:
    def run(s: Server, who: Principal) -> Any:
        grace = reconcile.grace_seconds()
        return s.run(lambda conn: reconcile.listing(conn, s.schema, grace_s=grace))

    return await _call(request, READ, run)


def _query(request: Request) -> tuple[dict[str, Any], int, int]:
    """The records API's (filters, after, limit) from the query string; 400 naming what is
    wrong."""
    try:
        return records.parse({k: request.query_params.getlist(k) for k in request.query_params})
    except records.BadQuery as e:
        raise ingest.Refused(400, str(e)) from None


async def list_records(request: Request) -> Response:
    def run(s: Server, who: Principal) -> Response:
        filters, after, limit = _query(request)
        found, next_after = s.run(lambda conn: records.page(conn, s.schema, filters, after, limit))
        headers = {} if next_after is None else {"X-Next-After": str(next_after)}
        return Response(
            "".join(records.lines(found)), media_type="application/x-ndjson", headers=headers
        )

    return await _call(request, READ, run)


async def evidence_pack(request: Request) -> Response:
    """``GET /api/v1/evidence``: a pack over the org log of what the records API's filters
    select, across devices (``affidavit evidence --server URL``); ``verify-pack`` checks it."""

    def run(s: Server, who: Principal) -> Response:
        filters, _, _ = _query(request)
        out = io.BytesIO()
        s.run(lambda conn: org_pack.for_query(conn, s.collector, filters, out, now=_now()))
        return Response(
            out.getvalue(),
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="affidavit-evidence.zip"'},
        )

    return await _call(request, READ, run)


async def endpoint_info(request: Request) -> Response:
    params = dict(request.query_params)

    def run(s: Server, who: Principal) -> Any:
        origin = endpoint_log.device(params)
        return s.run(lambda conn: endpoint_log.endpoint(conn, s.collector, origin))

    return await _call(request, READ, run)


async def endpoint_entries(request: Request) -> Response:
    params = dict(request.query_params)

    def run(s: Server, who: Principal) -> Response:
        origin, (after, limit) = endpoint_log.device(params), endpoint_log.page(params)
        found, next_after = s.run(
            lambda conn: endpoint_log.entries(conn, s.collector, origin, after, limit)
        )
        headers = {} if next_after is None else {"X-Next-After": str(next_after)}
        return Response(
            endpoint_log.lines(found), media_type="application/x-ndjson", headers=headers
        )

    return await _call(request, READ, run)


def create_app() -> Starlette:
    """The app for uvicorn's ``--factory``; reads its configuration from the environment."""
    url = os.environ.get("AFFIDAVIT_SERVER_DB")
    if not url:
        raise AffidavitError("AFFIDAVIT_SERVER_DB is not set; start with `affidavit server`")
    schema = os.environ.get("AFFIDAVIT_SERVER_SCHEMA", DEFAULT_SCHEMA)
    keys = Path(os.environ.get("AFFIDAVIT_SERVER_KEYS") or default_keys_dir())
    server = Server(url, schema, keys)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        server.pool.open(wait=True, timeout=30)
        server.collector  # noqa: B018  # fail at start, not at the first request
        server.run(lambda conn: upgrade(conn, schema, progress=log.warning))
        server.run(lambda conn: identity.ensure_tables(conn, schema))
        threads = [
            threading.Thread(target=server.integrator, name="org-integrator", daemon=True),
            threading.Thread(target=server.puller, name="feed-puller", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            server._stop.set()
            for thread in threads:
                thread.join(timeout=30)
            server.pool.close()

    app = Starlette(
        routes=_ROUTES, lifespan=lifespan, middleware=[Middleware(GZipMiddleware, minimum_size=512)]
    )
    app.state.server = server
    app.state.console = console.settings.load()  # a malformed console setting stops the start
    return app


_ROUTES: list[BaseRoute] = [
    Route("/api/v1/whoami", whoami),
    Route("/api/v1/enrol", enrol, methods=["POST"]),
    Route("/api/v1/ship", ship, methods=["POST"]),
    Route("/api/v1/seal", seal, methods=["POST"]),
    Route("/api/v1/records", list_records),
    Route("/api/v1/gaps", gaps),
    Route("/v1/logs", otlp.receive_logs, methods=["POST"]),
    Route("/api/v1/records/{org_seq:int}", record_one.get_record),
    Route("/api/v1/evidence", evidence_pack),
    Route("/checkpoint", checkpoint),
    Route("/tile/{path:path}", tile),
    Route("/v1/hooks", hooks.post_hook, methods=["POST"]),
    console.ROUTE,  # the auditor's console (issue 14): /console/...
    Route("/add-checkpoint", witness.route, methods=["POST"]),
    Route("/api/v1/endpoint", endpoint_info),
    Route("/api/v1/entries", endpoint_entries),
]

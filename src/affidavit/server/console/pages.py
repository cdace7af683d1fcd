"""The console's reading pages: timeline (and its CSV), file history, record with proof."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

import psycopg
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from affidavit.errors import InputError
from affidavit.server import org_pack, records
from affidavit.server.console import diffs, proof, timeline
from affidavit.server.console.render import guarded, render
from affidavit.server.console.session import User, settings

READ = ("auditor", "admin")


def _params(request: Request) -> dict[str, list[str]]:
    return {k: request.query_params.getlist(k) for k in request.query_params}


async def home(request: Request) -> Response:
    return RedirectResponse("/console/timeline", 303)


async def timeline_page(request: Request) -> Response:
    async def run(user: User) -> Response:
        view = timeline.parse(_params(request))
        server, rules = request.app.state.server, settings(request).functions
        found = await run_in_threadpool(
            server.run, lambda c: timeline.load(c, server.schema, view, rules)
        )
        return render(
            request,
            "timeline.html",
            user,
            view=view,
            t=found,
            rules=bool(rules),
            counts_over=f"{timeline.COUNTS_OVER:,}",
        )

    return await guarded(request, READ, run)


CSV_COLUMNS = (*records.COLUMNS, "function")


async def timeline_csv(request: Request) -> Response:
    async def run(user: User) -> Response:
        view = timeline.parse(_params(request))
        server, rules = request.app.state.server, settings(request).functions

        def lines() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            with server.pool.connection() as conn:
                for n, row in enumerate(timeline.csv_records(conn, server.schema, view, rules)):
                    writer.writerow({k: _cell(v) for k, v in row.items()})
                    if n % 500 == 0:
                        yield out.getvalue()
                        out.seek(0)
                        out.truncate()
            yield out.getvalue()

        return StreamingResponse(
            iterate_in_threadpool(lines()),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="affidavit-timeline.csv"'},
        )

    return await guarded(request, READ, run)


async def timeline_pack(request: Request) -> Response:
    """The view as an evidence pack over the org log (``affidavit verify-pack`` checks it)."""

    async def run(user: User) -> Response:
        view = timeline.parse(_params(request))
        server, rules = request.app.state.server, settings(request).functions

        def build(conn: psycopg.Connection[Any]) -> IO[bytes]:
            seqs = []
            for row in timeline.csv_records(conn, server.schema, view, rules):
                seqs.append(int(row["org_seq"]))
                if len(seqs) > org_pack.MAX_RECORDS:
                    raise InputError(
                        f"the view holds more than {org_pack.MAX_RECORDS:,} records, too many "
                        "for one evidence pack (each carries its proof): narrow it"
                    )
            out = tempfile.SpooledTemporaryFile(max_size=16 << 20)  # noqa: SIM115 (streamed)
            try:
                org_pack.build(
                    conn,
                    server.collector,
                    seqs,
                    out,
                    filters=org_pack.describe(
                        view.api_filters() | {"function": view.values.get("function")}
                    ),
                    now=datetime.now(UTC),
                )
            except BaseException:
                out.close()
                raise
            out.seek(0)
            return out

        pack = await run_in_threadpool(server.run, build)

        def chunks() -> Iterator[bytes]:
            with pack:
                while piece := pack.read(1 << 20):
                    yield piece

        return StreamingResponse(
            iterate_in_threadpool(chunks()),
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="affidavit-evidence.zip"'},
        )

    return await guarded(request, READ, run)


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with = + - @ as a formula (OWASP CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def file_page(request: Request) -> Response:
    async def run(user: User) -> Response:
        path = request.query_params.get("path", "")
        server = request.app.state.server
        history = await run_in_threadpool(
            server.run, lambda c: diffs.history(c, server.schema, path)
        )
        return render(request, "file.html", user, path=path, history=history)

    return await guarded(request, READ, run)


async def record_page(request: Request) -> Response:
    async def run(user: User) -> Response:
        org_seq = int(request.path_params["org_seq"])
        server = request.app.state.server
        view = await run_in_threadpool(
            server.run, lambda c: proof.load(c, server.collector, org_seq)
        )
        bundle = None if view.bundle is None else proof.script_json(view.bundle)
        return render(request, "record.html", user, r=view, bundle=bundle)

    return await guarded(request, READ, run)

"""The compliance dashboard's handlers: the page (auditors and admins) and its two admin
actions, resolving a finding and signing the monthly governance review (CSRF-checked)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from affidavit.server.console import compliance, posture, session
from affidavit.server.console.render import guarded, render
from affidavit.server.console.session import User

READ = ("auditor", "admin")
ADMIN = ("admin",)


async def page(request: Request) -> Response:
    async def run(user: User) -> Response:
        server, given = request.app.state.server, session.settings(request)
        rules = list(given.functions)
        today = datetime.now(UTC).date()

        def read(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            c = server.collector
            resolved = compliance.console_resolutions(conn, c)
            return {
                "posture": posture.score(conn, c.schema, given.policy, resolved, today),
                "findings": compliance.findings(conn, c),
                "weekly": compliance.weekly(conn, c.schema, rules, today),
                "devices": compliance.completeness(conn, c.schema),
                "months": compliance.months(conn, c, today),
            }

        data = await run_in_threadpool(server.run, read)
        weeks, series = data["weekly"]
        peak = max([max(v) for v in series.values()] + [1])
        return render(
            request,
            "compliance.html",
            user,
            period=today.strftime("%Y-%m"),
            weeks=weeks,
            series=series,
            peak=peak,
            findings=data["findings"],
            devices=data["devices"],
            months=data["months"],
            posture=data["posture"],
            today=today.isoformat(),
            done=request.query_params.get("done", "")[:200],
        )

    return await guarded(request, READ, run)


def _one(fields: dict[str, list[str]], name: str) -> str:
    return (fields.get(name) or [""])[-1]


def _actor(user: User) -> dict[str, str]:
    return {"user": user.name, "role": user.role, "via": f"console ({user.via})"}


async def resolve(request: Request) -> Response:
    async def run(user: User) -> Response:
        fields = await session.form(request)
        server = request.app.state.server
        seq = await run_in_threadpool(
            server.run,
            lambda c: compliance.resolve(
                c,
                server.collector,
                _one(fields, "finding"),
                _one(fields, "reason"),
                _actor(user),
                datetime.now(UTC),
            ),
        )
        return RedirectResponse(f"/console/compliance?done=Resolved+as+org+record+{seq}", 303)

    return await guarded(request, ADMIN, run)


async def review(request: Request) -> Response:
    async def run(user: User) -> Response:
        fields = await session.form(request)
        server = request.app.state.server
        seq = await run_in_threadpool(
            server.run,
            lambda c: compliance.sign_review(
                c,
                server.collector,
                period=_one(fields, "period").strip(),
                attendees=_one(fields, "attendees").splitlines(),
                decisions=_one(fields, "decisions").splitlines(),
                by=_actor(user),
                now=datetime.now(UTC),
            ),
        )
        return RedirectResponse(f"/console/compliance?done=Review+signed+as+org+record+{seq}", 303)

    return await guarded(request, ADMIN, run)

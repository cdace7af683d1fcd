"""Rendering console pages: the Jinja2 environment (autoescaped: every value from a payload is
text, never markup), the filters the templates use, and the page guard every handler runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from affidavit.errors import AffidavitError
from affidavit.server.console import session
from affidavit.server.console.session import Forbidden, SignInNeeded, User

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def when(value: str | None) -> str:
    """An RFC 3339 UTC time as ``2026-11-26 12:00:00 UTC``: the zone is always shown."""
    if not value:
        return ""
    text = value.replace("T", " ")
    if text.endswith("Z"):
        text = text[:-1].split(".")[0] + " UTC"
    return text


templates.env.filters["when"] = when


def render(
    request: Request, name: str, user: User | None, *, status_code: int = 200, **context: Any
) -> Response:
    context |= {"user": user, "csrf": session.csrf_token(request)}
    response: Response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'" + _form_targets(request)
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _form_targets(request: Request) -> str:
    # Sign-in redirects to the identity provider, which a strict form-action would block.
    oidc = session.settings(request).oidc
    return f" {oidc.issuer}" if oidc else ""


def error(request: Request, user: User | None, status: int, message: str) -> Response:
    return render(request, "error.html", user, status_code=status, message=message, status=status)


async def guarded(
    request: Request,
    roles: tuple[str, ...],
    handler: Callable[[User], Awaitable[Response]],
) -> Response:
    """Run ``handler`` for a signed-in user with one of ``roles``; else redirect or refuse."""
    try:
        user = session.require(request, roles)
    except SignInNeeded:
        return RedirectResponse(session.sign_in_url(request), 303)
    except Forbidden as e:
        return error(request, session.current(request), 403, str(e))
    try:
        return await handler(user)
    except Forbidden as e:
        return error(request, user, 403, str(e))
    except AffidavitError as e:
        return error(request, user, 400, str(e))

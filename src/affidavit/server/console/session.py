"""Console sessions: a signed cookie, the signed-in person's role, and CSRF tokens.

The cookie is Starlette's ``SessionMiddleware`` (itsdangerous-signed, ``HttpOnly``,
``SameSite=Lax`` so the identity provider's redirect back still carries it); its key comes
from :func:`.settings.session_key`, read when the first request arrives (the key folder is
known only then). The session holds ``user`` (name, role, how they signed in) and ``csrf``,
a random token every form posts back (the synchronizer-token pattern of the OWASP CSRF
Prevention Cheat Sheet); a POST without it, or with another, is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from affidavit.server.console.settings import Settings, load, session_key

COOKIE = "affidavit_console"
MAX_AGE_S = 8 * 3600


class ConsoleSession:
    """``SessionMiddleware`` built on the first request, with the collector's key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inner: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._inner is None:
            state = scope["app"].state
            if not hasattr(state, "console"):
                state.console = load()
            settings: Settings = state.console
            self._inner = SessionMiddleware(
                self.app,
                secret_key=session_key(state.server.keys),
                session_cookie=COOKIE,
                max_age=MAX_AGE_S,
                path="/console",
                same_site="lax",
                https_only=settings.secure_cookie,
            )
        await self._inner(scope, receive, send)


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    via: str


class SignInNeeded(Exception):
    """No session: the page redirects to the sign-in page, coming back afterwards."""


class Forbidden(Exception):
    """Signed in, but the role may not do this (HTTP 403)."""


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.console
    return value


def current(request: Request) -> User | None:
    raw = request.session.get("user")
    if not isinstance(raw, dict):
        return None
    try:
        return User(str(raw["name"]), str(raw["role"]), str(raw["via"]))
    except KeyError:
        return None


def sign_in(request: Request, user: User) -> None:
    # A new session on sign-in (fixation): the old CSRF token and OIDC state go.
    request.session.clear()
    request.session["user"] = {"name": user.name, "role": user.role, "via": user.via}
    csrf_token(request)


def require(request: Request, roles: tuple[str, ...]) -> User:
    user = current(request)
    if user is None:
        raise SignInNeeded
    if user.role not in roles:
        raise Forbidden(f"a {user.role} may not do this")
    return user


def sign_in_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/console/signin?next=" + quote(here, safe="")


def safe_next(value: str | None) -> str:
    """Only a console path: never an open redirect to another site."""
    if value and value.startswith("/console/") and not value.startswith("//"):
        return value
    return "/console/timeline"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def form(request: Request) -> dict[str, Any]:
    """The posted form, after checking its CSRF token; :class:`Forbidden` without it."""
    data = await request.form(max_files=0, max_fields=200)
    sent = data.get("csrf")
    expected = request.session.get("csrf")
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not hmac.compare_digest(sent, expected)
    ):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and retry")
    return {k: data.getlist(k) for k in data}

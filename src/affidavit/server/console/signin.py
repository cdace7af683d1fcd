"""Signing in to the console: OpenID Connect (authorization code flow, through Authlib's
Starlette client) against the organisation's provider, or a collector token (auditor or
admin) for a small team without one; and signing out.

OIDC: the provider's metadata comes from OpenID Connect Discovery 1.0; Authlib keeps the
``state`` and ``nonce`` in the session, checks them on the way back, and checks the ID
token's signature against the provider's JWKS, its issuer, audience and expiry. The role is
then looked up by the token's ``email`` claim (``email_verified`` must not be false) in
``AFFIDAVIT_CONSOLE_ROLES``; a person not listed is refused.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from affidavit.server.console import session
from affidavit.server.console.render import error, render
from affidavit.server.console.session import Forbidden, User
from affidavit.server.console.settings import Oidc
from affidavit.server.tokens import AuthError


def _client(request: Request, oidc: Oidc) -> Any:
    state = request.app.state
    if getattr(state, "console_oauth", None) is None:
        from authlib.integrations.starlette_client import OAuth

        oauth = OAuth()
        oauth.register(
            "idp",
            client_id=oidc.client_id,
            client_secret=oidc.client_secret,
            server_metadata_url=oidc.metadata_url,
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )
        state.console_oauth = oauth
    return state.console_oauth.create_client("idp")


async def page(request: Request) -> Response:
    if request.method == "POST":
        return await _token_sign_in(request)
    nxt = session.safe_next(request.query_params.get("next"))
    request.session["next"] = nxt
    return render(
        request,
        "signin.html",
        None,
        oidc=session.settings(request).oidc is not None,
        message=request.query_params.get("message", "")[:200],
    )


async def _token_sign_in(request: Request) -> Response:
    try:
        fields = await session.form(request)
    except Forbidden as e:
        return error(request, None, 403, str(e))
    token = (fields.get("token") or [""])[-1].strip()
    server = request.app.state.server
    try:
        who = await run_in_threadpool(
            server.run, lambda c: server.auth.authenticate(c, f"Bearer {token}")
        )
    except AuthError as e:
        return render(
            request,
            "signin.html",
            None,
            status_code=401,
            message=f"Not signed in: {e}",
            oidc=session.settings(request).oidc is not None,
        )
    if who.role not in ("auditor", "admin"):
        return render(
            request,
            "signin.html",
            None,
            status_code=403,
            message=f"A {who.role} token cannot open the console.",
            oidc=session.settings(request).oidc is not None,
        )
    nxt = session.safe_next(request.session.get("next"))
    session.sign_in(request, User(who.name, who.role, "token"))
    return RedirectResponse(nxt, 303)


async def oidc_login(request: Request) -> Response:
    oidc = session.settings(request).oidc
    if oidc is None:
        return error(request, None, 404, "this collector has no OpenID Connect provider set")
    redirect_uri = str(request.url_for("console_oidc_callback"))
    response: Response = await _client(request, oidc).authorize_redirect(request, redirect_uri)
    return response


async def oidc_callback(request: Request) -> Response:
    from authlib.integrations.base_client.errors import OAuthError

    settings = session.settings(request)
    if settings.oidc is None:
        return error(request, None, 404, "this collector has no OpenID Connect provider set")
    try:
        token = await _client(request, settings.oidc).authorize_access_token(request)
    except OAuthError as e:
        return error(request, None, 401, f"the identity provider's answer was refused: {e.error}")
    claims = token.get("userinfo") or {}
    email = str(claims.get("email") or "").lower()
    if not email or claims.get("email_verified") is False:
        return error(request, None, 403, "the identity provider gave no verified email")
    role = settings.roles.get(email)
    if role is None:
        return error(request, None, 403, f"{email} has no console role (AFFIDAVIT_CONSOLE_ROLES)")
    nxt = session.safe_next(request.session.get("next"))
    session.sign_in(request, User(email, role, "oidc"))
    return RedirectResponse(nxt, 303)


async def sign_out(request: Request) -> Response:
    try:
        await session.form(request)
    except Forbidden as e:
        return error(request, session.current(request), 403, str(e))
    request.session.clear()
    return RedirectResponse("/console/signin?message=Signed+out.", 303)

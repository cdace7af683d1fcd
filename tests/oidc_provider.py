"""A small OpenID Connect provider for the console's tests, on loopback, built on joserfc
(the Authlib project's JOSE library, which Authlib's own OIDC client uses to check the ID
token: RS256 ID tokens, a JWKS) and Starlette, served by a real uvicorn in a thread.

It does what a real provider does on the authorization code flow (OpenID Connect Core 1.0
section 3.1): discovery metadata (OpenID Connect Discovery 1.0 section 4), an authorization
endpoint that shows a sign-in form and redirects back with a one-time code and the state,
a token endpoint that authenticates the client (HTTP Basic or form), checks the code, its
redirect URI and PKCE (RFC 7636, S256), and returns an ID token carrying the nonce. Every
check it skips would let a broken client through, so none is skipped.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from collector_helpers import free_port

CLIENT_ID = "affidavit-console"
CLIENT_SECRET = secrets.token_urlsafe(24)


class Provider:
    def __init__(self, port: int) -> None:
        self.issuer = f"http://127.0.0.1:{port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.redirects: set[str] = set()
        self.tokens_issued = 0

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.metadata),
                Route("/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
            ]
        )

    async def metadata(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def _refuse(self, why: str) -> Response:
        return HTMLResponse(f"<h1>Refused</h1><p>{escape(why)}</p>", 400)

    async def authorize(self, request: Request) -> Response:
        q = dict(request.query_params) if request.method == "GET" else dict(await request.form())
        if q.get("client_id") != CLIENT_ID:
            return self._refuse("unknown client")
        if q.get("redirect_uri") not in self.redirects:
            return self._refuse("redirect_uri is not registered")
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            return self._refuse("only the code flow with scope openid")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return self._refuse("PKCE S256 is required")
        if request.method == "GET":
            hidden = "".join(
                f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
                for k, v in q.items()
            )
            return HTMLResponse(
                "<!doctype html><title>Example IdP</title><h1>Example identity provider</h1>"
                f'<form method="post" action="/authorize">{hidden}'
                '<label>Email <input name="email" id="email"></label>'
                '<button type="submit">Continue</button></form>'
            )
        code = secrets.token_urlsafe(24)
        self.codes[code] = {**q, "at": time.time()}
        back = {"code": code, "state": q.get("state", "")}
        return RedirectResponse(q["redirect_uri"] + "?" + urlencode(back), 302)

    def _client_ok(self, request: Request, form: dict[str, Any]) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            given = base64.b64decode(header[6:]).decode()
            cid, _, secret = given.partition(":")
        else:
            cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        return cid == CLIENT_ID and secrets.compare_digest(secret, CLIENT_SECRET)

    async def token(self, request: Request) -> Response:
        form = dict(await request.form())
        if not self._client_ok(request, form):
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = self.codes.pop(str(form.get("code")), None)  # one use only
        if form.get("grant_type") != "authorization_code" or grant is None:
            return JSONResponse({"error": "invalid_grant"}, 400)
        if time.time() - grant["at"] > 60 or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, 400)
        verifier = str(form.get("code_verifier", ""))
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
        if digest.decode() != grant["code_challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": hashlib.sha256(grant["email"].encode()).hexdigest()[:16],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "email": grant["email"],
            "email_verified": True,
        }
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )


@contextmanager
def running() -> Iterator[Provider]:
    port = free_port()
    provider = Provider(port)
    config = uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)

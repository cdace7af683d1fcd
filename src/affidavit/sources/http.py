"""A small JSON-over-HTTPS client for the providers' REST APIs (stdlib ``urllib``).

It sends the OAuth bearer token, honours ``429``/``503`` with ``Retry-After`` (Google Drive
"Resolve errors", Microsoft Graph "throttling guidance", Dropbox "Error handling": all three
send it), and turns ``401`` into one line asking for a fresh token. The token comes from
:mod:`.secrets` (a file, the environment or the OS keyring), is sent only to the configured
API host, and never appears in an error or a record. Redirects are not followed: urllib
would carry the Authorization header to wherever a ``3xx`` points, and none of the calls
made here is documented to redirect.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib.request

from affidavit.errors import InputError
from affidavit.http_body import read_body

MAX_BODY = 16 << 20
"""Largest response read; a revision page is a few kilobytes."""
MAX_WAIT = 300.0
"""Longest single Retry-After honoured; a longer one ends the pull (resume later)."""


class SourceError(InputError):
    """The provider refused or could not be reached; the message names the source."""


class NotFound(Exception):
    """404 / 409 path-not-found: the file is gone at the provider (deleted or moved)."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        super().__init__("not found")
        self.body = body


@dataclass
class Client:
    name: str
    """The source's name, for messages."""
    base_url: str
    token: str = field(repr=False)
    token_source: str
    """Where the token came from (:meth:`.secrets.SecretRef.describe`), for messages."""
    sleep: Callable[[float], None] = time.sleep
    retries: int = 5
    key_header: str | None = None
    """Send the token in this header (Anthropic's ``x-api-key``) instead of as a Bearer."""
    waited: list[float] = field(default_factory=list)
    """Every Retry-After honoured, in seconds (reported by ``sources pull``)."""

    def __post_init__(self) -> None:
        # urllib also opens file: and ftp: URLs; a token must only ever go to an HTTP API.
        if urllib.parse.urlsplit(self.base_url).scheme not in ("https", "http"):
            raise SourceError(f"{self.name}: the API URL {self.base_url!r} is not http(s)://")

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return self.base_url.rstrip("/") + path + query

    def get(self, url: str) -> dict[str, Any]:
        import urllib.request

        return self._send(urllib.request.Request(url, method="GET"))

    def post(self, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
        import urllib.request

        data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="POST")
        request.add_header("Content-Type", "application/json")
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> dict[str, Any]:
        # urllib.request (and with it http.client and ssl) is loaded on first use only:
        # every CLI command imports this module, few of them talk to a provider.
        import http.client
        import urllib.error
        import urllib.request

        if not request.full_url.startswith(self.base_url.rstrip("/") + "/"):
            # A next-page link must not carry the token to another host.
            raise SourceError(f"{self.name}: the provider linked outside {self.base_url}")
        if self.key_header is None:
            request.add_header("Authorization", f"Bearer {self.token}")
        else:
            request.add_header(self.key_header, self.token)
        request.add_header("Accept", "application/json")
        where = (
            f"{self.name}: {request.get_method()} {urllib.parse.urlsplit(request.full_url).path}"
        )
        for _ in range(self.retries + 1):
            try:
                with _opener().open(request, timeout=60) as response:
                    return _json(read_body(response, MAX_BODY), where)
            except urllib.error.HTTPError as e:
                body = _json(e.read(MAX_BODY + 1), where, lenient=True)
                if e.code in (429, 503):
                    self._wait(e.headers.get("Retry-After"), where, e.code)
                    continue
                if e.code == 401:
                    raise SourceError(
                        f"{where}: HTTP 401, the token or key is expired or revoked; put a "
                        f"fresh one in {self.token_source} and pull again"
                    ) from None
                if e.code in (404, 409, 410):
                    raise NotFound(body) from None
                if 300 <= e.code < 400:
                    raise SourceError(
                        f"{where}: HTTP {e.code}, redirected; not followed, so the token stays "
                        f"with {self.base_url} (is the API URL right?)"
                    ) from None
                raise SourceError(f"{where}: HTTP {e.code} {_summary(body)}") from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise SourceError(f"{where}: cannot reach the provider: {reason}") from None
            except http.client.HTTPException as e:  # closed mid-answer: the cursor stays put
                raise SourceError(f"{where}: the provider broke off its answer: {e!r}") from None
        raise SourceError(f"{where}: still throttled after {self.retries} retries; pull later")

    def _wait(self, header: str | None, where: str, code: int) -> None:
        try:
            seconds = float(header) if header is not None else 1.0
        except ValueError:
            seconds = 1.0  # an HTTP-date: wait a moment, the retry budget bounds it
        if not 0 <= seconds <= MAX_WAIT:
            raise SourceError(f"{where}: HTTP {code}, retry after {header} s; pull again later")
        self.waited.append(seconds)
        self.sleep(seconds)


def _opener() -> urllib.request.OpenerDirector:
    """urllib's opener, less the redirect handler: a 3xx comes back as an HTTPError."""
    import urllib.request

    class Refuse(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(Refuse)


def _json(raw: bytes, where: str, *, lenient: bool = False) -> dict[str, Any]:
    if len(raw) > MAX_BODY:
        raise SourceError(f"{where}: the response is over {MAX_BODY} bytes")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError as e:
        if lenient:
            return {}
        raise SourceError(f"{where}: the response is not JSON") from e
    if not isinstance(value, dict):
        if lenient:
            return {}
        raise SourceError(f"{where}: the response is not a JSON object")
    return value


def _summary(body: Mapping[str, Any]) -> str:
    """The provider's own error text, short (Drive/Graph ``error.message``, Dropbox summary)."""
    error = body.get("error")
    text = body.get("error_summary") or (
        error.get("message") or error.get("code") if isinstance(error, dict) else error
    )
    return str(text or "")[:200]

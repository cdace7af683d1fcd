"""A loopback HTTP server answering as the Anthropic Compliance API's three lists do.

Shapes follow the pages listed in tests/assets/compliance/README.md: the Activity Feed
(newest first, ``has_more`` / ``first_id`` / ``last_id``, older pages by ``after_id``), the
local and remote session lists (newest first, ``next_page`` passed back as ``page``), the
``created_at[gte]`` filter, ``x-api-key`` auth, the Anthropic error format, and 429 with
``Retry-After``. Every request is logged (path with query, the key sent).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from provider_server import loopback

PATHS = {
    "/v1/compliance/activities": "activities",
    "/v1/compliance/apps/sessions/local": "local",
    "/v1/compliance/apps/sessions/remote": "remote",
}


@dataclass
class FakeCompliance:
    key: str
    items: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"activities": [], "local": [], "remote": []}
    )
    page_size: int = 2
    throttle: int = 0
    """Answer this many next requests with 429 and ``Retry-After: retry_after``."""
    retry_after: str = "0"
    admin_key: bool = False
    """The key is an Admin API key: the session lists answer 403 (as documented)."""
    stuck: bool = False
    """The Activity Feed ignores ``after_id`` and always says ``has_more`` (a server bug)."""
    broken: str | None = None
    """A family whose next answer is malformed (no data list)."""
    log: list[tuple[str, str]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    fake: FakeCompliance

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("request-id", "req_test")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _error(
        self, code: int, kind: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        self._send(code, {"type": "error", "error": {"type": kind, "message": message}}, headers)

    def do_GET(self) -> None:
        fake = self.fake
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        sent = self.headers.get("x-api-key", "")
        fake.log.append((self.path, sent))
        if fake.throttle > 0:
            fake.throttle -= 1
            self._error(429, "rate_limit_error", "Rate limited", {"Retry-After": fake.retry_after})
            return
        if sent != fake.key:
            self._error(401, "authentication_error", "invalid x-api-key")
            return
        family = PATHS.get(url.path)
        if family is None:
            self._error(404, "not_found_error", "Not found")
            return
        if family != "activities" and fake.admin_key:
            self._error(403, "permission_error", "Admin API keys cannot read sessions")
            return
        if fake.broken == family:
            fake.broken = None
            self._send(200, {"data": "not a list"})
            return
        # Malformed items (a test's bad input) are served as they are, in list order.
        items = sorted(fake.items[family], key=_created, reverse=True)
        if "created_at[gte]" in params:
            floor = params["created_at[gte]"]
            items = [i for i in items if _key(_created(i)) >= _key(floor)]
        if family == "activities":
            start = 0
            if "after_id" in params and not fake.stuck:
                ids = [i.get("id") if isinstance(i, dict) else None for i in items]
                start = ids.index(params["after_id"]) + 1
            page = items[start : start + fake.page_size]
            self._send(
                200,
                {
                    "data": page,
                    "has_more": fake.stuck or start + fake.page_size < len(items),
                    "first_id": _id(page[0]) if page else None,
                    "last_id": _id(page[-1]) if page else None,
                },
            )
            return
        start = int(params.get("page", "0"))
        end = start + fake.page_size
        body: dict[str, Any] = {"data": items[start:end], "next_page": None}
        if end < len(items):
            body["next_page"] = str(end)
        self._send(200, body)


def _id(item: object) -> object:
    return item.get("id") if isinstance(item, dict) else None


def _created(item: object) -> str:
    return str(item.get("created_at")) if isinstance(item, dict) else ""


def _key(stamp: str) -> str:
    # RFC 3339 times from this test are UTC with or without fractions: compare to the second.
    return stamp[:19]


@contextmanager
def serve(fake: FakeCompliance) -> Iterator[str]:
    with loopback(type("BoundHandler", (Handler,), {"fake": fake})) as base:
        yield base

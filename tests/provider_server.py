"""A loopback HTTP server answering as Google Drive, Microsoft Graph and Dropbox do.

Shapes follow the pages listed in tests/assets/sources/README.md. Each test sets the files
it serves in :class:`Fake`; every request is logged (method, path, bearer token), so a test
can see pagination and retries happen.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Fake:
    """What the providers hold: remote path → revisions (provider-shaped dicts)."""

    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, str] = field(default_factory=dict)
    """Dropbox: remote path → server_deleted time (revisions stay listed)."""
    throttle: int = 0
    """Answer this many next requests with 429 and Retry-After: 0."""
    page_size: int = 2
    expire_after: int | None = None
    """Answer 401 (expired token) once this many requests were answered."""
    log: list[tuple[str, str, str]] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    """Every POST body (Dropbox's arguments, ``before_rev`` among them), in order."""
    base: str = ""


def _drive_ids(fake: Fake) -> dict[tuple[str, str], str]:
    ids: dict[tuple[str, str], str] = {}
    for path in fake.files:
        parent = "root"
        for depth, part in enumerate(path.strip("/").split("/")):
            node = "id-" + "-".join(path.strip("/").split("/")[: depth + 1])
            ids[(parent, part)] = node
            parent = node
    return ids


class Handler(BaseHTTPRequestHandler):
    fake: Fake

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _gate(self) -> bool:
        fake = self.fake
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        fake.log.append((self.command, self.path, token))
        if fake.throttle > 0:
            fake.throttle -= 1
            self._send(429, {"error": {"code": 429, "message": "Rate limit"}}, {"Retry-After": "0"})
            return False
        if fake.expire_after is not None and len(fake.log) > fake.expire_after:
            token = "expired"
        if token == "expired":
            if self.path.startswith("/2/"):
                self._send(
                    401,
                    {
                        "error_summary": "expired_access_token/",
                        "error": {".tag": "expired_access_token"},
                    },
                )
            else:
                self._send(
                    401, {"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}
                )
            return False
        return True

    def _page(
        self, items: list[dict[str, Any]], start: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        end = start + self.fake.page_size
        return items[start:end], (end if end < len(items) else None)

    def do_GET(self) -> None:
        if not self._gate():
            return
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        fake = self.fake
        if url.path == "/drive/v3/files":
            ids = _drive_ids(fake)
            q = params.get("q", "")
            parent = q.split("'")[1]
            name = q.split("name = '")[1].rsplit("' and trashed", 1)[0].replace("\\'", "'")
            found = ids.get((parent, name))
            self._send(200, {"files": [{"id": found, "name": name}] if found else []})
        elif url.path.startswith("/drive/v3/files/") and url.path.endswith("/revisions"):
            node = url.path.split("/")[4]
            path = next(
                (p for p in fake.files if "id-" + "-".join(p.strip("/").split("/")) == node), None
            )
            if path is None:
                self._send(404, {"error": {"code": 404, "message": f"File not found: {node}."}})
                return
            items, nxt = self._page(fake.files[path], int(params.get("pageToken", "0")))
            body: dict[str, Any] = {"kind": "drive#revisionList", "revisions": items}
            if nxt is not None:
                body["nextPageToken"] = str(nxt)
            self._send(200, body)
        elif url.path.startswith("/v1.0/me/drive/root:"):
            path = urllib.parse.unquote(url.path.removeprefix("/v1.0/me/drive/root:")).strip("/")
            if path not in fake.files:
                self._send(
                    404,
                    {
                        "error": {
                            "code": "itemNotFound",
                            "message": "The resource could not be found.",
                        }
                    },
                )
                return
            self._send(
                200, {"id": "item-" + path.replace("/", "-"), "name": path.rsplit("/", 1)[-1]}
            )
        elif url.path.startswith("/v1.0/me/drive/items/") and url.path.endswith("/versions"):
            item = url.path.split("/")[5]
            path = next(p for p in fake.files if "item-" + p.replace("/", "-") == item)
            items, nxt = self._page(fake.files[path], int(params.get("$skiptoken", "0")))
            body = {"value": items}
            if nxt is not None:
                body["@odata.nextLink"] = f"{fake.base}{url.path}?$skiptoken={nxt}"
            self._send(200, body)
        else:
            self._send(404, {"error": {"code": "NotFound", "message": url.path}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        self.fake.bodies.append(request)
        if not self._gate():
            return
        if self.path != "/2/files/list_revisions":
            self._send(404, {"error_summary": "unknown endpoint"})
            return
        path = str(request.get("path", "")).strip("/")
        if path not in self.fake.files:
            self._send(
                409,
                {
                    "error_summary": "path/not_found/..",
                    "error": {".tag": "path", "path": {".tag": "not_found"}},
                },
            )
            return
        revisions = self.fake.files[path]  # newest first, as Dropbox lists them
        start = 0
        if "before_rev" in request:
            start = 1 + next(
                i for i, r in enumerate(revisions) if r["rev"] == request["before_rev"]
            )
        end = start + min(int(request.get("limit", 10)), self.fake.page_size)
        # is_deleted speaks of the latest revision listed: older pages' files are not deleted.
        gone = path in self.fake.deleted and start == 0
        body: dict[str, Any] = {
            "is_deleted": gone,
            "entries": revisions[start:end],
            "has_more": end < len(revisions),
        }
        if gone:
            body["server_deleted"] = self.fake.deleted[path]
        self._send(200, body)


@contextmanager
def loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port until the block ends; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serve(fake: Fake) -> Iterator[str]:
    with loopback(type("BoundHandler", (Handler,), {"fake": fake})) as base:
        fake.base = base
        yield base

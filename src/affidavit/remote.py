"""Reading the organisation's records from a collector (``affidavit log --server URL``)
and its reconciliation gaps (``affidavit gaps --server URL``).

Pages through ``GET /api/v1/records`` (JSON lines, paged by org seq) with the same filters
as a local ``log``; one record with its payload from ``GET /api/v1/records/<org_seq>``
(``diff --server``, ``rollback --server``). Standard library only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any

from affidavit.errors import InputError, LedgerError
from affidavit.query import Filters

COLUMNS = [
    "org_seq", "origin", "seq", "time", "kind", "actor_user", "actor_email", "agent",
    "session_id", "tool_use_id", "tool", "path", "before_sha256", "after_sha256", "size",
    "command", "person",
]  # fmt: skip
PAGE = 1000


def _params(filters: Filters, device: str | None) -> list[tuple[str, str]]:
    if filters.function:
        raise InputError("--function needs the endpoints' folder rules; use --path with --server")
    pairs = [(k, v) for k, v in (
        ("actor", filters.actor), ("agent", filters.agent), ("session", filters.session),
        ("tool", filters.tool), ("path", filters.path), ("since", filters.since),
        ("until", filters.until), ("device", device),
    ) if v]  # fmt: skip
    return pairs + [("kind", k) for k in filters.kinds]


def records(
    url: str, token: str, filters: Filters, *, device: str | None = None
) -> Iterator[tuple[object, ...]]:
    """Every matching record, in org seq order, page by page."""
    params = _params(filters, device)
    after: str | None = "-1"
    while after is not None:
        query = urllib.parse.urlencode([*params, ("after", after), ("limit", str(PAGE))])
        headers, body = _get(url, token, f"/api/v1/records?{query}")
        after = headers.get("X-Next-After")
        for line in body.decode("utf-8").splitlines():
            item = json.loads(line)
            yield tuple(item.get(c) for c in COLUMNS)


def record(url: str, token: str, org_seq: int) -> dict[str, Any]:
    """One record with its whole payload (``GET /api/v1/records/<org_seq>``)."""
    _, body = _get(url, token, f"/api/v1/records/{int(org_seq)}")
    value = json.loads(body)
    if not isinstance(value, dict):
        raise LedgerError(f"the collector at {url} answered something that is not a record")
    return value


def gaps(url: str, token: str) -> dict[str, Any]:
    """``GET /api/v1/gaps``: reconciliation gaps with counts per device and person."""
    _, body = _get(url, token, "/api/v1/gaps")
    value: dict[str, Any] = json.loads(body)
    return value


def _get(url: str, token: str, path: str) -> tuple[Message, bytes]:
    req = urllib.request.Request(
        url.rstrip("/") + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        try:
            reason = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            reason = e.reason
        raise LedgerError(f"the collector at {url} answered {e.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise LedgerError(f"cannot reach the collector at {url}: {reason}") from None

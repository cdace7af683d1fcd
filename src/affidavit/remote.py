"""Reading the organisation's records from a collector (``affidavit log --server URL``)
and its reconciliation gaps (``affidavit gaps --server URL``).

Pages through ``GET /api/v1/records`` (JSON lines, paged by org seq) with the same filters
as a local ``log``. Standard library only.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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
        with _get(url, f"/api/v1/records?{query}", token) as resp:
            after = resp.headers.get("X-Next-After")
            for line in resp.read().decode("utf-8").splitlines():
                item = json.loads(line)
                yield tuple(item.get(c) for c in COLUMNS)


def gaps(url: str, token: str) -> dict[str, Any]:
    """``GET /api/v1/gaps``: reconciliation gaps with counts per device and person."""
    with _get(url, "/api/v1/gaps", token) as resp:
        value: dict[str, Any] = json.loads(resp.read())
    return value


@contextmanager
def _get(url: str, path: str, token: str) -> Iterator[Any]:
    req = urllib.request.Request(
        url.rstrip("/") + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            yield resp
    except urllib.error.HTTPError as e:
        try:
            reason = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            reason = e.reason
        raise LedgerError(f"the collector at {url} answered {e.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise LedgerError(f"cannot reach the collector at {url}: {reason}") from None

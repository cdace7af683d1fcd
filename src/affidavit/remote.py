"""Reading the organisation's records from a collector (``affidavit log --server URL``)
and its reconciliation gaps (``affidavit gaps --server URL``).

Pages through ``GET /api/v1/records`` (JSON lines, paged by org seq) with the same filters
as a local ``log``; one record with its payload from ``GET /api/v1/records/<org_seq>``
(``diff --server``, ``rollback --server``); :func:`export` writes those rows to a CSV or
JSON Lines file (``affidavit export --server URL``), each with its org seq, endpoint seq and
leaf hash; :func:`evidence` saves the pack over the org log of the same selection
(``GET /api/v1/evidence``, ``affidavit evidence --server URL``). Standard library only.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

from affidavit.errors import InputError, LedgerError, VerificationError
from affidavit.files import atomic_writer
from affidavit.query import Filters

COLUMNS = [
    "org_seq", "origin", "seq", "leaf_hash", "time", "kind", "actor_user", "actor_email", "agent",
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
        headers, body = get(url, token, f"/api/v1/records?{query}")
        after = headers.get("X-Next-After")
        for line in body.decode("utf-8", "replace").splitlines():
            item = parse_json(url, "/api/v1/records", line)
            if not isinstance(item, dict):
                raise LedgerError(f"the collector at {url} answered a record that is not an object")
            yield tuple(item.get(c) for c in COLUMNS)


def record(url: str, token: str, org_seq: int) -> dict[str, Any]:
    """One record with its whole payload (``GET /api/v1/records/<org_seq>``)."""
    path = f"/api/v1/records/{int(org_seq)}"
    _, body = get(url, token, path)
    value = parse_json(url, path, body)
    if not isinstance(value, dict):
        raise LedgerError(f"the collector at {url} answered something that is not a record")
    return value


def gaps(url: str, token: str) -> dict[str, Any]:
    """``GET /api/v1/gaps``: reconciliation gaps with counts per device and person."""
    _, body = get(url, token, "/api/v1/gaps")
    value = parse_json(url, "/api/v1/gaps", body)
    if not isinstance(value, dict):
        raise LedgerError(f"the collector at {url} answered /api/v1/gaps with no object")
    return value


def get(url: str, token: str, path: str, *, timeout: float = 60) -> tuple[Message, bytes]:
    """``GET path`` on the collector (:func:`request`)."""
    return request(url, token, path, timeout=timeout)


def request(
    url: str, token: str, path: str, body: dict[str, Any] | None = None, *, timeout: float = 60
) -> tuple[Message, bytes]:
    """``GET path`` on the collector with a bearer token, or ``POST`` with a JSON ``body``:
    (headers, body), or a one-line :class:`LedgerError` naming the collector and its answer
    (a :class:`VerificationError` for a refused ``witness.conflict``). A connection closed
    mid-answer (a worker killed, a proxy cut) is a ``LedgerError`` like a reset: callers
    retry it, and a ship resumes from what the collector acknowledges holding."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method="GET" if data is None else "POST",
        headers={"Authorization": f"Bearer {token}"}
        | ({} if data is None else {"Content-Type": "application/json"}),
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        reason = _reason(e)
        if e.code == 409 and "witness.conflict" in reason:
            raise VerificationError(f"the collector {reason}", where="collector") from None
        raise LedgerError(f"the collector at {url} answered {e.code}: {reason}") from None
    except (urllib.error.URLError, OSError) as e:
        cause = getattr(e, "reason", e)
        raise LedgerError(f"cannot reach the collector at {url}: {cause}") from None
    except http.client.HTTPException as e:
        raise LedgerError(f"the collector at {url} broke off its answer: {e!r}") from None


def _reason(e: urllib.error.HTTPError) -> str:
    """The ``error`` of the collector's JSON answer, else the HTTP reason phrase."""
    try:
        answer = json.loads(e.read())
    except ValueError:
        answer = None
    return str(answer["error"] if isinstance(answer, dict) and "error" in answer else e.reason)


def parse_json(url: str, path: str, body: bytes | str) -> Any:
    """``body`` as JSON, or a one-line :class:`LedgerError` naming what answered it."""
    try:
        return json.loads(body)
    except ValueError:
        raise LedgerError(f"the collector at {url} answered {path} with no JSON") from None


EXPORT_FORMATS = ("csv", "jsonl")


def export(
    url: str,
    token: str,
    filters: Filters,
    out: Path,
    *,
    fmt: str,
    device: str | None = None,
    force: bool = False,
) -> int:
    """Write every matching record the collector holds to ``out`` (atomically); the count."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(
            f"--format {fmt} with --server: the collector's rows carry the query fields, not "
            f"whole records; use {' or '.join(EXPORT_FORMATS)}"
        )
    if out.exists() and not force:
        raise InputError(f"{out} exists; pass --force to overwrite it")
    count = 0
    with atomic_writer(out) as f:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        writer = csv.writer(text) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(COLUMNS)
        for row in records(url, token, filters, device=device):
            if writer is not None:
                writer.writerow(row)
            else:
                text.write(json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False))
                text.write("\n")
            count += 1
        text.flush()
        text.detach()
    return count


def evidence(
    url: str,
    token: str,
    filters: Filters,
    out: Path,
    *,
    device: str | None = None,
    force: bool = False,
) -> None:
    """Save the collector's evidence pack over the org log of the matching records (several
    devices, proven against the org checkpoint) to ``out``, atomically."""
    if out.exists() and not force:
        raise InputError(f"{out} exists; pass --force to overwrite it")
    query = urllib.parse.urlencode(_params(filters, device))
    _, body = get(url, token, f"/api/v1/evidence?{query}", timeout=600)
    with atomic_writer(out) as f:
        f.write(body)

"""The Anthropic Compliance API's three lists the collector pulls, in their documented shapes.

* Activity Feed, ``GET /v1/compliance/activities`` (platform.claude.com, "Query the Activity
  Feed" and the API reference "Query compliance activities"): newest first; a page is
  ``{"data": [...], "has_more", "first_id", "last_id"}`` and the next (older) page is asked
  with ``after_id=<last_id>``. Each activity has ``id``, ``created_at`` (RFC 3339), ``type``
  (over 300 values, growing), ``organization_id``, ``actor`` (``type``, ``email_address``,
  ``user_id``...) and fields of its type, all kept.
* Local sessions, ``GET /v1/compliance/apps/sessions/local`` ("Retrieve session
  transcripts", reference "List local sessions"): Cowork in Claude Desktop and Claude Code
  on users' machines; newest first, forward-only paging by the opaque ``next_page`` token
  passed back as ``page``; a session has ``id`` (``clls_...``), ``created_at`` (its first
  retained inference call), ``organization_uuid``, ``product_surface`` (``cowork``,
  ``claude_code``...) and ``user`` (``email_address``).
* Remote sessions, ``GET /v1/compliance/apps/sessions/remote``: Cowork sessions run in the
  cloud (``cse_...``, ``product_surface`` ``cowork_remote``), paged like the local ones.

All three take ``limit`` and a ``created_at`` range; the reference documents ``created_at`` as
an object with ``gte``, which this client sends as ``created_at[gte]`` (the bracket form of
object query parameters). Not findable in public text: the exact wire encoding of that
object and the remote session's lifecycle fields; both are written down in
``tests/assets/compliance/README.md``. The key goes in ``x-api-key``; errors are the
Anthropic error format ``{"error": {"type", "message"}}``; 429 carries ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from affidavit.errors import InputError
from affidavit.record import canonical_json, format_time, parse_time
from affidavit.sources.http import Client, SourceError

API_URL = "https://api.anthropic.com"
PATHS = {
    "activities": "/v1/compliance/activities",
    "local": "/v1/compliance/apps/sessions/local",
    "remote": "/v1/compliance/apps/sessions/remote",
}
FAMILIES = tuple(PATHS)
PAGE_SIZE = 100
MAX_PAGES = 2000
"""A listing longer than this stops; the cursor stays, so the next pull goes on from it."""
MAX_ITEM = 256 << 10
"""An item larger than this is kept as its id, time and type only (and says so)."""


@dataclass(frozen=True, slots=True)
class Item:
    """One activity or session as listed; ``raw`` is the API's object (or its outline)."""

    family: str
    id: str
    created_at: datetime
    email: str | None
    product: str | None
    raw: dict[str, Any]


def list_since(
    client: Client, family: str, since: datetime | None, *, page_size: int = PAGE_SIZE
) -> list[Item]:
    """Every item of ``family`` created at or after ``since`` (everything when None).

    :class:`SourceError` names the family, page and item when the API refuses or answers
    something that is not the documented shape.
    """
    params: dict[str, str] = {"limit": str(page_size)}
    if since is not None:
        params["created_at[gte]"] = format_time(since).replace(".000000Z", "Z")
    out: list[Item] = []
    seen_cursors: set[str] = set()
    for number in range(1, MAX_PAGES + 1):
        where = f"{client.name}: {family} page {number}"
        page = client.get(client.url(PATHS[family], params))
        data = page.get("data")
        if not isinstance(data, list):
            raise SourceError(f"{where}: no data list in the response")
        out += [_item(family, raw, f"{where} item {i + 1}") for i, raw in enumerate(data)]
        if family == "activities":
            cursor, key = page.get("last_id"), "after_id"
            more = page.get("has_more") is True and bool(data)
        else:
            cursor, key = page.get("next_page"), "page"
            more = isinstance(cursor, str) and bool(cursor)
        if not more:
            return out
        if not isinstance(cursor, str) or not cursor or cursor in seen_cursors:
            raise SourceError(f"{where}: the next-page cursor is missing or repeats")
        seen_cursors.add(cursor)
        params = {**params, key: cursor}
    raise SourceError(f"{client.name}: {family}: over {MAX_PAGES} pages; pull again to go on")


def _item(family: str, raw: object, where: str) -> Item:
    if not isinstance(raw, dict):
        raise SourceError(f"{where}: not an object")
    ident, stamp = raw.get("id"), raw.get("created_at")
    if not isinstance(ident, str) or not ident or len(ident) > 200:
        raise SourceError(f"{where}: no id")
    try:
        moment = parse_time(str(stamp)) if isinstance(stamp, str) else None
    except InputError:
        moment = None
    if moment is None:
        raise SourceError(f"{where} ({ident}): created_at {str(stamp)[:40]!r} is not a time")
    person = raw.get("actor") if family == "activities" else raw.get("user")
    email = person.get("email_address") if isinstance(person, dict) else None
    product = raw.get("product_surface")
    try:
        size = len(canonical_json(raw))
    except (InputError, ValueError, TypeError):
        size = MAX_ITEM + 1  # lone surrogates, numbers JSON cannot hold: keep the outline
    if size > MAX_ITEM:
        raw = {"id": ident, "created_at": stamp, "type": str(raw.get("type"))[:200]}
        raw["truncated"] = f"over {MAX_ITEM} bytes as listed"
    return Item(
        family,
        ident,
        moment,
        email.lower() if isinstance(email, str) and email else None,
        product if isinstance(product, str) else None,
        raw,
    )

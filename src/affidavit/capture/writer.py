"""Write capture drafts as records: redact, seal into records, index their tool calls.

Shared by the hook and the transcript importer so both write the same way. Call inside a
store transaction (``store.begin()`` ... ``store.commit()``): the records and the
``tool_uses`` index rows commit together or not at all.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from affidavit import merkle
from affidavit.capture import state
from affidavit.capture.redact import redact
from affidavit.record import Record
from affidavit.store.sqlite import SqliteStore
from affidavit.verify.erasure import refuse_erasure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    Draft = tuple[str, dict[str, Any]]


def append_drafts(
    store: SqliteStore, drafts: Sequence[Draft], *, source: str, time: datetime
) -> range:
    """Redact each payload, make its record, append; returns the seqs (durable on commit).

    Each record whose payload names ``agent.tool_use_id`` (or carries a ``dedup_key``) is
    indexed in ``tool_uses``, which is how later sources find what was already captured.
    """
    sealed = seal_drafts(drafts, source=source, time=time)
    first = store.add_records(
        (rec.leaf, merkle.leaf_hash(rec.leaf), rec.salt, rec.payload_json) for rec, _ in sealed
    )
    state.index_keys(
        store.connection,
        [
            (key, first + i, source, str(rec.envelope.kind))
            for i, (rec, key) in enumerate(sealed)
            if key
        ],
    )
    return range(first, first + len(sealed))


def seal_drafts(
    drafts: Sequence[Draft], *, source: str, time: datetime
) -> list[tuple[Record, str]]:
    """The records of the drafts, redacted, each with its index key (``""`` for none).

    The one step from draft to record for every writer: the endpoint ledger above, and the
    collector's org log for an ``http`` hook (:mod:`affidavit.server.hooks`).
    """
    out: list[tuple[Record, str]] = []
    for kind, payload in drafts:
        refuse_erasure(kind)
        clean = redacted(payload)
        key = clean.pop("dedup_key", None) or (clean.get("agent") or {}).get("tool_use_id")
        if not key and kind == "prompt.submit":
            text = (clean.get("prompt") or {}).get("text")
            key = prompt_key((clean.get("agent") or {}).get("session_id"), str(text or ""))
        rec = Record.create(kind, source, clean, time=time)
        out.append((rec, key if isinstance(key, str) else ""))
    return out


def redacted(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` with secrets masked and their number in ``redactions``.

    Redacting again finds nothing new and keeps the count, so a payload redacted before it
    was spooled is stored as if it had been redacted here.
    """
    clean, count = redact(payload)
    if count:
        clean["redactions"] = count
    return dict(clean)


def prompt_key(session_id: str | None, text: str) -> str:
    """Index key of a (redacted) prompt: the transcript importer corroborates hook prompts by it."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"prompt:{session_id or ''}:{digest}"


def seen(store: SqliteStore, key: str) -> list[tuple[int, str, str]]:
    """(seq, source, kind) of every record already indexed under a tool_use_id or key."""
    return state.seen(store.connection, key)

"""Replay the spool into the ledger: events earlier hook runs could not write.

Standard library only: the hook replays its spool in direct mode.
"""

from __future__ import annotations

import base64

from affidavit.capture import events, spool, writer
from affidavit.capture.intake import decode, error_draft

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from affidavit.store.sqlite import SqliteStore

    Draft = tuple[str, dict[str, Any]]


def replay_spool(
    ledger: str, actor: dict[str, Any], store: SqliteStore
) -> tuple[list[Draft], list[str]]:
    """Records for events that earlier runs could not write, and the spool files claimed.

    Call inside the write transaction; the caller settles the claims after it
    (:func:`spool.settle`). Each replay is indexed as ``spool:<name>`` in the same
    transaction as its records, so an event is replayed exactly once, and a claimed file a
    killed run left behind is deleted without being recorded twice.
    """
    drafts: list[Draft] = []
    claimed: list[str] = []
    for key, path in spool.claim(ledger):
        claimed.append(path)
        if writer.seen(store, key):
            continue  # recorded by a run that ended before deleting the file
        try:
            entry = spool.read(path)
            records, head = spooled(entry, actor)
        except (OSError, ValueError, KeyError, TypeError) as e:
            error = error_draft(actor, f"unreadable spool file {key[6:]}: {e}", b"")
            error[1]["dedup_key"] = key
            drafts.append(error)
            continue
        message = f"delayed capture from {entry.get('time')}: {entry.get('error')}"
        drafts.append(
            (
                "capture.error",
                {
                    "actor": actor,
                    "error": {"message": message, "stage": "hook"},
                    "input": head,
                    "dedup_key": key,
                },
            )
        )
        drafts += records
    return drafts, claimed


def spooled(entry: dict[str, Any], actor: dict[str, Any]) -> tuple[list[Draft], dict[str, Any]]:
    """(records, input facts) of a spool entry; the raw form older versions wrote too."""
    if "stdin" in entry:  # written before the spool was redacted: map it now
        raw = base64.b64decode(entry["stdin"])
        _, error = error_draft({}, "", raw)
        event, _ = decode(raw)
        return ([] if event is None else events.map_event(event, actor=actor)), error["input"]
    records = [(str(kind), dict(payload)) for kind, payload in entry.get("records", [])]
    if not all(isinstance(p.get("actor", {}), dict) for _, p in records):
        raise ValueError("a spooled record's actor is not an object")
    return records, dict(entry["input"])

"""``affidavit attest``: a person vouches for a checklist item, in a signed record.

The record (the contract :mod:`.gather` reads)::

    kind "attestation", source "affidavit.attest"
    payload {"attestation": {"item", "by", "note", "at": RFC 3339, "expires": "YYYY-MM-DD"},
             "actor": {...}, "signature": {...}}       # signature: see .signing

It counts from ``at`` to the end of its ``expires`` day, ``attestations.expiry_days`` after
``at`` unless the caller chooses another period; the latest attestation of an item replaces
the earlier ones. Only :data:`~.checklist.ATTESTABLE` items take one: the rest are scored
from the ledger and an attestation could only hide what the ledger shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from affidavit.compliance.checklist import ATTESTABLE, CHECKLIST, MINIMUM
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner
from affidavit.record import Kind, Record, format_time
from affidavit.signing import sign_payload

SOURCE = "affidavit.attest"
_FROM_LEDGER = {
    "folder_policy": "declare [[folders]] and resolve open findings (affidavit findings)",
    "connectors": "list them under [[connectors]] with a reviewed date",
    "governance_review": "run affidavit review --attendee NAME",
}


def check_item(item: str) -> str:
    if item in ATTESTABLE:
        return item
    if item in _FROM_LEDGER:
        raise InputError(f"{item} is scored from the ledger, not attested: {_FROM_LEDGER[item]}")
    names = ", ".join(ATTESTABLE)
    raise InputError(f"unknown item {item!r}; attestable items: {names}")


def expiry(now: datetime, days: int) -> date:
    """The last day an attestation made at ``now`` counts."""
    return now.date() + timedelta(days=days)


def attest(
    ledger: Ledger,
    signer: NoteSigner,
    item: str,
    *,
    by: str,
    note: str,
    days: int,
    now: datetime,
    actor: Mapping[str, Any] | None = None,
) -> int:
    """Record a signed attestation of ``item``; returns its seq (durable on return)."""
    check_item(item)
    if not by.strip():
        raise InputError("an attestation names the person vouching (--by NAME)")
    if not note.strip():
        raise InputError("an attestation says what was checked (--note TEXT)")
    if days < 1:
        raise InputError("an attestation lasts at least one day")
    body = {
        "attestation": {
            "item": item,
            "title": CHECKLIST.get(item) or MINIMUM[item],
            "by": by.strip(),
            "note": note.strip(),
            "at": format_time(now),
            "expires": expiry(now, days).isoformat(),
        },
        "actor": dict(actor or {}),
    }
    record = Record.create(Kind.ATTESTATION, SOURCE, sign_payload(body, signer), time=now)
    return ledger.append([record])[0]

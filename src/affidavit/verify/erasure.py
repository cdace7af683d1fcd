"""The one erasure rule, used by the ledger when it appends and by every verifier.

A record's payload may be missing only when an **erasure record** accounts for it:

* its kind is ``erasure`` and its source is ``affidavit`` (only :meth:`Ledger.erase`
  writes one; :meth:`Ledger.append` and the capture writer refuse the kind);
* its payload is present and holds ``{"seqs": [...], "reason": ...}``;
* every seq it names is earlier than its own: an erasure can only speak of the past.

An erasure record that breaks the rule is itself a verification failure, so a forged one
cannot quietly excuse a deleted payload.
"""

from __future__ import annotations

import json

from affidavit.errors import InputError, VerificationError
from affidavit.record import Kind

ERASER = "affidavit"


def refuse_erasure(kind: str) -> None:
    """Raise :class:`InputError` for an erasure record offered to a plain append."""
    if kind == Kind.ERASURE:
        raise InputError(
            "erasure records are written only by `affidavit erase` (Ledger.erase); "
            "a plain append may not add one"
        )


def erased_by(seq: int, source: str, body: bytes | None) -> list[int]:
    """The seqs erasure record ``seq`` (of ``source``, payload ``body``) accounts for.

    Raises :class:`VerificationError` when the record breaks the rule.
    """
    where = f"record {seq}"
    if source != ERASER:
        raise VerificationError(
            f"{where}: an erasure record from source {source!r}; only `affidavit erase` "
            "writes erasures",
            where=where,
        )
    if body is None:
        raise VerificationError(f"{where}: an erasure record without its payload", where=where)
    try:
        seqs = json.loads(body)["seqs"]
    except (ValueError, KeyError, TypeError) as e:
        raise VerificationError(
            f"{where}: erasure record without a list of seqs", where=where
        ) from e
    if not isinstance(seqs, list) or not all(type(s) is int for s in seqs):
        raise VerificationError(f"{where}: erasure record without a list of seqs", where=where)
    later = [s for s in seqs if not 0 <= s < seq]
    if later:
        raise VerificationError(
            f"{where}: the erasure names record {later[0]}, which is not earlier than it",
            where=where,
        )
    return seqs

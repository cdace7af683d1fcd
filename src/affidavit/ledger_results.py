"""What a :class:`~affidavit.ledger.Ledger` hands back: its inclusion and consistency proofs
(RFC 9162 sections 2.1.3 and 2.1.4, each with the signed checkpoint it is against) and its status.

Plain values, apart from the Ledger class so a reader of either sees one concept; they are
re-exported from :mod:`affidavit.ledger`, where callers import them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    size1: int
    size2: int
    proof: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class Status:
    origin: str
    vkey: str
    size: int
    integrated: int
    published: int
    last_checkpoint: str | None
    last_published_at: str | None
    erased: int

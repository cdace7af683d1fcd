"""What the record page shows and what the browser checks: a record by org seq, the endpoint
record an ``org.entry`` names, its identity link, and the inclusion proof with its checkpoint.

The page hands the browser raw bytes (base64) and lets it recompute every hash itself
(``static/verify.js``): the endpoint record's commitment (SHA-256 of salt and payload),
its leaf hash (RFC 9162 2.1: SHA-256 of 0x00 and the leaf), the same for the org leaf that
names it, the fold of the audit path to a root (RFC 9162 2.1.3.2), that root against the
checkpoint's, and the checkpoint's Ed25519 signature (C2SP signed-note) under the org key.
Nothing the server computed is trusted by that check: a row edited in PostgreSQL after the
checkpoint makes the browser say "not verified".
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import psycopg

from affidavit.errors import InputError, LedgerError
from affidavit.record import Envelope
from affidavit.server import orglog
from affidavit.server.identity import link_target
from affidavit.server.schema import Collector


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _json(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {"unreadable": "the stored payload is not JSON"}


@dataclass(frozen=True, slots=True)
class RecordView:
    org_seq: int
    org_kind: str
    envelope: dict[str, Any]
    payload: Any
    origin: str | None
    seq: int | None
    links: list[tuple[int, Any]]
    bundle: dict[str, Any] | None
    """What verify.js checks; None when no checkpoint covers the record yet."""
    checkpoint: str | None
    vkey: str


def load(conn: psycopg.Connection[Any], c: Collector, org_seq: int) -> RecordView:
    ledger = orglog.org_ledger(conn, c)
    row = ledger.store.record(org_seq)
    if row is None:
        raise InputError(f"the org log has no record {org_seq}")
    _, org_leaf, _, org_salt, org_payload = row
    org_env = Envelope.from_leaf(org_leaf)
    shown_env, payload = org_env.to_json(), _json(org_payload)
    origin = seq = None
    endpoint: dict[str, Any] | None = None
    if org_env.kind == "org.entry" and isinstance(payload, dict):
        origin, seq = str(payload.get("origin")), int(payload.get("seq", -1))
        found = conn.execute(
            f'SELECT leaf, salt, payload FROM "{c.schema}".entries WHERE origin = %s AND seq = %s',
            (origin, seq),
        ).fetchone()
        if found is not None:
            leaf, salt, body = (None if v is None else bytes(v) for v in found)
            assert leaf is not None
            try:
                shown_env = Envelope.from_leaf(leaf).to_json()
            except InputError as e:
                shown_env = {"unreadable": str(e)}
            payload = _json(body)
            endpoint = {"leaf": _b64(leaf), "salt": _b64(salt), "payload": _b64(body)}
    # The key the browser checks against comes from the key file, not the config table: a
    # database writer cannot swap in a key of their own and a log re-signed with it.
    vkey = c.org_signer().verifier().vkey()
    bundle = None
    note = None
    try:
        proof = ledger.prove_inclusion(org_seq)
        note = proof.checkpoint
        bundle = {
            "org": {
                "leaf": _b64(org_leaf),
                "salt": _b64(org_salt),
                "payload": _b64(org_payload),
                "index": proof.index,
                "size": proof.tree_size,
                "path": [_b64(h) for h in proof.proof],
            },
            "endpoint": endpoint,
            "checkpoint": note,
            "vkey": vkey,
        }
    except (InputError, LedgerError):
        pass  # not yet covered by a checkpoint: the page says so
    links = identity_links(conn, c, origin, seq) if origin is not None else []
    return RecordView(
        org_seq, org_env.kind, shown_env, payload, origin, seq, links, bundle, note, vkey
    )


def identity_links(
    conn: psycopg.Connection[Any], c: Collector, origin: str, seq: int | None
) -> list[tuple[int, Any]]:
    """``identity.link`` records whose ``hook`` names this endpoint record, in org seq order.

    Found through ``identity_links`` (the join writes a row with each link, and `server
    verify` checks the table against the org log), then each is read from the log itself
    and kept only if its payload names this record."""
    if seq is None:
        return []
    rows = conn.execute(
        f'SELECT r.seq, r.payload FROM "{c.schema}".identity_links l '
        f'JOIN "{c.org_schema}".records r ON r.seq = l.link_seq '
        "WHERE l.origin = %s AND l.seq = %s AND r.payload IS NOT NULL ORDER BY r.seq",
        (origin, seq),
    ).fetchall()
    return [(int(s), _json(bytes(p))) for s, p in rows if link_target(p) == (origin, seq)]


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element: no ``</script>``,
    no HTML comment openers (the HTML standard's script data rules)."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

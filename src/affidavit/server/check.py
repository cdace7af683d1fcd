"""``affidavit server verify``: recheck everything the collector's database holds.

A database is not trusted for what it says: someone with write access to it (but not to the
key files) could edit a stored record, drop one, or edit the org log. This rechecks, from
the stored bytes:

* each endpoint's records with the one row checker (leaf hash, envelope, commitment,
  erasures), and that their tree's root is the root of the last checkpoint the collector
  cosigned, whose signature by the endpoint's pinned key is checked again;
* the org log with :func:`affidavit.ledger.Ledger.verify` against the collector's org key
  (given from the key folder, not read from the database);
* that every ``org.entry`` names a stored record by its leaf hash, and every stored record
  has exactly one ``org.entry``;
* that each record's ``folders`` (what a ``path`` query selects by, :mod:`.folders`) are
  those of its payload;
* that a record stored without its payload is named by an erasure: the endpoint's own, or
  a ``collector.erasure`` on the org log (:mod:`.erasure`) naming it by its leaf hash.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import psycopg

from affidavit import merkle
from affidavit.errors import InputError, VerificationError
from affidavit.note import Verifier, open_checkpoint
from affidavit.server import erasure, folders, identity, orglog
from affidavit.server.schema import Collector
from affidavit.verify.rows import RowCheck


def verify_collector(conn: psycopg.Connection[Any], c: Collector) -> dict[str, int]:
    """Raise :class:`VerificationError` naming the first thing that does not hold."""
    s = c.schema
    endpoints = conn.execute(
        f'SELECT origin, vkey, size, cosigned_note FROM "{s}".endpoints ORDER BY origin'
    ).fetchall()
    unexplained: list[tuple[str, int]] = []  # payload gone, no endpoint erasure names it
    held: dict[tuple[str, int], bytes] = {}
    # The folders column (:mod:`.folders`) exists once the collector is upgraded to it.
    indexed = conn.execute(f"""SELECT 1 FROM "{s}".config WHERE key = 'folders'""").fetchone()
    names = "folders" if indexed else "NULL::text[]"
    for origin, vkey, size, note in endpoints:
        where = f"endpoint {origin}"
        rows = conn.execute(
            f'SELECT seq, leaf, leaf_hash, salt, payload, {names} FROM "{s}".entries '
            "WHERE origin = %s ORDER BY seq",
            (origin,),
        ).fetchall()
        check = RowCheck()
        hashes = []
        for seq, leaf, leaf_hash, salt, payload, stored in rows:
            try:
                hashes.append(check.add(int(seq), leaf, leaf_hash, salt, payload))
            except VerificationError as e:
                raise VerificationError(f"{where}: {e}", where=f"{where} {e.where}") from e
            if indexed:
                _check_folders(stored, payload, f"{where} record {seq}")
            held[(origin, int(seq))] = leaf_hash
        unexplained += [(origin, seq) for seq in check.erased if seq not in check.erasures]
        if len(hashes) != size:
            raise VerificationError(
                f"{where}: {len(hashes)} records stored, {size} acknowledged", where=where
            )
        if note is not None:
            try:
                cp = open_checkpoint(note, Verifier.from_vkey(vkey))
            except (VerificationError, InputError) as e:
                raise VerificationError(
                    f"{where}: the checkpoint it cosigned does not verify: {e}", where=where
                ) from e
            if cp.size != size or merkle.root(hashes) != cp.root:
                raise VerificationError(
                    f"{where}: the stored records are not the tree of the checkpoint of size "
                    f"{cp.size} the collector cosigned",
                    where=where,
                )
    org = orglog.org_ledger(conn, c)
    report = org.verify(key=Verifier.from_vkey(c.org_vkey))
    seen: set[tuple[str, int]] = set()
    erased_here: dict[tuple[str, int], bytes] = {}
    direct = dict(
        conn.execute(f'SELECT org_seq, {names} FROM "{s}".direct').fetchall() if indexed else []
    )
    linked: set[tuple[str, int, int]] = set()  # (hook origin, hook seq, link org seq)
    for seq, leaf, _, _, payload in org.rows():
        if seq in direct:
            _check_folders(direct[seq], payload, f"org record {seq}")
        if identity.LINK_MARKER in leaf and payload is not None:
            target = identity.link_target(payload)
            if target is not None:
                linked.add((*target, seq))
        named = erasure.named(leaf, payload)
        if named is not None:
            erased_here[named[:2]] = named[2]
        if b'"kind":"org.entry"' not in leaf or payload is None:
            continue
        ref = json.loads(payload)
        key = (ref["origin"], int(ref["seq"]))
        if held.get(key) != base64.b64decode(ref["leaf_hash"]) or key in seen:
            raise VerificationError(
                f"org log record {seq} names {key[0]} record {key[1]}, which the collector "
                "does not hold as named (changed, gone or named twice)",
                where=f"org record {seq}",
            )
        seen.add(key)
    for origin, seq in unexplained:
        if erased_here.get((origin, seq)) != held[(origin, seq)]:
            raise VerificationError(
                f"endpoint {origin}: record {seq}'s payload is gone but no erasure names it",
                where=f"endpoint {origin} record {seq}",
            )
    _check_links(conn, c, linked)
    integrated = conn.execute(
        f'SELECT count(*) FROM "{s}".entries WHERE org_seq IS NOT NULL'
    ).fetchone()
    if integrated is None or int(integrated[0]) != len(seen):
        raise VerificationError(
            f"{len(seen)} records are in the org log but "
            f"{0 if integrated is None else integrated[0]} are marked as taken into it",
            where="org log",
        )
    return {"endpoints": len(endpoints), "records": len(held), "org_log": report.records}


def _check_folders(stored: list[str] | None, payload: bytes | None, where: str) -> None:
    """A record's ``folders`` are the ones its payload names (:mod:`.folders`): a folder
    removed would hide the record from a ``path`` query."""
    if stored is None or list(stored) != folders.of_payload(payload):
        raise VerificationError(
            f"{where}: its folders column ({stored}) is not the folders of its payload's "
            "file path; a path query would not select it as it should",
            where=where,
        )


def _check_links(
    conn: psycopg.Connection[Any], c: Collector, linked: set[tuple[str, int, int]]
) -> None:
    """``identity_links`` (the console's way to a record's links) holds exactly the links
    the org log does: a row removed would hide a link from the record's page, one added
    would show a link the log never made. A link whose payload was erased keeps its row."""
    if not identity.tables_made(conn, c.schema):
        return  # a collector that never served: no join has run
    rows = conn.execute(
        f"SELECT l.origin, l.seq, l.link_seq, r.seq IS NOT NULL AND r.payload IS NULL "
        f'FROM "{c.schema}".identity_links l '
        f'LEFT JOIN "{c.org_schema}".records r ON r.seq = l.link_seq'
    ).fetchall()
    indexed = {(str(o), int(q), int(k)) for o, q, k, erased in rows if not erased}
    for origin, seq, link in sorted(linked ^ indexed, key=lambda t: t[2]):
        missing = (origin, seq, link) in linked
        raise VerificationError(
            f"identity_links {'lacks' if missing else 'holds'} org record {link} as a link of "
            f"{origin} record {seq}, "
            + ("which the org log has" if missing else "which the org log does not have"),
            where=f"org record {link}",
        )

"""An evidence pack over the org log: records of several devices, proven against the org
checkpoint (the auditor's console exports a timeline view as one).

A view spans devices, so no one endpoint log proves it; the org log does. Its records go in
``records.jsonl`` with their inclusion proofs against the latest org checkpoint (with the
witnesses' cosignature lines, when witnesses cosigned it); each ``org.entry`` brings the
endpoint record it names in ``endpoints.jsonl``; erased endpoint payloads bring the erasure
that accounts for them in ``erasures.jsonl``. ``affidavit verify-pack`` checks it all
(:mod:`affidavit.evidence.org`). Records the checkpoint does not cover yet are left out and
counted, as in every pack.

Every proof is checked before it is written, and every endpoint record against the org
entry naming it: a collector whose rows were changed fails the export with the record named
instead of handing the auditor a pack that fails.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

import psycopg

from affidavit import merkle
from affidavit.errors import InputError, LedgerCorruptError, LedgerError, VerificationError
from affidavit.evidence import layout
from affidavit.evidence.build import PackFiles, Prover
from affidavit.evidence.org import ORG, parse_endpoint
from affidavit.evidence.readme import render_readme
from affidavit.note import open_checkpoint
from affidavit.record import Envelope, Kind, format_time
from affidavit.server import erasure, orglog, records, witnesses
from affidavit.server.schema import Collector
from affidavit.verify.erasure import erased_by

MAX_RECORDS = 20_000
"""Most records one exported pack holds (each carries its own proof)."""


def build(
    conn: psycopg.Connection[Any],
    c: Collector,
    org_seqs: Sequence[int],
    out: IO[bytes],
    *,
    filters: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Write the pack of the org records ``org_seqs`` to ``out``; returns its selection.json.

    ``filters`` describe the view in the pack's vocabulary (``actor``, ``path``, ``device``,
    ``kinds``, ``since``...)."""
    ledger = orglog.org_ledger(conn, c)
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise LedgerError("the org log has no checkpoint yet; the collector publishes one soon")
    size, note = latest
    verifier = c.org_signer().verifier()
    checkpoint = open_checkpoint(note, verifier)
    seqs = sorted({s for s in org_seqs if s < size})
    writer = _Writer(conn, c, out, now, size, checkpoint.root)
    writer.records(seqs)
    writer.erasures()
    selection = {
        "created": format_time(now),
        "origin": checkpoint.origin,
        "tree_size": size,
        "filters": filters,
        "records": len(seqs),
        "erased": writer.org_erased,
        "erasures": len(writer.erasure_seqs),
        "unpublished_left_out": len(set(org_seqs)) - len(seqs),
        "with_content": False,
        "content_missing": [],
        "window_complete": False,
        "consistency_from": [],
        "log": ORG,
        "endpoint_records": len(writer.endpoint_lines),
    }
    files = writer.files
    files.put(layout.ENDPOINTS, b"".join(line for _, line in sorted(writer.endpoint_lines.items())))
    files.put(layout.SELECTION, layout.render_json(selection))
    files.put(layout.CHECKPOINT, witnesses.cosigned_note(conn, c, size, note).encode("utf-8"))
    files.put(layout.VKEY, (verifier.vkey() + "\n").encode("ascii"))
    files.put(layout.README, render_readme(selection, checkpoint, verifier.vkey()))
    files.put(layout.MANIFEST, layout.render_manifest(files.hashes), listed=False)
    writer.archive.close()
    return selection


class _Writer:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        c: Collector,
        out: IO[bytes],
        now: datetime,
        size: int,
        root: bytes,
    ) -> None:
        self.conn, self.c, self.size, self.root = conn, c, size, root
        self.store = orglog.org_ledger(conn, c).store
        self.archive = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self.files = PackFiles(self.archive, now)
        self.prover = Prover(self.store, size)
        self.endpoint_lines: dict[int, bytes] = {}
        self.erased: list[tuple[str, int]] = []  # endpoint records without their payload
        self.org_erased = 0
        self.erasure_seqs: list[int] = []
        self.named: dict[int, tuple[str, int, bytes]] = {}
        """org seq -> the (origin, seq, leaf hash) its org.entry names."""

    def _line(self, seq: int) -> tuple[bytes, Envelope]:
        row = self.store.record(seq)
        if row is None:
            raise LedgerCorruptError(f"org record {seq} is not in the org log")
        leaf, leaf_hash, salt, body = (None if v is None else bytes(v) for v in row[1:])
        assert leaf is not None and leaf_hash is not None
        proof = self.prover.proof(seq)
        try:
            if merkle.leaf_hash(leaf) != leaf_hash:
                raise VerificationError("its leaf bytes do not hash to its stored leaf hash")
            merkle.verify_inclusion(leaf_hash, seq, self.size, proof, self.root)
        except VerificationError as e:
            raise LedgerCorruptError(
                f"org record {seq}: {e}; the org log is damaged "
                "(run `affidavit server verify`), no pack written"
            ) from e
        envelope = Envelope.from_leaf(leaf)
        if body is None:
            self.org_erased += 1
        elif envelope.kind == Kind.ORG_ENTRY:
            ref = json.loads(body)
            self.named[seq] = (ref["origin"], ref["seq"], base64.b64decode(ref["leaf_hash"]))
        return layout.record_line(seq, leaf, salt, body, proof), envelope

    def records(self, seqs: list[int]) -> None:
        entries: list[int] = []
        with self.files.stream(layout.RECORDS) as write:
            for seq in seqs:
                line, envelope = self._line(seq)
                write(line)
                if envelope.kind == Kind.ORG_ENTRY:
                    entries.append(seq)
        self._endpoints(entries)

    def _endpoints(self, org_seqs: list[int]) -> None:
        """The endpoint records these org entries name, each checked against its entry."""
        for start in range(0, len(org_seqs), 5000):
            chunk = org_seqs[start : start + 5000]
            rows = self.conn.execute(
                "SELECT org_seq, origin, seq, leaf, leaf_hash, salt, payload "
                f'FROM "{self.c.schema}".entries WHERE org_seq = ANY(%s)',
                (chunk,),
            ).fetchall()
            found = {int(r[0]): r for r in rows}
            for org_seq in chunk:
                if org_seq not in found:
                    raise LedgerCorruptError(
                        f"org record {org_seq} names an endpoint record the collector does not "
                        "hold; run `affidavit server verify`, no pack written"
                    )
                _, origin, seq, leaf, _, salt, body = found[org_seq]
                salt = None if salt is None else bytes(salt)
                body = None if body is None else bytes(body)
                line = layout.endpoint_line(org_seq, str(origin), int(seq), bytes(leaf), salt, body)
                # The checks verify-pack makes, made first: a changed row fails here, named.
                problem = parse_endpoint(1, line).error
                ref = (str(origin), int(seq), merkle.leaf_hash(bytes(leaf)))
                if ref != self.named.get(org_seq):
                    problem = "it is not the record (origin, seq, leaf hash) its org entry names"
                if problem:
                    raise LedgerCorruptError(
                        f"record {seq} of {origin} (org record {org_seq}): {problem}; run "
                        "`affidavit server verify`, no pack written"
                    )
                if body is None:
                    self.erased.append((str(origin), int(seq)))
                self.endpoint_lines[org_seq] = line

    def erasures(self) -> None:
        """The erasures that account for the endpoint payloads the collector no longer has."""
        if not self.erased:
            return
        left = set(self.erased)
        marker = f'"kind":"{Kind.COLLECTOR_ERASURE}"'.encode()
        for seq, leaf, payload in self.conn.execute(
            f'SELECT seq, leaf, payload FROM "{self.c.org_schema}".records '
            "WHERE position(%s::bytea in leaf) > 0 AND seq < %s ORDER BY seq",
            (marker, self.size),
        ).fetchall():
            named = erasure.named(bytes(leaf), None if payload is None else bytes(payload))
            if named is not None and (named[0], named[1]) in left:
                left.discard((named[0], named[1]))
                self.erasure_seqs.append(int(seq))
        for origin in {o for o, _ in left}:  # erased on the endpoint: its erasure was shipped
            for org_seq, seq, body in self.conn.execute(
                f'SELECT org_seq, seq, payload FROM "{self.c.schema}".entries WHERE origin = %s '
                "AND kind = 'erasure' AND org_seq < %s AND payload IS NOT NULL ORDER BY seq",
                (origin, self.size),
            ).fetchall():
                try:
                    named_seqs = erased_by(int(seq), "affidavit", bytes(body))
                except VerificationError:
                    continue
                hit = {(origin, s) for s in named_seqs} & left
                if hit:
                    left -= hit
                    self.erasure_seqs.append(int(org_seq))
        if left:
            origin, seq = min(left)
            raise LedgerError(
                f"record {seq} of {origin} has no payload on the collector and no published "
                "erasure names it; wait for the next checkpoint or run `affidavit server verify`"
            )
        self.erasure_seqs.sort()
        entries = []
        with self.files.stream(layout.ERASURES) as write:
            for seq in self.erasure_seqs:
                line, envelope = self._line(seq)
                write(line)
                if envelope.kind == Kind.ORG_ENTRY:
                    entries.append(seq)
        self._endpoints(entries)


_FILTERS = ("actor", "path", "device", "session", "tool", "since", "until", "function")


def describe(view_filters: dict[str, Any]) -> dict[str, Any]:
    """The console's view filters (the records API's names, and ``function``) as
    selection.json records them."""
    out: dict[str, Any] = {k: str(v) for k, v in view_filters.items() if k in _FILTERS and v}
    if view_filters.get("kind"):
        out["kinds"] = list(view_filters["kind"])
    return out


def for_query(
    conn: psycopg.Connection[Any],
    c: Collector,
    filters: dict[str, Any],
    out: IO[bytes],
    *,
    now: datetime,
) -> dict[str, Any]:
    """The pack of every record the records API's ``filters`` select (``GET /api/v1/evidence``,
    ``affidavit evidence --server URL`` without ``--device``), oldest first; at most
    :data:`MAX_RECORDS`, else a one-line :class:`~affidavit.errors.InputError`."""
    seqs: list[int] = []
    after: int | None = -1
    while after is not None:
        rows, after = records.page(conn, c.schema, filters, after, records.MAX_LIMIT)
        seqs.extend(int(row["org_seq"]) for row in rows)
        if len(seqs) > MAX_RECORDS:
            raise InputError(
                f"the filters select more than {MAX_RECORDS:,} records, too many for one "
                "evidence pack (each carries its proof): narrow them (--since, --path, --device)"
            )
    return build(conn, c, seqs, out, filters=describe(filters), now=now)

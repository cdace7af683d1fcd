"""The compliance evidence of one device, read from the records it shipped to the collector.

The same :class:`~affidavit.compliance.gather.Evidence` value that ``affidavit checklist``
gathers on the endpoint, under the same record contracts (see
:mod:`affidavit.compliance.gather`): signed ``attestation`` records (attestations, rollback
drills, archive snapshots, vendor-facts checks) and ``review.signoff`` records, each checked
against the endpoint's own key as pinned at enrolment (an unsigned or forged one is ignored
and listed); findings and their resolutions (a resolution an admin made in the console
counts too); MCP servers seen in tool calls; where live capture started.

What the collector cannot see stays unknown, never assumed: the endpoint's snapshot store
(which file versions it kept) is not shipped, so kept versions count as none, and the
ledger's own verification is not run here. Seqs in the evidence are the endpoint's seqs;
:attr:`DeviceEvidence.org_seqs` maps them to the org records the console links to.

Each server process reads a device's rows once and then only the rows shipped since
(:func:`_scan`); the rows it kept are re-read for an erased payload or a new org seq. A row
changed in the database after it was read is therefore not re-read: the dashboard shows
what the records said, and the record page (which the browser verifies) is where a changed
row shows.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from affidavit.capture.events import SOURCE_TRANSCRIPT
from affidavit.compliance.facts import SOURCE as FACTS_SOURCE
from affidavit.compliance.facts import FactsCheck
from affidavit.compliance.gather import (
    BUILTIN_SERVERS,
    Archive,
    Attestation,
    Drill,
    Evidence,
    Finding,
    Review,
    read_attestation,
    read_review,
)
from affidavit.errors import AffidavitError
from affidavit.note import Verifier
from affidavit.record import Kind, parse_time
from affidavit.signing import verify_payload

UNSEEN = (
    "the collector does not hold the endpoint's snapshot store, so no kept file version "
    "counts here (the endpoint's own `affidavit checklist` sees it)"
)


@dataclass(frozen=True, slots=True)
class DeviceEvidence:
    origin: str
    evidence: Evidence
    org_seqs: dict[int, int]
    """Endpoint seq -> org seq, for every record the evidence names."""
    times: dict[int, str]
    """Endpoint seq -> the record's time."""


def _json(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(bytes(raw))
    except (ValueError, UnicodeDecodeError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


# Rows worth parsing: the signed kinds, findings and resolutions, and MCP tool calls. A byte
# search first, as :func:`affidavit.compliance.findings.findings` does (JCS has no spaces).
_WANTED = (
    "payload IS NOT NULL AND (kind IN ('attestation', 'review.signoff') "
    "OR position('\"finding\":{'::bytea in payload) > 0 "
    "OR position('\"resolution\":{'::bytea in payload) > 0 "
    "OR position('\"mcp__'::bytea in payload) > 0)"
)


Row = tuple[int, "int | None", str, str, str, bytes, bytes]
"""(seq, org seq, kind, time, source, leaf hash, payload) of a row the evidence reads."""


@dataclass(slots=True)
class _Scanned:
    """What was read of one device's rows below ``upto``: the scan is incremental, so a
    dashboard over a large org log reads each shipped record once per server process."""

    upto: int = 0
    count: int = 0
    first: str | None = None
    live: str | None = None
    rows: dict[int, Row] = field(default_factory=dict)
    """The signed kinds, findings and resolutions, and each MCP server's first call."""
    servers: dict[str, tuple[int, int]] = field(default_factory=dict)


_scanned: dict[tuple[str, str], _Scanned] = {}
_lock = threading.Lock()


def _scan(conn: psycopg.Connection[Any], schema: str, origin: str) -> _Scanned:
    """The device's rows read so far, brought up to what the collector holds now."""
    with _lock:
        done = _scanned.get((schema, origin)) or _Scanned()
    # Rows read before can lose their payload (an erasure) or gain their org seq since.
    if done.rows:
        fresh = conn.execute(
            f'SELECT seq, org_seq, payload IS NULL FROM "{schema}".entries '
            "WHERE origin = %s AND seq = ANY(%s)",
            (origin, list(done.rows)),
        ).fetchall()
        for seq, org_seq, erased in fresh:
            if erased:
                done.rows.pop(int(seq), None)
            else:
                held = done.rows[int(seq)]
                done.rows[int(seq)] = (held[0], org_seq, *held[2:])
    # One pass over the new rows: the counts, and the seqs worth reading (then read by key).
    top = conn.execute(
        f"SELECT count(*), max(seq), min(time), min(time) FILTER (WHERE position(%s::bytea in "
        f"leaf) = 0), coalesce(array_agg(seq) FILTER (WHERE {_WANTED}), '{{}}') "
        f'FROM "{schema}".entries WHERE origin = %s AND seq >= %s',
        (f'"source":"{SOURCE_TRANSCRIPT}"'.encode(), origin, done.upto),
    ).fetchone()
    if top is None or not top[0]:
        return done
    count, last, first, live, wanted = top
    rows = conn.execute(
        "SELECT seq, org_seq, kind, time, convert_from(leaf, 'UTF8')::jsonb ->> 'source', "
        f'leaf_hash, payload FROM "{schema}".entries WHERE origin = %s AND seq = ANY(%s) '
        "ORDER BY seq",
        (origin, list(wanted)),
    ).fetchall()
    for seq, org_seq, kind, time, source, leaf_hash, payload in rows:
        row: Row = (int(seq), org_seq, str(kind), str(time), str(source), bytes(leaf_hash),
                    bytes(payload))  # fmt: skip
        if kind in _SIGNED or b'"finding":{' in row[6] or b'"resolution":{' in row[6]:
            done.rows[row[0]] = row
        server = _mcp_server(str(kind), _json(payload))
        if server is not None:
            if server not in done.servers:
                done.rows.setdefault(row[0], row)  # its first call: the evidence to link
            first_seq, calls = done.servers.get(server, (row[0], 0))
            done.servers[server] = (first_seq, calls + 1)
    done.count += int(count)
    done.first = min(filter(None, (done.first, first)), default=None)
    done.live = min(filter(None, (done.live, live)), default=None)
    done.upto = int(last) + 1
    with _lock:
        _scanned[(schema, origin)] = done
    return done


_SIGNED = (Kind.ATTESTATION, Kind.REVIEW_SIGNOFF)


def _mcp_server(kind: str, p: dict[str, Any]) -> str | None:
    """The MCP server a tool call went to (``agent.tool`` = ``mcp__server__tool``), if any."""
    agent = p.get("agent")
    tool = agent.get("tool") if isinstance(agent, dict) else None
    if not isinstance(tool, str) or not tool.startswith("mcp__") or kind == Kind.TOOL_INTENT:
        return None
    server = tool.split("__")[1]
    return server if server and server not in BUILTIN_SERVERS else None


def read(
    conn: psycopg.Connection[Any], schema: str, origin: str, vkey: str, resolved: set[str]
) -> DeviceEvidence:
    """``origin``'s evidence; ``resolved``: finding ids closed in the console (org log)."""
    done = _scan(conn, schema, origin)
    try:
        verifier: Verifier | None = Verifier.from_vkey(vkey)
    except AffidavitError:  # checked at enrolment; if not, no signature can be trusted
        verifier = None
    reading = _Reading(verifier, resolved)
    org_seqs: dict[int, int] = {}
    times: dict[int, str] = {}
    for seq, org_seq, kind, time, source, leaf_hash, payload in sorted(done.rows.values()):
        if org_seq is not None:
            org_seqs[seq] = int(org_seq)
        times[seq] = time
        reading.add(seq, kind, time, source, leaf_hash, _json(payload))
    evidence = Evidence(
        records=done.count,
        first_time=parse_time(done.first) if done.first else None,
        first_live=parse_time(done.live) if done.live else None,
        facts_checks=tuple(reading.checks),
        findings=reading.findings(),
        attestations=reading.attestations,
        drill=reading.drill,
        archive=reading.archive,
        reviews=tuple(reading.reviews),
        mcp_servers=dict(done.servers),
        unsigned=tuple(reading.unsigned),
    )
    return DeviceEvidence(origin, evidence, org_seqs, times)


class _Reading:
    """The evidence of one device's records, read in seq order."""

    def __init__(self, verifier: Verifier | None, resolved: set[str]) -> None:
        self.verifier = verifier
        self.closed = set(resolved)
        self.checks: list[FactsCheck] = []
        self.attestations: dict[str, Attestation] = {}
        self.drill: Drill | None = None
        self.archive: Archive | None = None
        self.reviews: list[Review] = []
        self.unsigned: list[int] = []
        self.found: dict[str, Finding] = {}

    def add(
        self, seq: int, kind: str, time: str, source: str, leaf_hash: bytes, p: dict[str, Any]
    ) -> None:
        if kind in (Kind.ATTESTATION, Kind.REVIEW_SIGNOFF):
            self._signed(seq, kind, parse_time(time), source, p)
            return
        f = p.get("finding")
        if isinstance(f, dict):
            self._finding(seq, time, leaf_hash, p, f)
        elif kind == Kind.POLICY_FINDING and isinstance(p.get("resolution"), dict):
            self.closed.add(str(p["resolution"].get("finding_id")))

    def _signed(
        self, seq: int, kind: str, moment: datetime, source: str, p: dict[str, Any]
    ) -> None:

        try:
            if self.verifier is None:
                raise AffidavitError("the device's pinned key does not parse")
            verify_payload(p, self.verifier)
        except AffidavitError:
            self.unsigned.append(seq)
            return
        if kind == Kind.REVIEW_SIGNOFF:
            self.reviews.append(read_review(seq, p, moment))
        elif isinstance(p.get("facts"), dict):
            if source == FACTS_SOURCE:
                c = p["facts"]
                self.checks.append(
                    FactsCheck(seq, moment, str(c.get("by") or ""), str(c.get("sha256")))
                )
        elif isinstance(p.get("attestation"), dict):
            a = read_attestation(seq, p["attestation"], moment)
            if a is not None and _newer(moment, self.attestations.get(a.item)):
                self.attestations[a.item] = a
        elif isinstance(p.get("drill"), dict) and _newer(moment, self.drill):
            d = p["drill"]
            self.drill = Drill(seq, moment, d.get("ok") is True, str(d.get("detail") or ""))
        elif isinstance(p.get("archive"), dict) and _newer(moment, self.archive):
            self.archive = Archive(seq, moment, str(p["archive"].get("location") or ""))

    def _finding(
        self, seq: int, time: str, leaf_hash: bytes, p: dict[str, Any], f: dict[str, Any]
    ) -> None:
        def text(v: object) -> str | None:
            return v if isinstance(v, str) and v else None

        fid = text(f.get("id")) or leaf_hash.hex()[:12]
        if fid in self.found:
            return  # the first record under an id is the finding
        kind = text(f.get("type")) or "policy"
        rule, data_class = text(f.get("rule")), text(f.get("data_class"))
        path = text(f.get("path")) or text(f.get("where"))
        file = p.get("file")
        if path is None and isinstance(file, dict):
            path = text(file.get("path"))
        self.found[fid] = Finding(
            fid,
            seq,
            time,
            kind,
            (data_class or rule) if kind == "data" else (rule or data_class),
            data_class,
            path,
            text(f.get("folder")),
            None,
        )

    def findings(self) -> tuple[Finding, ...]:
        # A closed finding keeps resolved_seq -1: the resolution may be the console's, which
        # has an org seq, not an endpoint seq; only "open or not" is scored.
        return tuple(
            f if f.id not in self.closed else _closed(f)
            for f in sorted(self.found.values(), key=lambda f: f.seq)
        )


def _closed(f: Finding) -> Finding:
    return Finding(f.id, f.seq, f.time, f.type, f.rule, f.data_class, f.path, f.folder, -1)


def _newer(moment: datetime, current: Attestation | Drill | Archive | None) -> bool:
    return current is None or moment >= current.time

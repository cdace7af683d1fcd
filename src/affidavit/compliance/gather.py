"""The evidence every compliance score rests on, gathered from one ledger by :func:`gather`.

Scores (:mod:`.checklist`, :mod:`.regimes`) are pure functions of the configuration, this
:class:`Evidence` value and the date they are judged on; this module is the only place that
reads the ledger for them. Every item of evidence keeps the seq of the record it came from,
so a score can name it.

Record contracts. Writers MUST follow them; this module reads nothing else. Records marked
*signed* carry the ledger key's signature of their payload (:mod:`.signing`); one without a
valid signature is ignored and its seq listed in :attr:`Evidence.unsigned`.

* **attestation** (signed): kind ``attestation``, source ``affidavit.attest``, payload
  ``{"attestation": {"item", "by", "note", "at": RFC 3339, "expires": "YYYY-MM-DD"}}``
  (:mod:`.attest`). The latest per item counts, until the end of its ``expires`` day.
* **rollback drill** (signed): kind ``attestation``, source ``affidavit.drill``, payload
  ``{"drill": {"ok": bool, "at", "detail", "update_seq", "restore_seq", ...}}``
  (:mod:`.drill`). The latest counts.
* **archive snapshot** (signed): kind ``attestation``, payload ``{"archive": {"at": RFC 3339,
  "location": str, "tree_size": int, ...}}``, signed with :func:`.signing.sign_payload`.
  Written by ``affidavit archive``; the latest counts as the last off-ledger copy.
* **review sign-off** (signed): kind ``review.signoff``, payload ``{"review": {"period":
  "YYYY-MM", "at", "attendees": [...], "decisions": [...], "checklist": {id: status},
  "minimum": {id: status}, "posture": {regime: status}, "verified": str}}`` (:mod:`.review`).
* **vendor-facts check** (signed): kind ``attestation``, source ``affidavit.facts``, payload
  ``{"facts": {"by", "at", "sha256", ...}}`` (:mod:`.facts`). Every check is kept.
* **policy finding**: read through :func:`affidavit.compliance.findings.findings` (its
  docstring is the contract; a finding is open until a resolution record names it). Type
  ``"data"`` is the data scan (:mod:`affidavit.detect.scan`): its class is
  ``finding.data_class`` and its file ``file.path`` in the same payload. Any other type is
  a folder-policy finding, its ``rule`` one of the ``[enforce]`` rules; the hook's
  ``forbidden_data`` findings carry a ``data_class`` too, and it counts the same.

Coverage. :attr:`Evidence.first_live` is the time of the first record captured live: any
source but the transcript importer (:data:`IMPORTED_SOURCES`), whose records carry the
times of the transcripts, often long before Affidavit was installed. Coverage claims and
review months count from it, never from back-dated history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from affidavit import query
from affidavit.capture.events import SOURCE_TRANSCRIPT
from affidavit.compliance.facts import SOURCE as FACTS_SOURCE
from affidavit.compliance.facts import FactsCheck
from affidavit.compliance.findings import findings as read_findings
from affidavit.config import Config
from affidavit.errors import AffidavitError, VerificationError
from affidavit.ledger import Ledger
from affidavit.record import Kind, parse_time
from affidavit.signing import verify_payload
from affidavit.sources.cloud import CloudHistory, history_evidence

IMPORTED_SOURCES = (SOURCE_TRANSCRIPT,)
"""Sources whose records are history imported after the fact, with back-dated times."""
BUILTIN_SERVERS = frozenset({"workspace"})
"""MCP servers that are the agent's own sandbox (Cowork's shell), not connectors."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A finding as the scores need it: a data finding's class and file made explicit."""

    id: str
    seq: int
    time: str
    type: str
    rule: str | None
    data_class: str | None
    path: str | None
    folder: str | None
    resolved_seq: int | None

    @property
    def open(self) -> bool:
        return self.resolved_seq is None


@dataclass(frozen=True, slots=True)
class Attestation:
    seq: int
    item: str
    by: str
    note: str
    time: datetime
    expires: date

    def current(self, today: date) -> bool:
        return self.time.date() <= today <= self.expires

    def describe(self) -> str:
        return (
            f"attestation seq {self.seq} by {self.by} on {self.time.date()} "
            f"(expires {self.expires}): {self.note}"
        )


@dataclass(frozen=True, slots=True)
class Drill:
    seq: int
    time: datetime
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Archive:
    seq: int
    time: datetime
    location: str


@dataclass(frozen=True, slots=True)
class Review:
    seq: int
    time: datetime
    period: str
    attendees: tuple[str, ...]
    decisions: tuple[str, ...]
    statuses: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """``{"checklist": {id: status}, "minimum": {...}, "posture": {...}}`` at sign-off."""


@dataclass(frozen=True, slots=True)
class Verified:
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Evidence:
    records: int = 0
    first_time: datetime | None = None
    first_live: datetime | None = None
    """The first record captured live (imports excluded): where coverage starts."""
    facts_checks: tuple[FactsCheck, ...] = ()
    findings: tuple[Finding, ...] = ()
    attestations: Mapping[str, Attestation] = field(default_factory=dict)
    drill: Drill | None = None
    archive: Archive | None = None
    reviews: tuple[Review, ...] = ()
    file_versions: int = 0
    """Distinct content hashes that file records name."""
    versions_kept: int = 0
    """How many of those the snapshot store holds (files over the size cap are only hashed)."""
    mcp_servers: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """MCP server seen in tool calls → (first seq, calls)."""
    unsigned: tuple[int, ...] = ()
    verified: Verified | None = None
    """The ledger's own verification, when it was run (None: not checked)."""
    cloud_history: tuple[CloudHistory, ...] = ()
    """Cloud-sync version history per source and folder (``affidavit sources pull``)."""

    @property
    def open_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.open)


def describe(finding: Finding) -> str:
    """``finding 3f2a… (seq 42) data/card at /srv/x``: enough to look it up."""
    detail = finding.data_class or finding.rule
    what = f"{finding.type}/{detail}" if detail else finding.type
    where = f" at {finding.path}" if finding.path else ""
    return f"finding {finding.id} (seq {finding.seq}) {what}{where}"


def gather(ledger: Ledger, cfg: Config, *, verify: bool = False) -> Evidence:
    """Read the evidence from ``ledger`` (brings the ``actions`` index up to date first).

    No date goes in: the reading is the same whenever it runs, and the scores judge ages
    against the date they are given. ``verify`` also runs :meth:`Ledger.verify` and keeps
    its result (a failure is evidence too) instead of raising.
    """
    store = ledger.store
    query.refresh(store, cfg.function_rules)
    count, first = query.count(store), query.first_time(store)
    live = query.first_time(store, not_sources=IMPORTED_SOURCES)
    checks: list[FactsCheck] = []
    attestations: dict[str, Attestation] = {}
    drill: Drill | None = None
    archive: Archive | None = None
    reviews: list[Review] = []
    unsigned: list[int] = []
    signed = query.Filters(kinds=(Kind.ATTESTATION.value, Kind.REVIEW_SIGNOFF.value))
    rows = list(query.select(store, ("seq", "kind", "time", "source"), signed, live_only=True))
    for seq, kind, stamp, source in rows:
        payload = ledger.record(seq).payload or {}
        moment = parse_time(stamp)
        try:
            verify_payload(payload, ledger.verifier)
        except VerificationError:
            unsigned.append(seq)
            continue
        if kind == Kind.REVIEW_SIGNOFF:
            reviews.append(read_review(seq, payload, moment))
        elif isinstance(payload.get("facts"), dict):
            check = payload["facts"]
            if source == FACTS_SOURCE:
                checks.append(
                    FactsCheck(seq, moment, str(check.get("by") or ""), str(check.get("sha256")))
                )
        # The latest by record time counts (a tie goes to the later seq).
        elif isinstance(payload.get("attestation"), dict):
            a = read_attestation(seq, payload["attestation"], moment)
            if a is not None and _newer(moment, attestations.get(a.item)):
                attestations[a.item] = a
        elif isinstance(payload.get("drill"), dict) and _newer(moment, drill):
            d = payload["drill"]
            drill = Drill(seq, moment, d.get("ok") is True, str(d.get("detail") or ""))
        elif isinstance(payload.get("archive"), dict) and _newer(moment, archive):
            archive = Archive(seq, moment, str(payload["archive"].get("location") or ""))
    versions, kept = query.content_versions(store)
    servers: dict[str, tuple[int, int]] = {}
    for tool, seq, calls in query.mcp_tools(store):
        server = str(tool).split("__")[1]
        if server and server not in BUILTIN_SERVERS:
            old = servers.get(server, (seq, 0))
            servers[server] = (min(old[0], seq), old[1] + calls)
    return Evidence(
        records=count,
        first_time=parse_time(first) if first else None,
        first_live=parse_time(live) if live else None,
        facts_checks=tuple(checks),
        findings=_findings(ledger),
        attestations=attestations,
        drill=drill,
        archive=archive,
        reviews=tuple(reviews),
        file_versions=versions,
        versions_kept=kept,
        mcp_servers=servers,
        unsigned=tuple(unsigned),
        verified=_verify(ledger) if verify else None,
        cloud_history=history_evidence(ledger),
    )


def _newer(moment: datetime, current: Attestation | Drill | Archive | None) -> bool:
    return current is None or moment >= current.time


def _findings(ledger: Ledger) -> tuple[Finding, ...]:
    out = []
    for f in read_findings(ledger.store):
        # Every finding's data class counts, whoever raised it: the scan (type "data"), the
        # hook's forbidden_data rule (type "policy"), or a finding an import carried in.
        path = f.path
        payload = ledger.record(f.seq).payload or {}
        body, file = payload.get("finding") or {}, payload.get("file")
        data_class = body.get("data_class") if isinstance(body.get("data_class"), str) else None
        if path is None and isinstance(file, dict) and isinstance(file.get("path"), str):
            path = file["path"]
        resolved = f.resolution.seq if f.resolution is not None else None
        out.append(
            Finding(f.id, f.seq, f.time, f.type, f.rule, data_class, path, f.folder, resolved)
        )
    return tuple(out)


def _verify(ledger: Ledger) -> Verified:
    """Verify the ledger and every derived table the report reads (the actions index)."""
    from affidavit.views import VIEWS

    try:
        report = ledger.verify(views=VIEWS)
    except AffidavitError as e:
        return Verified(False, str(e))
    return Verified(
        True,
        f"{report.records} records ({report.erased} erased), {report.checkpoints} checkpoints,"
        f" tree size {report.tree_size}; the index and capture tables agree with the records",
    )


def read_attestation(seq: int, a: Mapping[str, Any], moment: datetime) -> Attestation | None:
    try:
        expires = date.fromisoformat(str(a.get("expires")))
    except ValueError:
        return None
    if not isinstance(a.get("item"), str):
        return None
    return Attestation(
        seq, a["item"], str(a.get("by") or ""), str(a.get("note") or ""), moment, expires
    )


def read_review(seq: int, payload: Mapping[str, Any], moment: datetime) -> Review:
    r = payload.get("review")
    r = r if isinstance(r, dict) else {}
    statuses = {
        name: {str(k): str(v) for k, v in r[name].items()}
        for name in ("checklist", "minimum", "posture")
        if isinstance(r.get(name), dict)
    }
    return Review(
        seq,
        moment,
        str(r.get("period") or moment.strftime("%Y-%m")),
        tuple(str(a) for a in r.get("attendees") or () if a),
        tuple(str(d) for d in r.get("decisions") or () if d),
        statuses,
    )

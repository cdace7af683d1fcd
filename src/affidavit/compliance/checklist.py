"""The deployment checklist: eight items, each scored from evidence.

Pure: :func:`score_checklist` takes the configuration, the
:class:`~affidavit.compliance.gather.Evidence` and the date to judge on, and return one
:class:`Item` per entry: a status, the reason, the evidence it rests on (config fields and
record seqs) and what would change it.

Where the ledger can see the control, the ledger decides:

* **folder_policy**: green when ``[[folders]]`` are declared and no folder-policy finding is
  open; yellow with open findings; red with no folders. Data findings (the scan) count
  against the regimes (PCI-DSS, HIPAA), not here.
* **connectors**: red when no inventory is declared (``connectors = []`` declares that
  there is none), when the ledger shows an MCP server the inventory lacks, or a connector
  lists no OAuth scopes; yellow when one has no owner or was last reviewed more
  than 90 days ago (or never); else green.
* **backup_rollback**: red with no rollback drill or a failed last drill; yellow when the last
  drill is older than 90 days, the version history falls short (under 90 days captured live,
  retention under 90 days, or file contents not kept, and no current ``version_history``
  attestation of the cloud-sync setting), or there is no archive snapshot within 31 days (a current
  ``backup_rollback`` attestation may stand in for the archive, never for the drill); else
  green.

The others are facts the ledger cannot see, declared in ``affidavit.toml`` and vouched for
by attestations (``affidavit attest ITEM``). One rule for all of them: a contradicting fact
(a consumer plan, training opt-out false) is red; a missing fact is red, or yellow if a
current attestation covers the item; a fact dated inside its window is green (the DPA once
signed; the opt-out verified within ``attestations.expiry_days``; a document reviewed within
365 days); an undated or older fact is green with a current attestation, else yellow.
The incident-response contact has no date, so it needs an attestation to be green.

:mod:`.minimum` scores the mid-market minimum with the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from affidavit.compliance.gather import Attestation, Evidence, describe
from affidavit.config import Config

GREEN, YELLOW, RED = "green", "yellow", "red"
MET, NOT_MET = "met", "not met"
CONNECTOR_DAYS = 90
DRILL_DAYS = 90
ARCHIVE_DAYS = 31
DOCUMENT_DAYS = 365
HISTORY_DAYS = 90
COMMERCIAL_PLANS = ("team", "enterprise")

CHECKLIST = {
    "plan_dpa": "Plan tier and DPA",
    "training_opt_out": "Training opt-out",
    "folder_policy": "Workspace folder policy",
    "connectors": "Connector inventory and OAuth scopes",
    "memory_hygiene": "Memory hygiene",
    "backup_rollback": "Backup and rollback procedures tested",
    "joiner_mover_leaver": "Joiner / mover / leaver",
    "incident_response": "Incident-response contact",
}
MINIMUM = {
    "acceptable_use": "Written acceptable-use policy",
    "folder_policy": "Workspace folder policy",
    "version_history": "File version history of at least 90 days",
    "governance_review": "Monthly governance review with documented attendees",
}
ATTESTABLE = (
    "plan_dpa",
    "training_opt_out",
    "memory_hygiene",
    "backup_rollback",
    "joiner_mover_leaver",
    "incident_response",
    "acceptable_use",
    "version_history",
)
"""Items an attestation counts for; the rest are scored from the ledger alone."""


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    title: str
    status: str
    reason: str
    evidence: tuple[str, ...]
    change: str


def score_checklist(cfg: Config, evidence: Evidence, today: date) -> list[Item]:
    return [
        _plan_dpa(cfg, evidence, today),
        _training(cfg, evidence, today),
        folder_policy_item(cfg, evidence),
        _connectors(cfg, evidence, today),
        document_item("memory_hygiene", cfg, evidence, today),
        _backup(cfg, evidence, today),
        document_item("joiner_mover_leaver", cfg, evidence, today),
        _incident(cfg, evidence, today),
    ]


# -- items scored from declared facts and attestations --------------------------------------


def _facts(*pairs: tuple[str, object]) -> list[str]:
    """``field = value`` for each field that is set, as evidence lines."""
    return [
        f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in pairs if v is not None
    ]


def current_attestation(evidence: Evidence, item: str, today: date) -> Attestation | None:
    a = evidence.attestations.get(item)
    return a if a is not None and a.current(today) else None


def _declared(
    item: str,
    evidence: Evidence,
    today: date,
    *,
    facts: list[str],
    missing: list[str],
    contradiction: str | None = None,
    fresh: bool,
    good: str = "",
    stale: str = "",
    change: str,
) -> Item:
    """Score a declared fact by the rule in the module docstring.

    ``good`` is the reason when the fact is dated inside its window (``fresh``), ``stale``
    the reason when it is not.
    """
    att = current_attestation(evidence, item, today)
    latest = evidence.attestations.get(item)
    lapsed = latest if latest is not None and latest.expires < today else None
    shown = list(facts)
    if att is not None:
        shown.append(att.describe())
    elif lapsed is not None:
        shown.append(f"lapsed: {lapsed.describe()}")
    if contradiction:
        status, reason = RED, contradiction
    elif missing:
        status = YELLOW if att else RED
        reason = f"affidavit.toml lacks {', '.join(missing)}"
        if att:
            reason = f"attested by {att.by}, but {reason}"
    elif fresh:
        status, reason = GREEN, good
    elif att is not None:
        status, reason = GREEN, f"{stale}; attested by {att.by} until {att.expires}"
    else:
        status = YELLOW
        reason = stale + (f"; the attestation lapsed on {lapsed.expires}" if lapsed else "")
    return Item(item, CHECKLIST.get(item) or MINIMUM[item], status, reason, tuple(shown), change)


def _plan_dpa(cfg: Config, evidence: Evidence, today: date) -> Item:
    missing = [] if cfg.plan else ["org.plan"]
    if cfg.dpa_signed is None:
        missing.append("org.dpa_signed")
    elif cfg.dpa_signed > today:
        missing.append(f"org.dpa_signed on or before today (it says {cfg.dpa_signed})")
    consumer = cfg.plan is not None and cfg.plan not in COMMERCIAL_PLANS
    return _declared(
        "plan_dpa",
        evidence,
        today,
        facts=_facts(("org.plan", cfg.plan), ("org.dpa_signed", cfg.dpa_signed)),
        missing=missing,
        contradiction=f"org.plan = {cfg.plan} is a consumer plan; a DPA comes with the "
        "commercial plans (Team, Enterprise)"
        if consumer
        else None,
        fresh=True,
        good=f"{cfg.plan} plan; DPA signed {cfg.dpa_signed}",
        change="a commercial plan (Team or Enterprise) and org.dpa_signed = the DPA's date",
    )


def _training(cfg: Config, evidence: Evidence, today: date) -> Item:
    verified = cfg.training_opt_out_verified
    window = cfg.attestation_days
    age = None if verified is None else (today - verified).days
    return _declared(
        "training_opt_out",
        evidence,
        today,
        facts=_facts(
            ("org.training_opt_out", cfg.training_opt_out),
            ("org.training_opt_out_verified", verified),
        ),
        missing=[] if cfg.training_opt_out is not None else ["org.training_opt_out"],
        contradiction="org.training_opt_out = false: model training on your data is on"
        if cfg.training_opt_out is False
        else None,
        fresh=age is not None and 0 <= age <= window,
        good=f"training opt-out on, verified {age} days ago (every {window} days)",
        stale="the opt-out was never verified (org.training_opt_out_verified)"
        if age is None
        else f"the opt-out was last verified {age} days ago (every {window} days)",
        change=f"check the admin console, then set org.training_opt_out_verified (every "
        f"{window} days) or: affidavit attest training_opt_out",
    )


def document_item(name: str, cfg: Config, evidence: Evidence, today: date) -> Item:
    doc = cfg.documents.get(name)
    age = None if doc is None or doc.reviewed is None else (today - doc.reviewed).days
    facts = _facts(
        (f"documents.{name}.ref", doc and doc.ref),
        (f"documents.{name}.reviewed", doc and doc.reviewed),
    )
    return _declared(
        name,
        evidence,
        today,
        facts=facts,
        missing=[] if doc else [f"documents.{name}"],
        fresh=age is not None and 0 <= age <= DOCUMENT_DAYS,
        good=f"documents.{name} reviewed {age} days ago (yearly)",
        stale=f"documents.{name} has no reviewed date"
        if age is None
        else f"documents.{name} was last reviewed {age} days ago (yearly)",
        change=f"write the document, set documents.{name} = {{ ref, reviewed }} (review "
        f"yearly) or: affidavit attest {name}",
    )


def _incident(cfg: Config, evidence: Evidence, today: date) -> Item:
    missing = [
        f"incident_response.{k}"
        for k, v in (("name", cfg.incident_name), ("channel", cfg.incident_channel))
        if not v
    ]
    return _declared(
        "incident_response",
        evidence,
        today,
        facts=_facts(
            ("incident_response.name", cfg.incident_name),
            ("incident_response.channel", cfg.incident_channel),
        ),
        missing=missing,
        fresh=False,
        stale="declared, not confirmed to answer",
        change="confirm the contact answers, then: affidavit attest incident_response",
    )


# -- items scored from the ledger -----------------------------------------------------------


def folder_policy_item(cfg: Config, evidence: Evidence) -> Item:
    folders = tuple(
        f"folder {f.path} ({', '.join((f.function or '-', *f.regulated))})" for f in cfg.folders
    )
    open_ = [f for f in evidence.open_findings if f.type != "data"]
    shown = folders + tuple(f"open finding {describe(f)}" for f in open_)
    change = "declare every granted folder as [[folders]] and resolve open policy findings"
    if not cfg.folders:
        status, reason = RED, "no [[folders]] declared: no folder is granted"
    elif open_:
        status = YELLOW
        reason = f"{len(open_)} open folder-policy finding(s), first {describe(open_[0])}"
    else:
        status = GREEN
        reason = f"{len(cfg.folders)} granted folder(s); no open folder-policy finding"
        change = "an open folder-policy finding would turn this yellow"
    return Item("folder_policy", CHECKLIST["folder_policy"], status, reason, shown, change)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _connectors(cfg: Config, evidence: Evidence, today: date) -> Item:
    known = {_norm(c.name) for c in cfg.connectors}
    unlisted = [
        f"MCP server {s!r} seen from seq {seq} ({calls} calls) is not in [[connectors]]"
        for s, (seq, calls) in sorted(evidence.mcp_servers.items())
        if not any(_norm(s) in k or k in _norm(s) for k in known if k)
    ]
    red = unlisted + [
        f"connector {c.name!r} lists no OAuth scopes" for c in cfg.connectors if not c.scopes
    ]
    if not cfg.connectors and not cfg.connectors_declared:
        red.insert(0, "no connector inventory declared ([[connectors]], or connectors = [])")
    yellow = [f"connector {c.name!r} has no owner" for c in cfg.connectors if not c.owner]
    for c in cfg.connectors:
        age = None if c.reviewed is None else (today - c.reviewed).days
        if age is None or age > CONNECTOR_DAYS:
            when = "never" if age is None else f"{age} days ago"
            yellow.append(f"connector {c.name!r} last reviewed {when} (every {CONNECTOR_DAYS})")
    shown = tuple(
        f"connector {c.name}: scopes {', '.join(c.scopes) or '-'}; owner {c.owner or '-'}; "
        f"reviewed {c.reviewed or '-'}"
        for c in cfg.connectors
    ) + tuple(unlisted)
    change = (
        f"list every connector with its scopes and owner, review each every {CONNECTOR_DAYS} days"
    )
    status = RED if red else YELLOW if yellow else GREEN
    if status == GREEN:
        reason = (
            f"{len(cfg.connectors)} connector(s), all reviewed within {CONNECTOR_DAYS} "
            "days; no unlisted MCP server in the ledger"
        )
    else:
        reason = "; ".join(red + yellow)
    return Item("connectors", CHECKLIST["connectors"], status, reason, shown, change)


def history_kept(cfg: Config, evidence: Evidence, today: date) -> tuple[bool, str]:
    """90 days of version history in the ledger's own store, counted from live capture.

    Imported transcripts carry their own (earlier) times, but nothing kept the file versions
    of those days, so they never lengthen the history (:attr:`Evidence.first_live`).
    """
    days = cfg.minimum_retention_days
    first = evidence.first_live
    covered = 0 if first is None else max((today - first.date()).days, 0)
    since = (
        "no record captured live yet"
        if first is None
        else f"captured live since {first.date()} ({covered} days; imports not counted)"
    )
    line = (
        f"{since}; retention.minimum_days = {days}; {evidence.versions_kept} of "
        f"{evidence.file_versions} file versions kept in the snapshot store"
    )
    kept = evidence.file_versions > 0 and evidence.versions_kept > 0
    return days >= HISTORY_DAYS and covered >= HISTORY_DAYS and kept, line


def cloud_history(evidence: Evidence, today: date) -> tuple[bool, list[str], list[str]]:
    """Cloud-sync version history: (at least 90 days held, evidence lines, shortfalls).

    Pulled revision evidence (``affidavit sources pull``), per provider and folder, decides
    when there is any (a pull over :data:`~affidavit.sources.cloud.PULL_DAYS` old falls
    short: the edits since are unjudged); otherwise a current ``version_history``
    attestation stands in.
    """
    attested = current_attestation(evidence, "version_history", today)
    pulled = evidence.cloud_history
    shown = [f"cloud-sync history: {attested.describe()}"] if attested else []
    shown += [f"cloud-sync history: {h.describe()}" for h in pulled]
    short = [
        f"{h.provider} {h.source} {h.folder} {h.short(today)}" for h in pulled if h.short(today)
    ]
    return ((not short) if pulled else attested is not None), shown, short


def _backup(cfg: Config, evidence: Evidence, today: date) -> Item:
    history_ok, history = history_kept(cfg, evidence, today)
    drill, archive = evidence.drill, evidence.archive
    attested = current_attestation(evidence, "backup_rollback", today)
    cloud_ok, cloud_shown, cloud_short = cloud_history(evidence, today)
    shown = [history, *cloud_shown]
    if drill is not None:
        outcome = "ok" if drill.ok else "FAILED"
        shown.insert(0, f"drill seq {drill.seq} on {drill.time.date()}: {outcome} {drill.detail}")
    if archive is not None:
        shown.append(f"archive seq {archive.seq} on {archive.time.date()} {archive.location}")
    if attested is not None:
        shown.append(attested.describe())
    if drill is None:
        status, reason = RED, "no rollback drill recorded"
    elif not drill.ok:
        status, reason = RED, f"the last drill (seq {drill.seq}) failed"
    else:
        age = (today - drill.time.date()).days
        issues = []
        if age > DRILL_DAYS:
            issues.append(f"the last drill is {age} days old (over {DRILL_DAYS})")
        if not history_ok and not cloud_ok:
            issues.append("version history falls short: " + "; ".join(cloud_short or [history]))
        archive_age = None if archive is None else (today - archive.time.date()).days
        if (archive_age is None or archive_age > ARCHIVE_DAYS) and attested is None:
            last = "" if archive_age is None else f" (last {archive_age} days ago)"
            issues.append(f"no archive snapshot within {ARCHIVE_DAYS} days{last}")
        status = YELLOW if issues else GREEN
        reason = "; ".join(issues) or f"drill passed {age} days ago; history and archive current"
    change = (
        f"run `affidavit drill` at least every {DRILL_DAYS} days and archive the ledger "
        f"at least every {ARCHIVE_DAYS} days (`affidavit archive`)"
    )
    return Item(
        "backup_rollback", CHECKLIST["backup_rollback"], status, reason, tuple(shown), change
    )

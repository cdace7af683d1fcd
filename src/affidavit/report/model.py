"""What the review pack says, read once from the ledger: :class:`Report`, built by
:func:`build_report` (and :func:`issue`, which signs the report off and seals first)."""

from __future__ import annotations

import base64
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from affidavit import query
from affidavit.compliance import facts as vendor
from affidavit.compliance.checklist import Item, score_checklist
from affidavit.compliance.drill import SOURCE as DRILL_SOURCE
from affidavit.compliance.gather import Finding, Verified, gather
from affidavit.compliance.minimum import score_minimum
from affidavit.compliance.regimes import RegimeRow, score_posture
from affidavit.compliance.review import Month, months
from affidavit.config import Config
from affidavit.errors import AffidavitError
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner, open_checkpoint
from affidavit.record import Kind, Record, format_time
from affidavit.report.appendix import (
    Completeness,
    FileGroup,
    capture_completeness,
    file_actions,
)
from affidavit.report.appendix import drilled as drilled_restores
from affidavit.signing import sign_payload

WEEKS = 13
"""Weeks of activity charted: a quarter, ending with the week of the report's date."""
TOP_SERIES = 8
NO_FUNCTION = "(no function)"
GOOD = frozenset({"green", "met", "workable", "held", "ok", "satisfied"})
BAD = frozenset({"red", "not met", "not yet", "missed", "FAILED", "open"})
SOURCE = "affidavit.report"


@dataclass(frozen=True, slots=True)
class Series:
    """Actions on files per week, for one business function or folder."""

    name: str
    weekly: tuple[int, ...]
    """Aligned with :attr:`Report.weeks`."""
    total: int
    """Over the whole ledger, not only the charted weeks."""


@dataclass(frozen=True, slots=True)
class LatestCheckpoint:
    size: int
    root: str
    """Base64, as in the signed note."""
    note: str
    published_at: str | None


@dataclass(frozen=True, slots=True)
class Report:
    org: str
    origin: str
    vkey: str
    today: date
    generated: datetime
    records: int
    first_time: datetime | None
    weeks: tuple[date, ...]
    """The Monday of each charted week, oldest first."""
    by_function: tuple[Series, ...]
    by_folder: tuple[Series, ...]
    posture: tuple[RegimeRow, ...]
    checklist: tuple[Item, ...]
    minimum: tuple[Item, ...]
    findings: tuple[Finding, ...]
    months: tuple[Month, ...]
    verified: Verified
    checkpoint: LatestCheckpoint | None
    unsigned: tuple[int, ...] = ()
    completeness: Completeness = field(default_factory=lambda: Completeness((), ()))
    files: tuple[FileGroup, ...] = ()
    facts_checked: date | None = None
    """The day the vendor facts were last known to hold."""
    review_start: str = "the first record captured live"
    total: int = 0
    """Every record in the ledger (``records`` counts the same; kept apart for clarity)."""


def issue(
    ledger: Ledger,
    signer: NoteSigner,
    cfg: Config,
    today: date,
    *,
    now: datetime,
    actor: dict[str, str] | None = None,
) -> Report:
    """Sign the report off in the ledger, seal, then build: the checkpoint covers it all."""
    body = {
        "report": {"at": format_time(now), "judged_on": today.isoformat()},
        "actor": dict(actor or {}),
    }
    record = Record.create(Kind.ATTESTATION, SOURCE, sign_payload(body, signer), time=now)
    ledger.append([record])
    ledger.seal()
    return build_report(ledger, cfg, today, now=now)


def build_report(
    ledger: Ledger, cfg: Config, today: date, *, now: datetime | None = None
) -> Report:
    """Gather, verify and score the ledger on ``today``; ``now`` stamps the report."""
    evidence = gather(ledger, cfg, verify=True)
    checklist = score_checklist(cfg, evidence, today)
    status = ledger.status()
    checkpoint = None
    if status.last_checkpoint is not None:
        try:
            root = open_checkpoint(status.last_checkpoint, ledger.verifier).root
            shown = _b64(root)
        except AffidavitError as e:
            shown = f"(does not open: {e})"
        checkpoint = LatestCheckpoint(
            status.published, shown, status.last_checkpoint, status.last_published_at
        )
    weeks, by_function, by_folder = _activity(ledger, today)
    sheet = vendor.load(cfg.vendor_facts)
    checked, _ = vendor.last_checked(sheet, evidence.facts_checks)
    return Report(
        org=cfg.org_name or "(org.name not set)",
        origin=ledger.origin,
        vkey=ledger.verifier.vkey(),
        today=today,
        generated=now or datetime.now(UTC),
        records=evidence.records,
        first_time=evidence.first_time,
        weeks=weeks,
        by_function=by_function,
        by_folder=by_folder,
        posture=tuple(score_posture(cfg, evidence, checklist, today, facts=sheet)),
        checklist=tuple(checklist),
        minimum=tuple(score_minimum(cfg, evidence, today)),
        findings=tuple(sorted(evidence.findings, key=lambda f: (not f.open, f.seq))),
        months=tuple(months(evidence, today, start=cfg.review_start)),
        verified=evidence.verified or Verified(False, "not verified"),
        checkpoint=checkpoint,
        unsigned=evidence.unsigned,
        completeness=capture_completeness(ledger),
        files=file_actions(ledger),
        facts_checked=checked,
        review_start=f"governance.start = {cfg.review_start}"
        if cfg.review_start
        else "the first record captured live",
        total=evidence.records,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _activity(
    ledger: Ledger, today: date
) -> tuple[tuple[date, ...], tuple[Series, ...], tuple[Series, ...]]:
    """Weekly file actions per function and per folder (``gather`` refreshed the index).

    File records only (``file.*``: not the hook's intents, not findings), and not the
    rollback drill's (its change and the restore that undid it), which work in a scratch
    folder of its own.
    """
    drilled = drilled_restores(ledger)
    rows = query.file_activity(ledger.store, not_source=DRILL_SOURCE, skip=drilled)
    last = monday(today)
    days = [date.fromisoformat(d) for _, _, d, _ in rows]
    first = max(last - timedelta(weeks=WEEKS - 1), monday(min(days, default=today)))
    first = min(first, last)
    weeks = tuple(first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1))
    index = {w: i for i, w in enumerate(weeks)}

    def series(key: Callable[[str | None, str | None], str]) -> tuple[Series, ...]:
        weekly: dict[str, list[int]] = defaultdict(lambda: [0] * len(weeks))
        totals: Counter[str] = Counter()
        for function, folder, day, count in rows:
            name = key(function, folder)
            totals[name] += count
            week = index.get(monday(date.fromisoformat(day)))
            if week is not None:
                weekly[name][week] += count
        ranked = sorted(totals, key=lambda n: (-totals[n], n))
        shown = [Series(n, tuple(weekly[n]), totals[n]) for n in ranked[:TOP_SERIES]]
        rest = ranked[TOP_SERIES:]
        if rest:
            sums = [sum(weekly[n][i] for n in rest) for i in range(len(weeks))]
            total = sum(totals[n] for n in rest)
            shown.append(Series(f"({len(rest)} more)", tuple(sums), total))
        return tuple(shown)

    return (
        weeks,
        series(lambda function, _: function or NO_FUNCTION),
        series(lambda _, folder: folder or "(none)"),
    )

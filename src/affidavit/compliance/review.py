"""``affidavit review``: the monthly governance review, its report and its signed sign-off.

:func:`build_report` gathers one calendar month: activity per business function and
folder, the top actors and agents, the policy findings opened in the month, the capture
gaps (``capture.error`` and ``capture.gap`` records), the checklist, the minimum and the
posture with what changed since the previous review's sign-off, and the result of
verifying the whole ledger.

:func:`sign_off` records it as a signed ``review.signoff`` (the contract :mod:`.gather`
reads)::

    payload {"review": {"period": "YYYY-MM", "at": RFC 3339, "attendees": [...],
                        "decisions": [...], "checklist": {id: status},
                        "minimum": {id: status}, "posture": {regime: status},
                        "findings_open": int, "gaps": int, "verified": str},
             "actor": {...}, "signature": {...}}

:func:`months` lists every month from the start to today: ``held`` when a sign-off names
it, ``missed`` when a past month has none, ``due`` for the current month. The start is
``governance.start`` when set, else the first record captured live: imported transcripts
are back-dated history from before Affidavit ran, and no review was due then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from affidavit import query
from affidavit.compliance.checklist import Item, score_checklist
from affidavit.compliance.gather import Evidence, Finding, Review, Verified, gather
from affidavit.compliance.minimum import score_minimum
from affidavit.compliance.regimes import RegimeRow, score_posture
from affidavit.config import Config
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner
from affidavit.record import Kind, Record, format_time
from affidavit.signing import sign_payload

SOURCE = "affidavit.review"
TOP = 10
ACTIVITY = ("function", "folder", "actor", "agent")
HELD, MISSED, DUE = "held", "missed", "due"


@dataclass(frozen=True, slots=True)
class Period:
    name: str
    start: date
    end: date
    """Exclusive: the first day of the next month."""

    @classmethod
    def parse(cls, text: str | None, today: date) -> Period:
        """``YYYY-MM``, or the month of ``today``."""
        if text is None:
            return cls.of(today)
        try:
            return cls.of(date.fromisoformat(text.strip() + "-01"))
        except ValueError:
            raise InputError(f"period {text!r} is not a month like 2026-11") from None

    @classmethod
    def of(cls, day: date) -> Period:
        start = day.replace(day=1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return cls(start.strftime("%Y-%m"), start, end)


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    records: int
    activity: Mapping[str, tuple[tuple[str, int], ...]]
    findings: tuple[Finding, ...]
    open_findings: int
    gaps: tuple[tuple[int, str, str], ...]
    checklist: tuple[Item, ...]
    minimum: tuple[Item, ...]
    posture: tuple[RegimeRow, ...]
    previous: Review | None
    changes: tuple[tuple[str, str, str, str], ...]
    """(section, item, status at the previous sign-off, status now)."""
    verified: Verified


@dataclass(frozen=True, slots=True)
class Month:
    period: str
    status: str
    reviews: tuple[Review, ...]


def statuses(report: Report) -> dict[str, dict[str, str]]:
    return {
        "checklist": {i.id: i.status for i in report.checklist},
        "minimum": {i.id: i.status for i in report.minimum},
        "posture": {r.regime: r.status for r in report.posture},
    }


def _stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000000Z"


def build_report(
    ledger: Ledger, cfg: Config, period: Period, today: date, *, evidence: Evidence | None = None
) -> Report:
    """The period's report; gathers (and verifies the ledger) unless ``evidence`` is given."""
    ev = evidence if evidence is not None else gather(ledger, cfg, verify=True)
    since, until = _stamp(period.start), _stamp(period.end)
    window = query.Filters(since=since, until=until)
    store = ledger.store
    activity = {}
    for by in ACTIVITY:
        _, rows = query.totals(store, window, by)
        activity[by] = tuple((str(r[0]) if r[0] else "(none)", int(str(r[1]))) for r in rows)[:TOP]
    records = query.count(store, window)
    gaps = []
    lost = replace(window, kinds=(Kind.CAPTURE_ERROR.value, Kind.CAPTURE_GAP.value))
    for (seq,) in query.select(store, ("seq",), lost):
        rec = ledger.record(seq)
        gaps.append((seq, rec.envelope.kind, _gap_detail(rec.payload or {})))
    checklist = score_checklist(cfg, ev, today)
    minimum = score_minimum(cfg, ev, today)
    posture = score_posture(cfg, ev, checklist, today)
    earlier = [r for r in ev.reviews if r.period < period.name]
    previous = earlier[-1] if earlier else None
    now = {
        "checklist": {i.id: i.status for i in checklist},
        "minimum": {i.id: i.status for i in minimum},
        "posture": {r.regime: r.status for r in posture},
    }
    changes = []
    if previous is not None:
        for section, current in now.items():
            before = previous.statuses.get(section, {})
            for key, status in current.items():
                if before.get(key, "-") != status:
                    changes.append((section, key, before.get(key, "-"), status))
    return Report(
        period,
        records,
        activity,
        tuple(f for f in ev.findings if since <= f.time < until),
        len(ev.open_findings),
        tuple(gaps),
        tuple(checklist),
        tuple(minimum),
        tuple(posture),
        previous,
        tuple(changes),
        ev.verified or Verified(False, "not verified"),
    )


def _gap_detail(payload: Mapping[str, Any]) -> str:
    for key, field in (("error", "message"), ("gap", "reason")):
        part = payload.get(key)
        if isinstance(part, dict) and part.get(field):
            return str(part[field])
    return ""


def sign_off(
    ledger: Ledger,
    signer: NoteSigner,
    report: Report,
    *,
    attendees: Sequence[str],
    decisions: Sequence[str],
    now: datetime,
    actor: Mapping[str, Any] | None = None,
) -> int:
    """Record the signed ``review.signoff`` of ``report``; returns its seq."""
    names = [a.strip() for a in attendees if a.strip()]
    if not names:
        raise InputError("a review sign-off names its attendees (--attendee NAME, repeatable)")
    body = {
        "review": {
            "period": report.period.name,
            "at": format_time(now),
            "attendees": names,
            "decisions": [d.strip() for d in decisions if d.strip()],
            **statuses(report),
            "findings_open": report.open_findings,
            "gaps": len(report.gaps),
            "verified": ("ok: " if report.verified.ok else "FAILED: ") + report.verified.detail,
        },
        "actor": dict(actor or {}),
    }
    record = Record.create(Kind.REVIEW_SIGNOFF, SOURCE, sign_payload(body, signer), time=now)
    return ledger.append([record])[0]


def months(evidence: Evidence, today: date, *, start: date | None = None) -> list[Month]:
    """Every month from ``start`` (else the first live record) to ``today``'s, with reviews.

    A month before the start shows only when a review names it.
    """
    current = Period.of(today)
    first = start or (evidence.first_live.date() if evidence.first_live else None)
    starts = [first] if first else []
    for r in evidence.reviews:
        try:
            starts.append(Period.parse(r.period, today).start)
        except InputError:
            continue  # a sign-off with a malformed period still shows under no month
    if not starts:
        return []
    period = Period.of(min(starts))
    out = []
    while period.start <= current.start:
        held = tuple(r for r in evidence.reviews if r.period == period.name)
        status = HELD if held else DUE if period == current else MISSED
        out.append(Month(period.name, status, held))
        period = Period.of(period.end)
    return out


def report_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """The report as (section, name, value, detail) rows: one shape for every format."""
    rows: list[tuple[str, str, str, str]] = [
        ("period", report.period.name, str(report.records), "records in the period"),
        ("verify", "ledger", "ok" if report.verified.ok else "FAILED", report.verified.detail),
    ]
    for by, totals in report.activity.items():
        rows += [
            (f"top {by}s" if by in ("actor", "agent") else f"by {by}", k, str(n), "")
            for k, n in totals
        ]
    rows += [
        (
            "finding",
            f.id,
            "open" if f.open else "resolved",
            f"seq {f.seq} {f.type}/{f.data_class or f.rule or '-'} {f.path or ''}".rstrip(),
        )
        for f in report.findings
    ]
    rows.append(("findings", "open now", str(report.open_findings), ""))
    rows += [("capture gap", str(seq), kind, detail) for seq, kind, detail in report.gaps]
    rows += [("checklist", i.id, i.status, i.reason) for i in report.checklist]
    rows += [("minimum", i.id, i.status, i.reason) for i in report.minimum]
    rows += [("posture", r.regime, r.status, r.reason) for r in report.posture]
    since = (
        f"since review seq {report.previous.seq} ({report.previous.period})"
        if report.previous
        else "no earlier review"
    )
    rows += [("change", f"{s}:{k}", f"{a} -> {b}", since) for s, k, a, b in report.changes]
    if not report.changes:
        rows.append(("change", "-", "none", since))
    return rows

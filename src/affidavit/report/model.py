"""``affidavit report``: the security review pack, as HTML, PDF and Markdown.

Two documents, for two readers. The **client pack** (``report.*``) is what a client's
security reviewer reads: summary, posture, checklist, mid-market minimum, findings,
governance history since the start, capture completeness with its gaps, the ledger's
verification with the covering checkpoint verbatim, and the appendix "who did what to which
file, when". It states facts and their evidence; it gives no instructions. The **admin
worklist** (``worklist.md``, :mod:`.worklist`) is for the admin: what to do to turn each
red (or yellow) item green.

:func:`issue` is what ``affidavit report`` runs: it records a signed ``report`` sign-off,
seals, and only then reads, so the checkpoint the pack cites covers every record it
counts, its own sign-off included. :func:`build_report` reads everything once (the evidence,
with the ledger verified, activity, completeness and the appendix) into a :class:`Report`;
the renderers are pure functions of that value, so every format says the same thing:

* :func:`render_html`: one self-contained page: inline CSS, charts as inline SVG drawn here,
  no script, no external URL (document references are printed as text, never linked);
* :func:`render_markdown`: the same sections as tables;
* :func:`render_pdf`: the HTML laid out by WeasyPrint (the ``affidavit[report]`` extra);
* :mod:`.oscal`: the same results as OSCAL assessment results and OCSF Compliance Findings.

:func:`write_pack` writes all of them into a new folder: built in a temporary folder
beside it, then renamed into place, so a folder that exists is complete.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from string import Template

from affidavit.compliance import facts as vendor
from affidavit.compliance.checklist import Item, score_checklist
from affidavit.compliance.drill import SOURCE as DRILL_SOURCE
from affidavit.compliance.gather import Finding, Verified, gather
from affidavit.compliance.minimum import score_minimum
from affidavit.compliance.regimes import RegimeRow, score_posture
from affidavit.compliance.review import Month, months
from affidavit.config import Config
from affidavit.errors import AffidavitError, InputError
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
FILES = (
    "report.html",
    "report.pdf",
    "report.md",
    "worklist.md",
    "oscal-assessment-results.json",
    "ocsf-compliance-findings.jsonl",
)


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
    conn = ledger.store.connection
    drilled = drilled_restores(ledger)
    rows = conn.execute(
        "SELECT function, folder, substr(time, 1, 10), count(*) FROM actions "
        "WHERE kind LIKE 'file.%' AND path IS NOT NULL AND erased = 0 AND source != ? "
        f"AND seq NOT IN ({','.join('?' * len(drilled))}) GROUP BY 1, 2, 3",
        (DRILL_SOURCE, *drilled),
    ).fetchall()
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


# -- shared wording ---------------------------------------------------------------------------


def tone(status: str) -> str:
    return "good" if status in GOOD else "bad" if status in BAD else "warn"


def finding_status(f: Finding) -> str:
    return "open" if f.open else f"resolved (seq {f.resolved_seq})"


def finding_what(f: Finding) -> str:
    detail = f.data_class or f.rule
    return f"{f.type}/{detail}" if detail else f.type


def checkpoint_line(report: Report) -> str:
    cp = report.checkpoint
    if cp is None:
        return "no checkpoint published yet"
    when = f", published {cp.published_at}" if cp.published_at else ""
    covers = (
        f"covers all {report.records} records"
        if cp.size >= report.records
        else f"covers records 0 to {cp.size - 1} of {report.records}"
    )
    return f"tree size {cp.size} ({covers}), root {cp.root}{when}"


KEEP_CHECKPOINT = (
    "To check later that the ledger only grew, keep this checkpoint: copy it into a file "
    "(it is also in the evidence pack, and `affidavit checkpoint --out checkpoint.txt` saves "
    "it), then at the next review run `affidavit verify --from checkpoint.txt`."
)


def verified_line(report: Report) -> str:
    return ("OK: " if report.verified.ok else "FAILED: ") + report.verified.detail


def review_cells(month: Month) -> tuple[str, str, str]:
    seqs = ", ".join(f"seq {r.seq} on {r.time.date()}" for r in month.reviews) or "-"
    people = ", ".join(sorted({a for r in month.reviews for a in r.attendees})) or "-"
    decisions = "; ".join(d for r in month.reviews for d in r.decisions) or "-"
    return seqs, people, decisions


def summary(report: Report) -> list[tuple[str, str]]:
    """The first facts a reviewer reads, as (label, value)."""
    posture = Counter(r.status for r in report.posture)
    red = [i.id for i in report.checklist if tone(i.status) == "bad"]
    unmet = [i.id for i in report.minimum if tone(i.status) == "bad"]
    gaps = len(report.completeness.gaps)
    return [
        ("Organisation", report.org),
        ("Ledger", f"{report.origin} ({report.records} records)"),
        ("Capture gaps", f"{gaps} recorded" if gaps else "none recorded"),
        ("Verification", verified_line(report)),
        ("Latest checkpoint", checkpoint_line(report)),
        ("Posture", ", ".join(f"{n} {s}" for s, n in sorted(posture.items()))),
        ("Checklist red", ", ".join(red) or "none"),
        ("Minimum not met", ", ".join(unmet) or "none"),
        ("Open findings", str(sum(1 for f in report.findings if f.open))),
    ]


# -- Markdown ---------------------------------------------------------------------------------


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(report: Report) -> str:
    lines = [f"# Security review pack: {report.org}", ""]
    lines += [f"Judged on {report.today}; generated {format_time(report.generated)}.", ""]
    lines += _table(["", ""], summary(report))
    lines += [f"## Regime posture (vendor facts last checked {report.facts_checked})", ""]
    lines += _table(
        ["Regime", "Status", "Reason", "Conditions"],
        [
            (
                r.regime,
                r.status,
                r.reason,
                "; ".join(
                    f"[{'x' if c.met else ' '}] {c.text} ({c.evidence})" for c in r.conditions
                ),
            )
            for r in report.posture
        ],
    )
    for title, items in (("Checklist", report.checklist), ("Mid-market minimum", report.minimum)):
        lines += [f"## {title}", ""]
        lines += _table(
            ["Item", "Status", "Reason", "Evidence"],
            [(i.title, i.status, i.reason, "; ".join(i.evidence)) for i in items],
        )
    lines += ["## Activity: file actions per week", ""]
    head = ["Series", "Total", *(w.strftime("%m-%d") for w in report.weeks)]
    for title, group in (("function", report.by_function), ("folder", report.by_folder)):
        lines += [f"By {title} (weeks starting on the date shown):", ""]
        lines += _table(head, [(s.name, s.total, *s.weekly) for s in group] or [("-", 0)])
    lines += ["## Findings", ""]
    lines += _table(
        ["Finding", "Status", "What", "Where", "Seq", "Time"],
        [
            (f.id, finding_status(f), finding_what(f), f.path or f.folder or "-", f.seq, f.time)
            for f in report.findings
        ]
        or [("none", "", "", "", "", "")],
    )
    lines += ["## Governance review history", "", f"Months count from {report.review_start}.", ""]
    lines += _table(
        ["Month", "Status", "Sign-offs", "Attendees", "Decisions"],
        [(m.period, m.status, *review_cells(m)) for m in report.months] or [("-",) * 5],
    )
    lines += ["## Capture completeness", "", completeness_note(report), ""]
    lines += _table(["Source", "Records"], report.completeness.by_source or [("-", 0)])
    lines += _table(
        ["Gap", "Seq", "Time", "Detail"],
        [(g.kind, g.seq, g.time, g.detail) for g in report.completeness.gaps]
        or [("none recorded", "", "", "")],
    )
    lines += ["## Ledger", "", f"Verification: {verified_line(report)}", ""]
    lines += [f"Verifier key: `{report.vkey}`", "", f"Latest checkpoint: {checkpoint_line(report)}"]
    if report.checkpoint is not None:
        lines += ["", KEEP_CHECKPOINT, "", "```", report.checkpoint.note.rstrip("\n"), "```"]
    lines += ["", "## Appendix: who did what to which file, when", "", APPENDIX_NOTE, ""]
    for files in report.files:
        lines += [f"### {files.by.capitalize()}: {files.name} ({files.total} actions)", ""]
        lines += _table(
            ["Time (UTC)", "Actor", "Agent", "Session", "Action", "File", "Seq"],
            [(a.time, a.actor, a.agent, a.session, a.action, a.path, a.seq) for a in files.rows],
        )
        if files.total > len(files.rows):
            lines += [f"{files.total - len(files.rows)} older: `{files.command}`", ""]
    if not report.files:
        lines += ["No file action recorded.", ""]
    return "\n".join(lines) + "\n"


APPENDIX_NOTE = (
    "Every file action in the ledger, newest first, per business function and then per folder; "
    "each row names the record (seq) that proves it."
)


def completeness_note(report: Report) -> str:
    gaps = len(report.completeness.gaps)
    return (
        f"Records per capture source, and the {gaps} capture gap(s) the ledger holds: moments "
        "when a capture point failed or saw a hole. Nothing outside a capture point is seen."
        if gaps
        else "Records per capture source. No capture gap is recorded; nothing outside a "
        "capture point is seen."
    )


# -- HTML -------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(status: str) -> str:
    return f'<span class="badge {tone(status)}">{_e(status)}</span>'


def _rows(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """A table; cells are HTML already (escape before)."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _list(lines: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in lines) + "</ul>" if lines else ""


def _items(items: Sequence[Item]) -> str:
    return _rows(
        ["Item", "Status", "Reason and evidence"],
        [
            (
                f"<b>{_e(i.title)}</b><br><code>{_e(i.id)}</code>",
                _badge(i.status),
                _e(i.reason) + _list(i.evidence),
            )
            for i in items
        ],
        "items",
    )


def _posture(rows: Sequence[RegimeRow]) -> str:
    def conditions(r: RegimeRow) -> str:
        return (
            "<ul class='conds'>"
            + "".join(
                f"<li class='{'met' if c.met else 'unmet'}'>{'✓' if c.met else '✗'} {_e(c.text)}"
                f"<br><small>{_e(c.evidence)}</small></li>"
                for c in r.conditions
            )
            + "</ul>"
        )

    return _rows(
        ["Regime", "Status", "Conditions", "Reason"],
        [
            (
                f"<b>{_e(r.regime)}</b>",
                _badge(r.status),
                conditions(r),
                _e(r.reason),
            )
            for r in rows
        ],
        "posture",
    )


def render_html(report: Report) -> str:
    template = resources.files("affidavit.report").joinpath("templates/report.html")
    findings = [
        (
            f"<code>{_e(f.id)}</code>",
            _badge(finding_status(f) if f.open else "resolved")
            + ("" if f.open else f"<br><small>seq {f.resolved_seq}</small>"),
            _e(finding_what(f)),
            _e(f.path or f.folder or "-"),
            f"{f.seq}<br><small>{_e(f.time)}</small>",
        )
        for f in report.findings
    ]
    reviews = [(_e(m.period), _badge(m.status), *map(_e, review_cells(m))) for m in report.months]
    cp = report.checkpoint
    return Template(template.read_text("utf-8")).substitute(
        title=_e(f"Security review pack: {report.org}"),
        org=_e(report.org),
        css_footer="".join(
            c
            for c in f"{report.org} · security review pack · {report.today}"
            if c.isprintable() and c not in '"\\<>'
        ),
        today=_e(report.today),
        generated=_e(format_time(report.generated)),
        summary=_rows(["", ""], [(f"<b>{_e(k)}</b>", _e(v)) for k, v in summary(report)], "kv"),
        as_of=_e(report.facts_checked),
        review_start=_e(report.review_start),
        completeness_note=_e(completeness_note(report)),
        sources=_rows(
            ["Source", "Records"],
            [(_e(src), str(n)) for src, n in report.completeness.by_source] or [("-", "0")],
            "kv",
        ),
        gaps=_rows(
            ["Gap", "Seq", "Time", "Detail"],
            [
                (_badge("gap"), str(g.seq), _e(g.time), _e(g.detail))
                for g in report.completeness.gaps
            ],
            "gaps",
        )
        if report.completeness.gaps
        else "<p>No capture gap recorded.</p>",
        keep_checkpoint=re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(KEEP_CHECKPOINT)),
        appendix_note=_e(APPENDIX_NOTE),
        appendix=_appendix(report.files),
        posture=_posture(report.posture),
        checklist=_items(report.checklist),
        minimum=_items(report.minimum),
        function_chart=weekly_chart(report.weeks, report.by_function, "business function"),
        folder_chart=weekly_chart(report.weeks, report.by_folder, "folder"),
        findings=_rows(["Finding", "Status", "What", "Where", "Seq / time"], findings, "findings")
        if findings
        else "<p>No finding recorded.</p>",
        reviews=_rows(["Month", "Status", "Sign-offs", "Attendees", "Decisions"], reviews)
        if reviews
        else "<p>No month to review yet.</p>",
        verified=_badge("ok" if report.verified.ok else "FAILED")
        + " "
        + _e(report.verified.detail),
        vkey=_e(report.vkey),
        checkpoint=_e(checkpoint_line(report)),
        note=f'<pre class="checkpoint">{_e(cp.note)}</pre>' if cp else "",
    )


def _appendix(groups: Sequence[FileGroup]) -> str:
    if not groups:
        return "<p>No file action recorded.</p>"
    parts = []
    for g in groups:
        rows = [
            (
                _e(a.time),
                _e(a.actor),
                _e(a.agent),
                f"<code>{_e(a.session)}</code>",
                _e(a.action),
                f"<code>{_e(a.path)}</code>",
                str(a.seq),
            )
            for a in g.rows
        ]
        head = ["Time (UTC)", "Actor", "Agent", "Session", "Action", "File", "Seq"]
        more = (
            f"<p class='note'>{g.total - len(g.rows)} older: <code>{_e(g.command)}</code></p>"
            if g.total > len(g.rows)
            else ""
        )
        parts.append(
            f"<h3>{_e(g.by.capitalize())}: {_e(g.name)} ({g.total} actions)</h3>"
            + _rows(head, rows, "files")
            + more
        )
    return "".join(parts)


# -- charts: inline SVG -----------------------------------------------------------------------

_LABEL, _BARS, _TOTAL, _ROW = 190, 430, 50, 26


def _short(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1) :]


def weekly_chart(weeks: Sequence[date], group: Sequence[Series], what: str) -> str:
    """Small multiples: one row of weekly bars per series, on one shared scale.

    Styling is in presentation attributes, not CSS: WeasyPrint's SVG renderer does not
    apply the page's stylesheet inside an inline SVG.
    """
    if not group:
        return f"<p>No file action recorded, so no chart per {_e(what)}.</p>"
    top = max(max(s.weekly, default=0) for s in group) or 1
    step = _BARS / len(weeks)
    bar = min(max(step * 0.7, 2.0), 28.0)
    width, height = _LABEL + _BARS + _TOTAL, _ROW * len(group) + 30
    font = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" {font}>',
        f"<title>File actions per week per {_e(what)}; tallest bar {top}</title>",
        f'<text x="{width}" y="10" font-size="8" fill="#666" text-anchor="end">total</text>',
    ]
    for row, s in enumerate(group):
        base = 12 + _ROW * (row + 1)
        fill = "#8a9bb0" if s.name.startswith("(") else "#4a78a8"
        parts.append(
            f'<text x="0" y="{base - 4}" font-size="9" fill="#222"><title>{_e(s.name)}</title>'
            f"{_e(_short(s.name))}</text>"
            f'<line x1="{_LABEL}" y1="{base}" x2="{_LABEL + _BARS}" y2="{base}" '
            'stroke="#c2cad6" stroke-width="0.6"/>'
            f'<text x="{width}" y="{base - 4}" font-size="9" font-weight="bold" fill="#222" '
            f'text-anchor="end">{s.total}</text>'
        )
        for i, n in enumerate(s.weekly):
            if not n:
                continue
            h = max((_ROW - 11) * n / top, 1.5)
            x = _LABEL + i * step + (step - bar) / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{fill}"/><text x="{x + bar / 2:.1f}" y="{base - h - 1.5:.1f}" '
                f'font-size="7" fill="#2c4a6e" text-anchor="middle">{n}</text>'
            )
    every = max(1, round(len(weeks) / 7))
    axis = 12 + _ROW * len(group) + 12
    for i, week in enumerate(weeks):
        if i % every == 0 or i == len(weeks) - 1:
            x = _LABEL + i * step + step / 2
            parts.append(
                f'<text x="{x:.1f}" y="{axis}" font-size="7.5" fill="#666" '
                f'text-anchor="middle">{week:%d %b}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


# -- PDF and the pack -------------------------------------------------------------------------


def render_pdf(page: str, path: Path) -> None:
    """Lay ``page`` out as a PDF at ``path`` with WeasyPrint (the ``affidavit[report]`` extra)."""
    try:
        import weasyprint  # type: ignore[import-untyped]
    except (ImportError, OSError) as e:  # OSError: WeasyPrint found no Pango library
        raise InputError(
            "the PDF needs the affidavit[report] extra (pip install 'affidavit[report]') and "
            f"the Pango library; or pass --no-pdf ({type(e).__name__}: {e})"
        ) from e
    # The page is self-contained by construction, and laying it out must never reach the
    # network or the disk: only data: URLs are fetched, anything else stops the PDF.
    # WeasyPrint 66+ takes a URLFetcher; older releases take a function.
    fetcher_class = getattr(weasyprint, "URLFetcher", None)
    fetcher: object = (
        _refuse
        if fetcher_class is None
        else fetcher_class(allowed_protocols=("data",), fail_on_errors=True)
    )
    fatal = getattr(getattr(weasyprint, "urls", None), "FatalURLFetchingError", None)
    try:
        weasyprint.HTML(string=page, url_fetcher=fetcher).write_pdf(str(path))
    except BaseException as e:  # FatalURLFetchingError is a BaseException
        if fatal is None or not isinstance(e, fatal):
            raise
        raise InputError(f"the report page refers to an outside resource: {e}") from e


def _refuse(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    if url.startswith("data:"):
        from weasyprint import default_url_fetcher

        return default_url_fetcher(url)  # type: ignore[no-any-return]
    raise InputError(f"the report page refers to {url!r}; it must be self-contained")


def write_pack(report: Report, out: Path, *, pdf: bool = True, force: bool = False) -> list[Path]:
    """Write every format into the new folder ``out``; returns the files written.

    ``out`` must not exist or be empty (``force`` replaces a non-empty one). The files are
    written into a temporary folder beside ``out`` and renamed into place.
    """
    from affidavit.report.oscal import ocsf_compliance_findings, oscal_assessment_results
    from affidavit.report.worklist import render_worklist

    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise InputError(f"{out} exists and is not an empty folder (--force replaces it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would otherwise stay on the pack
        page = render_html(report)
        (tmp / "report.html").write_text(page, "utf-8")
        if pdf:
            render_pdf(page, tmp / "report.pdf")
        (tmp / "report.md").write_text(render_markdown(report), "utf-8")
        (tmp / "worklist.md").write_text(render_worklist(report), "utf-8")
        oscal = json.dumps(oscal_assessment_results(report), indent=2, ensure_ascii=False)
        (tmp / "oscal-assessment-results.json").write_text(oscal + "\n", "utf-8")
        with (tmp / "ocsf-compliance-findings.jsonl").open("w", encoding="utf-8") as f:
            for event in ocsf_compliance_findings(report):
                f.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        for path in tmp.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / name for name in FILES if (out / name).exists()]

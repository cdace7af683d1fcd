"""The pack as Markdown: the same sections as the HTML page, as tables."""

from __future__ import annotations

from collections.abc import Sequence

from affidavit.record import format_time
from affidavit.report.model import Report
from affidavit.report.wording import (
    APPENDIX_NOTE,
    KEEP_CHECKPOINT,
    checkpoint_line,
    completeness_note,
    finding_status,
    finding_what,
    review_cells,
    summary,
    verified_line,
)


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

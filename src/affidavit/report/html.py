"""The pack as one self-contained HTML page: inline CSS, charts as inline SVG, no script,
no external URL (document references are printed as text, never linked)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from importlib import resources
from string import Template

from affidavit.compliance.checklist import Item
from affidavit.compliance.regimes import RegimeRow
from affidavit.record import format_time
from affidavit.report.appendix import (
    FileGroup,
)
from affidavit.report.charts import weekly_chart
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
    tone,
)


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

"""The admin worklist: what to do to turn each red or yellow item green.

The client pack states facts and their evidence; the instructions for the admin (which
``affidavit.toml`` field to set, which command to run) live here instead, in
``worklist.md`` beside the pack. Pure: a function of the same
:class:`~affidavit.report.model.Report` the pack renders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # report imports this module when it writes the pack
    from affidavit.report.model import Report

DONE = frozenset({"green", "met", "workable"})


def render_worklist(report: Report) -> str:
    lines = [
        f"# Admin worklist: {report.org}",
        "",
        f"Judged on {report.today}. For the admin, not for the client: each row is an item of "
        "the review pack that is not green, and what would turn it green.",
        "",
    ]
    todo: list[tuple[str, str, str, str]] = []
    for i in report.checklist:
        if i.status not in DONE:
            todo.append(("checklist", i.title, i.status, i.change))
    for i in report.minimum:
        if i.status not in DONE:
            todo.append(("minimum", i.title, i.status, i.change))
    for r in report.posture:
        if r.status not in DONE:
            todo.append(("posture", r.regime, r.status, r.change))
    open_findings = [f for f in report.findings if f.open]
    if open_findings:
        todo.append(
            (
                "findings",
                f"{len(open_findings)} open finding(s)",
                "open",
                "fix the cause, then: affidavit findings resolve ID --reason TEXT --by NAME",
            )
        )
    if report.completeness.gaps:
        todo.append(
            (
                "capture",
                f"{len(report.completeness.gaps)} capture gap(s)",
                "gap",
                "read them with: affidavit log --kind capture; fix the capture point",
            )
        )
    if not report.verified.ok:
        todo.append(("ledger", "verification", "FAILED", "affidavit verify names what fails"))
    lines += ["| Section | Item | Status | To do |", "|---|---|---|---|"]
    lines += [f"| {a} | {_md(b)} | {c} | {_md(d)} |" for a, b, c, d in todo]
    if not todo:
        lines.append("| - | nothing to do | - | - |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

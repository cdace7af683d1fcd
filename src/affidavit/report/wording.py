"""Sentences and cells every format of the pack shares, so the HTML, the Markdown and the
OSCAL results say the same thing."""

from __future__ import annotations

from collections import Counter

from affidavit.compliance.gather import Finding
from affidavit.compliance.review import Month
from affidavit.report.model import BAD, GOOD, Report


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

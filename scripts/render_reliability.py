"""Write the README's Reliability section from the adversarial suite's JSON Lines tally.

python scripts/render_reliability.py TALLY STARTED VARIANT COMMIT [EXIT]

TALLY is what ``tests/adversarial/reliability.py`` wrote: one line per counted row and one per
test outcome. The table is written whatever the run's outcome: a row with a failure is
marked ✗ with the first failures in its notes, and tests that failed are listed under it, so
a red run can never be mistaken for a green one. COMMIT and STARTED say what produced it.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"


@dataclass
class Row:
    tried: int = 0
    held: int = 0
    lost: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed_tests: set[str] = field(default_factory=set)

    @property
    def failed(self) -> int:
        return self.tried - self.held - self.lost


def cell(text: str) -> str:
    """Table cells hold one line without pipes."""
    return " ".join(text.replace("|", "/").split())


def render(tally: list[dict[str, object]], *, started: str, variant: str, commit: str) -> list[str]:
    """The section's lines, from BEGIN to END."""
    outcomes = {str(t["test"]): t for t in tally if "outcome" in t}
    failed_tests = {name: str(t.get("error", "")) for name, t in outcomes.items()}
    failed_tests = {n: e for n, e in failed_tests.items() if outcomes[n]["outcome"] == "failed"}
    rows: dict[tuple[str, str], Row] = {}
    for item in tally:
        if "area" not in item:
            continue
        row = rows.setdefault((str(item["area"]), str(item["what"])), Row())
        row.tried += int(str(item["tried"]))
        row.held += int(str(item["held"]))
        row.lost += int(str(item.get("lost", 0)))
        row.failures += [str(f) for f in item.get("failures", [])]  # type: ignore[attr-defined]
        if item.get("note") and item["note"] not in row.notes:
            row.notes.append(str(item["note"]))
        if item.get("test") in failed_tests:
            row.failed_tests.add(str(item["test"]))
    passed = sum(1 for t in outcomes.values() if t["outcome"] == "passed")
    skipped = sum(1 for t in outcomes.values() if t["outcome"] == "skipped")
    bad_rows = sum(1 for r in rows.values() if r.failed or r.failed_tests)
    lossy = sum(1 for r in rows.values() if r.lost)
    verdict = (
        f"**{len(failed_tests)} test(s) failed; {bad_rows} row(s) marked ✗**"
        if failed_tests or bad_rows
        else "nothing failed"
    )
    if lossy:
        verdict += f"; {lossy} row(s) with losses (see lost)"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        BEGIN,
        f"Last run: {started}, commit {commit}, {machine}, `bash scripts/reliability.sh` "
        f"({variant}): {passed} tests passed, {len(failed_tests)} failed, {skipped} skipped; "
        f"{verdict}.",
        "",
        "| area | what was tried | tried | held | lost | failed | notes |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for (area, what), row in sorted(rows.items()):
        notes = list(row.notes)
        if row.failures:
            notes.append("failures: " + "; ".join(row.failures[:3]))
        if row.failed_tests:
            notes.append("its test failed: " + ", ".join(sorted(row.failed_tests)))
        mark = " ✗" if row.failed or row.failed_tests else ""
        lines.append(
            f"| {area} | {cell(what)} | {row.tried:,} | {row.held:,}{mark} | {row.lost:,} | "
            f"{row.failed:,} | {cell('; '.join(notes))} |"
        )
    if failed_tests:
        lines += ["", "Failed tests:", ""]
        lines += [f"* `{name}`: {cell(error)}" for name, error in sorted(failed_tests.items())]
    lines.append(END)
    return lines


def main() -> None:
    path, started, variant, commit = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    tally = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = render(tally, started=started, variant=variant, commit=commit)
    readme = Path("README.md")
    text = readme.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + "\n".join(lines) + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Reliability\n\n" + "\n".join(lines) + "\n"
    readme.write_text(text)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

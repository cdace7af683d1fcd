"""Write the README's Reliability section from the adversarial suite's JSON Lines tally.

python scripts/render_reliability.py TALLY STARTED VARIANT
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections import defaultdict
from pathlib import Path

BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"


def main() -> None:
    tally, started, variant = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    notes: dict[tuple[str, str], str] = {}
    for line in tally.read_text().splitlines():
        item = json.loads(line)
        key = (item["area"], item["what"])
        rows[key][0] += item["tried"]
        rows[key][1] += item["passed"]
        if item.get("note"):
            notes[key] = item["note"]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        BEGIN,
        f"Last run: {started}, {machine}, `bash scripts/reliability.sh` ({variant}).",
        "",
        "| area | what was tried | tried | held | notes |",
        "|---|---|---:|---:|---|",
    ]
    for (area, what), (tried, passed) in sorted(rows.items()):
        lines.append(
            f"| {area} | {what} | {tried:,} | {passed:,} | {notes.get((area, what), '')} |"
        )
    lines.append(END)
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

"""Every measured figure the README quotes is printed by a committed ``bench/results/*.txt``.

The Benchmarks section may quote nothing a results file does not print (targets, written
``≤ N`` / ``≥ N``, are the issues' and exempt); anywhere else in the README a rate, a
duration in milliseconds or a ratio is a measurement and must be traceable the same way.
``scripts/bench.sh`` must regenerate every results file, so the figures can be re-measured.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# A number, but not part of a name (SHA-256, x86_64, RFC 9162 is spelled out where needed).
NUMBER = re.compile(r"(?<![A-Za-z]-)(?<![\w.,])\d[\d,]*(?:\.\d+)?")
# A measurement outside the Benchmarks section: a rate, milliseconds or a ratio.
MEASURED = re.compile(
    r"(?<![\w.,≤≥])(\d[\d,]*(?:\.\d+)?)(?:\s*-\s*\d[\d,]*(?:\.\d+)?)?\s*(?:ms\b|[a-z]*/s\b|x\b)"
)
TARGET = re.compile(r"[≤≥]\s*\+?\d[\d,]*(?:\.\d+)?(?:-\d[\d,]*(?:\.\d+)?)?")


def plain(number: str) -> str:
    """Figures are compared without thousands separators (results print 1563.2, the
    README 1,563.2)."""
    return number.replace(",", "")


def printed() -> set[str]:
    """Every number any committed results file prints."""
    found: set[str] = set()
    for path in RESULTS.glob("*.txt"):
        found |= {plain(n) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", path.read_text())}
    return found


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def untraced(text: str, known: set[str]) -> list[str]:
    """Numbers in ``text`` (targets removed) that no results file prints."""
    text = TARGET.sub("", text)
    missing = []
    for line in text.splitlines():
        for number in NUMBER.findall(line):
            if plain(number.rstrip(",")) not in known:
                missing.append(f"{number!r} in: {line.strip()[:120]}")
    return missing


def test_every_benchmark_figure_is_printed_by_a_committed_results_file() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = untraced(section(readme, "Benchmarks"), printed())
    assert not missing, "README figures no bench/results/*.txt prints:\n" + "\n".join(missing)


def test_no_measurement_elsewhere_in_the_readme_is_untraceable() -> None:
    readme = (ROOT / "README.md").read_text()
    rest = readme.replace(section(readme, "Benchmarks"), "")
    rest = rest.replace(section(readme, "Reliability"), "")  # its own generated table
    known = printed()
    missing = [
        m.group(0) for m in MEASURED.finditer(TARGET.sub("", rest)) if plain(m[1]) not in known
    ]
    assert not missing, (
        f"measured figures outside Benchmarks that no results file prints: {missing}"
    )


def test_the_check_catches_a_figure_that_was_not_measured() -> None:
    known = printed()
    assert untraced("| `log --by function` | 194 ms (1.3x) | ≤ 1 s |", known)
    import re

    query = (RESULTS / "query.txt").read_text(encoding="utf-8")
    ms = re.search(r"log --by function\s+([0-9.,]+) ms", query)
    assert ms is not None
    assert not untraced(f"| `log --by function` | {ms.group(1)} ms | ≤ 1 s |", known)


def test_bench_sh_regenerates_every_results_file() -> None:
    script = (ROOT / "scripts" / "bench.sh").read_text()
    match = re.search(r"^all=\(([^)]*)\)", script, re.M)
    assert match, "scripts/bench.sh lists its benchmarks in all=(...)"
    names = set(match[1].split())
    results = {p.stem for p in RESULTS.glob("*.txt")}
    assert results, "no committed bench/results/*.txt"
    assert results <= names, f"results bench.sh does not regenerate: {sorted(results - names)}"
    for name in names:
        assert (ROOT / "bench" / f"bench_{name}.py").is_file(), name
    assert 'tee "bench/results/$name.txt"' in script

"""The README's Reliability table counts outcomes as they happen and shows failures.

A real pytest process runs a small suite with the adversarial suite's counting plugin
(``tests/adversarial/reliability.py``), then the real ``scripts/render_reliability.py``
turns its tally into the table, as ``scripts/reliability.sh`` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUITE = """
import pytest


def test_some_hold_some_fail_some_lost(reliability):
    count = reliability("demo", "trials")
    for i in range(5):
        try:
            with count.trial(f"case {i}"):
                assert i != 3, "case three broke"
        except AssertionError:
            pass
    count.lose()
    count.held_if(False, "checked and wrong")


def test_fails_outside_any_trial(reliability):
    count = reliability("demo", "clean row of a failing test")
    count.held_if(True)
    raise RuntimeError("broke after counting")


def test_fails_before_counting(reliability):
    raise ValueError("never got to count")


def test_all_good(reliability):
    count = reliability("demo", "all good")
    for _ in range(4):
        with count.trial():
            pass


def test_skips_are_not_outcomes(reliability):
    count = reliability("demo", "skipped inside a trial")
    with count.trial():
        pytest.skip("not here")
"""


def run_suite(tmp_path: Path) -> tuple[int, list[dict[str, object]]]:
    (tmp_path / "test_demo.py").write_text(SUITE)
    tally = tmp_path / "tally.jsonl"
    env = {
        **os.environ,
        "AFFIDAVIT_RELIABILITY_OUT": str(tally),
        "PYTHONPATH": str(ROOT / "tests" / "adversarial"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "reliability"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [json.loads(line) for line in tally.read_text().splitlines()]
    return done.returncode, lines


def test_counts_are_what_happened_not_what_was_planned(tmp_path: Path) -> None:
    code, tally = run_suite(tmp_path)
    assert code == 1
    rows = {str(t["what"]): t for t in tally if "area" in t}
    trials = rows["trials"]
    assert (trials["tried"], trials["held"], trials["lost"]) == (7, 4, 1)
    assert trials["failures"] == [
        "case 3: AssertionError: case three broke",
        "checked and wrong",
    ]
    assert (rows["all good"]["tried"], rows["all good"]["held"]) == (4, 4)
    assert rows["skipped inside a trial"]["tried"] == 0
    outcomes = {str(t["test"]).split("::")[1]: t for t in tally if "outcome" in t}
    assert outcomes["test_fails_before_counting"]["outcome"] == "failed"
    assert "never got to count" in str(outcomes["test_fails_before_counting"]["error"])
    assert outcomes["test_all_good"]["outcome"] == "passed"


def test_a_failing_run_still_renders_a_table_that_shows_its_failures(tmp_path: Path) -> None:
    run_suite(tmp_path)
    (tmp_path / "README.md").write_text("# x\n\n<!-- reliability:begin -->\nold\n"
                                        "<!-- reliability:end -->\nafter\n")  # fmt: skip
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "render_reliability.py"),
            str(tmp_path / "tally.jsonl"),
            "2026-12-06T10:00Z",
            "default counts",
            "0123456789ab",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    readme = (tmp_path / "README.md").read_text()
    assert "old" not in readme and readme.endswith("<!-- reliability:end -->\nafter\n")
    table = done.stdout
    assert "2026-12-06T10:00Z, commit 0123456789ab" in table
    assert "2 passed, 2 failed, 1 skipped" in table.replace("tests ", "")
    assert "2 row(s) marked ✗" in table and "1 row(s) with losses" in table
    rows = {line.split(" | ")[1]: line for line in table.splitlines() if line.startswith("| demo")}
    assert "| 7 | 4 ✗ | 1 | 2 |" in rows["trials"]
    assert "case 3: AssertionError: case three broke" in rows["trials"]
    assert "| 4 | 4 | 0 | 0 |" in rows["all good"] and "✗" not in rows["all good"]
    # Every trial it counted held, but its test failed: the row must not look green.
    assert "| 1 | 1 ✗ |" in rows["clean row of a failing test"]
    assert "its test failed" in rows["clean row of a failing test"]
    # A test that failed before counting anything is listed under the table.
    assert "test_fails_before_counting" in table.split("Failed tests:")[1]
    assert "never got to count" in table

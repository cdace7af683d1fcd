"""Counting the adversarial suite's outcomes as they happen (README "Reliability").

A test asks the ``reliability`` fixture for a :class:`Count` per table row and reports each
outcome the moment it is known: :meth:`Count.trial` around one attempt (held if the block
returns, failed if it raises), :meth:`Count.held_if` for a checked condition,
:meth:`Count.lose` for an outcome that neither broke anything nor kept what it should have
(a killed hook whose event died with it). Nothing here lets a test claim ``held = tried``.

With ``AFFIDAVIT_RELIABILITY_OUT`` set (as ``scripts/reliability.sh`` does), every count is
appended there as JSON Lines when its test ends, passed or failed, together with one line per
test outcome, so a failing run still renders a table that shows its failures.

This is a pytest plugin: ``tests/adversarial/conftest.py`` imports its hooks and fixture, and
``tests/test_reliability_table.py`` loads it with ``-p`` into a real pytest process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

OUT_ENV = "AFFIDAVIT_RELIABILITY_OUT"
KEPT_FAILURES = 3  # per row: enough to see a pattern, short enough for a table cell


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200] if text else ''}"


def _not_an_outcome(error: BaseException) -> bool:
    """Exceptions that end an attempt without judging it: a skip, Hypothesis rejecting an
    example (``assume``), or the run being stopped."""
    if isinstance(error, (pytest.skip.Exception, KeyboardInterrupt, SystemExit)):
        return True
    return type(error).__module__.startswith("hypothesis")


@dataclass
class Count:
    """One row of the Reliability table, counted outcome by outcome."""

    area: str
    what: str
    note: str = ""
    tried: int = 0
    held: int = 0
    lost: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.tried - self.held - self.lost

    def held_if(self, ok: bool, detail: str = "") -> bool:
        """Count one checked outcome; returns ``ok`` so the caller can assert on it."""
        self.tried += 1
        if ok:
            self.held += 1
        else:
            self._keep(detail or "failed")
        return ok

    def lose(self) -> None:
        """Count one outcome that lost what it should have kept, without breaking anything."""
        self.tried += 1
        self.lost += 1

    def fail(self, detail: str) -> None:
        """Count one failed outcome found outside a :meth:`trial` block."""
        self.tried += 1
        self._keep(detail)

    @contextmanager
    def trial(self, label: str = "") -> Iterator[None]:
        """One attempt: held if the block returns, failed (and re-raised) if it raises."""
        self.tried += 1
        try:
            yield
        except BaseException as e:
            if _not_an_outcome(e):
                self.tried -= 1
            else:
                self._keep(f"{label}: {_first_line(e)}" if label else _first_line(e))
            raise
        self.held += 1

    def _keep(self, detail: str) -> None:
        if len(self.failures) < KEPT_FAILURES:
            self.failures.append(detail)

    def as_json(self, test: str) -> dict[str, object]:
        return {
            "area": self.area,
            "what": self.what,
            "tried": self.tried,
            "held": self.held,
            "lost": self.lost,
            "failures": self.failures,
            "note": self.note,
            "test": test,
        }


class Reliability:
    """What the ``reliability`` fixture hands a test: ``reliability(area, what)`` opens a row."""

    def __init__(self) -> None:
        self.counts: list[Count] = []

    def __call__(self, area: str, what: str, note: str = "") -> Count:
        count = Count(area, what, note)
        self.counts.append(count)
        return count


def _write(lines: list[dict[str, object]]) -> None:
    out = os.environ.get(OUT_ENV)
    if not out or not lines:
        return
    with open(out, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> Iterator[Reliability]:
    """Rows of the Reliability table; written when the test ends, whatever its outcome."""
    rows = Reliability()
    yield rows
    _write([count.as_json(request.node.nodeid) for count in rows.counts])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One line per test outcome, so a test that failed before counting anything still shows
    in the table (and every row of a failed test is marked)."""
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = "skipped" if report.skipped else report.outcome
        line: dict[str, object] = {"test": report.nodeid, "outcome": outcome}
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            error = [t for t in text if t.startswith("E ")]
            line["error"] = (error[0][1:].strip() if error else text[-1] if text else "")[:200]
        _write([line])

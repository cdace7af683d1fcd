"""The standing adversarial suite: crash safety, disk full, concurrency, hostile input,
tampering and corruption (README "Reliability").

Default counts keep `scripts/test.sh` within its budget; `--runslow` runs the long
variants. Every test reports what it tried through :func:`tally`; with
``AFFIDAVIT_RELIABILITY_OUT`` set (as `scripts/reliability.sh` does) the counts are
appended there as JSON Lines and become the README's Reliability table.
"""

from __future__ import annotations

import json
import os

import pytest


def long_run(config: pytest.Config) -> bool:
    return bool(config.getoption("--runslow"))


@pytest.fixture
def runslow(request: pytest.FixtureRequest) -> bool:
    """True in the long variant (`pytest --runslow`)."""
    return long_run(request.config)


def tally(area: str, what: str, tried: int, passed: int, note: str = "") -> None:
    """Record one line of the Reliability table: ``passed`` of ``tried`` held."""
    out = os.environ.get("AFFIDAVIT_RELIABILITY_OUT")
    if not out:
        return
    line = {"area": area, "what": what, "tried": tried, "passed": passed, "note": note}
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")

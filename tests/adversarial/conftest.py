"""The standing adversarial suite: crash safety, disk full, concurrency, hostile input,
tampering and corruption (README "Reliability").

Default counts keep `scripts/test.sh` within its budget; `--runslow` runs the long
variants. Every test counts its outcomes as they happen through the ``reliability``
fixture (see ``reliability.py``); with ``AFFIDAVIT_RELIABILITY_OUT`` set (as
`scripts/reliability.sh` does) the counts are appended there as JSON Lines and become the
README's Reliability table, failures included.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

# The counting lives in its own module, a pytest plugin, so that a test can load it into a
# real pytest process of its own (tests/test_reliability_table.py).
from reliability import Count, Reliability, pytest_runtest_logreport, reliability

Tally = Reliability  # the fixture's type, as the test modules annotate it
__all__ = ["Count", "Reliability", "Tally", "pytest_runtest_logreport", "reliability"]


def long_run(config: pytest.Config) -> bool:
    return bool(config.getoption("--runslow"))


@pytest.fixture
def runslow(request: pytest.FixtureRequest) -> bool:
    """True in the long variant (`pytest --runslow`)."""
    return long_run(request.config)


# -- what the tests one folder up import from "conftest" -----------------------------------
# They write `from conftest import ASSETS, SHARED, shared_path`. Pytest imports every
# conftest.py under the one module name "conftest" (prepend import mode), so once this folder
# is collected, before them, that name is this module: hand them the same helpers, from their
# own file, or the whole suite fails to collect.


def _root_conftest() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    spec = importlib.util.spec_from_file_location("_affidavit_tests_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ROOT_CONFTEST = _root_conftest()
ASSETS: Path = _ROOT_CONFTEST.ASSETS
SHARED: Path = _ROOT_CONFTEST.SHARED
shared_path: Callable[..., Path] = _ROOT_CONFTEST.shared_path

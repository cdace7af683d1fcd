"""Shared test fixtures.

Vectors and real-world fixtures are read in place from ``../shared/`` beside the checkout.
A user's fresh clone has no ``../shared/``: those tests skip with a message naming it, and
under ``CI=true`` they fail instead, so CI can never go green by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from collector_helpers import Collector, served
from pg_helpers import Schemas, reachable_url

# These machines are shared and noisy: a per-example deadline or a too-slow health check
# would make property tests flaky without finding anything.
settings.register_profile("affidavit", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("affidavit")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ASSETS = Path(__file__).resolve().parent / "assets"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run the long variants")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    marker = pytest.mark.skip(reason="long variant: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(marker)


def shared_path(*parts: str) -> Path:
    """Path under ../shared/; skips the test when it is absent, fails under CI=true."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"needs {path} (the ../shared/ folder beside the checkout); not in a fresh clone"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    return path


# -- PostgreSQL (tests/pg_helpers.py) -------------------------------------------------------


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[Schemas]:
    """This run's schema names on the test PostgreSQL; every one is dropped at the end."""
    schemas = Schemas(reachable_url())
    try:
        yield schemas
    finally:
        schemas.drop_all()


@pytest.fixture
def collector(pg_schemas: Schemas, tmp_path: Path) -> Iterator[Collector]:
    """A collector of origin ``collector_helpers.ORIGIN`` serving on loopback for one test."""
    with served(pg_schemas, tmp_path) as c:
        yield c

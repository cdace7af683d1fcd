"""Faults while endpoints ship: a uvicorn worker killed (SIGKILL) in the middle of batches,
and every PostgreSQL connection of the collector terminated (``pg_terminate_backend``, what
a database restart does to them). Real collector (2 uvicorn workers), real PostgreSQL, real
endpoint ledgers shipping through :func:`affidavit.shipping.ship`, as the service does.

Whatever fails, a client retries (as the service's shipper does) and resumes from what the
collector holds: afterwards every record is held exactly once, the org log takes each once,
and ``affidavit server verify`` passes.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from affidavit import shipping
from affidavit.errors import LedgerError
from affidavit.ledger import Ledger
from collector_helpers import ORIGIN, Collector
from ledger_helpers import grow, new_ledger
from pg_helpers import Schemas

LAPTOPS = 4
ROUNDS = 40  # appends-and-ships per laptop
WAIT_S = 120.0  # a bound on waiting, not a timing assertion


@pytest.fixture
def collector(pg_schemas: Schemas, tmp_path: Path) -> Iterator[Collector]:
    c = Collector(pg_schemas, tmp_path)
    c.cli("init", "--origin", ORIGIN)
    # Tagged, so only this collector's connections are terminated: the database is shared.
    c.db += ("&" if "?" in c.db else "?") + f"application_name={tag_of(c)}"
    with c.serving(workers=2):
        yield c


def tag_of(c: Collector) -> str:
    return f"affidavit-faults-{c.schema}"


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes: children of ``pid`` started by multiprocessing spawn."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


class Laptop(threading.Thread):
    """Appends a batch, seals, ships; again and again; retries every failed ship."""

    def __init__(self, folder: Path, index: int, url: str, token: str) -> None:
        super().__init__(daemon=True)
        folder.mkdir()
        self.origin = f"laptop-{index}.example.com/faults"
        with new_ledger(folder, origin=self.origin) as ledger:
            grow(ledger, [5])
        self.path = folder / "ledger.sqlite"
        self.token = token
        with Ledger.open(self.path, readonly=True) as ledger:
            shipping.enrol(ledger, self.path, url, token)
        self.failures: list[str] = []
        self.size = 0
        self.acked = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Ledger.open(self.path, key_path=self.path.with_name("ledger.sqlite.key")) as lg:
                for _ in range(ROUNDS):
                    grow(lg, [3, 4])
                    self.ship(lg)
                self.size = lg.store.size()
        except BaseException as e:
            self.error = e

    def ship(self, ledger: Ledger) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                _, self.acked = shipping.ship(ledger, self.path, self.token)
                return
            except LedgerError as e:  # unreachable, reset, or a 5xx: retry, as the shipper does
                self.failures.append(str(e))
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def terminate_backends(c: Collector) -> int:
    with psycopg.connect(c.db.split("?")[0], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (tag_of(c),),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


def test_killed_workers_and_dropped_connections_lose_and_duplicate_nothing(
    collector: Collector, tmp_path: Path
) -> None:
    c = collector
    laptops = [
        Laptop(tmp_path / f"l{i}", i, c.url, c.token("device", f"laptop-{i}"))
        for i in range(LAPTOPS)
    ]
    for laptop in laptops:
        laptop.start()
    assert c.process is not None
    killed, terminated = [], 0
    for _ in range(3):  # each fault while the laptops are shipping
        until_shipping_again(laptops)
        workers = workers_of(c.process.pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])
        until_shipping_again(laptops)
        terminated += terminate_backends(c)
    for laptop in laptops:
        laptop.join(timeout=WAIT_S * 2)
        assert not laptop.is_alive() and laptop.error is None, laptop.error

    assert killed and terminated, (killed, terminated)
    failures = [f for laptop in laptops for f in laptop.failures]
    assert failures, "no ship failed: the faults missed every request"
    for laptop in laptops:
        rows = c.sql("SELECT seq FROM entries WHERE origin = %s ORDER BY seq", laptop.origin)
        assert [s for (s,) in rows] == list(range(laptop.size)), laptop.origin
        assert laptop.acked == laptop.size
    c.cli("seal")
    expected = sum(laptop.size for laptop in laptops)
    verified = c.cli("verify").stdout
    assert f"OK: {expected} records of {LAPTOPS} endpoint logs" in verified
    assert f"org log of {expected} records verifies" in verified


def until_shipping_again(laptops: list[Laptop]) -> None:
    """Until some laptop has shipped once more (a bounded wait)."""
    before = sum(laptop.acked for laptop in laptops)
    deadline = time.monotonic() + WAIT_S
    while sum(laptop.acked for laptop in laptops) == before:
        if time.monotonic() > deadline or not any(laptop.is_alive() for laptop in laptops):
            return
        time.sleep(0.05)

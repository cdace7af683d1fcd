"""The recorder service's shipping thread: new checkpoints go to the collector within seconds.

The writer thread seals on its schedule; this thread watches the ledger through its own
read-only connection (SQLite's WAL lets it read while the writer writes) and, as soon as a
checkpoint exists that the collector has not acknowledged, runs :func:`affidavit.shipping.ship`,
which asks the collector what it holds and sends only the rest. So a retry after any failure
resumes exactly where the collector is, and the collector stores each record once by
(origin, seq): nothing is sent twice, nothing is skipped.

When the collector cannot be reached or refuses, the thread waits before trying again, the
wait doubling from :data:`FIRST_WAIT_S` up to :data:`LAST_WAIT_S` (with a little jitter, so a
fleet that lost its collector does not come back in lockstep); the first success resets it.
A collector that refuses a checkpoint as inconsistent with one it cosigned (``witness.conflict``)
is reported on every try: that is the alarm, and retrying cannot clear it.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from affidavit import shipping
from affidavit.errors import AffidavitError
from affidavit.ledger import Ledger

POLL_S = 0.5
FIRST_WAIT_S = 1.0
LAST_WAIT_S = 60.0
STOP_WAIT_S = 5.0


def next_wait(wait: float) -> float:
    """The wait after one more failure: doubled, capped at :data:`LAST_WAIT_S`."""
    return min(LAST_WAIT_S, max(FIRST_WAIT_S, wait * 2))


class Shipper:
    """Ships ``ledger_path`` to the collector it is enrolled with, from a daemon thread."""

    def __init__(
        self,
        ledger_path: Path,
        token: str,
        *,
        poll: float = POLL_S,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.ledger_path = ledger_path
        self.token = token
        self.poll = poll
        self.report = report or _to_stderr
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="shipper", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop after the request in flight, waiting a few seconds at most: a request cut off
        by the exit is harmless (the collector stores each record once; the next start asks
        it what it holds), and a hung collector must not hold up the service's stop."""
        self.stopping.set()
        self.thread.join(timeout=STOP_WAIT_S)

    def run(self) -> None:
        ledger = Ledger.open(self.ledger_path, readonly=True)
        try:
            self.loop(ledger)
        finally:
            ledger.close()

    def loop(self, ledger: Ledger) -> None:
        wait = 0.0
        failing = False
        while not self.stopping.wait(wait or self.poll):
            if not self.due(ledger):
                wait = 0.0
                continue
            try:
                sent, acked = shipping.ship(ledger, self.ledger_path, self.token)
            except (AffidavitError, OSError, ValueError, KeyError) as e:
                wait = next_wait(wait)
                delay = wait * random.uniform(0.9, 1.1)  # jitter, not a secret
                line = str(e).splitlines()[0] if str(e) else type(e).__name__
                self.report(f"shipping failed: {line}; next try in {delay:.1f} s")
                wait = delay
                failing = True
                continue
            if failing:
                self.report(f"shipping resumed: sent {sent} record(s); the collector holds {acked}")
            failing, wait = False, 0.0

    def due(self, ledger: Ledger) -> bool:
        """A published checkpoint the collector has not acknowledged exists (one read)."""
        latest = ledger.store.latest_checkpoint()
        if latest is None:
            return False
        try:
            return latest[0] > shipping.acknowledged(self.ledger_path)
        except AffidavitError:
            return True  # an unreadable state file: ship() says why, with backoff


def _to_stderr(line: str) -> None:
    print(f"affidavit service: {line}", file=sys.stderr, flush=True)

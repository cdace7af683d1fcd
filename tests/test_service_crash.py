"""SIGKILL the recorder service at random instants while 16 hook processes send events.

Every event a hook saw acknowledged is in the ledger after the restart; every one it did not
is in the ledger or in the agent's spool, and the next hook that reaches the service hands
the spool over; each event is recorded exactly once (a delivery id dedups an event the
service committed before it died unheard); ``affidavit verify`` passes. Real accounts and
real processes (see service_helpers); the kill instants come from a seeded generator, so a
failure can be replayed with ``AFFIDAVIT_CRASH_SEED``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from service_helpers import Site, make_site, stop

WORKERS, EVENTS, KILLS = 16, 6, 3


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from make_site()


def event(worker: int, i: int) -> dict[str, object]:
    return {
        "session_id": f"session-{worker}",
        "hook_event_name": "PostToolUse",
        "tool_name": "mcp__crash__echo",
        "tool_input": {"worker": worker, "i": i},
        "tool_response": {"ok": True},
        "tool_use_id": f"toolu_crash_{worker}_{i}",
    }


def test_sigkill_loses_no_event(site: Site) -> None:
    seed = int(os.environ.get("AFFIDAVIT_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"AFFIDAVIT_CRASH_SEED={seed}", file=sys.stderr)
    rng = random.Random(seed)
    acked: dict[str, bool] = {}
    lock = threading.Lock()
    service = [site.start_service(seal_interval=0.3)]
    done = threading.Event()
    kills = []

    def send(worker: int) -> None:
        for i in range(EVENTS):
            e = event(worker, i)
            run = site.hook(e)
            assert run.returncode == 0, run.stderr
            with lock:  # a hook is silent only when the service acknowledged its event
                acked[str(e["tool_use_id"])] = run.stderr == b""

    def killer() -> None:
        # Kill after a random number of events were answered, then at a random instant
        # within the next moment: every kill lands while hooks are sending.
        points = sorted(rng.sample(range(8, WORKERS * EVENTS - 24), KILLS))
        for point in points:
            while len(acked) < point:
                if done.wait(0.01):
                    return
            time.sleep(rng.uniform(0.0, 0.2))
            service[0].send_signal(signal.SIGKILL)
            kills.append(len(acked))
            stop(service[0])
            time.sleep(rng.uniform(0.0, 0.5))  # hooks meanwhile find nobody listening
            service[0] = site.start_service(seal_interval=0.3)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(WORKERS)]
    chaos = threading.Thread(target=killer)
    chaos.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    chaos.join()
    try:
        by_use = recorded(site)
        assert len(acked) == WORKERS * EVENTS
        for use, ok in acked.items():
            if ok:  # acknowledged: in the ledger, as the hook sent it
                assert by_use.get(use) == ["claude-code.hook"], (use, seed)
        spool = site.spool.parent / "spool.spool"
        waiting = len(list(spool.glob("*.json"))) if spool.exists() else 0
        # The next hook that reaches the service hands the spool over.
        run = site.hook(event(99, 0))
        assert run.returncode == 0 and run.stderr == b"", run.stderr
    finally:
        err = stop(service[0])
    assert "Traceback" not in err
    by_use = recorded(site)
    missing = [u for u in acked if u not in by_use]
    assert not missing, (missing, seed)
    twice = {u: s for u, s in by_use.items() if len(s) != 1}
    assert not twice, (twice, seed)
    assert not [*spool.glob("*.json"), *spool.glob("*.claimed")]
    unacked = [u for u, ok in acked.items() if not ok]
    assert waiting <= len(unacked)
    assert len(kills) == KILLS  # the service really died under the hooks, KILLS times
    print(
        f"{len(unacked)} of {len(acked)} events unacknowledged, {waiting} spooled", file=sys.stderr
    )
    run = subprocess.run(
        [sys.executable, "-m", "affidavit", "--ledger", str(site.ledger), "verify", "--json"],
        capture_output=True,
        timeout=300,
    )
    assert run.returncode == 0, (run.stderr, seed)
    assert json.loads(run.stdout)


def recorded(site: Site) -> dict[str, list[str]]:
    """tool_use_id → the sources of the records of that event (the event's own kind only)."""
    out: dict[str, list[str]] = {}
    for _, source, payload in site.records():
        agent = payload.get("agent") or {}
        use = agent.get("tool_use_id")
        if isinstance(use, str) and use.startswith("toolu_crash_"):
            out.setdefault(use, []).append(source)
    return {u: sorted(s) for u, s in out.items()}

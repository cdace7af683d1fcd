"""SIGKILL the recorder service at random instants while 16 hook processes send events.

Every event a hook saw acknowledged is in the ledger after the restart; every one it did not
is in the ledger or in the agent's spool, and the next hook that reaches the service hands
the spool over; each event is recorded exactly once (a delivery id dedups an event the
service committed before it died unheard); ``affidavit verify`` passes. Real accounts and
real processes (see service_helpers); the kill instants come from a seeded generator, so a
failure can be replayed with ``AFFIDAVIT_CRASH_SEED``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

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


# -- hooks killed while they talk to the service ---------------------------------------------


class Staller:
    """A listener at the service's socket that reads ``limit`` bytes (or whole frames when
    ``frames``) and then neither reads nor answers: a hook talking to it stays where it is."""

    def __init__(self, site: Site, *, limit: int = 0, frames: int = 0) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            site.socket.unlink()
        self.path = site.socket
        self.listener.bind(str(site.socket))
        os.chown(site.socket, -1, site.agent.gid)
        site.socket.chmod(0o660)
        self.listener.listen(4)
        self.limit, self.frames = limit, frames
        self.ops: list[str] = []
        self.reached = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        with contextlib.suppress(OSError):
            conn, _ = self.listener.accept()
            self.conns.append(conn)
            if self.limit:
                got = 0
                while got < self.limit:
                    got += len(conn.recv(self.limit - got))
            for _ in range(self.frames):
                head = conn.recv(4, socket.MSG_WAITALL)
                body = conn.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL)
                self.ops.append(json.loads(body)["op"])
            self.reached.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# Syscalls a process makes waiting to read a socket with a timeout: poll/ppoll, recvfrom.
_WAIT_SYSCALLS = {"x86_64": {"7", "271", "45"}, "aarch64": {"73", "207"}}


def _waiting_for_answer(pid: int) -> bool:
    """Whether the process sleeps on a socket: in a read, or in the poll Python makes
    before a read with a timeout (the hook of an event that asks nothing, waiting for its
    ack; nothing else in its run sleeps that way). The kernel's wait channel says so; where
    it is hidden ("0"), the syscall the process sleeps in."""
    import platform

    try:
        with open(f"/proc/{pid}/wchan") as f:
            where = f.read().strip()
        if where and where != "0":
            return where.startswith("unix_stream") or "poll" in where
        with open(f"/proc/{pid}/syscall") as f:
            number = f.read().split(" ", 1)[0]
    except OSError:
        return False
    return number in _WAIT_SYSCALLS.get(platform.machine(), set())


def _kill_when(hook: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60  # a bound on waiting, not a timing assert
    while not ready():
        assert hook.poll() is None, hook.communicate()
        assert time.monotonic() < deadline, "the hook never reached the kill point"
        time.sleep(0.01)
    hook.send_signal(signal.SIGKILL)
    hook.wait(timeout=60)


def _traces(site: Site, use: str) -> tuple[int, int]:
    """(records of the event itself, capture.gap records naming it)."""
    recorded = gaps = 0
    with site.read() as conn:
        for leaf, payload in conn.execute("SELECT leaf, payload FROM records"):
            body = json.loads(payload) if payload else {}
            kind = json.loads(leaf)["kind"]
            if kind == "capture.gap" and body.get("gap", {}).get("tool_use_id") == use:
                gaps += 1
            elif kind != "capture.gap" and (body.get("agent") or {}).get("tool_use_id") == use:
                recorded += 1
    return recorded, gaps


def test_hook_killed_at_any_point_leaves_the_event_or_one_gap(site: Site) -> None:
    """SIGKILL a hook before it sends (waiting for the answer to a question), while it
    sends (a frame larger than the socket buffers, half read), after it sent (no answer
    ever comes), and while it waits for an ack the service gives after the kill. The next
    hook that reaches the service hands over the killed runs' markers: each lost event gets
    exactly one capture.gap, the event recorded after the kill gets none, and a second
    hook run records nothing again."""
    markers = site.spool.parent / "spool.inflight"
    cases = {
        "before": ({"cwd": str(site.workspace), "tool_name": "Bash"}, {"frames": 1}),
        "while": ({"tool_response": {"text": "x" * (4 << 20)}}, {"limit": 1 << 16}),
        "after": ({}, {"frames": 1}),
    }
    for name, (extra, stall) in cases.items():
        staller = Staller(site, **stall)
        try:
            hook = site.as_agent_popen(site.hook_command())
            assert hook.stdin is not None
            e = {**event(90, len(name)), "tool_use_id": f"toolu_killed_{name}", **extra}
            with contextlib.suppress(BrokenPipeError):
                hook.stdin.write(json.dumps(e).encode())
                hook.stdin.close()
            _kill_when(hook, staller.reached.is_set)
        finally:
            staller.close()
        if name == "before":
            assert staller.ops == ["pending"]  # killed before its record frame was sent
        if name == "after":
            assert staller.ops == ["record"]
    assert len(list(markers.iterdir())) == 3  # each killed run left its marker
    service = site.start_service(seal_interval=0.3)
    try:
        # The service commits this event only after the kill: the test holds the write lock.
        holder = sqlite3.connect(site.ledger, isolation_level=None, timeout=60)
        holder.execute("BEGIN IMMEDIATE")
        hook = site.as_agent_popen(site.hook_command())
        e = {**event(91, 0), "tool_use_id": "toolu_killed_acked_later"}
        assert hook.stdin is not None
        hook.stdin.write(json.dumps(e).encode())
        hook.stdin.close()
        _kill_when(hook, lambda: _waiting_for_answer(hook.pid))
        holder.execute("ROLLBACK")
        holder.close()
        for i in range(2):  # the next run hands the markers over; the one after finds none
            run = site.hook(event(92, i))
            assert (run.returncode, run.stderr) == (0, b""), run.stderr
    finally:
        err = stop(service)
    assert "Traceback" not in err
    for name in cases:
        assert _traces(site, f"toolu_killed_{name}") == (0, 1), name
    assert _traces(site, "toolu_killed_acked_later") == (1, 0)
    assert not list(markers.iterdir())

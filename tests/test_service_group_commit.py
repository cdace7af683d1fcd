"""Group commit in the recorder service: the events of many clients share one commit, and
each is acknowledged only after its own group's commit is durable.

A real service process (``affidavit service``), 16 real client connections sending
``record`` frames back to back; SIGKILL the service the moment enough acks came back (others
are in flight, some in a commit), reopen the ledger: every acknowledged event is there, once,
and ``affidavit verify`` passes. The service runs as the test's own account (which account
may read the ledger is test_service_accounts.py's subject). And when the fsync fails, no event
of the group is acknowledged: each client is told why in one line (a hook then spools).
"""

from __future__ import annotations

import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from affidavit.capture import wire
from affidavit.service.recorder import Recorder
from affidavit.service.server import Server
from ledger_helpers import affidavit, cli_env, new_ledger
from service_helpers import wait_listening

WORKERS = 16
ACKS = 480  # acknowledged events before the kill: many groups of several events each
WAIT_S = 120.0  # a bound on waiting, not a timing assertion


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="aff-group-"))  # a short socket path
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _frame(worker: int, i: int) -> dict[str, object]:
    return {
        "op": "record",
        "delivery": f"group-{worker}-{i}",
        "claims": {},
        "event": {
            "session_id": f"session-{worker}",
            "hook_event_name": "PostToolUse",
            "tool_name": "mcp__group__echo",
            "tool_input": {"worker": worker, "i": i},
            "tool_response": {"ok": True},
            "tool_use_id": f"toolu_group_{worker}_{i}",
        },
    }


def test_every_acknowledged_event_survives_a_sigkill(folder: Path) -> None:
    ledger, sock = folder / "ledger.sqlite", folder / "run" / "recorder.sock"
    done = affidavit(ledger, "init", "--origin", "affidavit/test/group-commit")
    assert done.returncode == 0, done.stderr
    service = subprocess.Popen(
        [sys.executable, "-m", "affidavit", "--ledger", str(ledger), "service",
         "--socket", str(sock), "--seal-interval", "3600"],
        env=cli_env(folder / "home"), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    acked: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client(worker: int) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(WAIT_S)
            conn.connect(str(sock))
            for i in range(10_000):
                frame = _frame(worker, i)
                try:
                    wire.send(conn, frame)
                    reply = wire.receive(conn)
                except (OSError, EOFError, wire.FrameError):
                    return  # the service is gone
                if reply is None:
                    return
                assert reply.get("ok") is True, reply
                with lock:
                    acked.append(str(frame["delivery"]))
                    if len(acked) >= ACKS:
                        enough.set()

    try:
        wait_listening(sock, service)
        threads = [threading.Thread(target=client, args=(w,)) for w in range(WORKERS)]
        for t in threads:
            t.start()
        assert enough.wait(WAIT_S), f"only {len(acked)} acks came back"
        service.send_signal(signal.SIGKILL)  # right after the acks, mid-stream for the rest
        service.wait(WAIT_S)
        for t in threads:
            t.join(WAIT_S)
    finally:
        if service.poll() is None:
            service.kill()
        service.communicate()
    with sqlite3.connect(ledger) as conn:
        rows = conn.execute(
            "SELECT tool_use_id FROM tool_uses WHERE tool_use_id LIKE 'delivery:group-%'"
        ).fetchall()
        calls = conn.execute(
            "SELECT tool_use_id, count(*) FROM tool_uses "
            "WHERE tool_use_id LIKE 'toolu_group_%' GROUP BY tool_use_id"
        ).fetchall()
    recorded = {str(r[0]).removeprefix("delivery:") for r in rows}
    assert len(acked) >= ACKS
    lost = sorted(set(acked) - recorded)
    assert not lost, f"{len(lost)} acknowledged events are not in the ledger: {lost[:5]}"
    assert all(n == 1 for _, n in calls)  # each recorded once
    assert len(calls) == len(recorded)
    check = affidavit(ledger, "verify")
    assert check.returncode == 0, check.stdout + check.stderr


class _FailingDisk(Recorder):
    """A ledger on a disk whose fsync fails (EIO), the rest of it working."""

    def sync(self) -> None:
        raise OSError(5, "Input/output error")


def test_a_failed_fsync_acknowledges_nothing_and_says_why(folder: Path) -> None:
    server = Server(
        lambda: _FailingDisk(new_ledger(folder)), str(folder / "s.sock"), seal_interval=3600
    )
    server.bind()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    assert server.ready.wait(WAIT_S)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(WAIT_S)
            conn.connect(str(folder / "s.sock"))
            for i in range(2):  # and the service goes on answering
                wire.send(conn, _frame(0, i))
                reply = wire.receive(conn)
                assert reply is not None and reply["ok"] is False, reply
                error = str(reply["error"])
                assert error.startswith("not recorded durably: fsync of the ledger's log failed")
                assert "Input/output error" in error and "\n" not in error
    finally:
        server.stop()
        thread.join(WAIT_S)

"""A hook killed while it holds an event leaves a trace: the next run records a capture.gap.

Real processes and a real SIGKILL: the test holds the ledger's write lock so the hook waits
inside its run with the event read and nothing written, kills it there, and checks that the
next hook run records which event of which session was lost, once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from affidavit.capture import inflight
from ledger_helpers import new_ledger
from test_hook import QUIET, hook_env, read_records, send, tool_event

SESSION = "5668ec28-8187-4443-bfc9-b89bf23120bc"  # test_hook.tool_event's session


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    new_ledger(tmp_path).close()
    return tmp_path / "ledger.sqlite"


def _wait_for(predicate: object, what: str, seconds: float = 60.0) -> None:
    """Poll until ``predicate()`` holds; fail naming ``what`` (a deadline, not a timing
    assert: on a slow machine it only waits longer)."""
    assert callable(predicate)
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _markers(ledger: Path) -> list[Path]:
    folder = Path(inflight.folder_of(str(ledger)))
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_hook_killed_holding_its_event_becomes_a_capture_gap(
    ledger: Path, tmp_path: Path
) -> None:
    event = tool_event("PreToolUse", "Bash", {"command": "make deploy"}, "toolu_lost", tmp_path)
    before = read_records(ledger)
    holder = sqlite3.connect(ledger, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # the hook will wait for this lock with its event read
    hook = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "affidavit",
            "hook",
            "--ledger",
            str(ledger),
            "--busy-timeout",
            "600",
            *QUIET,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=hook_env(tmp_path / "home"),
    )
    try:
        assert hook.stdin is not None
        hook.stdin.write(json.dumps(event).encode())
        hook.stdin.close()
        _wait_for(
            lambda: any(p.name.startswith(f"{hook.pid}-") for p in _markers(ledger)),
            "the hook's in-flight marker",
        )
        [marker] = _markers(ledger)
        assert stat.S_IMODE(marker.stat().st_mode) == 0o600
        assert stat.S_IMODE(marker.parent.stat().st_mode) == 0o700
        assert b"make deploy" not in marker.read_bytes()  # which event, never what it said
        hook.send_signal(signal.SIGKILL)
        assert hook.wait() == -signal.SIGKILL
    finally:
        hook.kill()
        hook.wait()
        holder.execute("ROLLBACK")
        holder.close()
    assert read_records(ledger) == before  # the event was lost, and nothing says so yet

    send(ledger, tool_event("PostToolUse", "Read", {}, "toolu_next", None), *QUIET)
    new = read_records(ledger)[len(before) :]
    [gap] = [r for r in new if r.kind == "capture.gap"]
    assert gap.payload["gap"]["hook_event_name"] == "PreToolUse"
    assert gap.payload["gap"]["tool_use_id"] == "toolu_lost"
    assert gap.payload["gap"]["tool_name"] == "Bash"
    assert gap.payload["gap"]["pid"] == hook.pid
    assert gap.payload["agent"]["session_id"] == SESSION
    assert gap.payload["gap"]["started"].endswith("Z")
    assert "killed" in gap.payload["gap"]["reason"]
    assert "make deploy" not in json.dumps(gap.payload)
    assert _markers(ledger) == []

    send(ledger, tool_event("PostToolUse", "Read", {}, "toolu_after", None), *QUIET)
    later = read_records(ledger)[len(before) + len(new) :]
    assert "capture.gap" not in [r.kind for r in later]  # recorded once


KILLED_AFTER_SPOOLING = """
import io, json, os, sys
from affidavit.capture import direct
from affidavit.capture.options import parse_options
# Die exactly where the run would drop its marker, after it spooled the event.
direct.Capture.release = lambda self: os._exit(0)
opts = parse_options(["--ledger", sys.argv[1], "--busy-timeout", "0.05"])
direct.Capture(opts).run(sys.stdin.buffer.read())
"""


def test_a_hook_killed_after_spooling_its_event_is_no_gap(ledger: Path, tmp_path: Path) -> None:
    """The ledger is locked, so the run spools its event, and dies before it drops its
    marker: the next run replays the event once and records no gap for it."""
    event = tool_event("PreToolUse", "Bash", {"command": "make test"}, "toolu_spooled", tmp_path)
    holder = sqlite3.connect(ledger, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        run = subprocess.run(
            [sys.executable, "-c", KILLED_AFTER_SPOOLING, str(ledger)],
            input=json.dumps(event).encode(),
            capture_output=True,
            env=hook_env(tmp_path / "home"),
            timeout=120,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert run.returncode == 0, run.stderr
    assert b"busy" in run.stderr  # it spooled, saying why
    assert len(_markers(ledger)) == 1  # and died holding its marker
    before = read_records(ledger)
    send(ledger, tool_event("PostToolUse", "Read", {}, "toolu_next", None), *QUIET)
    new = read_records(ledger)[len(before) :]
    assert "capture.gap" not in [r.kind for r in new]
    replayed = [
        r for r in new if (r.payload.get("agent") or {}).get("tool_use_id") == "toolu_spooled"
    ]
    assert len(replayed) == 1
    assert _markers(ledger) == []


def test_a_finished_run_leaves_no_marker(ledger: Path, tmp_path: Path) -> None:
    send(ledger, tool_event("PostToolUse", "Read", {}, "toolu_1", None), *QUIET)
    assert _markers(ledger) == []
    assert "capture.gap" not in [r.kind for r in read_records(ledger)]


HOLDER = """
import sys, time
from affidavit.capture import inflight
marker = inflight.Marker.create(sys.argv[1], {"hook_event_name": "Stop", "session_id": "s"})
print(marker.path, flush=True)
time.sleep(600)
"""


def test_the_lock_says_who_is_alive_not_the_pid(tmp_path: Path) -> None:
    """A live holder's marker is not an orphan; once it is killed, it is. A marker with a
    live pid (ours) that nobody locks is an orphan too: a reused pid hides nothing."""
    ledger = str(tmp_path / "ledger.sqlite")
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, ledger], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        path = child.stdout.readline().strip()
        assert path and inflight.orphans(ledger) == []
        child.send_signal(signal.SIGKILL)
        child.wait()
        [(name, facts)] = inflight.orphans(ledger)
        assert Path(path).name == name and facts["hook_event_name"] == "Stop"
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    os.unlink(path)
    reused = Path(inflight.folder_of(ledger)) / f"{os.getpid()}-1"
    reused.write_text(json.dumps({"hook_event_name": "Stop"}))
    assert [n for n, _ in inflight.orphans(ledger)] == [reused.name]
    # Empty and unlocked with a live pid: a marker being created this instant.
    reused.write_text("")
    assert inflight.orphans(ledger) == []

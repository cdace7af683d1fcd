"""In-flight markers handed to the recorder service: a gap for each lost event, none for an
event that reached the ledger another way, and never two for one marker.

Markers are left by real processes that exit without removing theirs (as a SIGKILL leaves
them: the kernel drops their lock); the service runs in-process on a real socket and ledger
(see test_service_limits), the hooks are real ``affidavit hook`` processes. The kills at
each point of a real hook run are in tests/test_service_crash.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from affidavit.capture import inflight, spool
from affidavit.capture.failure import spool_entry
from test_hook import read_records
from test_service_limits import _hook, _serve
from test_service_limits import folder as folder  # the fixture

LEAVE_MARKER = """
import json, os, sys
from affidavit.capture import inflight
inflight.Marker.create(sys.argv[1], json.loads(sys.argv[2]))
os._exit(0)  # as a kill would: the marker stays, its lock goes with the process
"""


def _leave_marker(base: Path, facts: dict[str, object]) -> None:
    subprocess.run([sys.executable, "-c", LEAVE_MARKER, str(base), json.dumps(facts)], check=True)


def _event(use: str) -> dict[str, object]:
    return {
        "session_id": "gaps",
        "hook_event_name": "PostToolUse",
        "tool_name": "mcp__gaps__echo",
        "tool_input": {},
        "tool_response": {"ok": True},
        "tool_use_id": use,
    }


@pytest.fixture
def served(folder: Path) -> Iterator[Path]:
    server, thread = _serve(folder)
    try:
        yield folder
    finally:
        server.stop()
        thread.join(60)


def _gaps(folder: Path) -> list[dict[str, object]]:
    return [
        r.payload["gap"] for r in read_records(folder / "ledger.sqlite") if r.kind == "capture.gap"
    ]


def test_a_lost_event_gets_one_gap_and_a_spooled_one_none(served: Path) -> None:
    base = served / "user"
    # Killed before anything took its event: a gap.
    _leave_marker(base, {"tool_use_id": "toolu_lost", "delivery": "d" * 32, "pid": 1})
    # Killed after it spooled its event and before it dropped its marker: the spool has the
    # event (with the delivery id), so no gap.
    raw = json.dumps(_event("toolu_spooled")).encode()
    entry = spool_entry(raw, "recorder service: gone", "2026-12-06T00:00:00Z")
    entry["delivery"] = "e" * 32
    spool.write(str(base), entry)
    _leave_marker(base, {"tool_use_id": "toolu_spooled", "delivery": "e" * 32, "pid": 1})
    assert len(list(Path(inflight.folder_of(str(base))).iterdir())) == 2
    for i in range(2):  # the first run hands everything over; the second finds nothing
        run = _hook(served, f"toolu_next_{i}")
        assert (run.returncode, run.stderr) == (0, b""), run.stderr
    gaps = _gaps(served)
    assert [g.get("tool_use_id") for g in gaps] == ["toolu_lost"]
    assert "killed" in str(gaps[0]["reason"])
    spooled = [
        r
        for r in read_records(served / "ledger.sqlite")
        if (r.payload.get("agent") or {}).get("tool_use_id") == "toolu_spooled"
    ]
    assert len(spooled) == 1  # drained once
    assert not list(Path(inflight.folder_of(str(base))).iterdir())
    assert not list((served / "user.spool").glob("*.json"))


def test_a_forged_marker_report_is_refused_in_one_line(served: Path) -> None:
    import socket
    import struct

    bad = {"op": "gaps", "markers": [{"name": "../../etc/passwd", "facts": {}}]}
    body = json.dumps(bad).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(60)
        conn.connect(str(served / "s.sock"))
        conn.sendall(struct.pack(">I", len(body)) + body)
        head = conn.recv(4, socket.MSG_WAITALL)
        reply = json.loads(conn.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL))
    assert reply["ok"] is False
    assert "markers[0].name" in reply["error"] and "\n" not in reply["error"]
    assert _gaps(served) == []

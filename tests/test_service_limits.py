"""The recorder service's limits: a client over the connection limit is refused in one line
and its hook spools the event (the next hook hands it over, recorded once); a client that
sends nothing is closed after the read deadline; an oversized frame is refused unread.

The service runs in-process (:class:`affidavit.service.server.Server` on a real Unix socket
and a real ledger); the hooks are real ``affidavit hook`` processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from affidavit.service.recorder import Recorder
from affidavit.service.server import Server
from ledger_helpers import new_ledger
from test_hook import hook_env, read_records


def _serve(folder: Path, **limits: float) -> tuple[Server, threading.Thread]:
    server = Server(
        lambda: Recorder(new_ledger(folder)),
        str(folder / "s.sock"),
        seal_interval=3600,
        max_connections=int(limits.get("max_connections", 64)),
        read_deadline=limits.get("read_deadline", 30.0),
    )
    server.bind()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    assert server.ready.wait(60)
    return server, thread


@pytest.fixture
def folder() -> Iterator[Path]:
    # A short path: a Unix socket's address is at most 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="aff-limits-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _reply(conn: socket.socket) -> dict[str, object]:
    head = conn.recv(4, socket.MSG_WAITALL)
    assert len(head) == 4, "the service closed without a line"
    body = conn.recv(struct.unpack(">I", head)[0], socket.MSG_WAITALL)
    value = json.loads(body)
    assert isinstance(value, dict)
    return value


def _hook(folder: Path, use: str) -> subprocess.CompletedProcess[bytes]:
    event = {
        "session_id": "limits",
        "hook_event_name": "PostToolUse",
        "tool_name": "mcp__limits__echo",
        "tool_input": {},
        "tool_response": {"ok": True},
        "tool_use_id": use,
    }
    env = {**hook_env(folder / "home"), "AFFIDAVIT_SPOOL": str(folder / "user")}
    ledger, sock = str(folder / "ledger.sqlite"), str(folder / "s.sock")
    return subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", ledger, "--socket", sock],
        input=json.dumps(event).encode(),
        capture_output=True,
        env=env,
        timeout=120,
    )


def test_a_client_over_the_limit_is_refused_and_its_event_kept(folder: Path) -> None:
    server, thread = _serve(folder, max_connections=2)
    idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    try:
        for conn in idle:
            conn.connect(str(folder / "s.sock"))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as third:
            third.settimeout(60)
            third.connect(str(folder / "s.sock"))
            reply = _reply(third)
        assert reply["ok"] is False
        error = str(reply["error"])
        assert "busy" in error and "2 connections" in error and "\n" not in error
        refused = _hook(folder, "toolu_refused")
        assert refused.returncode == 0
        assert b"busy" in refused.stderr  # one line saying why
        spooled = list((folder / "user.spool").glob("*.json"))
        assert len(spooled) == 1
        for conn in idle:
            conn.close()
        run = _hook(folder, "toolu_after")  # acknowledged; hands the spool over
        assert (run.returncode, run.stderr) == (0, b""), run.stderr
    finally:
        for conn in idle:
            conn.close()
        server.stop()
        thread.join(60)
    sources: dict[str, list[str]] = {}
    for rec in read_records(folder / "ledger.sqlite"):
        use = (rec.payload.get("agent") or {}).get("tool_use_id")
        if use in ("toolu_refused", "toolu_after") and rec.kind == "tool.call":
            sources.setdefault(use, []).append(rec.kind)
    assert sorted(sources) == ["toolu_after", "toolu_refused"]
    assert all(len(kinds) == 1 for kinds in sources.values()), sources
    assert not list((folder / "user.spool").glob("*.json"))


def test_a_silent_client_is_closed_after_the_read_deadline(folder: Path) -> None:
    server, thread = _serve(folder, read_deadline=0.5)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(60)
            conn.connect(str(folder / "s.sock"))
            conn.sendall(b"\x00\x00")  # half a frame header, then nothing
            reply = _reply(conn)
            assert conn.recv(1) == b""  # and closed
        assert reply["ok"] is False
        assert "no request within 0.5 s" in str(reply["error"])
        # The service goes on serving.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(60)
            conn.connect(str(folder / "s.sock"))
            body = json.dumps({"op": "meta", "key": "conventions:/x"}).encode()
            conn.sendall(struct.pack(">I", len(body)) + body)
            assert _reply(conn) == {"ok": True, "value": None}
    finally:
        server.stop()
        thread.join(60)
    assert not os.path.exists(folder / "s.sock")


def test_an_oversized_frame_is_refused_before_it_is_read(folder: Path) -> None:
    server, thread = _serve(folder)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(60)
            conn.connect(str(folder / "s.sock"))
            conn.sendall(struct.pack(">I", 2**31) + b"{")
            reply = _reply(conn)
        assert reply["ok"] is False
        assert "over the" in str(reply["error"]) and "limit" in str(reply["error"])
    finally:
        server.stop()
        thread.join(60)

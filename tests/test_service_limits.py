"""The recorder service's limits: a client over the connection limit, or over its user's
share of it, or whose frame would pass the cap on queued request bytes, is refused in one
line and its hook spools the event (the next hook hands it over, recorded once); a client
that sends nothing is closed after the read deadline; an oversized frame is refused unread.

The service runs in-process (:class:`affidavit.service.server.Server` on a real Unix socket
and a real ledger); the hooks are real ``affidavit hook`` processes.
"""

from __future__ import annotations

import contextlib
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
        max_per_user=int(limits.get("max_per_user", 0)) or None,
        max_queued_bytes=int(limits.get("max_queued_bytes", 256 * 2**20)),
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
    server, thread = _serve(folder, max_connections=2, max_per_user=2)
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


def _spooled_then_handed_over(folder: Path, refused_use: str, why: str) -> None:
    """A hook refused now spools its event with the reason; a later one hands it over."""
    refused = _hook(folder, refused_use)
    assert refused.returncode == 0
    assert why.encode() in refused.stderr, refused.stderr  # one line saying why
    assert len(list((folder / "user.spool").glob("*.json"))) == 1


def _recorded_once(folder: Path, *uses: str) -> None:
    found: dict[str, int] = {}
    for rec in read_records(folder / "ledger.sqlite"):
        use = (rec.payload.get("agent") or {}).get("tool_use_id")
        if use in uses and rec.kind == "tool.call":
            found[use] = found.get(use, 0) + 1
    assert found == dict.fromkeys(uses, 1), found
    assert not list((folder / "user.spool").glob("*.json"))


def test_one_user_cannot_take_every_slot(folder: Path) -> None:
    server, thread = _serve(folder, max_connections=4)  # a share of 2 per uid, by default
    assert server.admission.max_per_user == 2
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
        assert error.startswith(f"busy: uid {os.getuid()} has 2 connections open, its share")
        assert "\n" not in error
        _spooled_then_handed_over(folder, "toolu_share", "its share")
        for conn in idle:
            conn.close()
        run = _hook(folder, "toolu_share_after")  # acknowledged; hands the spool over
        assert (run.returncode, run.stderr) == (0, b""), run.stderr
    finally:
        for conn in idle:
            conn.close()
        server.stop()
        thread.join(60)
    _recorded_once(folder, "toolu_share", "toolu_share_after")


_OTHER_USER = """
import json, socket, struct, sys
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
    s.settimeout(60)
    s.connect(sys.argv[1])
    body = json.dumps({"op": "meta", "key": "conventions:/x"}).encode()
    s.sendall(struct.pack(">I", len(body)) + body)
    size = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
    print(s.recv(size, socket.MSG_WAITALL).decode())
"""


def test_another_user_is_served_while_one_holds_its_share(folder: Path) -> None:
    from service_helpers import PYTHON, Account, need_root

    need_root()
    other = Account.make("afftest-agent")
    server, thread = _serve(folder, max_connections=4)
    folder.chmod(0o755)
    (folder / "s.sock").chmod(0o666)
    idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    try:
        for conn in idle:
            conn.connect(str(folder / "s.sock"))
        done = subprocess.run(
            [PYTHON, "-I", "-c", _OTHER_USER, str(folder / "s.sock")],
            user=other.uid,
            group=other.gid,
            extra_groups=[],
            capture_output=True,
            timeout=60,
            cwd="/",
        )
    finally:
        for conn in idle:
            conn.close()
        server.stop()
        thread.join(60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "value": None}


def test_frames_over_the_queued_bytes_cap_are_refused_unread(folder: Path) -> None:
    server, thread = _serve(folder, max_queued_bytes=1000)
    body = json.dumps({"op": "meta", "key": "conventions:/" + "x" * 700}).encode()
    assert 700 < len(body) < 1000
    path = str(folder / "s.sock")
    try:
        with (
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as holding,
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as late,
        ):
            holding.settimeout(60)
            late.settimeout(60)
            holding.connect(path)
            late.connect(path)
            # Half a frame: its whole announced size is held from its header on.
            holding.sendall(struct.pack(">I", len(body)) + body[:100])
            small = json.dumps({"op": "meta", "key": "conventions:/" + "y" * 300}).encode()
            deadline = 600  # bounded wait for the service to count the header (no timing)
            while server.admission.queued == 0 and deadline:
                threading.Event().wait(0.05)
                deadline -= 1
            assert server.admission.queued == len(body)
            late.sendall(struct.pack(">I", len(small)) + small)
            reply = _reply(late)
            assert reply["ok"] is False
            error = str(reply["error"])
            assert error.startswith(f"busy: {len(body)} bytes of requests queued; this ")
            assert "1000-byte limit" in error and "\n" not in error
            with contextlib.suppress(ConnectionResetError):  # a reset: its body left unread
                assert late.recv(1) == b""  # and closed
            holding.sendall(body[100:])
            assert _reply(holding) == {"ok": True, "value": None}
        assert server.admission.queued == 0  # answered: its bytes are free again
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as again:
            again.settimeout(60)
            again.connect(path)
            again.sendall(struct.pack(">I", len(small)) + small)
            assert _reply(again) == {"ok": True, "value": None}
        # A hook whose frame cannot fit spools its event, with the reason.
        refused = _hook(folder, "toolu_" + "z" * 1200)
        assert refused.returncode == 0
        assert b"1000-byte limit" in refused.stderr, refused.stderr
        assert len(list((folder / "user.spool").glob("*.json"))) == 1
    finally:
        server.stop()
        thread.join(60)

"""The agent's account against the recorder service's, with real accounts and processes.

What the README's security model says the agent's account cannot do in service mode, each
tried here for real: read the key, write the ledger, sign through the CLI, and pass itself
off as someone else over the socket. Needs root to make the accounts (see service_helpers).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import pytest

from service_helpers import PYTHON, Site, frame, make_site, stop, write_event


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    yield from make_site()


@pytest.fixture(scope="module")
def service(site: Site) -> Iterator[subprocess.Popen[bytes]]:
    proc = site.start_service()
    yield proc
    stop(proc)


def test_agent_cannot_read_the_key(site: Site) -> None:
    probe = f"open({str(site.key)!r}, 'rb').read()"
    run = site.as_agent([PYTHON, "-c", probe])
    assert run.returncode != 0
    assert b"PermissionError" in run.stderr


def test_agent_cannot_write_the_ledger(site: Site) -> None:
    probe = (
        f"import sqlite3; c = sqlite3.connect({str(site.ledger)!r}); "
        'c.execute("UPDATE records SET payload = NULL"); c.commit()'
    )
    run = site.as_agent([PYTHON, "-c", probe])
    assert run.returncode != 0
    assert b"unable to open database" in run.stderr or b"Permission" in run.stderr


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["seal"], b""),
        (["attest", "backup_rollback", "--by", "Mallory", "--note", "forged"], b""),
        (["drill"], b""),
        (["review", "--attendee", "Mallory"], b""),
        (["erase", "0", "--reason", "cover tracks", "--yes"], b""),
        (["facts", "verify", "--by", "Mallory"], b""),
        (["append", "-"], b'{"kind": "note", "source": "x", "payload": {}}\n'),
    ],
    ids=["seal", "attest", "drill", "review", "erase", "facts-verify", "append"],
)
def test_privileged_commands_are_refused_in_one_line(
    site: Site, args: list[str], stdin: bytes
) -> None:
    run = site.cli_as_agent(*args, stdin=stdin)
    err = run.stderr.decode()
    assert run.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "refused" in lines[0]
    assert "uid" in lines[0]
    assert "Traceback" not in err


def test_forged_record_is_recorded_with_the_real_peer(
    site: Site, service: subprocess.Popen[bytes]
) -> None:
    """A process of the agent's account speaks the protocol itself and lies about its user."""
    forged = {
        "op": "record",
        "claims": {"user": "root", "email": "ceo@example.com"},
        "event": {
            "session_id": "forged",
            "hook_event_name": "UserPromptSubmit",
            "prompt": "nothing to see",
            "actor": {"user": "root"},
        },
    }
    script = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "s.sendall(sys.stdin.buffer.read())\n"
        "import struct\n"
        "n = struct.unpack('>I', s.recv(4, socket.MSG_WAITALL))[0]\n"
        "sys.stdout.buffer.write(s.recv(n, socket.MSG_WAITALL))\n"
    )
    run = site.as_agent([PYTHON, "-c", script, str(site.socket)], input=frame(forged))
    reply = json.loads(run.stdout)
    assert reply["ok"] is True, reply
    start, stop_ = reply["seqs"]
    rows = {seq: payload for seq, _, payload in site.records()}
    actors = [rows[s]["actor"] for s in range(start, stop_)]
    assert actors
    for actor in actors:
        assert actor["uid"] == site.agent.uid
        assert actor["user"] == site.agent.name
        assert actor["claimed"]["user"] == "root"  # kept, labelled, never trusted


def test_hook_records_through_the_service(site: Site, service: subprocess.Popen[bytes]) -> None:
    target = site.workspace / "notes.txt"
    site.as_agent([PYTHON, "-c", f"open({str(target)!r}, 'w').write('hello')"])
    run = site.hook(write_event(target, "toolu_via_service", "hello"))
    assert run.returncode == 0, run.stderr
    assert run.stderr == b""
    found = [
        (source, p)
        for _, source, p in site.records()
        if (p.get("agent") or {}).get("tool_use_id") == "toolu_via_service"
    ]
    assert [s for s, _ in found] == ["claude-code.hook"]
    assert found[0][1]["actor"]["uid"] == site.agent.uid
    with site.read() as conn:  # the content the hook alone could read, kept by the service
        sha = found[0][1]["file"]["after_sha256"]
        assert conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha,)).fetchone()


def test_edit_and_shell_delete_through_the_service(
    site: Site, service: subprocess.Popen[bytes]
) -> None:
    """PreToolUse state lives in the service's ledger: an Edit's before-hash and a shell
    command's manifest come back for the PostToolUse, and a deleted file keeps its hash."""
    import hashlib

    target = site.workspace / "plan.md"
    write = f"open({str(target)!r}, 'w').write(__import__('sys').argv[1])"
    site.as_agent([PYTHON, "-c", write, "one"])
    base = {"session_id": "s-2", "cwd": str(site.workspace)}
    edit = {**base, "tool_name": "Edit", "tool_use_id": "toolu_edit_svc"}
    edit["tool_input"] = {"file_path": str(target), "old_string": "one", "new_string": "two"}
    assert site.hook({**edit, "hook_event_name": "PreToolUse"}).returncode == 0
    site.as_agent([PYTHON, "-c", write, "two"])
    post = {**edit, "hook_event_name": "PostToolUse", "tool_response": {"filePath": str(target)}}
    assert site.hook(post).stderr == b""
    bash = {**base, "tool_name": "Bash", "tool_use_id": "toolu_rm_svc"}
    bash["tool_input"] = {"command": f"rm {target}"}
    assert site.hook({**bash, "hook_event_name": "PreToolUse"}).stderr == b""
    site.as_agent(["rm", str(target)])
    done = {**bash, "hook_event_name": "PostToolUse", "tool_response": {"stdout": ""}}
    assert site.hook(done).stderr == b""
    one, two = (hashlib.sha256(t).hexdigest() for t in (b"one", b"two"))
    files = {}
    for _, _, p in site.records():
        use = (p.get("agent") or {}).get("tool_use_id")
        if use in ("toolu_edit_svc", "toolu_rm_svc") and p.get("file"):
            files[(use, p["agent"].get("event"))] = p["file"]
    assert files[("toolu_edit_svc", "PostToolUse")]["before_sha256"] == one
    assert files[("toolu_edit_svc", "PostToolUse")]["after_sha256"] == two
    deleted = files[("toolu_rm_svc", "PostToolUse")]
    assert deleted == {"path": str(target), "before_sha256": two}
    with site.read() as conn:  # no pending state left behind, and it was kept per uid
        assert conn.execute("SELECT count(*) FROM pending").fetchone()[0] == 0


def test_malformed_frames_get_one_line_and_change_nothing(
    site: Site, service: subprocess.Popen[bytes]
) -> None:
    before = len(site.records())
    bad = [
        frame(b"not json"),
        frame(b"[1, 2]"),
        b"\xff\xff\xff\xff",  # announces 4 GiB: refused before reading it
        frame({"op": "record", "event": {"hook_event_name": "X"}, "blobs": [["00", 1, None]]}),
        frame({"op": "record", "event": {}, "extra": [["file.update", "not an object"]]}),
        frame({"op": "drop-table"}),
    ]
    for data in bad:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(str(site.socket))
            s.sendall(data)
            head = s.recv(4, socket.MSG_WAITALL)
            body = s.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
        reply = json.loads(body)
        assert reply["ok"] is False
        assert "\n" not in reply["error"] and reply["error"]
    assert len(site.records()) == before


def test_forged_content_hash_is_refused(site: Site, service: subprocess.Popen[bytes]) -> None:
    """Bytes sent under another content's hash would be restored by a rollback: refused."""
    import base64
    import hashlib
    import zlib

    sha = hashlib.sha256(b"the real content").hexdigest()
    data = base64.b64encode(zlib.compress(b"planted")).decode()
    msg = {"op": "record", "event": {"hook_event_name": "Stop"}, "blobs": [[sha, 7, data]]}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(site.socket))
        s.sendall(frame(msg))
        head = s.recv(4, socket.MSG_WAITALL)
        reply = json.loads(s.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL))
    assert reply["ok"] is False
    assert "does not hash to" in reply["error"]
    with site.read() as conn:
        assert conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha,)).fetchone() is None


_ASK = (
    "import json, socket, struct, sys\n"
    "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
    "body = sys.stdin.buffer.read(); s.sendall(struct.pack('>I', len(body)) + body)\n"
    "n = struct.unpack('>I', s.recv(4, socket.MSG_WAITALL))[0]\n"
    "sys.stdout.buffer.write(s.recv(n, socket.MSG_WAITALL))\n"
)


def _ask_as(site: Site, uid: int, gid: int, message: dict[str, object]) -> dict[str, object]:
    """One request over the socket from a process of account ``uid``; the service's reply."""
    run = subprocess.run(
        [PYTHON, "-c", _ASK, str(site.socket)],
        input=json.dumps(message).encode(),
        user=uid,
        group=gid,
        extra_groups=[site.agent.gid],  # in the socket's group, as a served user would be
        env=site.agent_env(),
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    reply = json.loads(run.stdout)
    assert isinstance(reply, dict)
    return reply


def test_other_account_cannot_recall_a_file_hash(
    site: Site, service: subprocess.Popen[bytes]
) -> None:
    """The service caches each file's hash under its stat for later diffs. The account that
    recorded the file gets it back; another account in the socket's group, asking with the
    same path and stat (which it can learn without reading the file), gets nothing."""
    import hashlib
    import os

    target = site.workspace / "private.txt"
    secret = "pin 4711"
    write = f"import os; os.umask(0o077); open({str(target)!r}, 'w').write({secret!r})"
    site.as_agent([PYTHON, "-c", write])
    assert site.hook(write_event(target, "toolu_private", secret)).stderr == b""
    st = os.stat(target)
    ask = {"op": "recall", "items": [[str(target), [st.st_size, st.st_mtime_ns, st.st_ino]]]}
    own = _ask_as(site, site.agent.uid, site.agent.gid, ask)
    assert own == {"ok": True, "hashes": [hashlib.sha256(secret.encode()).hexdigest()]}
    other = _ask_as(site, site.service.uid, site.service.gid, ask)
    assert other == {"ok": True, "hashes": [None]}


def test_spool_mode_then_drained_by_the_service(
    site: Site, service: subprocess.Popen[bytes]
) -> None:
    """No service: the agent cannot write the ledger, so the event goes to its 0600 spool;
    the next hook that reaches the service hands it over, recorded as from the spool."""
    stop(service)
    target = site.workspace / "offline.txt"
    run = site.hook(write_event(target, "toolu_offline", "x"))
    assert run.returncode == 0
    files = list((site.spool.parent / "spool.spool").glob("*.json"))
    assert len(files) == 1
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert files[0].stat().st_uid == site.agent.uid
    proc = site.start_service()
    try:
        run = site.hook(write_event(target, "toolu_online", "x"))
        assert run.returncode == 0
    finally:
        stop(proc)
    folder = site.spool.parent / "spool.spool"
    assert not [*folder.glob("*.json"), *folder.glob("*.claimed")]  # handed over, deleted
    by_use = {}
    for _, source, p in site.records():
        use = (p.get("agent") or {}).get("tool_use_id")
        if use in ("toolu_offline", "toolu_online"):
            by_use[use] = (source, p["actor"]["uid"])
    assert by_use == {
        "toolu_offline": ("claude-code.spool", site.agent.uid),
        "toolu_online": ("claude-code.hook", site.agent.uid),
    }


def test_ledger_verifies_after_service_use(site: Site) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "affidavit", "--ledger", str(site.ledger), "verify"],
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(f"file:{site.ledger}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] >= 1


def test_every_test_the_security_model_names_exists() -> None:
    """The README backs each "cannot" with a test name: each must be a real test here."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent
    readme = (root.parent / "README.md").read_text()
    named = set(re.findall(r"`(test_[a-z_]+)`", readme))
    assert len(named) >= 7
    defined = set()
    for name in ("test_service_accounts.py", "test_service_crash.py"):
        defined |= set(re.findall(r"^def (test_[a-z_]+)", (root / name).read_text(), re.M))
    assert named <= defined, named - defined

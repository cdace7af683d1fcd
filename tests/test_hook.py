"""Tests for ``affidavit hook``: one hook payload on stdin → the records it implies, durably.

Every hook run here is the real command in a subprocess (``python -m affidavit hook``), with
HOME and the XDG folders under ``tmp_path``, fed real Claude Code payloads from
``../shared/fixtures/`` (read in place) or events built on their shape. The expected counts
come from ``../shared/fixtures/expected.json``, never from this file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from affidavit.capture import events
from affidavit.capture.events import source_event
from affidavit.capture.hook import MAX_STDIN
from affidavit.ledger import Ledger
from conftest import shared_path
from ledger_helpers import affidavit, cli_env, new_ledger

USER = "affidavit-tester"
HOOK_DIRS = (
    ("RonKat2008__agent-verdict", "tests", "fixtures", "hooks"),
    ("kontext-security__kontext", "internal", "hookruntime", "testdata"),
)
QUIET = ("--seal-interval", "3600")  # no detached seal unless a test asks for one
FILE_WRITERS = ("Write", "Edit", "NotebookEdit", "MultiEdit")


# -- helpers shared with test_rollback.py and test_conventions.py -------------------------


@dataclass(frozen=True, slots=True)
class Rec:
    seq: int
    kind: str
    payload: dict[str, Any]


def hook_env(home: Path) -> dict[str, str]:
    """The hook's environment: user folders under ``home``, a known user name."""
    env = cli_env(home)
    env["USER"] = USER
    # A cloud session's variables would make every record say surface "remote".
    for name in ("USERNAME", "CLAUDE_CONFIG_DIR", *events.SESSION_ENV):
        env.pop(name, None)
    return env


def run_hook(
    ledger: Path, stdin: bytes, *args: str, home: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m affidavit hook --ledger LEDGER ARGS...`` with ``stdin`` as its input."""
    return subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", str(ledger), *args],
        input=stdin,
        capture_output=True,
        env=hook_env(home or ledger.parent / "home"),
        check=False,
    )


def send(ledger: Path, event: dict[str, Any], *args: str, home: Path | None = None) -> None:
    """Run the hook on one event and check it said nothing and exited 0."""
    done = run_hook(ledger, json.dumps(event).encode(), *args, home=home)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def read_records(ledger: Path, start: int = 0) -> list[Rec]:
    with Ledger.open(ledger, readonly=True) as opened:
        out = []
        for seq in range(start, opened.store.size()):
            record = opened.record(seq)
            out.append(Rec(seq, str(record.envelope.kind), record.payload or {}))
        return out


def size_of(ledger: Path) -> int:
    with Ledger.open(ledger, readonly=True) as opened:
        return opened.store.size()


def blob_hashes(ledger: Path) -> set[str]:
    conn = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT sha256 FROM blobs")}
    finally:
        conn.close()


def seal_and_verify(ledger: Path) -> None:
    done = affidavit(ledger, "seal")
    assert done.returncode == 0, done.stderr
    with Ledger.open(ledger, readonly=True) as opened:
        report = opened.verify()
        assert report.tree_size == report.records == opened.store.size()


def tool_event(
    name: str, tool: str, tool_input: dict[str, Any], use_id: str, cwd: Path | None, **extra: Any
) -> dict[str, Any]:
    """A tool event in Claude Code's shape (the fixtures'), for a tool call ``use_id``."""
    event: dict[str, Any] = {
        "session_id": "5668ec28-8187-4443-bfc9-b89bf23120bc",
        "transcript_path": "/home/someone/.claude/projects/p/5668ec28.jsonl",
        "permission_mode": "acceptEdits",
        "prompt_id": "b6027b00-cda7-421e-a049-e52ae7462dd1",
        "hook_event_name": name,
        "tool_name": tool,
        "tool_input": tool_input,
        "tool_use_id": use_id,
        **extra,
    }
    if cwd is not None:
        event["cwd"] = str(cwd)
    return event


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    new_ledger(tmp_path).close()
    return tmp_path / "ledger.sqlite"


# -- the real payloads ----------------------------------------------------------------------

LIFECYCLE = {"SessionStart": 0, "UserPromptSubmit": 1, "PreToolUse": 2, "SubagentStop": 4}
LIFECYCLE |= {"Stop": 5, "SessionEnd": 6}
TOOL_KINDS = {
    "Read": "file.read",
    "Bash": "command.exec",
    "PowerShell": "command.exec",
    "WebFetch": "web.fetch",
    "WebSearch": "web.search",
    "Agent": "agent.spawn",
    "Task": "agent.spawn",
}
EVENT_KINDS = {
    "UserPromptSubmit": "prompt.submit",
    "PermissionRequest": "permission.decision",
    "PermissionDenied": "permission.decision",
    "SessionStart": "session.start",
    "SessionEnd": "session.end",
}


def expected_kind(event: dict[str, Any]) -> str:
    """The record kind the issue specifies for an event."""
    name, tool = event["hook_event_name"], event.get("tool_name")
    if name == "PreToolUse":
        return "tool.intent"
    if name in ("PostToolUse", "PostToolUseFailure"):
        if tool in FILE_WRITERS:
            response = event.get("tool_response") or {}
            return "file.create" if response.get("type") == "create" else "file.update"
        return TOOL_KINDS.get(str(tool), "tool.call")
    return EVENT_KINDS.get(name, "agent.event")


@dataclass(frozen=True, slots=True)
class Replayed:
    ledger: Path
    expected: dict[str, dict[str, Any]]  # fixture name → its expected.json entry
    events: dict[str, dict[str, Any]]  # fixture name → the payload
    records: dict[str, list[Rec]]  # fixture name → the records its hook run appended
    order: list[str]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """Every real hook payload, replayed in session order through the real command."""
    expected_all = json.loads(shared_path("fixtures", "expected.json").read_text())
    files: dict[str, Path] = {}
    for parts in HOOK_DIRS:
        folder = shared_path("fixtures", *parts)
        files |= {f"{'/'.join(parts)}/{p.name}": p for p in sorted(folder.glob("*.json"))}
    expected = {name: expected_all[name] for name in files if name in expected_all}
    events = {name: json.loads(path.read_bytes()) for name, path in files.items()}
    order = sorted(
        files,
        key=lambda n: (
            n.startswith("kontext"),
            LIFECYCLE.get(events[n].get("hook_event_name"), 3),
            n,
        ),
    )
    folder = tmp_path_factory.mktemp("replay")
    new_ledger(folder).close()
    ledger = folder / "ledger.sqlite"
    records: dict[str, list[Rec]] = {}
    for name in order:
        start = size_of(ledger)
        done = run_hook(ledger, files[name].read_bytes(), *QUIET)
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), name
        records[name] = read_records(ledger, start)
    return Replayed(ledger, expected, events, records, order)


def own_record(replay: Replayed, name: str) -> Rec:
    """The one record a payload implies (besides any conventions snapshot)."""
    mine = [r for r in replay.records[name] if r.kind != "convention.snapshot"]
    assert len(mine) == 1, (name, [r.kind for r in replay.records[name]])
    return mine[0]


def test_every_real_payload_is_replayed(replayed: Replayed) -> None:
    hook_entries = {
        name
        for name, entry in json.loads(shared_path("fixtures", "expected.json").read_text()).items()
        if entry.get("kind") == "hook" and name.startswith(tuple("/".join(p) for p in HOOK_DIRS))
    }
    assert hook_entries and set(replayed.records) == hook_entries == set(replayed.expected)


def test_counts_per_event_and_tool_match_expected(replayed: Replayed) -> None:
    want = Counter((e["event"], e["tool"]) for e in replayed.expected.values())
    got = Counter(
        (
            own_record(replayed, n).payload["agent"]["event"],
            own_record(replayed, n).payload["agent"].get("tool"),
        )
        for n in replayed.order
    )
    assert got == want
    assert Counter(e for e, _ in got.elements()) == Counter(
        e["event"] for e in replayed.expected.values()
    )


def test_each_payload_maps_to_its_kind(replayed: Replayed) -> None:
    kinds = {n: own_record(replayed, n).kind for n in replayed.order}
    assert kinds == {n: expected_kind(replayed.events[n]) for n in replayed.order}
    # Future or unmapped events are kept too, as agent.event with the raw payload.
    assert {
        kinds[n]
        for n in replayed.order
        if replayed.events[n]["hook_event_name"] in ("Stop", "SubagentStop")
    } == {"agent.event"}


def test_payload_fields_come_from_the_event(replayed: Replayed) -> None:
    host = os.uname().nodename
    for name in replayed.order:
        want, event = replayed.expected[name], replayed.events[name]
        payload = own_record(replayed, name).payload
        agent = payload["agent"]
        assert payload["actor"] == {"user": USER, "host": host}, name
        assert agent["session_id"] == want["session"], name
        assert agent["event"] == want["event"], name
        assert agent.get("tool") == want["tool"], name
        assert agent.get("tool_use_id") == want["tool_use_id"], name
        assert agent.get("agent_id") == want["agent_id"], name
        assert agent["product"] == "claude-code", name
        assert agent["cwd"] == event["cwd"], name
        if want["tool"] in FILE_WRITERS or want["tool"] == "Read":
            assert payload["file"]["path"] == event["tool_input"]["file_path"], name
        if want["path"] is not None:
            assert payload["file"]["path"] == want["path"], name
        if want["event"] == "PostToolUse":
            assert payload["outcome"] == "ok", name
        elif want["event"] == "PostToolUseFailure":
            assert payload["outcome"] == "failed", name
        else:
            assert "outcome" not in payload, name
        if want["event"] == "UserPromptSubmit":
            assert payload["prompt"]["text"] == event["prompt"]
        # Nothing in these payloads is long or secret: the stored event is the event itself.
        assert source_event(payload) == event, name


def test_shell_payloads_carry_the_command_and_exit(replayed: Replayed) -> None:
    seen = Counter[str]()
    for name in replayed.order:
        event = replayed.events[name]
        if event.get("tool_name") != "Bash":
            continue
        command = own_record(replayed, name).payload["command"]
        assert command["text"] == event["tool_input"]["command"], name
        assert command["description"] == event["tool_input"]["description"], name
        match event["hook_event_name"]:
            case "PostToolUse":
                assert command["exit"] == 0, name
            case "PostToolUseFailure":
                assert command["exit"] == 3, name  # "Exit code 3\nboom"
                assert own_record(replayed, name).payload["error"] == event["error"]
            case _:
                assert "exit" not in command, name
        seen[event["hook_event_name"]] += 1
    assert set(seen) == {"PreToolUse", "PostToolUse", "PostToolUseFailure"}


def test_conventions_are_snapshotted_once_per_folder_and_at_session_start(
    replayed: Replayed,
) -> None:
    first_per_cwd: dict[str, str] = {}
    for name in replayed.order:
        first_per_cwd.setdefault(replayed.events[name]["cwd"], name)
    starts = {n for n in replayed.order if replayed.events[n]["hook_event_name"] == "SessionStart"}
    snapped = {
        n
        for n in replayed.order
        if any(r.kind == "convention.snapshot" for r in replayed.records[n])
    }
    assert snapped == set(first_per_cwd.values()) | starts


def test_replayed_ledger_seals_and_verifies(replayed: Replayed) -> None:
    seal_and_verify(replayed.ledger)


# -- the mapping table ----------------------------------------------------------------------


def fixture_event(name: str) -> dict[str, Any]:
    path = shared_path("fixtures", *HOOK_DIRS[0], name)
    event: dict[str, Any] = json.loads(path.read_bytes())
    return event


MAPPED: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    # (fixture it is based on, changes, expected kind, expected payload sections)
    (
        "post_tool_use_bash.json",
        {"tool_name": "mcp__github__create_issue", "tool_input": {"title": "t", "body": "b"}},
        "tool.call",
        {
            "tool": {
                "server": "github",
                "name": "create_issue",
                "input": {"title": "t", "body": "b"},
            }
        },
    ),
    (
        "pre_tool_use_bash.json",
        {"tool_name": "mcp__github__create_issue", "tool_input": {"title": "t"}},
        "tool.intent",
        {"tool": {"server": "github", "name": "create_issue", "input": {"title": "t"}}},
    ),
    (
        "post_tool_use_bash.json",
        {"tool_name": "WebFetch", "tool_input": {"url": "https://example.com", "prompt": "p"}},
        "web.fetch",
        {"tool": {"name": "WebFetch", "input": {"url": "https://example.com", "prompt": "p"}}},
    ),
    (
        "post_tool_use_bash.json",
        {"tool_name": "WebSearch", "tool_input": {"query": "rfc 9162"}},
        "web.search",
        {"tool": {"name": "WebSearch", "input": {"query": "rfc 9162"}}},
    ),
    ("post_tool_use_agent.json", {"tool_name": "Task"}, "agent.spawn", {}),
    ("post_tool_use_agent.json", {}, "agent.spawn", {}),
    (
        "post_tool_use_bash.json",
        {"tool_name": "PowerShell", "tool_input": {"command": "Get-ChildItem"}},
        "command.exec",
        {"command": {"text": "Get-ChildItem", "exit": 0, "interrupted": False}},
    ),
    (
        "post_tool_use_bash.json",
        {
            "tool_name": "NotebookEdit",
            "tool_input": {"notebook_path": "/nb/a.ipynb", "cell_id": "c1", "new_source": "x=1"},
            "tool_response": {
                "notebook_path": "/nb/a.ipynb",
                "cell_id": "c1",
                "new_source": "x=1",
                "edit_mode": "replace",
                "original_file": "{}",
                "updated_file": '{"x": 1}',
            },
        },
        "file.update",
        {
            "file": {
                "path": "/nb/a.ipynb",
                "before_sha256": hashlib.sha256(b"{}").hexdigest(),
                "after_sha256": hashlib.sha256(b'{"x": 1}').hexdigest(),
                "size": 8,
            }
        },
    ),
    (
        "post_tool_use_edit.json",
        {
            "tool_name": "MultiEdit",
            "tool_input": {
                "file_path": "/w/note.txt",
                "edits": [{"old_string": "hi", "new_string": "hello"}],
            },
        },
        "file.update",
        {
            "file": {
                "path": "/w/note.txt",
                "before_sha256": hashlib.sha256(b"hi").hexdigest(),
                "after_sha256": hashlib.sha256(b"hello").hexdigest(),
                "size": 5,
            }
        },
    ),
    (
        "user_prompt_submit.json",
        {
            "hook_event_name": "PermissionRequest",
            "tool_name": "Bash",
            "tool_input": {"command": "ls"},
        },
        "permission.decision",
        {},
    ),
    (
        "user_prompt_submit.json",
        {
            "hook_event_name": "PermissionDenied",
            "tool_name": "Bash",
            "tool_input": {"command": "ls"},
        },
        "permission.decision",
        {},
    ),
    ("session_start.json", {}, "session.start", {}),
    ("session_end.json", {}, "session.end", {}),
    (
        "user_prompt_submit.json",
        {},
        "prompt.submit",
        {"prompt": {"text": "Run this exact shell command and report its output: echo hello"}},
    ),
    (
        "stop.json",
        {"hook_event_name": "TeleportedToMars", "gravity": {"g": 3.71}},
        "agent.event",
        {},
    ),
]


@pytest.mark.parametrize(
    ("base", "changes", "kind", "sections"),
    MAPPED,
    ids=[f"{k}-{c.get('hook_event_name', '')}{c.get('tool_name', b)}" for b, c, k, _ in MAPPED],
)
def test_event_maps_to_kind(
    ledger: Path, base: str, changes: dict[str, Any], kind: str, sections: dict[str, Any]
) -> None:
    event = fixture_event(base) | changes
    send(ledger, event, *QUIET)
    [record] = [r for r in read_records(ledger) if r.kind != "convention.snapshot"]
    assert record.kind == kind
    assert source_event(record.payload) == event  # every field kept, unknown ones included
    assert record.payload["agent"]["event"] == event["hook_event_name"]
    for section, fields in sections.items():
        assert record.payload[section] == fields, section


def test_raw_is_capped(ledger: Path) -> None:
    event = fixture_event("post_tool_use_bash.json")
    stdout = "line of output\n" * 20_000
    event["tool_response"]["stdout"] = stdout
    deep: list[Any] = []
    event["tool_response"]["deep"] = deep
    for _ in range(100):
        deep.append([])
        deep = deep[0]
    send(ledger, event, *QUIET)
    [record] = [r for r in read_records(ledger) if r.kind == "command.exec"]
    raw = source_event(record.payload)
    assert raw is not None
    kept = raw["tool_response"]["stdout"]
    assert kept.startswith(stdout[:4096]) and len(kept) < 4300
    assert hashlib.sha256(stdout.encode()).hexdigest() in kept
    assert len(json.dumps(raw["tool_response"]["deep"])) < 200  # nesting bounded
    assert raw["tool_input"] == event["tool_input"]


def test_hook_appends_in_one_transaction_and_never_integrates(ledger: Path) -> None:
    send(ledger, fixture_event("post_tool_use_bash.json"), *QUIET)
    with Ledger.open(ledger, readonly=True) as opened:
        status = opened.status()
        assert (status.size, status.integrated, status.published) == (2, 0, 0)
        assert opened.store.node_levels() == {}
    assert [r.kind for r in read_records(ledger)] == ["command.exec", "convention.snapshot"]


# -- Bash side effects ----------------------------------------------------------------------


def shell(
    ledger: Path, workspace: Path, command: str, use_id: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Pre hook, the real command in the workspace, Post hook: as Claude Code runs Bash."""
    tool_input = {"command": command, "description": "test command"}
    send(ledger, tool_event("PreToolUse", "Bash", tool_input, use_id, workspace), *args)
    done = subprocess.run(
        command, shell=True, cwd=workspace, capture_output=True, text=True, check=False
    )
    response = {"stdout": done.stdout, "stderr": done.stderr, "interrupted": False}
    post = tool_event("PostToolUse", "Bash", tool_input, use_id, workspace, tool_response=response)
    send(ledger, post, *args)
    return done


def test_bash_side_effects_are_recorded_per_file(ledger: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / ".git" / "index").write_bytes(b"git index")
    for name, text in {"a": "alpha\n", "c": "gamma\n", "d": "delta\n", "e": "same\n"}.items():
        (ws / name).write_text(text)
    command = "echo x > new.txt && mv a b && rm c && printf y >> d && echo more >> .git/index"
    done = shell(ledger, ws, command, "toolu_side_effects", *QUIET)
    assert done.returncode == 0, done.stderr
    records = read_records(ledger)
    effects = [r for r in records if r.payload.get("via") == "command-side-effect"]
    found = {(r.kind, Path(r.payload["file"]["path"]).name) for r in effects}
    assert found == {
        ("file.create", "new.txt"),
        ("file.rename", "b"),
        ("file.delete", "c"),
        ("file.update", "d"),
    }
    for r in effects:
        assert r.payload["agent"]["tool_use_id"] == "toolu_side_effects"
        assert r.payload["command"]["text"] == command
    [rename] = [r for r in effects if r.kind == "file.rename"]
    assert rename.payload["file"]["old_path"] == str(ws / "a")
    [create] = [r for r in effects if r.kind == "file.create"]
    assert create.payload["file"]["after_sha256"] == hashlib.sha256(b"x\n").hexdigest()
    assert create.payload["file"]["after_sha256"] in blob_hashes(ledger)
    [update] = [r for r in effects if r.kind == "file.update"]
    assert update.payload["file"]["after_sha256"] == hashlib.sha256(b"delta\ny").hexdigest()
    [command_rec] = [r for r in records if r.kind == "command.exec"]
    assert command_rec.payload["agent"]["tool_use_id"] == "toolu_side_effects"
    assert command_rec.seq < min(r.seq for r in effects)


def test_bash_without_changes_records_no_file_actions(ledger: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a").write_text("alpha\n")
    shell(ledger, ws, "cat a > /dev/null", "toolu_read_only", *QUIET)
    assert [r.kind for r in read_records(ledger)] == [
        "tool.intent",
        "convention.snapshot",
        "command.exec",
    ]


def test_manifest_cap_records_a_gap(ledger: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    for i in range(5):
        (ws / f"f{i}").write_text(str(i))
    shell(ledger, ws, "echo x > new.txt", "toolu_capped", "--manifest-cap", "3", *QUIET)
    [gap] = [r for r in read_records(ledger) if r.kind == "capture.gap"]
    assert gap.payload["gap"]["cap"] == 3
    assert "cap" in gap.payload["gap"]["reason"]
    assert gap.payload["agent"]["tool_use_id"] == "toolu_capped"


# -- redaction ------------------------------------------------------------------------------


def test_secrets_never_reach_the_ledger_file(ledger: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    body = hashlib.sha256(b"not a real key").hexdigest() + hashlib.sha1(b"x").hexdigest()
    secret = f"sk-ant-api03-{body[:93]}-AA"
    command = f"export ANTHROPIC_API_KEY={secret} && echo ok"
    shell(ledger, ws, command, "toolu_secret", *QUIET)
    stored = b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(ledger.name) and p.is_file()
    )
    assert b"[REDACTED:anthropic-key]" in stored  # the payloads are in these bytes
    assert body[:20].encode() not in stored
    assert secret.encode() not in stored
    touched = [r for r in read_records(ledger) if r.kind in ("tool.intent", "command.exec")]
    assert len(touched) == 2
    for r in touched:
        text = json.dumps(r.payload)
        assert r.payload["redactions"] == text.count("[REDACTED:") >= 2
        assert r.payload["command"]["text"].startswith("export ANTHROPIC_API_KEY=sk-ant-")


# -- never break the agent ------------------------------------------------------------------

BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    "malformed": (b'{"hook_event_name": "PostToolUse", "tool_name": }', "not JSON"),
    "invalid-utf8": (b'{"hook_event_name": "Stop", "x": "\xff\xfe"}', "not JSON"),
    "binary": (bytes(range(256)) * 64, "not JSON"),
    "empty": (b"", "empty"),
    "whitespace": (b" \n\t\n", "empty"),
    "array": (b'[{"hook_event_name": "Stop"}]', "JSON list"),
    "nested": (b"[" * 10**6 + b"]" * 10**6, "nests too deeply"),
    "nested-in-object": (b'{"a": ' + b"[" * 10**6 + b"]" * 10**6 + b"}", "nests too deeply"),
    "over-32MiB": (b'{"x": "' + b"a" * (MAX_STDIN + 10) + b'"}', "larger than"),
}


def assert_agent_unharmed(done: subprocess.CompletedProcess[bytes]) -> None:
    assert done.returncode == 0
    assert done.stdout == b""
    assert len(done.stderr.decode("utf-8", "replace").splitlines()) <= 1


def check_capture_error(ledger: Path, stdin: bytes, message: str) -> None:
    """The hook leaves the agent alone, keeps what was there and records the bad input."""
    send(ledger, fixture_event("user_prompt_submit.json"), *QUIET)
    before = read_records(ledger)
    done = run_hook(ledger, stdin, *QUIET)
    assert_agent_unharmed(done)
    after = read_records(ledger)
    assert after[: len(before)] == before  # nothing already recorded is lost
    [error] = after[len(before) :]
    assert error.kind == "capture.error"
    assert message in error.payload["error"]["message"]
    seen = stdin[: MAX_STDIN + 1]
    assert error.payload["input"]["bytes"] == len(seen)
    assert error.payload["input"]["sha256"] == hashlib.sha256(seen).hexdigest()
    seal_and_verify(ledger)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_becomes_a_capture_error(ledger: Path, case: str) -> None:
    stdin, message = BAD_INPUTS[case]
    check_capture_error(ledger, stdin, message)


@pytest.mark.parametrize("name", ["post_tool_use_edit.json", "session_start.json"])
def test_truncated_real_payload_becomes_a_capture_error(ledger: Path, name: str) -> None:
    data = shared_path("fixtures", *HOOK_DIRS[0], name).read_bytes()
    check_capture_error(ledger, data[: len(data) // 2], "not JSON")


def test_missing_ledger_spools_and_replays(tmp_path: Path) -> None:
    ledger = tmp_path / "later" / "ledger.sqlite"
    delayed = fixture_event("user_prompt_submit.json") | {"prompt": "sent while no ledger"}
    done = run_hook(ledger, json.dumps(delayed).encode(), *QUIET, home=tmp_path / "home")
    assert_agent_unharmed(done)
    assert b"no ledger" in done.stderr
    assert not ledger.exists()  # the hook never creates a ledger itself
    new_ledger(ledger.parent).close()
    send(ledger, fixture_event("session_end.json"), *QUIET, home=tmp_path / "home")
    records = read_records(ledger)
    error = records[0]
    assert error.kind == "capture.error"
    assert "delayed capture" in error.payload["error"]["message"]
    assert "no ledger" in error.payload["error"]["message"]
    assert (
        error.payload["input"]["sha256"] == hashlib.sha256(json.dumps(delayed).encode()).hexdigest()
    )
    assert records[1].kind == "prompt.submit"
    assert records[1].payload["prompt"]["text"] == "sent while no ledger"
    assert "session.end" in [r.kind for r in records[2:]]
    assert not list((ledger.parent / "ledger.sqlite.spool").iterdir())
    seal_and_verify(ledger)


# The busy timeout is 30 s (store/sqlite_file.py BUSY_TIMEOUT_MS): this driver runs the real hook
# entry with a shorter one, so that the test holds the lock for longer than the timeout
# without waiting 30 s.
SHORT_BUSY = (
    "import sys, affidavit.store.sqlite_file as s; s.BUSY_TIMEOUT_MS = int(sys.argv[1]); "
    "from affidavit.cli import main; main(['hook', *sys.argv[2:]])"
)


def test_a_ledger_busy_with_other_commits_is_waited_for_past_the_timeout(
    ledger: Path, tmp_path: Path
) -> None:
    """Busy is not stuck: another writer takes the lock again the moment it commits, for
    three times the hook's busy timeout. The hook waits on while commits happen (as many
    hooks at once do to each other) and records its event itself instead of spooling it."""
    import threading

    send(ledger, fixture_event("user_prompt_submit.json"), *QUIET)
    before = len(read_records(ledger))
    holding, commits = threading.Event(), [0]

    def churn() -> None:
        other = sqlite3.connect(ledger, isolation_level=None, timeout=30)
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            other.execute("BEGIN IMMEDIATE")
            other.execute(f"PRAGMA user_version = {commits[0] + 1}")
            holding.set()
            time.sleep(0.2)
            other.execute("COMMIT")
            commits[0] += 1
        other.close()

    thread = threading.Thread(target=churn)
    thread.start()
    holding.wait(10)
    event = fixture_event("post_tool_use_bash.json") | {"tool_use_id": "toolu_while_busy"}
    done = run_hook(ledger, json.dumps(event).encode(), *QUIET, "--busy-timeout", "1")
    thread.join()
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), done.stderr
    assert commits[0] >= 5
    new = read_records(ledger)[before:]
    assert [r.kind for r in new] == ["command.exec"]  # recorded by the hook, nothing spooled
    assert new[0].payload["agent"]["tool_use_id"] == "toolu_while_busy"
    assert not list(tmp_path.glob("**/*.spool/*"))


def test_locked_ledger_spools_and_replays(ledger: Path, tmp_path: Path) -> None:
    send(ledger, fixture_event("user_prompt_submit.json"), *QUIET)
    before = read_records(ledger)
    delayed = fixture_event("post_tool_use_bash.json") | {"tool_use_id": "toolu_while_locked"}
    holder = sqlite3.connect(ledger, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        done = subprocess.run(
            [sys.executable, "-c", SHORT_BUSY, "300", "--ledger", str(ledger), *QUIET],
            input=json.dumps(delayed).encode(),
            capture_output=True,
            env=hook_env(tmp_path / "home"),
            check=False,
        )
        assert_agent_unharmed(done)
        assert b"locked" in done.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert read_records(ledger) == before
    send(ledger, fixture_event("stop.json"), *QUIET)
    records = read_records(ledger)
    assert records[: len(before)] == before
    new = records[len(before) :]
    assert new[0].kind == "capture.error"
    assert "delayed capture" in new[0].payload["error"]["message"]
    assert "database is locked" in new[0].payload["error"]["message"]
    assert new[1].kind == "command.exec"
    assert new[1].payload["agent"]["tool_use_id"] == "toolu_while_locked"
    assert new[2].kind == "agent.event" and new[2].payload["agent"]["event"] == "Stop"
    assert not list(tmp_path.glob("ledger.sqlite.spool/*"))
    seal_and_verify(ledger)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--no-such-option",), "unknown option '--no-such-option'"),
        (("--future=1",), "unknown option '--future=1'"),
        (("--max-file-bytes", "lots"), "bad value 'lots' for --max-file-bytes"),
    ],
)
def test_bad_option_is_recorded_and_the_event_kept(
    ledger: Path, args: tuple[str, ...], problem: str
) -> None:
    event = fixture_event("user_prompt_submit.json")
    done = run_hook(ledger, json.dumps(event).encode(), *args, *QUIET)
    assert_agent_unharmed(done)
    records = read_records(ledger)
    [error] = [r for r in records if r.kind == "capture.error"]
    assert problem in error.payload["error"]["message"]
    [prompt] = [r for r in records if r.kind == "prompt.submit"]
    assert source_event(prompt.payload) == event


# -- concurrency ----------------------------------------------------------------------------

# Each worker process calls the hook entry (run_hook, what `affidavit hook` runs) once per
# event, each time with a fresh connection, as separate hook processes would.
WORKER = """
import io, json, sys
from affidavit.capture.hook import run_hook
ledger, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    event = {
        "session_id": f"session-{worker}",
        "hook_event_name": "PostToolUse",
        "tool_name": "mcp__bench__echo",
        "tool_input": {"worker": worker, "i": i},
        "tool_response": {"ok": True},
        "tool_use_id": f"toolu_{worker}_{i}",
    }
    sys.stdin = io.TextIOWrapper(io.BytesIO(json.dumps(event).encode()))
    run_hook(["--ledger", ledger, "--seal-interval", "3600"])
"""


def test_parallel_hooks_lose_nothing(ledger: Path, tmp_path: Path) -> None:
    workers, count = 8, 200
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(ledger), str(w), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=hook_env(tmp_path / "home"),
        )
        for w in range(workers)
    ]
    outputs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * workers
    assert [(out, err) for out, err in outputs] == [(b"", b"")] * workers  # never "locked"
    records = read_records(ledger)
    # The events carry no cwd, so no conventions snapshot: exactly one record per event.
    assert [r.seq for r in records] == list(range(workers * count))
    assert {r.kind for r in records} == {"tool.call"}
    ids = [r.payload["agent"]["tool_use_id"] for r in records]
    assert sorted(ids) == sorted(f"toolu_{w}_{i}" for w in range(workers) for i in range(count))
    for w in range(workers):  # each worker's events keep their order
        mine = [int(x.rsplit("_", 1)[1]) for x in ids if x.startswith(f"toolu_{w}_")]
        assert mine == list(range(count))
    assert not (tmp_path / "ledger.sqlite.spool").exists()
    seal_and_verify(ledger)


# -- seal scheduling ------------------------------------------------------------------------


def wait_for_checkpoint(ledger: Path, size: int, seconds: float = 60.0) -> int:
    """The published size once it reaches ``size``, polling for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        with Ledger.open(ledger, readonly=True) as opened:
            published = opened.status().published
        if published >= size or time.monotonic() > deadline:
            return published
        time.sleep(0.1)


@pytest.mark.parametrize("name", ["stop.json", "session_end.json"])
def test_stop_and_session_end_start_a_seal(ledger: Path, name: str) -> None:
    send(ledger, fixture_event("user_prompt_submit.json"), *QUIET)
    send(ledger, fixture_event(name), *QUIET)
    size = size_of(ledger)
    assert wait_for_checkpoint(ledger, size) == size
    with Ledger.open(ledger, readonly=True) as opened:
        opened.verify()
    log = ledger.with_name(ledger.name + ".errors.log")
    assert not log.exists() or log.read_text() == ""


def test_seal_interval_zero_seals_after_any_event(ledger: Path) -> None:
    event = fixture_event("post_tool_use_bash.json")
    del event["cwd"]  # no conventions snapshot: one record
    send(ledger, event, "--seal-interval", "0")
    assert wait_for_checkpoint(ledger, 1) == 1


def test_young_records_start_no_seal(ledger: Path) -> None:
    for name in ("user_prompt_submit.json", "pre_tool_use_bash.json", "post_tool_use_bash.json"):
        send(ledger, fixture_event(name))  # the default interval, 60 s
    with Ledger.open(ledger, readonly=True) as opened:
        status = opened.status()
        assert (status.integrated, status.published) == (0, 0)


# -- the demo session -----------------------------------------------------------------------

DEMO_KINDS = [
    "session.start",
    "convention.snapshot",
    "prompt.submit",
    *["tool.intent", "file.read"] * 2,
    *["tool.intent", "file.update"],
    *["tool.intent", "file.create"],
    *["tool.intent", "file.read"],
    *["tool.intent", "command.exec", "file.delete"],
    *["tool.intent", "command.exec"],
    "agent.event",
    "session.end",
]


def test_demo_session(ledger: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    script = Path(__file__).resolve().parent.parent / "scripts" / "demo_agent.py"
    done = subprocess.run(
        [sys.executable, str(script), str(ws), str(ledger)],
        capture_output=True,
        text=True,
        env=hook_env(tmp_path / "home"),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "hook said" not in done.stderr
    records = read_records(ledger)
    assert [r.kind for r in records] == DEMO_KINDS
    [delete] = [r for r in records if r.kind == "file.delete"]
    assert delete.payload["file"]["path"] == str(ws / "finance" / "old-draft.md")
    assert delete.payload["file"]["before_sha256"] in blob_hashes(ledger)  # it was Read
    [failed] = [r for r in records if r.payload.get("outcome") == "failed"]
    assert failed.payload["command"] == {
        "text": "cat finance/q4-plan.md",
        "description": "Look for a Q4 plan",
        "exit": 1,
    }
    assert wait_for_checkpoint(ledger, len(records)) == len(records)  # sealed at the end
    seal_and_verify(ledger)


def test_hook_help_explains_and_records_nothing(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    new_ledger(tmp_path).close()
    before = ledger.read_bytes()
    runs = [
        subprocess.run([sys.executable, "-m", "affidavit", "hook", flag], capture_output=True)
        for flag in ("--help", "-h")
    ]
    runs.append(
        subprocess.run(
            [sys.executable, "-m", "affidavit", "--ledger", str(ledger), "hook", "--help"],
            capture_output=True,
        )
    )
    for done in runs:
        out = done.stdout.decode()
        assert done.returncode == 0, done.stderr
        assert out.startswith("Usage: affidavit hook")
        assert "--seal-interval" in out and "exits 2" in out
    assert ledger.read_bytes() == before
    assert not Path(f"{ledger}.spool").exists()


def test_hook_after_the_ledger_option_records_into_that_ledger(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    new_ledger(tmp_path).close()
    event = tool_event("PreToolUse", "Read", {"file_path": str(tmp_path / "a.txt")}, "t1", tmp_path)
    done = affidavit(ledger, "hook", *QUIET, stdin=json.dumps(event).encode())
    assert done.returncode == 0, done.stderr
    assert [r.kind for r in read_records(ledger)].count("tool.intent") == 1

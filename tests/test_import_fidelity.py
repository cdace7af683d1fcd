"""Issue 18, import fidelity: whose actions, every file-writing tool, errors that leave a record.

Transcripts are made here in Claude Code's documented JSONL shape (one object a line:
``type``, ``sessionId``, ``cwd``, ``message.content[]`` with ``tool_use`` / ``tool_result``
blocks, ``toolUseResult``), as the fixtures in ``../shared/fixtures/`` show it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from affidavit.capture import transcripts
from affidavit.cli import run
from affidavit.ledger import Ledger
from ledger_helpers import cli_env

IMPORTER = {"user": "importer-account", "host": "audit-host"}
SECRET = "sk-ant-api03-" + "Q7xR2mK9pL4vN8wT1zY6bC3dF5gH0jA" * 3 + "AA"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    lg = Ledger.create(
        tmp_path / "l.sqlite", origin="test.example/fidelity", key_path=tmp_path / "k"
    )
    yield lg
    lg.close()


def records(lg: Ledger) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for _, leaf, _, _, body in lg.rows():
        assert body is not None
        out.append((json.loads(leaf)["kind"], json.loads(body)))
    return out


def do_import(lg: Ledger, *paths: Path, **kw: Any) -> transcripts.ImportResult:
    result = transcripts.import_paths(lg.store, list(paths), imported_by=IMPORTER, **kw)
    lg.verify()
    return result


def line(kind: str, session: str = "s1", cwd: str = "/w", **fields: Any) -> dict[str, Any]:
    return {"type": kind, "sessionId": session, "cwd": cwd, "version": "2.1.38", **fields}


def call(use_id: str, name: str, tool_input: dict[str, Any], **fields: Any) -> dict[str, Any]:
    use = {"type": "tool_use", "id": use_id, "name": name, "input": tool_input}
    return line("assistant", message={"role": "assistant", "content": [use]}, **fields)


def answer(use_id: str, response: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": use_id, "content": "ok"}
    extra = {"toolUseResult": response} if response is not None else {}
    return line("user", message={"role": "user", "content": [block]}, **extra, **fields)


def prompt(text: str, uuid: str, **fields: Any) -> dict[str, Any]:
    return line("user", uuid=uuid, message={"role": "user", "content": text}, **fields)


def write(path: Path, *objs: dict[str, Any] | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(o if isinstance(o, bytes) else json.dumps(o).encode() + b"\n" for o in objs)
    path.write_bytes(data)
    return path


# -- 1. attribution ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cwd", "owner"),
    [
        ("/Users/alice/dev/app", "alice"),
        ("/home/bob/src/app", "bob"),
        ("C:\\Users\\Carol\\src\\app", "Carol"),
        ("/srv/shared/app", "unknown"),
    ],
)
def test_records_name_the_session_owner_and_the_importer_apart(
    tmp_path: Path, ledger: Ledger, cwd: str, owner: str
) -> None:
    path = write(
        tmp_path / "copied" / "s1.jsonl",
        prompt("tidy the notes", "u1", cwd=cwd),
        call("toolu_w", "Write", {"file_path": f"{cwd}/n.md", "content": "x"}, cwd=cwd),
        answer("toolu_w", {"type": "create"}, cwd=cwd),
        b'{"type": "user", "broken\n',
    )
    result = do_import(ledger, path)
    kinds = Counter(kind for kind, _ in records(ledger))
    assert kinds == Counter(
        {"prompt.submit": 1, "file.create": 1, "capture.gap": 1, "capture.error": 1}
    )
    assert result.error_count == 1
    for kind, payload in records(ledger):
        # Every record, summaries and errors included, belongs to the session's owner...
        assert payload["actor"]["user"] == owner, kind
        assert payload["actor"]["basis"] == (
            "working directory" if owner != "unknown" else "no evidence"
        )
        # ...and says who imported it and when, apart from the actor.
        assert payload["imported_by"] == IMPORTER, kind
        assert payload["imported_at"].startswith("20"), kind
        assert "importer-account" not in json.dumps(payload["actor"])


def test_log_actor_column_never_shows_the_importer(
    tmp_path: Path,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text(
        json.dumps({"oauthAccount": {"emailAddress": "auditor@example.com"}})
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USER", "auditor")
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    cwd = "/Users/alice/finance"
    path = write(
        tmp_path / "s1.jsonl",
        call("toolu_e", "Edit", {"file_path": f"{cwd}/q3.xlsx", "old_string": "a"}, cwd=cwd),
        answer("toolu_e", {"originalFile": "a"}, cwd=cwd),
    )
    db = str(ledger.store.path)
    assert run(["--ledger", db, "import", "claude-code", str(path)]) == 0
    capsys.readouterr()
    assert run(["--ledger", db, "log", "--format", "jsonl"]) == 0
    shown = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["kind"] for r in shown} == {"file.update", "capture.gap"}
    assert {(r["actor_user"], r["actor_email"]) for r in shown} == {("alice", None)}
    assert run(["--ledger", db, "log", "--format", "table", "--kind", "file"]) == 0
    table = capsys.readouterr().out
    assert "alice" in table and "auditor" not in table
    [(_, payload)] = [r for r in records(ledger) if r[0] == "file.update"]
    assert payload["imported_by"]["user"] == "auditor"
    assert payload["imported_by"]["email"] == "auditor@example.com"


# -- 2. every file-writing tool, through the one mapper ----------------------------------------


WRITES = [
    # (tool, input, toolUseResult, kind); MultiEdit is from Claude Code before 2.x, Replace and
    # NotebookEditCell from its first versions.
    (
        "MultiEdit",
        {
            "file_path": "/w/app.py",
            "edits": [
                {"old_string": "a = 1", "new_string": "a = 2"},
                {"old_string": "b", "new_string": "c", "replace_all": True},
            ],
        },
        {"filePath": "/w/app.py", "originalFile": "a = 1\nb b\n"},
        "file.update",
    ),
    (
        "NotebookEdit",
        {"notebook_path": "/w/nb.ipynb", "cell_id": "c1", "new_source": "x", "edit_mode": "delete"},
        {"updated_file": '{"cells": []}'},
        "file.update",
    ),
    ("Replace", {"file_path": "/w/new.txt", "content": "hello"}, {"type": "create"}, "file.create"),
    (
        "NotebookEditCell",
        {"notebook_path": "/w/old.ipynb", "cell_number": 0, "new_source": "y"},
        None,
        "file.update",
    ),
]


@pytest.mark.parametrize(("tool", "tool_input", "response", "kind"), WRITES)
def test_file_writing_tools_become_file_records(
    tmp_path: Path,
    ledger: Ledger,
    capsys: pytest.CaptureFixture[str],
    tool: str,
    tool_input: dict[str, Any],
    response: dict[str, Any] | None,
    kind: str,
) -> None:
    path = write(
        tmp_path / "s.jsonl", call("toolu_1", tool, tool_input), answer("toolu_1", response)
    )
    assert do_import(ledger, path).error_count == 0
    [(got, payload)] = [r for r in records(ledger) if r[0] != "capture.gap"]
    target = tool_input.get("file_path") or tool_input["notebook_path"]
    assert (got, payload["file"]["path"], payload["agent"]["tool"]) == (kind, target, tool)
    assert (
        run(["--ledger", str(ledger.store.path), "log", "--kind", kind, "--format", "jsonl"]) == 0
    )
    [shown] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert shown["path"] == target


def test_multiedit_hashes_the_file_after_every_edit(tmp_path: Path, ledger: Ledger) -> None:
    tool, tool_input, response, _ = WRITES[0]
    path = write(
        tmp_path / "s.jsonl", call("toolu_1", tool, tool_input), answer("toolu_1", response)
    )
    do_import(ledger, path)
    [(_, payload)] = [r for r in records(ledger) if r[0] == "file.update"]
    after = b"a = 2\nc c\n"
    assert payload["file"]["after_sha256"] == hashlib.sha256(after).hexdigest()
    assert payload["file"]["size"] == len(after)


@pytest.mark.parametrize(("tool", "tool_input", "response", "kind"), WRITES)
def test_the_hook_maps_them_the_same_way(
    tmp_path: Path,
    tool: str,
    tool_input: dict[str, Any],
    response: dict[str, Any] | None,
    kind: str,
) -> None:
    """The hook and the importer share one mapper: the same call gives the same record."""
    home = tmp_path / "home"
    home.mkdir()
    event = {
        "session_id": "s1",
        "transcript_path": str(tmp_path / "s.jsonl"),
        "cwd": "/w",
        "hook_event_name": "PostToolUse",
        "tool_name": tool,
        "tool_input": tool_input,
        "tool_use_id": "toolu_1",
        "tool_response": response,
    }
    db = tmp_path / "hook.sqlite"
    Ledger.create(db, origin="test.example/hook", key_path=tmp_path / "hk").close()
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", str(db)],
        input=json.dumps(event).encode(),
        capture_output=True,
        env=cli_env(home),
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    with Ledger.open(db) as lg:
        [(got, payload)] = [r for r in records(lg) if r[0].startswith("file.")]
    assert (got, payload["file"]["path"]) == (
        kind,
        tool_input.get("file_path") or tool_input["notebook_path"],
    )


@pytest.mark.parametrize(
    "tool",
    ["mcp__cowork__present_files", "mcp__cowork__request_cowork_directory", "mcp__other__save"],
)
def test_mcp_tools_that_write_no_file_stay_tool_calls(
    tmp_path: Path, ledger: Ledger, tool: str
) -> None:
    tool_input = {"files": [{"file_path": "/sessions/x/mnt/outputs/r.md"}]}
    path = write(tmp_path / "s.jsonl", call("toolu_m", tool, tool_input), answer("toolu_m", {}))
    do_import(ledger, path)
    [(got, payload)] = [r for r in records(ledger) if r[0] != "capture.gap"]
    assert got == "tool.call" and payload["tool"]["input"] == tool_input


# -- 3. parse errors leave a record; pending lines wait ----------------------------------------


def test_each_bad_line_leaves_one_capture_error(tmp_path: Path, ledger: Ledger) -> None:
    path = write(
        tmp_path / "s.jsonl",
        prompt("first", "u1"),
        b'{"type": "user", "message": {"content": "key ' + SECRET.encode() + b'", oops}\n',
        b"\x89PNG\r\n",
        b"[1, 2]\n",
        prompt("last", "u5"),
    )
    result = do_import(ledger, path)
    assert [e.split(": ", 1)[0] for e in result.errors] == [f"{path}:{n}" for n in (2, 3, 4)]
    errors = [p for kind, p in records(ledger) if kind == "capture.error"]
    assert [(e["error"]["file"], e["error"]["line"]) for e in errors] == [
        (str(path), 2),
        (str(path), 3),
        (str(path), 4),
    ]
    assert all(e["error"]["stage"] == "import" and e["error"]["message"] for e in errors)
    secret_line, binary, listed = (e["input"] for e in errors)
    # The first bytes of the line, secrets masked, bounded; the binary one escaped.
    assert SECRET not in json.dumps(errors)
    assert secret_line["excerpt"].startswith('{"type": "user", "message": {"content": "key sk-ant')
    assert "[REDACTED" in secret_line["excerpt"] and len(secret_line["excerpt"]) <= 161
    assert binary["excerpt"] == "\\x89PNG" and binary["bytes"] == 6
    assert listed["excerpt"] == "[1, 2]" and len(listed["sha256"]) == 64
    assert [p["prompt"]["text"] for k, p in records(ledger) if k == "prompt.submit"] == [
        "first",
        "last",
    ]

    size = ledger.store.size()
    again = do_import(ledger, path)
    assert again.error_count == 3, "still reported on stderr"
    assert (again.records, ledger.store.size()) == (0, size), "but recorded only once"


def test_a_line_still_being_written_is_pending_then_imported(
    tmp_path: Path, ledger: Ledger
) -> None:
    done = json.dumps(prompt("second prompt", "u2")).encode()
    path = write(tmp_path / "s.jsonl", prompt("first", "u1"), done[:25])
    first = do_import(ledger, path)
    assert (first.error_count, first.errors) == (0, [])
    assert [p.split(": ", 1)[0] for p in first.pending] == [f"{path}:2"]
    assert "being written" in first.pending[0]
    assert [k for k, _ in records(ledger)] == ["prompt.submit"]

    with path.open("ab") as f:
        f.write(done[25:] + b"\n")
    second = do_import(ledger, path)
    assert (second.error_count, second.pending, second.records) == (0, [], 1)
    assert [p["prompt"]["text"] for _, p in records(ledger)] == ["first", "second prompt"]


@pytest.mark.parametrize(
    ("tail", "pending"),
    [
        (b'{"type": "summary", "summary": "whole"}', False),  # whole JSON: imported, no newline
        (b'{"type": "user", "message": {"content": "caf\xc3', True),  # cut inside a character
        (b'{"type": "user", "message": {"content": "caf\xff"}}', False),  # never UTF-8: error
        (b"[1, 2", False),  # not an object, whatever follows
        (b"   ", False),  # blanks
    ],
)
def test_which_last_lines_are_pending(
    tmp_path: Path, ledger: Ledger, tail: bytes, pending: bool
) -> None:
    path = write(tmp_path / "s.jsonl", prompt("first", "u1"), tail)
    result = do_import(ledger, path)
    assert bool(result.pending) is pending
    bad = not pending and tail.strip() and not tail.startswith(b'{"type": "summary"')
    assert result.error_count == int(bool(bad))
    assert Counter(k for k, _ in records(ledger))["capture.error"] == int(bool(bad))


def test_cli_exit_codes_for_errors_and_pending(
    tmp_path: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--ledger", str(ledger.store.path), "import", "claude-code"]
    clean = write(tmp_path / "clean.jsonl", prompt("hello", "u1"))
    assert run([*base, str(clean)]) == 0
    growing = write(tmp_path / "growing.jsonl", prompt("hello", "u1"), b'{"type": "us')
    assert run([*base, str(growing)]) == 0
    err = capsys.readouterr().err
    assert f"{growing}:2: last line has no newline yet" in err and "1 line(s) pending" in err
    broken = write(tmp_path / "broken.jsonl", prompt("hello", "u1"), b"{nope\n")
    assert run([*base, "--json", str(broken)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["errors"] == 1
    assert f"{broken}:2: not JSON" in err and "recorded as capture.error" in err
    assert run([*base, str(tmp_path / "missing.jsonl")]) == 2


def test_help_documents_exit_codes_and_attribution(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["import", "claude-code", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for phrase in (
        "Exit status",
        "1 imported, but with findings: lines that could not be read",
        "capture.error",
        "pending",
        "imported_by",
        '"unknown"',
    ):
        assert phrase in text, phrase


# -- bad input: a clear error, nothing recorded lost, never a crash ----------------------------


def test_wrong_types_and_odd_unicode_each_leave_a_record(tmp_path: Path, ledger: Ledger) -> None:
    folder = tmp_path / "séances 日本" / "dossier ✓"
    path = write(
        folder / "nom\u200b bizarre.jsonl",
        prompt("kept", "u1"),
        line("user", cwd=["/w"], message={"content": "cwd is a list"}),  # type: ignore[arg-type]
        line("assistant", message={"content": [{"type": "tool_use", "id": 7, "name": "Bash"}]}),
        prompt("lone \ud800 surrogate", "u4"),
        line("user", timestamp=12, message={"content": "timestamp is a number"}),
        prompt("rtl \u202e mark and e\u0301 and 🚀", "u6"),
    )
    result = do_import(ledger, path)
    assert [e.split(": ", 1)[0] for e in result.errors] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert all("\n" not in e for e in result.errors)
    errors = [p["error"] for k, p in records(ledger) if k == "capture.error"]
    assert [(e["file"], e["line"]) for e in errors] == [(str(path), n) for n in (2, 3, 4, 5)]
    assert "must be a string, not a list" in errors[0]["message"]
    assert "cannot be recorded" in errors[2]["message"]
    texts = [p["prompt"]["text"] for k, p in records(ledger) if k == "prompt.submit"]
    assert texts == ["kept", "timestamp is a number", "rtl \u202e mark and e\u0301 and 🚀"]


def test_binary_and_nul_paths_never_crash_and_keep_earlier_records(
    tmp_path: Path, ledger: Ledger
) -> None:
    good = write(tmp_path / "a.jsonl", prompt("before", "u1"))
    do_import(ledger, good)
    before = records(ledger)
    noise = bytes(range(256)) * 64 + b"\n" + b"\x00" * 5000 + b"\n{" + b"\xfe" * 10
    garbage = write(tmp_path / "garbage.jsonl", noise)
    result = do_import(ledger, garbage, Path(str(tmp_path / "nul") + "\x00.jsonl"))
    assert records(ledger)[: len(before)] == before
    assert result.files_read == 1
    assert any("nul" in e and "cannot read" in e for e in result.errors)
    line_errors = [e for e in result.errors if e.startswith(f"{garbage}:")]
    recorded = [p for k, p in records(ledger) if k == "capture.error"]
    assert len(recorded) == len(line_errors) >= 2
    assert all(len(p["input"]["excerpt"]) <= 161 for p in recorded)

"""``affidavit import claude-code``: transcripts and Cowork sessions → the hook's records.

The shared fixtures are imported in place and checked against ``expected.json`` (counted
independently of this code); the RonKat2008 hook payloads go through the real ``affidavit
hook`` before a transcript of the same tool calls (written at test time by
``tests/hooked_transcripts.py``) is imported; malformed and odd input comes from
``assets/transcripts/`` or is made in tmp_path.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from affidavit.capture import events, transcript_batch, transcripts
from affidavit.cli import run
from affidavit.ledger import Ledger
from conftest import ASSETS, SHARED, shared_path

IMPORTER = {"user": "importer-account", "host": "test-host"}
TRANSCRIPTS = ASSETS / "transcripts"
WRITERS = {"Write", "Edit", "NotebookEdit"}
HOOKS = ("fixtures", "RonKat2008__agent-verdict", "tests", "fixtures", "hooks")

Row = tuple[int, str, str, dict[str, Any]]


# -- helpers --------------------------------------------------------------------------------


def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_path("fixtures", "expected.json").read_text("utf-8"))
    return data


def names_of(kind: str) -> list[str]:
    """Fixture names for parametrizing; one placeholder (which skips) without ../shared/."""
    path = SHARED / "fixtures" / "expected.json"
    if not path.exists():
        return ["<../shared/ missing>"]
    data = json.loads(path.read_text("utf-8"))
    return sorted(name for name, entry in data.items() if entry.get("kind") == kind)


def new_ledger(tmp_path: Path, name: str = "ledger") -> Ledger:
    return Ledger.create(
        tmp_path / f"{name}.sqlite", origin="test.example/import", key_path=tmp_path / f"{name}.k"
    )


@pytest.fixture(scope="module")
def hooked_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Transcripts of the shared hook payloads' tool calls, written for this run."""
    from hooked_transcripts import write_hooked

    return write_hooked(tmp_path_factory.mktemp("hooked"))


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    lg = Ledger.create(tmp_path / "l.sqlite", origin="test.example/import", key_path=tmp_path / "k")
    yield lg
    lg.close()


def do_import(lg: Ledger, *paths: Path, **options: Any) -> transcripts.ImportResult:
    result = transcripts.import_paths(lg.store, list(paths), imported_by=IMPORTER, **options)
    lg.verify()
    return result


def rows(lg: Ledger) -> list[Row]:
    out = []
    for seq, leaf, _, _, body in lg.rows():
        envelope = json.loads(leaf)
        assert body is not None
        out.append((seq, envelope["kind"], envelope["source"], json.loads(body)))
    return out


def tool_records(lg: Ledger, source: str = transcripts.SOURCE) -> list[Row]:
    """Records of tool calls (not gaps or corroborations) from ``source``."""
    return [
        r
        for r in rows(lg)
        if r[2] == source
        and r[1] not in ("capture.gap", "capture.corroboration")
        and "tool_use_id" in r[3].get("agent", {})
    ]


def run_hook(ledger_path: Path | str, payload: bytes, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFFIDAVIT_", "CLAUDE_"))}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", str(ledger_path)],
        input=payload,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr == b"", done.stderr.decode()


def hook_payloads(path: Path) -> list[dict[str, Any]]:
    """PostToolUse / PostToolUseFailure payloads for a transcript's tool calls, built here
    independently of the importer, the way Claude Code fills them in."""
    uses: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    out = []
    for text in path.read_text("utf-8").splitlines():
        line = json.loads(text)
        content = line.get("message", {}).get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if line["type"] == "assistant" and block.get("type") == "tool_use":
                uses[block["id"]] = (line, block)
            elif line["type"] == "user" and block.get("type") == "tool_result":
                origin, use = uses.pop(block["tool_use_id"])
                payload = {
                    "session_id": origin["sessionId"],
                    "transcript_path": str(path),
                    "cwd": origin["cwd"],
                    "hook_event_name": "PostToolUse",
                    "tool_name": use["name"],
                    "tool_input": use["input"],
                    "tool_use_id": use["id"],
                    "tool_response": line.get("toolUseResult"),
                }
                if block.get("is_error"):
                    payload["hook_event_name"] = "PostToolUseFailure"
                    payload["error"] = block["content"]
                    del payload["tool_response"]
                out.append(payload)
    return out


def essentials(payload: dict[str, Any], kind: str) -> dict[str, Any]:
    agent = payload["agent"]
    return {
        "kind": kind,
        "tool": agent["tool"],
        "session_id": agent.get("session_id"),
        "product": agent["product"],
        "file": payload.get("file"),
        "command": payload.get("command"),
        "outcome": payload.get("outcome"),
        "error": payload.get("error"),
        "tool_section": payload.get("tool"),
    }


# -- the shared fixtures --------------------------------------------------------------------


@pytest.mark.parametrize("name", names_of("transcript"))
def test_fixture_transcript_matches_expected(name: str, ledger: Ledger) -> None:
    entry = expected()[name]
    result = do_import(ledger, shared_path("fixtures", name))

    assert result.error_count == entry["parse_errors"] + entry["non_object"]
    assert result.sessions == len(entry["sessions"])
    tools = tool_records(ledger)
    assert Counter(r[3]["agent"]["tool"] for r in tools) == Counter(entry["tool_use"])
    ids = sorted(r[3]["agent"]["tool_use_id"] for r in tools)
    assert ids == sorted(entry["tool_use_ids"])
    assert not set(ids) & set(entry["nested_ids"]), "progress echoes are not tool uses"
    unanswered = [r for r in tools if r[1] == "tool.intent"]
    assert len(unanswered) == entry["tool_use_total"] - entry["tool_result"]

    every = rows(ledger)
    sessions = {r[3]["agent"]["session_id"] for r in every if "session_id" in r[3]["agent"]}
    assert sessions == set(entry["sessions"])
    paths: dict[str, set[str]] = {}
    for _, _, _, payload in tools:
        if payload["agent"]["tool"] in WRITERS:
            paths.setdefault(payload["file"]["path"], set()).add(payload["agent"]["tool"])
    assert paths == {path: set(tools) for path, tools in entry["file_paths"].items()}

    assert {r[2] for r in every} == {transcripts.SOURCE}
    products = {r[3]["agent"]["product"] for r in every}
    assert products == ({"cowork"} if "cowork" in name else {"claude-code"})
    # No hook ever saw these sessions: each session with tool uses gets one gap saying so.
    gaps = [r[3]["gap"] for r in every if r[1] == "capture.gap"]
    assert result.gaps == len(gaps) == (1 if tools else 0)
    assert all(g["reason"] == "session known only from its transcript" for g in gaps)
    assert sum(g["tool_uses"] for g in gaps) == len(tools)
    assert result.records == len(every)


@pytest.mark.parametrize("name", names_of("cowork-session-json"))
def test_cowork_session_record(name: str, ledger: Ledger) -> None:
    entry = expected()[name]
    result = do_import(ledger, shared_path("fixtures", name))
    assert (result.sessions, result.records, result.error_count) == (len(entry["sessions"]), 1, 0)
    [(_, kind, _, payload)] = rows(ledger)
    assert kind == "session.start"
    assert payload["agent"]["product"] == "cowork"
    assert payload["agent"]["session_id"] in entry["sessions"]
    assert payload["raw_rest"]["cowork_session"]["cliSessionId"] in entry["sessions"]
    again = do_import(ledger, shared_path("fixtures", name))
    assert (again.records, again.duplicates) == (0, 1)


def test_fixture_folder_at_once_then_again(ledger: Ledger) -> None:
    data = expected()
    entries = [e for e in data.values() if e.get("kind") == "transcript"]
    first = do_import(ledger, shared_path("fixtures"))
    assert first.error_count == 0
    assert first.sessions == len({s for e in entries for s in e["sessions"]})
    total: Counter[str] = Counter()
    for e in entries:
        total.update(e["tool_use"])
    assert Counter(r[3]["agent"]["tool"] for r in tool_records(ledger)) == total

    size = ledger.store.size()
    second = do_import(ledger, shared_path("fixtures"))
    assert ledger.store.size() == size
    assert (second.records, second.corroborated, second.gaps) == (0, 0, 0)
    assert second.duplicates == first.records - first.gaps
    assert second.sessions == first.sessions


# -- hooks first, then the transcript -------------------------------------------------------


def test_import_after_hooks_corroborates_instead_of_duplicating(
    tmp_path: Path, ledger: Ledger, hooked_dir: Path
) -> None:
    hook_files = sorted(shared_path(*HOOKS).glob("*.json"))
    payloads = [json.loads(f.read_text("utf-8")) for f in hook_files]
    (tmp_path / "home").mkdir()
    for f in hook_files:
        run_hook(ledger.store.path, f.read_bytes(), tmp_path / "home")
    posts = {
        p["tool_use_id"]: p
        for p in payloads
        if p["hook_event_name"] in ("PostToolUse", "PostToolUseFailure")
    }
    prompts = [p for p in payloads if p["hook_event_name"] == "UserPromptSubmit"]
    hook_seqs = {
        r[3]["agent"]["tool_use_id"]: r[0]
        for r in tool_records(ledger, "claude-code.hook")
        if r[1] != "tool.intent"
    }
    assert set(hook_seqs) == set(posts)
    before = ledger.store.size()

    # A second copy of one session (as a resumed session carries) in the same run: all of
    # its prompt and tool uses are duplicates, corroborated or written only once.
    copy = tmp_path / "copy" / "resumed.jsonl"
    copy.parent.mkdir()
    shutil.copyfile(hooked_dir / "56422690-bc20-4983-b21e-8514b3d56b4b.jsonl", copy)
    result = do_import(ledger, hooked_dir, copy)
    assert result.error_count == 0
    assert result.duplicates == 3
    assert result.corroborated == len(posts) + len(prompts)
    assert result.sessions == len({p["session_id"] for p in payloads})

    added = [r for r in rows(ledger) if r[0] >= before]
    assert result.records == len(added)
    mine = {
        r[3]["agent"]["tool_use_id"]: r
        for r in added
        if r[1] not in ("capture.gap", "capture.corroboration") and "tool_use_id" in r[3]["agent"]
    }
    assert not set(mine) & set(posts), "a tool use a hook recorded was recorded again"
    corroborations = [r[3] for r in added if r[1] == "capture.corroboration"]
    assert len(corroborations) == len({p["session_id"] for p in posts.values()})
    listed = [c["corroboration"] for c in corroborations]
    assert sorted(i for c in listed for i in c.get("tool_use_ids", [])) == sorted(posts)
    assert set(hook_seqs.values()) <= {s for c in listed for s in c["seqs"]}
    assert all(c["source"] == transcripts.SOURCE and c["transcript"] for c in listed)
    assert sum(c.get("prompts", 0) for c in listed) == len(prompts)

    gaps = {r[3]["gap"]["tool_use_id"]: r[3]["gap"] for r in added if r[1] == "capture.gap"}
    assert result.gaps == len(gaps)
    assert set(gaps) == set(mine) - {None}
    assert (
        gaps["toolu_01TranscriptOnlyLs0000"]["reason"] == "transcript shows a tool use no hook saw"
    )
    assert gaps["toolu_01TranscriptOnlyLs0000"]["transcript"].endswith(
        "5668ec28-8187-4443-bfc9-b89bf23120bc.jsonl"
    )
    assert isinstance(gaps["toolu_01TranscriptOnlyLs0000"]["line"], int)
    # The hooks saw only the PreToolUse of these two; the transcript has their results.
    for pre_only in ("toolu_013o22E8CxU2DsECXTvzaGbF", "toolu_01AuKzST1rHeqN55prtUhqoF"):
        assert gaps[pre_only]["reason"] == "a hook saw the request (PreToolUse) but not its result"
        assert mine[pre_only][1] != "tool.intent"
        (seen_by,) = mine[pre_only][3]["corroborated_by"]
        assert seen_by["source"] == "claude-code.hook" and seen_by["event"] == "PreToolUse"
        assert seen_by["seqs"] and all(s < before for s in seen_by["seqs"])
    assert all(
        "corroborated_by" not in mine[u][3]
        for u in mine
        if u not in gaps
        or gaps[u]["reason"] != "a hook saw the request (PreToolUse) but not its result"
    )

    again = do_import(ledger, hooked_dir)
    assert (again.records, again.corroborated, again.gaps) == (0, 0, 0)
    written = result.records - result.gaps - len(corroborations)
    assert again.duplicates == written + result.corroborated


@pytest.mark.parametrize(
    "name",
    [
        "tomjnsn__agentlogs/fixtures/claudecode/crud.jsonl",
        "marot__spotter/test/fixtures/transcripts/subagent.jsonl",
        "marot__spotter/test/fixtures/transcripts/tool_heavy.jsonl",
    ],
)
def test_replayed_as_hook_payloads_gives_the_same_records(tmp_path: Path, name: str) -> None:
    transcript = shared_path("fixtures", name)
    (tmp_path / "home").mkdir()
    with new_ledger(tmp_path, "hooks") as by_hook, new_ledger(tmp_path, "import") as by_import:
        for payload in hook_payloads(transcript):
            run_hook(by_hook.store.path, json.dumps(payload).encode(), tmp_path / "home")
        do_import(by_import, transcript)
        hooked = {
            r[3]["agent"]["tool_use_id"]: essentials(r[3], r[1])
            for r in tool_records(by_hook, "claude-code.hook")
        }
        imported = {
            r[3]["agent"]["tool_use_id"]: essentials(r[3], r[1]) for r in tool_records(by_import)
        }
    assert hooked and hooked == imported
    files = [v["file"] for v in imported.values() if v["tool"] in WRITERS]
    assert all(f["after_sha256"] for f in files if f)


# -- odd and malformed input ----------------------------------------------------------------


def test_malformed_lines_are_reported_and_the_rest_imported(ledger: Ledger) -> None:
    path = TRANSCRIPTS / "malformed-lines.jsonl"
    result = do_import(ledger, path)
    bad = [2, 3, 4, 5, 6, 7, 11, 13, 14, 15]
    assert [e.split(": ", 1)[0] for e in result.errors] == [f"{path}:{n}" for n in bad]
    assert result.error_count == len(bad)
    # The cut-off last line (no newline) is still being written: pending, not an error.
    assert [p.split(": ", 1)[0] for p in result.pending] == [f"{path}:16"]
    kinds = Counter(r[1] for r in rows(ledger))
    assert kinds == Counter(
        {
            "prompt.submit": 2,
            "command.exec": 1,
            "tool.intent": 1,
            "capture.gap": 1,
            "capture.error": len(bad),
        }
    )
    errors = [r[3]["error"] for r in rows(ledger) if r[1] == "capture.error"]
    assert [(e["file"], e["line"]) for e in errors] == [(str(path), n) for n in bad]
    [command] = [r[3] for r in rows(ledger) if r[1] == "command.exec"]
    assert command["command"] == {"text": "pytest -q", "exit": 0, "interrupted": False}
    assert command["agent"]["tool_use_id"] == "toolu_good1"
    assert "prompt.submit" in kinds and result.sessions == 1
    again = do_import(ledger, path)
    assert (again.records, again.duplicates, again.error_count) == (0, 4, result.error_count)


def test_binary_empty_and_missing_files_do_not_stop_the_import(
    tmp_path: Path, ledger: Ledger, hooked_dir: Path
) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(random.Random(7).randbytes(300_000))
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    good = hooked_dir / "0e72a50a-26a8-435d-8708-523dd0eecddd.jsonl"
    missing = tmp_path / "gone.jsonl"
    result = do_import(ledger, garbage, empty, missing, good)
    assert result.files_read == 3
    assert result.error_count >= 2
    assert all(e.startswith((f"{garbage}:", f"{missing}:")) for e in result.errors)
    assert any(e.startswith(f"{missing}: cannot read") for e in result.errors)
    assert [r[1] for r in tool_records(ledger)] == ["command.exec"]


def test_huge_lines(tmp_path: Path, ledger: Ledger) -> None:
    content = "x" * (5 * 2**20)
    use = {
        "type": "tool_use",
        "id": "toolu_big",
        "name": "Write",
        "input": {"file_path": "/work/big.txt", "content": content},
    }
    lines = [
        {"type": "assistant", "sessionId": "big", "message": {"content": [use]}},
        {
            "type": "user",
            "sessionId": "big",
            "toolUseResult": {"type": "create"},
            "message": {"content": [{"type": "tool_result", "tool_use_id": "toolu_big"}]},
        },
        {"type": "user", "sessionId": "big", "uuid": "p1", "message": {"content": "after"}},
    ]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")

    result = do_import(ledger, path)
    assert result.error_count == 0
    [(_, kind, _, payload)] = tool_records(ledger)
    assert kind == "file.create" and payload["file"]["size"] == len(content)
    stored = ledger.store.record(0)
    assert stored is not None and len(stored[4] or b"") < 64_000, "raw and inputs are capped"

    with new_ledger(tmp_path, "small") as small:
        capped = do_import(small, path, max_line=2**20)
        assert capped.errors == [f"{path}:1: line longer than {2**20} bytes; skipped"]
        assert [r[1] for r in rows(small)] == ["capture.error", "prompt.submit"]
        error = rows(small)[0][3]
        assert error["error"]["line"] == 1 and error["error"]["file"] == str(path)
        # The record keeps the line's size and a bounded excerpt, never the line itself.
        assert error["input"]["bytes"] == len(path.read_bytes().split(b"\n")[0]) + 1
        assert "head_sha256" in error["input"] and "sha256" not in error["input"]
        assert len(error["input"]["excerpt"]) <= 161
        assert error["input"]["excerpt"].startswith('{"type": "assistant"')


def test_paths_with_spaces_unicode_and_crlf(
    tmp_path: Path, ledger: Ledger, hooked_dir: Path
) -> None:
    source = hooked_dir / "5668ec28-8187-4443-bfc9-b89bf23120bc.jsonl"
    folder = tmp_path / "Application Support" / "séances 日本"
    folder.mkdir(parents=True)
    target = folder / "my session ✓.jsonl"
    target.write_bytes(source.read_bytes().replace(b"\n", b"\r\n"))
    result = do_import(ledger, tmp_path / "Application Support")
    assert (result.files_read, result.error_count, result.sessions) == (1, 0, 1)
    tools = tool_records(ledger)
    assert len(tools) == 5
    assert {r[3]["raw_rest"]["transcript_path"] for r in tools} == {str(target)}


def test_odd_unicode(tmp_path: Path, ledger: Ledger) -> None:
    text = "naïve café 🚀 עברית\u200f zero\u200bwidth e\u0301"
    use = {
        "type": "tool_use",
        "id": "toolu_u",
        "name": "Write",
        "input": {"file_path": "/w/ü 日本/🚀.txt", "content": "a\u0000b\U0001f600"},
    }
    lines = [
        {"type": "user", "sessionId": "u", "uuid": "1", "message": {"content": text}},
        {"type": "assistant", "sessionId": "u", "message": {"content": [use]}},
        {"type": "user", "sessionId": "u", "toolUseResult": {"type": "create"},
         "message": {"content": [{"type": "tool_result", "tool_use_id": "toolu_u"}]}},
        {"type": "user", "sessionId": "u", "uuid": "4", "message": {"content": "bad \ud800"}},
        {"type": "user", "sessionId": "u", "uuid": "5", "message": {"content": "still here"}},
    ]  # fmt: skip
    path = tmp_path / "unicode.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    result = do_import(ledger, path)
    assert [e.split(": ", 1)[0] for e in result.errors] == [f"{path}:4"]
    assert "cannot be recorded" in result.errors[0]
    prompts = [r[3]["prompt"]["text"] for r in rows(ledger) if r[1] == "prompt.submit"]
    assert prompts == [text, "still here"]
    [(_, kind, _, payload)] = tool_records(ledger)
    assert kind == "file.create" and payload["file"]["path"] == "/w/ü 日本/🚀.txt"
    assert payload["file"]["size"] == len("a\u0000b\U0001f600".encode())


def test_folder_without_transcripts_and_empty_paths(tmp_path: Path, ledger: Ledger) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    result = do_import(ledger, tmp_path / "notes")
    assert result.files_read == 0
    assert result.errors == [
        f"{tmp_path / 'notes'}: no transcripts (*.jsonl) or Cowork "
        "session records (local_*.json) in it"
    ]


def test_bad_cowork_session_records(tmp_path: Path, ledger: Ledger) -> None:
    folder = tmp_path / "local-agent-mode-sessions" / "acct" / "org"
    folder.mkdir(parents=True)
    (folder / "local_a.json").write_text('{\n  "sessionId": "local_a",\n  "cwd": 5\n}\n')
    (folder / "local_b.json").write_text('{\n  "sessionId": "local_b",\n  oops\n}\n')
    (folder / "local_c.json").write_text("[1]")
    result = do_import(ledger, tmp_path)
    assert result.records == 3  # one capture.error each, nothing else
    assert Counter(r[1] for r in rows(ledger)) == Counter({"capture.error": 3})
    assert result.errors == [
        f"{folder / 'local_a.json'}:1: field 'cwd' must be a string, not a number",
        f"{folder / 'local_b.json'}:3: not JSON (Expecting property name enclosed in double "
        "quotes)",
        f"{folder / 'local_c.json'}:1: expected a JSON object, got a list",
    ]


# -- Cowork, live sessions, interruptions ---------------------------------------------------


def test_cowork_tree(tmp_path: Path, ledger: Ledger) -> None:
    audit = shared_path(
        "fixtures",
        "tuo-lei__vibe-replay",
        "packages",
        "cli",
        "test",
        "fixtures",
        "claude-cowork-audit.jsonl",
    )
    org = tmp_path / "Claude" / "local-agent-mode-sessions" / "acct-1" / "org-1"
    session_dir = org / "local_s1"
    inner = session_dir / ".claude" / "projects" / "-sessions-s1-mnt-outputs"
    inner.mkdir(parents=True)
    (org / "local_s1.json").write_text(
        json.dumps(
            {
                "sessionId": "local_s1",
                "cliSessionId": "cli-s1",
                "cwd": "/sessions/s1/mnt/outputs",
                "title": "Cowork test",
                "createdAt": 1750000000000,
            }
        )
    )
    shutil.copyfile(audit, session_dir / "audit.jsonl")
    # The inner CLI transcript holds the same tool call as audit.jsonl, in Claude Code's shape.
    use = {
        "type": "tool_use",
        "id": "tool_001",
        "name": "mcp__workspace__bash",
        "input": {"command": "ls ~/Library/Application\\ Support/Claude/"},
    }
    result_block = {"type": "tool_result", "tool_use_id": "tool_001", "content": "ok"}
    lines = [
        {
            "type": "assistant",
            "sessionId": "cli-s1",
            "cwd": "/sessions/s1/mnt/outputs",
            "timestamp": "2025-06-15T09:00:05Z",
            "message": {"content": [use]},
        },
        {
            "type": "user",
            "sessionId": "cli-s1",
            "timestamp": "2025-06-15T09:00:06Z",
            "toolUseResult": {"stdout": "ok", "stderr": "", "interrupted": False},
            "message": {"content": [result_block]},
        },
    ]
    (inner / "cli-s1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))

    result = do_import(ledger, tmp_path / "Claude")
    assert (result.files_read, result.error_count, result.duplicates) == (3, 0, 1)
    assert result.sessions == 3  # local_s1 and cli-s1, and the fixture audit's own id
    every = rows(ledger)
    assert {r[3]["agent"]["product"] for r in every} == {"cowork"}
    assert Counter(r[1] for r in every)["session.start"] == 1
    assert [r[1] for r in tool_records(ledger)] == ["command.exec"]
    # The tool ran in Cowork's VM (its cwd is /sessions/<name>/mnt/...).
    assert [r[3]["agent"]["surface"] for r in tool_records(ledger)] == ["vm"]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"cwd": "/sessions/s1/mnt/outputs"}, ("cowork", "vm")),
        ({"cwd": "/sessions/s1", "transcript_path": "/sessions/s1/mnt/.claude/x.jsonl"},
         ("cowork", "vm")),
        ({"transcript_path": "/Users/u/Library/Application Support/Claude/"
          "local-agent-mode-sessions/a/o/local_1/audit.jsonl"}, ("cowork", "host")),
        ({"cwd": "/Users/u/work", "transcript_path": "/Users/u/.claude/projects/p/s.jsonl"},
         ("claude-code", "cli")),
        ({"cwd": "/sessions-archive/mnt/x"}, ("claude-code", "cli")),
        ({"cwd": 7, "transcript_path": None}, ("claude-code", "cli")),
        # A cloud session (code.claude.com/docs/en/claude-code-on-the-web): CLAUDE_CODE_REMOTE
        # is "true", which the hook adds to the event; the paths still give the product.
        ({"cwd": "/home/user/repo", "affidavit_env": {"CLAUDE_CODE_REMOTE": "true"}},
         ("claude-code", "remote")),
        ({"cwd": "/sessions/s1/mnt/outputs", "affidavit_env": {"CLAUDE_CODE_REMOTE": "true"}},
         ("cowork", "remote")),
        ({"cwd": "/home/user/repo", "affidavit_env": {"CLAUDE_CODE_REMOTE": "false"}},
         ("claude-code", "cli")),
        ({"cwd": "/home/user/repo", "affidavit_env": "CLAUDE_CODE_REMOTE=true"},
         ("claude-code", "cli")),
    ],
)  # fmt: skip
def test_product_and_surface_from_paths(
    event: dict[str, object], expected: tuple[str, str]
) -> None:
    assert events.product_and_surface(event) == expected


def test_unanswered_tool_use_gets_its_outcome_on_a_later_import(
    tmp_path: Path, ledger: Ledger
) -> None:
    use = {
        "type": "tool_use",
        "id": "toolu_live",
        "name": "Edit",
        "input": {"file_path": "/w/a.txt", "old_string": "a", "new_string": "b"},
    }
    path = tmp_path / "live.jsonl"
    path.write_text(
        json.dumps({"type": "assistant", "sessionId": "live", "message": {"content": [use]}}) + "\n"
    )
    first = do_import(ledger, path)
    assert [r[1] for r in tool_records(ledger)] == ["tool.intent"]
    assert first.records == 2  # the intent and the session's gap

    answer = {
        "type": "user",
        "sessionId": "live",
        "toolUseResult": {"originalFile": "a"},
        "message": {"content": [{"type": "tool_result", "tool_use_id": "toolu_live"}]},
    }
    with path.open("a") as f:
        f.write(json.dumps(answer) + "\n")
    second = do_import(ledger, path)
    kinds = [r[1] for r in tool_records(ledger)]
    assert kinds == ["tool.intent", "file.update"]
    assert second.duplicates == 0
    [update] = [r[3] for r in tool_records(ledger) if r[1] == "file.update"]
    assert update["file"]["before_sha256"] and update["file"]["after_sha256"]
    assert do_import(ledger, path).records == 0


def test_interrupted_import_keeps_what_it_committed(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, hooked_dir: Path
) -> None:
    folder = hooked_dir
    monkeypatch.setattr(transcript_batch, "BATCH_RECORDS", 3)
    calls = 0

    def stop_after_first_file(done: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt

    importer = transcripts.Importer(ledger.store, imported_by=IMPORTER)
    sources, _ = transcripts.discover([folder])
    with pytest.raises(KeyboardInterrupt):
        importer.run(sources, stop_after_first_file)
    ledger.verify()
    kept = ledger.store.size()
    assert kept > 0

    rest = do_import(ledger, folder)
    assert rest.duplicates > 0
    with new_ledger(tmp_path, "clean") as clean:
        do_import(clean, folder)
        want = Counter(r[1] for r in rows(clean) if r[1] != "capture.gap")
    assert Counter(r[1] for r in rows(ledger) if r[1] != "capture.gap") == want


# -- the command ----------------------------------------------------------------------------


def test_cli_json_errors_and_exit_codes(
    tmp_path: Path, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--ledger", str(ledger.store.path), "import", "claude-code"]
    malformed = TRANSCRIPTS / "malformed-lines.jsonl"
    assert (
        run([*base, "--json", "--user", "alice", "--email", "a@example.com", str(malformed)]) == 1
    )
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert list(summary) == [
        "sessions",
        "records",
        "duplicates",
        "corroborated",
        "gaps",
        "errors",
        "pending",
    ]
    assert summary["errors"] == 10 and summary["records"] == 5 + 10 and summary["pending"] == 1
    assert f"{malformed}:2: not JSON" in err
    assert "10 error(s)" in err and "1 line(s) pending" in err
    actors = {json.dumps(r[3]["actor"], sort_keys=True) for r in rows(ledger)}
    assert len(actors) == 1
    actor = json.loads(actors.pop())
    assert (actor["user"], actor["email"]) == ("alice", "a@example.com")

    assert run([*base, str(tmp_path / "nope.jsonl")]) == 2
    _, err = capsys.readouterr()
    assert "nope.jsonl: cannot read" in err and "no PATH could be read" in err

    # The same errors again: still findings (exit 1), but recorded only once.
    assert run([*base, str(malformed)]) == 1
    _, err = capsys.readouterr()
    assert "imported 0 record(s)" in err and "4 duplicate(s)" in err


def test_cli_help_names_the_command() -> None:
    assert run(["import", "--help"]) == 0
    assert run(["import", "claude-code", "--help"]) == 0

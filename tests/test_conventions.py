"""Tests for convention snapshots: the instruction files in force, recorded by the hook.

A temp project holds CLAUDE.md, .claude/settings.json and skills; HOME is a temp folder too,
so the real user's files are never read. The hook is the real command in a subprocess.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from affidavit.capture import snapshots
from affidavit.capture.conventions import memo_key
from ledger_helpers import new_ledger
from test_hook import QUIET, Rec, read_records, send, tool_event


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    new_ledger(tmp_path).close()
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    (folder / ".claude").mkdir(parents=True)
    (folder / ".claude" / "CLAUDE.md").write_text("# Always answer in English\n")
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "org" / "project"
    (folder / ".claude" / "skills" / "review").mkdir(parents=True)
    (folder / ".claude" / "commands").mkdir()
    (folder / "CLAUDE.md").write_text("# Project rules\n\nNever touch finance/.\n")
    (folder / "CLAUDE.local.md").write_text("local notes\n")
    (folder / ".claude" / "settings.json").write_text('{"permissions": {"deny": ["Bash(rm:*)"]}}')
    (folder / ".claude" / "skills" / "review" / "SKILL.md").write_text("# Review skill\n")
    (folder / ".claude" / "skills" / "review" / "checklist.md").write_text("- [ ] tests\n")
    (folder / ".claude" / "commands" / "ship.md").write_text("Ship it.\n")
    (tmp_path / "org" / "CLAUDE.md").write_text("# Org-wide rules\n")  # a parent folder
    (folder / "notes.md").write_text("not an instruction file\n")
    return folder


def expected_files(tmp_path: Path) -> set[Path]:
    project = tmp_path / "org" / "project"
    claude = project / ".claude"
    return {
        project / "CLAUDE.md",
        project / "CLAUDE.local.md",
        claude / "settings.json",
        claude / "skills" / "review" / "SKILL.md",
        claude / "skills" / "review" / "checklist.md",
        claude / "commands" / "ship.md",
        tmp_path / "org" / "CLAUDE.md",
        tmp_path / "home" / ".claude" / "CLAUDE.md",
    }


def session_start(project: Path) -> dict[str, object]:
    return {
        "session_id": "56422690-bc20-4983-b21e-8514b3d56b4b",
        "transcript_path": "/home/someone/.claude/projects/p/56422690.jsonl",
        "cwd": str(project),
        "hook_event_name": "SessionStart",
        "source": "startup",
    }


def read_event(project: Path, use_id: str) -> dict[str, object]:
    return tool_event(
        "PreToolUse", "Read", {"file_path": str(project / "notes.md")}, use_id, project
    )


def snapshots_in(ledger: Path) -> list[Rec]:
    return [r for r in read_records(ledger) if r.kind == "convention.snapshot"]


def listed(record: Rec) -> dict[Path, str]:
    return {Path(f["path"]): f["sha256"] for f in record.payload["conventions"]["files"]}


def blob(ledger: Path, sha256: str) -> bytes | None:
    conn = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return snapshots.get_blob(conn, sha256)
    finally:
        conn.close()


def test_session_start_snapshots_every_instruction_file(
    ledger: Path, tmp_path: Path, home: Path, project: Path
) -> None:
    send(ledger, session_start(project), *QUIET, home=home)
    assert [r.kind for r in read_records(ledger)] == ["session.start", "convention.snapshot"]
    [snap] = snapshots_in(ledger)
    assert snap.payload["conventions"]["trigger"] == "SessionStart"
    assert snap.payload["agent"]["cwd"] == str(project)
    files = listed(snap)
    assert {p for p in files if tmp_path in p.parents} == expected_files(tmp_path)
    assert not any(Path.home() in p.parents for p in files if tmp_path not in p.parents)
    for path in expected_files(tmp_path):
        data = path.read_bytes()
        assert files[path] == hashlib.sha256(data).hexdigest(), path
        assert blob(ledger, files[path]) == data, path
    sizes = {Path(f["path"]): f["size"] for f in snap.payload["conventions"]["files"]}
    assert sizes[project / "CLAUDE.md"] == (project / "CLAUDE.md").stat().st_size


def test_unchanged_conventions_are_not_snapshotted_again(
    ledger: Path, home: Path, project: Path
) -> None:
    send(ledger, session_start(project), *QUIET, home=home)
    for i in range(3):
        send(ledger, read_event(project, f"toolu_read_{i}"), *QUIET, home=home)
    assert len(snapshots_in(ledger)) == 1


def test_changed_claude_md_is_snapshotted_at_the_next_event(
    ledger: Path, home: Path, project: Path
) -> None:
    send(ledger, session_start(project), *QUIET, home=home)
    claude_md = project / "CLAUDE.md"
    claude_md.write_text("# Project rules\n\nYou may now touch finance/ too.\n")
    send(ledger, read_event(project, "toolu_after_change"), *QUIET, home=home)
    first, second = snapshots_in(ledger)
    assert second.payload["conventions"]["trigger"] == "changed"
    assert second.payload["agent"]["event"] == "PreToolUse"
    new_hash = hashlib.sha256(claude_md.read_bytes()).hexdigest()
    assert listed(first)[claude_md] != new_hash == listed(second)[claude_md]
    assert blob(ledger, new_hash) == claude_md.read_bytes()
    # The old version is still in the content store: an auditor can see what was in force.
    assert blob(ledger, listed(first)[claude_md]) == b"# Project rules\n\nNever touch finance/.\n"
    send(ledger, read_event(project, "toolu_after_that"), *QUIET, home=home)
    assert len(snapshots_in(ledger)) == 2


def test_same_size_rewrite_is_seen_by_its_mtime(ledger: Path, home: Path, project: Path) -> None:
    send(ledger, session_start(project), *QUIET, home=home)
    settings = project / ".claude" / "settings.json"
    old = settings.read_bytes()
    settings.write_bytes(old.replace(b"rm", b"mv"))
    stat = settings.stat()
    os.utime(settings, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    send(ledger, read_event(project, "toolu_after_change"), *QUIET, home=home)
    first, second = snapshots_in(ledger)
    assert listed(second)[settings] == hashlib.sha256(settings.read_bytes()).hexdigest()
    assert listed(first)[settings] == hashlib.sha256(old).hexdigest()


def test_new_skill_file_is_snapshotted(ledger: Path, home: Path, project: Path) -> None:
    send(ledger, session_start(project), *QUIET, home=home)
    skill = project / ".claude" / "skills" / "deploy" / "SKILL.md"
    skill.parent.mkdir()
    skill.write_text("# Deploy skill\n")
    send(ledger, read_event(project, "toolu_after_change"), *QUIET, home=home)
    _, second = snapshots_in(ledger)
    assert listed(second)[skill] == hashlib.sha256(skill.read_bytes()).hexdigest()


def test_removed_file_is_snapshotted(ledger: Path, home: Path, project: Path) -> None:
    send(ledger, session_start(project), *QUIET, home=home)
    (project / "CLAUDE.local.md").unlink()
    send(ledger, read_event(project, "toolu_after_change"), *QUIET, home=home)
    first, second = snapshots_in(ledger)
    assert set(listed(first)) - set(listed(second)) == {project / "CLAUDE.local.md"}


def test_every_session_start_snapshots_even_when_unchanged(
    ledger: Path, home: Path, project: Path
) -> None:
    send(ledger, session_start(project), *QUIET, home=home)
    send(ledger, session_start(project), *QUIET, home=home)
    first, second = snapshots_in(ledger)
    assert listed(first) == listed(second)
    assert second.payload["conventions"]["trigger"] == "SessionStart"


def test_each_project_folder_has_its_own_snapshot(
    ledger: Path, tmp_path: Path, home: Path, project: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "CLAUDE.md").write_text("# Other project\n")
    send(ledger, session_start(project), *QUIET, home=home)
    send(ledger, read_event(other, "toolu_other"), *QUIET, home=home)
    send(ledger, read_event(project, "toolu_back"), *QUIET, home=home)
    _, second = snapshots_in(ledger)
    assert second.payload["agent"]["cwd"] == str(other)
    assert other / "CLAUDE.md" in listed(second)
    assert project / "CLAUDE.md" not in listed(second)


def test_a_cwd_with_a_nul_byte_is_no_error(tmp_path: Path) -> None:
    """Regression (found by the hostile-input suite): a cwd holding a NUL made the folder
    scan raise ValueError, so the hook reported an error instead of recording the event."""
    from affidavit.capture import conventions

    found = conventions.fingerprint({"hook_event_name": "PreToolUse", "cwd": "\x00"})
    assert found is not None
    key, _, stats = found
    assert key == "conventions:\x00"
    assert all("\x00" not in path for path in stats)


def test_a_cwd_that_is_not_utf8_does_not_break_the_memo(tmp_path: Path) -> None:
    """Found by the hostile-input suite: a UTF-16 event whose cwd holds a lone surrogate
    made the conventions memo key unstorable, and the hook printed a UnicodeEncodeError."""
    import json as _json

    from ledger_helpers import affidavit as run_cli

    new_ledger(tmp_path).close()
    event = {
        "hook_event_name": "PostToolUse",
        "session_id": "s",
        "tool_name": "Bash",
        "tool_use_id": "toolu_surrogate",
        "cwd": str(tmp_path) + "/\ud800x",
        "tool_input": {"command": "ls"},
        "tool_response": {},
    }
    raw = _json.dumps(event, ensure_ascii=False).encode("utf-16", "surrogatepass")
    done = run_cli(
        tmp_path / "ledger.sqlite", "hook", "--socket", str(tmp_path / "no.sock"), stdin=raw
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert memo_key("/a/\ud800") != memo_key("/a/\udc00")
    assert memo_key("/a/b") == "conventions:/a/b"

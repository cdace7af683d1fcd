"""Tests for file snapshots, ``affidavit diff`` and ``affidavit rollback``.

The hook runs for real (``python -m affidavit hook`` in a subprocess) around real changes to
files under ``tmp_path``; diff and rollback are the real commands too.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from affidavit.capture import snapshots
from ledger_helpers import affidavit, new_ledger
from test_hook import QUIET, Rec, blob_hashes, read_records, seal_and_verify, send, tool_event

ONE = b"first line\nsecond line\nthird line\n"
TWO = b"first line\nline two, edited\nthird line\nfourth line\n"
BINARY_ONE = bytes(range(256)) + b"\x00\xff\xfe" * 50 + b"\r\n\x00"
BINARY_TWO = b"\x00" * 10 + bytes(range(255, -1, -1)) + b"\x80\x81"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob(ledger: Path, sha256: str) -> bytes | None:
    conn = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return snapshots.get_blob(conn, sha256)
    finally:
        conn.close()


def change(
    ledger: Path, path: Path, data: bytes | None, use_id: str, *args: str, tool: str = "Edit"
) -> Rec:
    """PreToolUse, write ``data`` to ``path`` (or delete it), PostToolUse; the Post record."""
    existed = path.exists()
    old = path.read_bytes().decode("utf-8", "replace") if existed else None
    new = None if data is None else data.decode("utf-8", "replace")
    response: dict[str, Any]
    if tool == "Write":
        tool_input = {"file_path": str(path), "content": new}
        response = {"type": "update" if existed else "create", "originalFile": old}
    else:
        tool_input = {"file_path": str(path), "old_string": old, "new_string": new}
        response = {"filePath": str(path), "originalFile": old, "structuredPatch": []}
    cwd = path.parent
    send(ledger, tool_event("PreToolUse", tool, tool_input, use_id, cwd), *args, *QUIET)
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)
    post = tool_event("PostToolUse", tool, tool_input, use_id, cwd, tool_response=response)
    send(ledger, post, *args, *QUIET)
    [record] = [
        r
        for r in read_records(ledger)
        if r.kind.startswith("file.") and r.payload["agent"].get("tool_use_id") == use_id
    ]
    return record


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    new_ledger(tmp_path).close()
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def restores(ledger: Path) -> list[Rec]:
    return [r for r in read_records(ledger) if r.kind == "file.restore"]


# -- snapshots and diff ---------------------------------------------------------------------


def test_edit_keeps_before_and_after_content(ledger: Path, work: Path) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    record = change(ledger, target, TWO, "toolu_edit")
    assert record.kind == "file.update"
    assert record.payload["file"] == {
        "path": str(target),
        "before_sha256": sha(ONE),
        "after_sha256": sha(TWO),
        "size": len(TWO),
    }
    assert blob(ledger, sha(ONE)) == ONE
    assert blob(ledger, sha(TWO)) == TWO


def test_diff_prints_the_unified_diff(ledger: Path, work: Path) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    record = change(ledger, target, TWO, "toolu_edit")
    done = affidavit(ledger, "diff", str(record.seq))
    assert done.returncode == 0, done.stderr
    name = str(target).lstrip("/")
    assert done.stdout == (
        f"--- a/{name}\n"
        f"+++ b/{name}\n"
        "@@ -1,3 +1,4 @@\n"
        " first line\n"
        "-second line\n"
        "+line two, edited\n"
        " third line\n"
        "+fourth line\n"
    )


def test_diff_of_a_created_file(ledger: Path, work: Path) -> None:
    target = work / "new.md"
    record = change(ledger, target, b"# New\n", "toolu_write", tool="Write")
    assert record.kind == "file.create"
    done = affidavit(ledger, "diff", str(record.seq))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "--- /dev/null",
        f"+++ b/{str(target).lstrip('/')}",
        "@@ -0,0 +1 @@",
        "+# New",
    ]


def test_diff_summarises_binary_content(ledger: Path, work: Path) -> None:
    target = work / "image.bin"
    target.write_bytes(BINARY_ONE)
    record = change(ledger, target, BINARY_TWO, "toolu_bin")
    done = affidavit(ledger, "diff", str(record.seq))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Binary files ")
    assert f"({len(BINARY_ONE)} -> {len(BINARY_TWO)} bytes)" in done.stdout


def test_diff_of_a_non_file_record_is_a_usage_error(ledger: Path, work: Path) -> None:
    (work / "a").write_bytes(ONE)
    change(ledger, work / "a", TWO, "toolu_edit")
    [intent] = [r for r in read_records(ledger) if r.kind == "tool.intent"]
    done = affidavit(ledger, "diff", str(intent.seq))
    assert done.returncode == 2
    assert "not a file change" in done.stderr


# -- rollback -------------------------------------------------------------------------------


def test_rollback_restores_exact_bytes_and_is_recorded(ledger: Path, work: Path) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    target.chmod(0o640)
    record = change(ledger, target, TWO, "toolu_edit")
    done = affidavit(ledger, "rollback", str(record.seq), "--json")
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == ONE
    assert target.stat().st_mode & 0o777 == 0o640
    [restore] = restores(ledger)
    assert json.loads(done.stdout) == {
        "restored": record.seq,
        "path": str(target),
        "restore_seq": restore.seq,
    }
    assert restore.payload["file"] == {
        "path": str(target),
        "before_sha256": sha(TWO),
        "after_sha256": sha(ONE),
    }
    assert restore.payload["restore"] == {"of_seq": record.seq, "forced": False}
    assert not list(work.glob(".affidavit-restore-*"))
    seal_and_verify(ledger)


def test_rollback_of_a_binary_file(ledger: Path, work: Path) -> None:
    target = work / "image.bin"
    target.write_bytes(BINARY_ONE)
    record = change(ledger, target, BINARY_TWO, "toolu_bin")
    assert affidavit(ledger, "rollback", str(record.seq)).returncode == 0
    assert target.read_bytes() == BINARY_ONE


def test_rollback_of_a_created_file_removes_it(ledger: Path, work: Path) -> None:
    target = work / "new.md"
    record = change(ledger, target, b"# New\n", "toolu_write", tool="Write")
    assert affidavit(ledger, "rollback", str(record.seq)).returncode == 0
    assert not target.exists()
    [restore] = restores(ledger)
    assert restore.payload["file"] == {"path": str(target), "before_sha256": sha(b"# New\n")}


def test_rollback_refuses_a_file_changed_since(ledger: Path, work: Path) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    record = change(ledger, target, TWO, "toolu_edit")
    target.write_bytes(b"someone else's work\n")
    size = len(read_records(ledger))
    done = affidavit(ledger, "rollback", str(record.seq))
    assert done.returncode == 2
    assert "changed since" in done.stderr and "--force" in done.stderr
    assert target.read_bytes() == b"someone else's work\n"
    assert len(read_records(ledger)) == size
    done = affidavit(ledger, "rollback", str(record.seq), "--force")
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == ONE
    [restore] = restores(ledger)
    assert restore.payload["restore"] == {"of_seq": record.seq, "forced": True}
    assert restore.payload["file"]["before_sha256"] == sha(b"someone else's work\n")


def test_rollback_refuses_a_file_deleted_since(ledger: Path, work: Path) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    record = change(ledger, target, TWO, "toolu_edit")
    target.unlink()
    done = affidavit(ledger, "rollback", str(record.seq))
    assert done.returncode == 2
    assert "absent" in done.stderr
    assert not target.exists()


def test_rollback_replaces_a_symlink_instead_of_writing_through(
    ledger: Path, work: Path, tmp_path: Path
) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    record = change(ledger, target, TWO, "toolu_edit")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(TWO)  # same content, so the after-hash check passes
    target.unlink()
    target.symlink_to(outside)
    done = affidavit(ledger, "rollback", str(record.seq))
    assert done.returncode == 0, done.stderr
    assert not target.is_symlink()
    assert target.read_bytes() == ONE
    assert outside.read_bytes() == TWO


def test_forced_rollback_over_a_symlink_never_writes_outside(
    ledger: Path, work: Path, tmp_path: Path
) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    record = change(ledger, target, TWO, "toolu_edit")
    outside = tmp_path / "secret-elsewhere.txt"
    outside.write_bytes(b"not the agent's file\n")
    target.unlink()
    target.symlink_to(outside)
    assert affidavit(ledger, "rollback", str(record.seq)).returncode == 2
    assert affidavit(ledger, "rollback", str(record.seq), "--force").returncode == 0
    assert not target.is_symlink()
    assert target.read_bytes() == ONE
    assert outside.read_bytes() == b"not the agent's file\n"


def test_file_over_the_size_cap_is_hashed_not_kept(ledger: Path, work: Path) -> None:
    target = work / "big.txt"
    big_one, big_two = ONE * 10, TWO * 10
    target.write_bytes(big_one)
    record = change(ledger, target, big_two, "toolu_big", "--max-file-bytes", "100")
    assert record.payload["file"]["before_sha256"] == sha(big_one)
    assert record.payload["file"]["after_sha256"] == sha(big_two)
    assert {sha(big_one), sha(big_two)}.isdisjoint(blob_hashes(ledger))
    for command in ("diff", "rollback"):
        done = affidavit(ledger, command, str(record.seq))
        assert done.returncode == 2, command
        assert "not kept" in done.stderr and len(done.stderr.splitlines()) == 1, command
    assert target.read_bytes() == big_two
    assert restores(ledger) == []


def test_file_at_the_size_cap_is_kept(ledger: Path, work: Path) -> None:
    target = work / "edge.txt"
    target.write_bytes(b"x" * 100)
    record = change(ledger, target, b"y" * 100, "toolu_edge", "--max-file-bytes", "100")
    assert affidavit(ledger, "rollback", str(record.seq)).returncode == 0
    assert target.read_bytes() == b"x" * 100


# -- files changed by shell commands ------------------------------------------------------


def bash(ledger: Path, work: Path, command: str, use_id: str) -> list[Rec]:
    """Pre hook, the command, Post hook; the file records the command's run implied."""
    tool_input = {"command": command, "description": "test"}
    send(ledger, tool_event("PreToolUse", "Bash", tool_input, use_id, work), *QUIET)
    subprocess.run(command, shell=True, cwd=work, check=True)
    response = {"stdout": "", "stderr": "", "interrupted": False}
    post = tool_event("PostToolUse", "Bash", tool_input, use_id, work, tool_response=response)
    send(ledger, post, *QUIET)
    return [
        r
        for r in read_records(ledger)
        if r.kind.startswith("file.") and r.payload["agent"].get("tool_use_id") == use_id
    ]


def read(ledger: Path, path: Path, use_id: str) -> None:
    tool_input = {"file_path": str(path)}
    text = path.read_bytes().decode("utf-8", "replace")
    response = {"type": "text", "file": {"filePath": str(path), "content": text}}
    event = tool_event(
        "PostToolUse", "Read", tool_input, use_id, path.parent, tool_response=response
    )
    send(ledger, event, *QUIET)


def test_rollback_of_a_file_removed_by_rm_after_a_read(ledger: Path, work: Path) -> None:
    target = work / "c.txt"
    content = b"kept because the agent read it\n\x00\xff"
    target.write_bytes(content)
    target.chmod(0o644)
    read(ledger, target, "toolu_read")
    [delete] = bash(ledger, work, "rm c.txt", "toolu_rm")
    assert delete.kind == "file.delete"
    assert delete.payload["file"] == {"path": str(target), "before_sha256": sha(content)}
    assert not target.exists()
    done = affidavit(ledger, "rollback", str(delete.seq))
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == content
    [restore] = restores(ledger)
    assert restore.payload["file"] == {"path": str(target), "after_sha256": sha(content)}
    seal_and_verify(ledger)


def test_rollback_of_a_file_an_uncomputable_rm_removed_fails_clearly(
    ledger: Path, work: Path
) -> None:
    # A plain `rm c.txt` is pre-imaged (tests/test_preimages.py); a name that only the shell
    # computes is not, so nothing knows what the file held.
    target = work / "c.txt"
    target.write_bytes(b"never read\n")
    [delete] = bash(ledger, work, "rm $(echo c.txt)", "toolu_rm")
    assert delete.kind == "file.delete"
    assert "before_sha256" not in delete.payload["file"]
    done = affidavit(ledger, "rollback", str(delete.seq))
    assert done.returncode == 2
    assert "does not know what" in done.stderr
    assert not target.exists()


def test_rollback_of_a_shell_update_after_an_edit(ledger: Path, work: Path) -> None:
    target = work / "d.txt"
    target.write_bytes(ONE)
    change(ledger, target, TWO, "toolu_edit")  # the hook now knows TWO by its stat
    [update] = bash(ledger, work, "printf 'appended' >> d.txt", "toolu_append")
    assert update.kind == "file.update"
    assert update.payload["file"]["before_sha256"] == sha(TWO)
    assert affidavit(ledger, "rollback", str(update.seq)).returncode == 0
    assert target.read_bytes() == TWO


def test_rollback_of_a_rename(ledger: Path, work: Path) -> None:
    (work / "a.txt").write_bytes(ONE)
    [rename] = bash(ledger, work, "mv a.txt b.txt", "toolu_mv")
    assert rename.kind == "file.rename"
    assert rename.payload["file"]["old_path"] == str(work / "a.txt")
    # The hook never saw a.txt before: it hashes the moved file where it lands.
    assert rename.payload["file"]["before_sha256"] == sha(ONE)
    assert rename.payload["file"]["after_sha256"] == sha(ONE)
    done = affidavit(ledger, "rollback", str(rename.seq))
    assert done.returncode == 0, done.stderr
    assert (work / "a.txt").read_bytes() == ONE
    assert not (work / "b.txt").exists()


def test_rollback_is_recorded_even_for_the_restore_itself(ledger: Path, work: Path) -> None:
    target = work / "notes.txt"
    target.write_bytes(ONE)
    record = change(ledger, target, TWO, "toolu_edit")
    assert affidavit(ledger, "rollback", str(record.seq)).returncode == 0
    [restore] = restores(ledger)
    # Undoing the undo puts the agent's version back.
    assert affidavit(ledger, "rollback", str(restore.seq)).returncode == 0
    assert target.read_bytes() == TWO
    assert os.path.isfile(target)

"""Shell pre-images: rolling back a shell ``rm``, ``mv`` over a file or ``sed -i`` that the
agent never read, with the real hook (a subprocess around a real command run by ``sh``) and
the real ``affidavit rollback``; and the command parser fed hostile input.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit.capture import preimages, shell_commands, shell_targets
from ledger_helpers import affidavit, new_ledger
from test_hook import (
    QUIET,
    Rec,
    blob_hashes,
    read_records,
    run_hook,
    seal_and_verify,
    send,
    tool_event,
)
from test_rollback import restores

TEXT = b"line one\nline two\n\xe2\x82\xac and a NUL \x00 in the middle\n"
OTHER = b"the file that was moved over\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    new_ledger(tmp_path).close()
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def intent(ledger: Path, use_id: str) -> Rec:
    [record] = [
        r
        for r in read_records(ledger)
        if r.kind == "tool.intent" and r.payload["agent"].get("tool_use_id") == use_id
    ]
    return record


def bash(ledger: Path, work: Path, command: str, use_id: str, *args: str) -> list[Rec]:
    """Pre hook, the command run by ``sh``, Post hook; the file records of the tool call."""
    tool_input = {"command": command, "description": "test"}
    send(ledger, tool_event("PreToolUse", "Bash", tool_input, use_id, work), *args, *QUIET)
    subprocess.run(command, shell=True, cwd=work, check=True)
    response = {"stdout": "", "stderr": "", "interrupted": False}
    post = tool_event("PostToolUse", "Bash", tool_input, use_id, work, tool_response=response)
    send(ledger, post, *args, *QUIET)
    return [
        r
        for r in read_records(ledger)
        if r.kind.startswith("file.") and r.payload["agent"].get("tool_use_id") == use_id
    ]


def rollback(ledger: Path, record: Rec) -> None:
    done = affidavit(ledger, "rollback", str(record.seq))
    assert done.returncode == 0, done.stderr


# -- rollback without a prior Read ----------------------------------------------------------


def test_rollback_of_rm_restores_exact_bytes_and_mode(ledger: Path, work: Path) -> None:
    target = work / "notes.bin"
    target.write_bytes(TEXT)
    target.chmod(0o640)
    [delete] = bash(ledger, work, "rm -f -- notes.bin", "toolu_rm")
    assert delete.kind == "file.delete"
    assert delete.payload["file"] == {"path": str(target), "before_sha256": sha(TEXT)}
    assert intent(ledger, "toolu_rm").payload["preimages"] == {"taken": 1, "bytes": len(TEXT)}
    rollback(ledger, delete)
    assert target.read_bytes() == TEXT
    [restore] = restores(ledger)
    assert restore.payload["file"]["after_sha256"] == sha(TEXT)
    seal_and_verify(ledger)


def test_rollback_of_mv_onto_an_existing_file(ledger: Path, work: Path) -> None:
    source, dest = work / "new draft.txt", work / "final.txt"
    source.write_bytes(TEXT)
    dest.write_bytes(OTHER)
    records = bash(ledger, work, "mv 'new draft.txt' final.txt", "toolu_mv")
    by_kind = {r.kind: r for r in records}
    assert set(by_kind) == {"file.update", "file.delete"}
    assert by_kind["file.update"].payload["file"]["before_sha256"] == sha(OTHER)
    assert by_kind["file.delete"].payload["file"]["before_sha256"] == sha(TEXT)
    rollback(ledger, by_kind["file.update"])
    assert dest.read_bytes() == OTHER
    rollback(ledger, by_kind["file.delete"])
    assert source.read_bytes() == TEXT
    seal_and_verify(ledger)


def test_rollback_of_sed_in_place(ledger: Path, work: Path) -> None:
    target = work / "config.ini"
    before = b"[core]\nname = old\nkeep = this\n"
    target.write_bytes(before)
    [update] = bash(ledger, work, "cd . && sed -i -e 's/old/new/' config.ini", "toolu_sed")
    assert target.read_bytes() == b"[core]\nname = new\nkeep = this\n"
    assert update.kind == "file.update"
    assert update.payload["file"]["before_sha256"] == sha(before)
    rollback(ledger, update)
    assert target.read_bytes() == before
    seal_and_verify(ledger)


def test_rollback_of_a_truncating_redirection_in_a_subfolder(ledger: Path, work: Path) -> None:
    (work / "logs").mkdir()
    target = work / "logs" / "app.log"
    target.write_bytes(TEXT)
    [update] = bash(ledger, work, "cd logs; echo fresh > app.log", "toolu_redirect")
    assert update.payload["file"]["before_sha256"] == sha(TEXT)
    rollback(ledger, update)
    assert target.read_bytes() == TEXT


def test_rollback_of_rm_r_and_find_delete(ledger: Path, work: Path) -> None:
    (work / "build" / "deep").mkdir(parents=True)
    files = {work / "build" / "a.o": b"A" * 10, work / "build" / "deep" / "b.o": b"B\x00" * 7}
    files[work / "keep.md"] = b"# kept\n"
    files[work / "old.md"] = b"# old\n"
    for path, data in files.items():
        path.write_bytes(data)
    records = bash(ledger, work, "rm -r build && find . -name 'old*' -delete", "toolu_many")
    assert sorted(r.payload["file"]["path"] for r in records) == sorted(
        str(p) for p in files if p.name != "keep.md"
    )
    for record in records:
        rollback(ledger, record)
    for path, data in files.items():
        assert path.read_bytes() == data
    seal_and_verify(ledger)


# -- what is kept, and what the record says when nothing could be -----------------------------


def test_a_pre_image_is_kept_only_when_the_command_changed_the_file(
    ledger: Path, work: Path
) -> None:
    target = work / "safe.txt"
    target.write_bytes(TEXT)
    assert bash(ledger, work, "false && rm safe.txt || true", "toolu_noop") == []
    assert intent(ledger, "toolu_noop").payload["preimages"]["taken"] == 1
    # Named, read, but not changed: no record refers to it, so it is not in the store.
    assert sha(TEXT) not in blob_hashes(ledger)
    seal_and_verify(ledger)


def test_the_record_says_why_no_pre_image_was_taken(ledger: Path, work: Path) -> None:
    big, hidden = work / "big.bin", work / "hidden.txt"
    big.write_bytes(b"x" * 2000)
    hidden.write_bytes(b"never read\n")
    command = "rm big.bin $(echo hidden.txt)"
    records = bash(ledger, work, command, "toolu_why", "--max-file-bytes", "1000")
    assert {r.kind for r in records} == {"file.delete"}
    missed = intent(ledger, "toolu_why").payload["preimages"]["missed"]
    assert {"path": str(big), "reason": "2000 bytes, over the 1000-byte cap"} in missed
    assert any("depends on shell expansion" in m["reason"] for m in missed)
    for record in records:
        done = affidavit(ledger, "rollback", str(record.seq))
        assert done.returncode == 2
        assert "does not know what" in done.stderr
    seal_and_verify(ledger)


def test_a_file_outside_the_workspace_is_named_not_read(
    ledger: Path, work: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(b"not the workspace's\n")
    bash(ledger, work, f"rm {outside}", "toolu_out")
    why = "outside the workspace; the shell diff does not cover it"
    assert intent(ledger, "toolu_out").payload["preimages"] == {
        "taken": 0,
        "bytes": 0,
        "missed": [{"path": str(outside), "reason": why}],
    }


def test_an_ordinary_command_gets_no_preimages_field(ledger: Path, work: Path) -> None:
    (work / "a.txt").write_bytes(TEXT)
    bash(ledger, work, "ls -l && cat a.txt | wc -c > /dev/null", "toolu_ls")
    assert "preimages" not in intent(ledger, "toolu_ls").payload


# -- the parser ----------------------------------------------------------------------------


def names(command: str, cwd: Path) -> list[str]:
    return [os.path.relpath(p, cwd) for p in shell_commands.targets(command, str(cwd)).paths]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("rm a.txt", ["a.txt"]),
        ("rm -- -dash", ["-dash"]),
        ('rm "with space" b\\ c', ["with space", "b c"]),
        ("mv a.txt b.txt", ["a.txt", "b.txt"]),
        ("mv -t sub a.txt", ["a.txt", "sub/a.txt"]),
        ("mv a.txt sub", ["a.txt", "sub/a.txt"]),
        ("cp a.txt b.txt", ["b.txt"]),
        ("cp -n a.txt b.txt", []),
        ("cp -r sub copy", ["copy/x.txt"]),
        ("sed -i 's/a/b/' a.txt b.txt", ["a.txt", "b.txt"]),
        ("sed -n -i.bak -e 's/a/b/' a.txt", ["a.txt"]),
        ("sed -i '' 's/a/b/' a.txt", ["a.txt"]),
        ("sed 's/a/b/' a.txt", []),
        ("perl -pi -e 's/a/b/' a.txt", ["a.txt"]),
        ("truncate -s 0 a.txt", ["a.txt"]),
        ("echo x > a.txt 2>&1; echo y >>b.txt", ["a.txt", "b.txt"]),
        ("echo x &> a.txt", ["a.txt"]),
        ("cat < a.txt", []),
        ("echo x | tee -a a.txt b.txt", ["a.txt", "b.txt"]),
        ("dd if=a.txt of=b.txt", ["b.txt"]),
        ("cd sub && rm *.txt", ["sub/x.txt", "sub/*.txt"]),
        ("rm *.txt", ["a.txt", "b.txt", "*.txt"]),
        ("rm f.{txt,md}", ["f.txt", "f.md"]),
        ("rm -rf sub", ["sub/x.txt"]),
        ("git checkout -- a.txt sub", ["a.txt", "sub/x.txt"]),
        ("git -C sub restore x.txt", ["sub/x.txt"]),
        ("git restore --staged a.txt", []),
        ("find . -name '*.txt' -type f -delete", ["a.txt", "b.txt", "sub/x.txt"]),
        ("find sub -maxdepth 0 -delete", []),
        ("X=1 sudo -u root env Y=2 nohup rm a.txt", ["a.txt"]),
        ("rm a.txt # rm b.txt\nrm c", ["a.txt", "c"]),
        ("ls; cat a.txt && echo ok || echo no", []),
    ],
)
def test_parser_names_what_commands_change(command: str, expected: list[str], work: Path) -> None:
    (work / "sub").mkdir()
    for name in ("a.txt", "b.txt", "sub/x.txt"):
        (work / name).write_bytes(b".")
    assert names(command, work) == expected


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ('rm "unbalanced', "does not parse as shell: No closing quotation"),
        ("rm $HOME/x", "depends on shell expansion"),
        ("rm `pwd`/x", "depends on shell expansion"),
        ("ls | xargs rm", "xargs takes its file names from standard input"),
        ("git reset --hard", "git reset can rewrite or delete files"),
        ("git checkout main", "git checkout of a branch or commit"),
        ("find . -mtime +1 -delete", "find expression '-mtime' is not evaluated"),
        ("cd - && rm a", "relative to a folder the command changed to"),
        ("rm " + "*/" * 9 + "x", "has 9 wildcard levels; not expanded"),
        ("rm " + "x" * shell_targets.MAX_COMMAND, "characters, more than the"),
    ],
)
def test_parser_says_what_it_cannot_compute(command: str, reason: str, work: Path) -> None:
    found = shell_commands.targets(command, str(work))
    assert any(reason in why for _, why in found.misses), found.misses


HOSTILE = [
    "rm '\udcff\ud800' \0 \x00\x01\x02",
    "rm " + "\u202e\u200b\ufeff\U0001f4a9" * 100,
    "rm " + "'" * 10_001,
    "echo " + "$(" * 5000 + ")" * 4999,
    "rm " + " ".join(f"f{i}" for i in range(20_000)),
    ">" * 1000 + "<" * 1000 + "&|;" * 1000,
    "find / -name x -delete -o",
    "rm " + "/*" * 40,
    "sed -i",
    "mv",
    "git -C",
    "cp -t",
    "rm {,,,,,,,,,,,,,,,}{,,,,,,,,,,,,,,,}",
    "\\",
]


@pytest.mark.parametrize("command", HOSTILE)
def test_hostile_commands_never_raise(command: str, work: Path) -> None:
    found = shell_commands.targets(command, str(work))
    assert len(found.misses) <= shell_targets.MAX_MISSES
    taken = preimages.take("Bash", {"command": command}, str(work), 1000)
    assert taken.total == 0


@given(st.text(max_size=400))
def test_any_text_is_read_without_raising(command: str) -> None:
    found = shell_commands.targets(command, os.path.dirname(__file__))
    assert all(os.path.isabs(p) for p in found.paths)


@given(st.binary(max_size=300))
def test_any_bytes_as_a_command_never_raise(data: bytes) -> None:
    command = data.decode("utf-8", "surrogateescape")
    taken = preimages.take("Bash", {"command": command}, os.path.dirname(__file__), 100)
    assert isinstance(taken.summary(), dict)


@pytest.mark.parametrize("command", [*HOSTILE[:4], "rm " + "é" * 300_000])
def test_the_hook_records_hostile_commands_and_exits_0(
    ledger: Path, work: Path, command: str
) -> None:
    event = tool_event("PreToolUse", "Bash", {"command": command}, "toolu_hostile", work)
    # Lone surrogates travel as JSON escapes, as Claude Code sends a string cut mid-pair.
    done = run_hook(ledger, json.dumps(event).encode(), *QUIET)
    assert done.returncode == 0 and done.stderr == b""
    record = intent(ledger, "toolu_hostile")
    assert record.payload["tool"]["name"] == "Bash"
    assert not [r for r in read_records(ledger) if r.kind == "capture.error"]


def test_odd_file_names_are_pre_imaged(ledger: Path, work: Path) -> None:
    names_ = ["new\nline.txt", "tab\there", "ünï cødé ✓.md", "-starts-with-dash", "a'quote\""]
    for i, name in enumerate(names_):
        (work / name).write_bytes(TEXT + bytes([i]))
    command = "rm -- " + " ".join(shlex.quote(n) for n in names_)
    records = bash(ledger, work, command, "toolu_odd")
    assert len(records) == len(names_)
    for record in records:
        rollback(ledger, record)
    for i, name in enumerate(names_):
        assert (work / name).read_bytes() == TEXT + bytes([i])

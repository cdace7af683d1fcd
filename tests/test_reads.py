"""Contents of files the agent only reads are kept only where affidavit.toml says, up to a size.

The real hook reads real files; the checks read the ledger's blobs and its raw bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from affidavit import config
from affidavit.errors import InputError
from ledger_helpers import new_ledger
from test_hook import QUIET, blob_hashes, read_records, send, tool_event

CREDENTIAL = "aws_secret_access_key = " + hashlib.sha256(b"reads test").hexdigest()[:40]


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(ledger, the session's workspace, a file outside it holding a credential)."""
    new_ledger(tmp_path / "data").close()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("meeting notes\n")
    outside = tmp_path / "home" / ".aws" / "credentials"
    outside.parent.mkdir(parents=True)
    outside.write_text(f"[default]\n{CREDENTIAL}\n")
    return tmp_path / "data" / "ledger.sqlite", ws, outside


def read(ledger: Path, path: Path, ws: Path, use_id: str, *args: str) -> str:
    """The hook sees the agent Read ``path`` from session folder ``ws``; the hash recorded."""
    event = tool_event("PostToolUse", "Read", {"file_path": str(path)}, use_id, ws)
    send(ledger, event, *QUIET, *args)
    [record] = [r for r in read_records(ledger) if r.payload["agent"].get("tool_use_id") == use_id]
    sha = record.payload["file"]["before_sha256"]
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()  # the hash is always kept
    return str(sha)


def ledger_bytes(ledger: Path) -> bytes:
    return b"".join(p.read_bytes() for p in ledger.parent.glob(ledger.name + "*") if p.is_file())


def test_by_default_only_workspace_reads_are_kept(scene: tuple[Path, Path, Path]) -> None:
    ledger, ws, outside = scene
    inside = read(ledger, ws / "notes.txt", ws, "toolu_in")
    secret = read(ledger, outside, ws, "toolu_out")
    assert inside in blob_hashes(ledger)
    assert secret not in blob_hashes(ledger)
    assert CREDENTIAL.encode() not in ledger_bytes(ledger)


def test_config_marks_the_folders_whose_reads_are_kept(
    scene: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ledger, ws, outside = scene
    toml = tmp_path / "affidavit.toml"
    toml.write_text(f'[capture]\nkeep_read_contents = ["{outside.parent}"]\n')
    inside = read(ledger, ws / "notes.txt", ws, "toolu_in", "--config", str(toml))
    marked = read(ledger, outside, ws, "toolu_out", "--config", str(toml))
    assert marked in blob_hashes(ledger)
    assert inside not in blob_hashes(ledger)  # "workspace" is not in the list


def test_reads_over_the_size_limit_are_hashed_not_kept(
    scene: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ledger, ws, _ = scene
    (ws / "big.bin").write_bytes(b"x" * 4096)
    toml = tmp_path / "affidavit.toml"
    toml.write_text("[capture]\nkeep_read_max_bytes = 1000\n")
    small = read(ledger, ws / "notes.txt", ws, "toolu_small", "--config", str(toml))
    big = read(ledger, ws / "big.bin", ws, "toolu_big", "--config", str(toml))
    assert small in blob_hashes(ledger)
    assert big not in blob_hashes(ledger)


def test_written_files_are_kept_wherever_they_are(scene: tuple[Path, Path, Path]) -> None:
    """The rule is about reads: a file the agent writes outside the workspace is still kept
    (rollback needs it)."""
    ledger, ws, outside = scene
    outside.write_text("rewritten by the agent\n")
    event = tool_event("PostToolUse", "Write", {"file_path": str(outside), "content": "x"}, "w", ws)
    send(ledger, event, *QUIET)
    assert hashlib.sha256(outside.read_bytes()).hexdigest() in blob_hashes(ledger)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[capture]\nkeep_read_contents = "workspace"\n', "capture.keep_read_contents"),
        ("[capture]\nkeep_read_contents = [1]\n", "capture.keep_read_contents"),
        ("[capture]\nkeep_read_max_bytes = -1\n", "capture.keep_read_max_bytes"),
        ("[capture]\nkeep_read_max_bytes = true\n", "capture.keep_read_max_bytes"),
    ],
)
def test_bad_capture_settings_name_file_line_and_field(text: str, field: str) -> None:
    with pytest.raises(InputError, match=rf"^affidavit.toml:2: field {field}: "):
        config.parse(text, Path("affidavit.toml"))


def test_capture_defaults() -> None:
    empty = config.parse("")
    assert empty.keep_read_contents == ("workspace",)
    assert empty.keep_read_max_bytes == 2**20
    starter = config.parse(config.STARTER)
    assert starter.keep_read_contents == ("workspace",)

"""write_atomically: the mode is applied, a failure leaves no temp file and the old file whole."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from affidavit.files import atomic_writer, make_private_folder, write_atomically


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_mode_is_applied_exactly_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomically(tmp_path / "wide", b"x", mode=0o644)
    finally:
        os.umask(old)
    write_atomically(tmp_path / "secret", "key\n", mode=0o600)
    assert _mode(tmp_path / "wide") == 0o644
    assert _mode(tmp_path / "secret") == 0o600
    assert (tmp_path / "secret").read_text() == "key\n"


def test_no_mode_gives_what_open_would(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomically(tmp_path / "plain", b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "plain") == 0o640


def test_replacing_keeps_the_new_mode_not_the_old(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    target.chmod(0o666)
    write_atomically(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o600


def test_data_that_raises_part_way_leaves_the_old_file_whole_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(b"the old report\n")
    with pytest.raises(RuntimeError, match="generator broke"), atomic_writer(target) as f:
        f.write(b"half of the new ")
        raise RuntimeError("generator broke")
    assert target.read_bytes() == b"the old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


def test_a_rename_that_fails_leaves_no_temp(tmp_path: Path) -> None:
    """The last step fails (the name is a folder): the temp file written so far goes too.
    (A read-only folder would fail earlier, at the create, but root may write any folder.)"""
    (tmp_path / "taken" / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        write_atomically(tmp_path / "taken", b"new", mode=0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["inside"]


def test_a_folder_that_is_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomically(tmp_path / "nowhere" / "f", b"x")
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    """A write past the file-size limit fails with EFBIG as a full disk fails with ENOSPC,
    after the temp file exists: the failure path must remove it."""
    import resource
    import signal

    target = tmp_path / "big"
    target.write_bytes(b"old")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(OSError):
            write_atomically(target, b"y" * 100_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["big"]


def test_exclusive_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "key"
    write_atomically(target, b"first", mode=0o600, exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomically(target, b"second", mode=0o600, exclusive=True)
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


def test_exclusive_loses_a_race_without_replacing(tmp_path: Path) -> None:
    """The name appears while the data is being written: link(2) refuses, rename would not."""
    target = tmp_path / "key"
    with pytest.raises(FileExistsError), atomic_writer(target, exclusive=True) as f:
        f.write(b"mine")
        target.write_bytes(b"theirs")
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


def test_private_folder_is_made_0700_and_narrowed_only_when_asked(tmp_path: Path) -> None:
    made = tmp_path / "a" / "spool"
    make_private_folder(made)
    assert _mode(made) == 0o700
    chosen = tmp_path / "users-folder"
    chosen.mkdir(mode=0o755)
    chosen.chmod(0o755)
    make_private_folder(chosen)
    assert _mode(chosen) == 0o755  # a folder the user chose is not changed under them
    make_private_folder(chosen, narrow=True)
    assert _mode(chosen) == 0o700

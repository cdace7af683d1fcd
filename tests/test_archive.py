"""Archives: ``affidavit archive`` writes a sealed write-once snapshot, ``archive verify``
checks it against its signed manifest and the ledger's checkpoints.

The ledger is built by replaying the real Claude Code hook payloads of the RonKat2008
fixtures through ``affidavit hook`` (paths moved into a temporary work folder, so the files
they write exist and their contents are kept as blobs), then generated records, an erasure
and two checkpoints. Segments are made small so that an archive spans several of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from affidavit.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run
from affidavit.evidence import archive as archiving
from affidavit.evidence import archive_verify
from affidavit.evidence.archive_format import json_line
from affidavit.keys import read_key_file
from affidavit.ledger import Ledger
from affidavit.note import sign_note
from affidavit.record import Kind, Record
from affidavit.signing import verify_payload
from conftest import shared_path

ORIGIN = "test.example/archive"
HOOKS = ("fixtures", "RonKat2008__agent-verdict", "tests", "fixtures", "hooks")
FIXTURE_CWD = "/private/var/folders/p2/xpfv5y4n1q9gmxzf52f5q3l40000gn/T/tmp.gOyhlOEkeJ"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SEGMENT = 64
# (fixture, what the agent did to note.txt before the hook fired)
SESSION: list[tuple[str, bytes | None]] = [
    ("session_start.json", None),
    ("user_prompt_submit.json", None),
    ("pre_tool_use_write.json", None),
    ("post_tool_use_write.json", b"hi"),
    ("pre_tool_use_edit.json", None),
    ("post_tool_use_edit.json", b"hello"),
    ("pre_tool_use_read.json", None),
    ("post_tool_use_read.json", None),
    ("pre_tool_use_bash.json", None),
    ("post_tool_use_bash.json", None),
    ("post_tool_use_failure_bash.json", None),
    ("stop.json", None),
]


def hook(ledger: Path, raw: bytes, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFFIDAVIT_", "CLAUDE_"))}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", str(ledger)],
        input=raw,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b""), done.stderr.decode()


def generated(count: int, start: int) -> list[Record]:
    kinds = ["file.update", "command.exec", "file.create", "prompt.submit"]
    return [
        Record.create(
            kinds[i % 4],
            "test.suite",
            {"actor": {"user": f"u{i % 3}"}, "file": {"path": f"/work/hr/doc-{start + i}.md"}},
            time=T0 + timedelta(minutes=start + i),
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hooked session, 150 generated records, one erasure, sealed twice."""
    root = tmp_path_factory.mktemp("archive")
    work = root / "work"
    work.mkdir()
    path = root / "ledger.sqlite"
    # The key is not where the hook looks (<ledger>.key), so its detached seal cannot add
    # checkpoints at unknown moments.
    Ledger.create(path, origin=ORIGIN, key_path=root / "k").close()
    for name, content in SESSION:
        raw = shared_path(*HOOKS, name).read_bytes()
        if content is not None:
            (work / "note.txt").write_bytes(content)
        hook(path, raw.replace(FIXTURE_CWD.encode(), str(work).encode()), root / "home")
    with Ledger.open(path, key_path=root / "k") as ledger:
        ledger.append(generated(60, 0))
        ledger.seal()
        ledger.append(generated(90, 60))
        ledger.erase([ledger.store.size() - 5], reason="GDPR request 7")
        ledger.seal()
    return path


@pytest.fixture
def ledger(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the built ledger and its key; small segments."""
    # The writer and the verifier each read the segment size.
    for module in (archiving, archive_verify):
        monkeypatch.setattr(module, "SEGMENT", SEGMENT)
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home"))
    copy = tmp_path / "ledger.sqlite"
    shutil.copyfile(built, copy)
    shutil.copyfile(built.parent / "k", tmp_path / "ledger.sqlite.key")
    os.chmod(tmp_path / "ledger.sqlite.key", 0o600)
    return copy


def cli(ledger: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["--ledger", str(ledger), *args])
    out, err = capsys.readouterr()
    return code, out, err


def make(ledger: Path, capsys: pytest.CaptureFixture[str], name: str = "arch") -> Path:
    return make_report(ledger, capsys, name)[0]


def make_report(
    ledger: Path, capsys: pytest.CaptureFixture[str], name: str = "arch"
) -> tuple[Path, dict[str, Any]]:
    out = ledger.parent / name
    code, stdout, err = cli(ledger, "archive", "--out", str(out), "--json", capsys=capsys)
    assert code == EXIT_OK, err
    report: dict[str, Any] = json.loads(stdout)
    assert report["dir"] == str(out)
    return out, report


def check(
    ledger: Path, arch: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any], str]:
    code, out, err = cli(ledger, "archive", "verify", str(arch), "--json", *args, capsys=capsys)
    return code, json.loads(out) if out else {}, err


def files(arch: Path) -> Iterator[Path]:
    return (p for p in sorted(arch.rglob("*")) if p.is_file())


@pytest.fixture
def writable() -> Iterator[list[Path]]:
    """Folders the test made writable, restored so tmp_path can be removed."""
    opened: list[Path] = []
    yield opened
    for folder in opened:
        os.chmod(folder, 0o755)


def unlock(path: Path, opened: list[Path]) -> None:
    """chmod a file and its folder writable, as a tamperer with the rights would."""
    for folder in (path.parent, path.parent.parent):
        if folder.is_dir() and not os.access(folder, os.W_OK):
            os.chmod(folder, 0o755)
            opened.append(folder)
    if path.exists():
        os.chmod(path, 0o644)


def resign(arch: Path, ledger: Path, opened: list[Path]) -> None:
    """Recompute every manifest entry and re-sign it with the real key: only the content
    checks behind the hashes can catch what was changed."""
    manifest_path = arch / archiving.MANIFEST
    text = manifest_path.read_text("utf-8").split("\n\n")[0]
    lines = [line for line in text.splitlines() if not line.startswith("object ")]
    for p in files(arch):
        name = p.relative_to(arch).as_posix()
        if name != archiving.MANIFEST:
            data = p.read_bytes()
            lines.append(f"object {hashlib.sha256(data).hexdigest()} {len(data)} {name}")
    signer = read_key_file(ledger.with_name(ledger.name + ".key"))
    unlock(manifest_path, opened)
    manifest_path.write_text(sign_note("\n".join(lines) + "\n", [signer]), "utf-8")


# -- writing --------------------------------------------------------------------------------


def test_archive_verifies_and_is_recorded(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = make(ledger, capsys)
    code, report, err = check(ledger, arch, capsys)
    assert code == EXIT_OK, err
    with Ledger.open(ledger, readonly=True) as opened:
        opened.verify()
        size = report["tree_size"]
        assert report["records"] == size > 150
        assert report["erased"] == 1
        assert report["blobs"] >= 2  # "hi" and "hello", snapshotted by the hook
        assert report["checkpoints"] == 2  # the archive's seal had nothing new to publish
        assert report["ledger_size"] == size + 1  # the archive record, published after
        record = opened.record(size)
        payload = record.payload or {}
        assert record.envelope.kind == Kind.ATTESTATION
        assert record.envelope.source == archiving.SOURCE
        verify_payload(payload, opened.verifier)
        assert payload["archive"]["location"] == str(arch)
        assert payload["archive"]["tree_size"] == size
        assert payload["archive"]["root"] == report["root"]
        assert payload["archive"]["manifest_sha256"] == report["manifest_sha256"]


def test_the_checklist_sees_the_archive(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The compliance side reads the archive record by its contract (compliance.gather)."""
    from affidavit.compliance.gather import gather
    from affidavit.config import Config

    arch, report = make_report(ledger, capsys)
    with Ledger.open(ledger) as opened:
        evidence = gather(opened, Config())
    assert evidence.archive is not None
    assert (evidence.archive.seq, evidence.archive.location) == (report["record_seq"], str(arch))
    assert evidence.unsigned == ()


def test_layout_is_content_addressed_and_read_only(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arch = make(ledger, capsys)
    names = [p.relative_to(arch).as_posix() for p in files(arch)]
    manifest = (arch / archiving.MANIFEST).read_text("utf-8")
    size = int(re.findall(r"^tree (\d+) ", manifest, re.M)[0])
    segments = [
        archiving.segment_name(a, min(a + SEGMENT, size) - 1) for a in range(0, size, SEGMENT)
    ]
    assert len(segments) >= 3
    assert [n for n in names if n.startswith("records/")] == [
        f"records/{s}.jsonl" for s in segments
    ]
    assert [n.split(".")[0] for n in names if n.startswith("payloads/")] == [
        f"payloads/{s}" for s in segments
    ]
    for name in names:
        data = (arch / name).read_bytes()
        if name.startswith("blobs/"):
            assert name == "blobs/" + hashlib.sha256(data).hexdigest()
        if name.startswith("payloads/"):
            assert name.split(".")[-2] == hashlib.sha256(data).hexdigest()
        assert stat.S_IMODE((arch / name).stat().st_mode) == 0o444
    for folder in [arch, *(p for p in arch.iterdir() if p.is_dir())]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    assert manifest.startswith(f"{archiving.FORMAT}\norigin {ORIGIN}\nkey {ORIGIN}+")
    assert re.search(r"\n\n\u2014 " + re.escape(ORIGIN) + " ", manifest)
    assert [p.name for p in ledger.parent.iterdir() if p.name.startswith(".")] == []


def test_refuses_to_overwrite(ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = make(ledger, capsys)
    before = {p: p.read_bytes() for p in files(arch)}
    code, _, err = cli(ledger, "archive", "--out", str(arch), capsys=capsys)
    assert code == EXIT_USAGE and "already exists" in err
    assert {p: p.read_bytes() for p in files(arch)} == before
    (ledger.parent / "empty").mkdir()
    (ledger.parent / "file").write_text("keep me")
    for taken in ("empty", "file"):
        code, _, err = cli(ledger, "archive", "--out", str(ledger.parent / taken), capsys=capsys)
        assert code == EXIT_USAGE and "already exists" in err
    assert list((ledger.parent / "empty").iterdir()) == []
    assert (ledger.parent / "file").read_text() == "keep me"


def test_symlinks_never_redirect_the_write(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (ledger.parent / "to-dir").symlink_to(outside, target_is_directory=True)
    (ledger.parent / "dangling").symlink_to(outside / "new")
    for name in ("to-dir", "dangling"):
        code, _, err = cli(ledger, "archive", "--out", str(ledger.parent / name), capsys=capsys)
        assert code == EXIT_USAGE and "already exists" in err
    # Links planted in the parent under the names the layout uses lead nowhere either.
    parent = tmp_path / "parent"
    parent.mkdir()
    for name in ("records", "blobs", "manifest.txt", "checkpoints", "payloads"):
        (parent / name).symlink_to(outside / name)
    make(ledger, capsys, name="parent/arch")
    assert list(outside.iterdir()) == []


def test_a_failed_write_leaves_nothing(
    ledger: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object) -> bytes:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archiving, "sign_note", broken)
    before = sorted(p.name for p in ledger.parent.iterdir())
    code, _, err = cli(ledger, "archive", "--out", str(ledger.parent / "arch"), capsys=capsys)
    assert code == EXIT_USAGE and "No space left on device" in err
    assert sorted(p.name for p in ledger.parent.iterdir()) == before


def test_an_erasure_during_the_seal_is_taken_in(
    ledger: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An erasure sequenced right after the archive's seal names payloads the snapshot
    would lack with no erasure record inside it: the archive seals again to take it in."""
    real = Ledger.seal
    erasures: list[int] = []

    def seal_then_erase(self: Ledger) -> str:
        note = real(self)
        if not erasures:
            erasures.append(self.erase([3], "a request that came in meanwhile"))
        return note

    monkeypatch.setattr(Ledger, "seal", seal_then_erase)
    arch, report = make_report(ledger, capsys)
    assert report["tree_size"] == erasures[0] + 1
    assert report["erased"] == 2
    code, _, err = check(ledger, arch, capsys)
    assert code == EXIT_OK, err


# -- verifying ------------------------------------------------------------------------------


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def first(arch: Path, folder: str) -> Path:
    return next(p for p in sorted((arch / folder).iterdir()))


TAMPERING = {
    "records segment": "records",
    "payloads segment": "payloads",
    "manifest": ".",
    "blob": "blobs",
    "checkpoint": "checkpoints",
    "added file": "records",
    "removed file": "records",
    "blob made a link": "blobs",
}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_is_named(
    how: str, ledger: Path, writable: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    arch = make(ledger, capsys)
    folder = TAMPERING[how]
    target = arch / archiving.MANIFEST if folder == "." else first(arch, folder)
    unlock(target, writable)
    if how == "added file":
        target = arch / "records" / "extra.jsonl"
        target.write_text("{}\n")
    elif how == "removed file":
        target.unlink()
    elif how == "blob made a link":  # same bytes, but read through a link
        copy = arch.parent / "elsewhere"
        copy.write_bytes(target.read_bytes())
        target.unlink()
        target.symlink_to(copy)
    else:
        flip_byte(target)
    name = target.relative_to(arch).as_posix()
    code, report, err = check(ledger, arch, capsys)
    assert code == EXIT_FAILED, err
    assert report["ok"] is False and report["where"] == name
    assert name in err


def edit_lines(path: Path, change: Any) -> None:
    lines = path.read_text("utf-8").splitlines(keepends=True)
    path.write_text("".join(change(lines)), "utf-8")


def test_forgeries_signed_with_the_key_are_caught(
    ledger: Path, writable: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-signed manifests over changed content: the commitments and the root catch them."""
    cases = {
        "payload changed": ("payloads", forge_payload, "does not match its commitment"),
        "payload dropped": ("payloads", lambda ls: ls[1:], "no erasure record names it"),
        "record dropped": ("records", lambda ls: ls[:-1], "holds"),
        "records swapped": ("records", lambda ls: [ls[1], ls[0], *ls[2:]], "out of order"),
    }
    for number, (label, (folder, change, message)) in enumerate(cases.items()):
        arch = make(ledger, capsys, name=f"forged-{number}")
        segment = sorted((arch / folder).iterdir())[1]
        unlock(segment, writable)
        edit_lines(segment, change)
        if folder == "payloads":  # its name carries its hash
            digest = hashlib.sha256(segment.read_bytes()).hexdigest()
            segment.rename(segment.with_name(f"{segment.name.split('.')[0]}.{digest}.jsonl"))
        resign(arch, ledger, writable)
        code, _, err = check(ledger, arch, capsys)
        assert code == EXIT_FAILED, label
        assert message in err, (label, err)


def forge_payload(lines: list[str]) -> list[str]:
    item = json.loads(lines[0])
    item["payload_json"] = '{"forged":true}'
    return [json_line(item).decode("utf-8"), *lines[1:]]


def test_a_rewritten_ledger_is_inconsistent_with_the_archive(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = ledger.with_name("older.sqlite")
    shutil.copyfile(ledger, older)
    with Ledger.open(ledger) as opened:
        opened.append(generated(3, 500))  # the archive's seal publishes them
    arch = make(ledger, capsys)
    code, _, err = check(older, arch, capsys, "--vkey", vkey(ledger))
    assert code == EXIT_FAILED and "truncated" in err
    # The same key, a different history of the same length and more.
    key = ledger.with_name(ledger.name + ".key")
    shutil.copy(key, older.with_name(older.name + ".key"))  # mode 0600 too
    with Ledger.open(older, key_path=older.with_name(older.name + ".key")) as forked:
        forked.append(generated(30, 900))
        forked.seal()
    code, _, err = check(older, arch, capsys)
    assert code == EXIT_FAILED and "history differs" in err


def vkey(ledger: Path) -> str:
    with Ledger.open(ledger, readonly=True) as opened:
        return opened.verifier.vkey()


def test_offline_and_pinned_keys(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arch = make(ledger, capsys)
    gone = tmp_path / "no-ledger.sqlite"
    code, report, err = check(gone, arch, capsys, "--offline", "--vkey", vkey(ledger))
    assert code == EXIT_OK, err
    assert report["ledger_size"] is None
    code, _, err = check(gone, arch, capsys, "--offline")
    assert code == EXIT_USAGE and "--vkey" in err
    other = tmp_path / "other.sqlite"
    Ledger.create(other, origin=ORIGIN, key_path=tmp_path / "other.key").close()
    code, report, err = check(gone, arch, capsys, "--offline", "--vkey", vkey(other))
    assert code == EXIT_FAILED and report["where"] == "manifest.txt"
    code, _, err = check(ledger, tmp_path / "nothing-here", capsys)
    assert code == EXIT_USAGE and "no archive folder" in err

"""Disk full and I/O errors: every writing command on a disk that refuses to take more.

Three faults, each for every operation of the crash suite that they apply to:

* **disk full**: the ledger and the command's files live on a 16 MiB tmpfs mounted for the
  test and filled to its last byte, so SQLite reports SQLITE_FULL and Python's own writes
  fail with ENOSPC;
* **output disk full**: the same, with only the command's output (export, pack, archive,
  kept checkpoint, restored file) on the full file system and the ledger elsewhere;
* **I/O error**: the child runs with RLIMIT_FSIZE below what it must write (SIGXFSZ
  ignored), so every write that would grow a file fails with EFBIG; SQLite reports
  SQLITE_IOERR. Needs nothing special.

Mounting needs CAP_SYS_ADMIN (root, or a CI container run with it). Without it the tmpfs
tests are skipped with their reason while the I/O-error ones still run the failure paths;
under CI=true a test fails instead when neither fault can be made.

Each command must exit 2 (the README's "usage or input error": the disk is something the
user must fix) with one line on stderr that names the disk problem, change no record or
payload, leave no output under its final name and nothing half-written beside it, and
succeed once space returns. ``affidavit hook`` must exit 0 with nothing on stdout, and the
event must reach the ledger once space returns: on a disk without one free byte it spools
the event into the space of ``<ledger>.reserve``.

A last test fills the disk to a random level, so it runs out part way through the command:
it must then succeed, or fail exactly as cleanly (2 levels per command, 25 with --runslow).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import sqlite3
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from typing import NoReturn

import pytest
from crash_helpers import OLD, Run, Runner, Scene, seed_for
from reliability import Reliability as Tally

SMALL_FS = "16m"
LEVELS, LEVELS_LONG = 2, 25  # random fill levels per command: default run, --runslow
DISK = re.compile(r"disk is full|no space left|disk i/o error|file too large", re.IGNORECASE)


# -- the faults ---------------------------------------------------------------------------------


def mount_small(folder: Path) -> str | None:
    """Mount a size-limited tmpfs on ``folder``; None, or why it could not."""
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SMALL_FS},mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else done.stderr.strip() or f"exit {done.returncode}"


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its file system has not one byte left."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 4096, 1):
            block = b"\0" * chunk
            try:
                while True:
                    f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    assert os.statvfs(folder).f_bavail == 0
    return filler


def fault_injection_works() -> bool:
    try:
        import resource

        return hasattr(resource, "RLIMIT_FSIZE")
    except ImportError:  # not on this platform
        return False


@functools.cache
def tmpfs_works() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        if mount_small(Path(folder) / "probe") is not None:
            return False
        subprocess.run(["umount", "-l", str(Path(folder) / "probe")], check=False)
        return True


def unavailable(why: str, *, other_works: bool) -> NoReturn:
    """Fail under CI=true, where both faults must be made (CI runs as root on a machine
    that mounts tmpfs); elsewhere skip, naming what is missing, for a developer's machine
    that cannot make this fault (``other_works`` says whether the other fault still runs)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true needs both the small file system and the I/O error)")
    also = "; the other fault still runs the failure paths" if other_works else ""
    pytest.skip(f"{why}{also}")


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    server = Runner(tmp_path_factory.mktemp("runner"))
    yield server
    server.close()


@pytest.fixture
def fault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Which fault, with the small file system mounted at ``tmp_path/small`` for the disk
    full ones: the ledger and the output on it, or only the output."""
    if request.param == "I/O error":
        if not fault_injection_works():
            unavailable("RLIMIT_FSIZE is not available", other_works=tmpfs_works())
        (tmp_path / "small").mkdir()
        yield request.param
        return
    small = tmp_path / "small"
    why = mount_small(small)
    if why is not None:
        unavailable(f"cannot mount a small tmpfs ({why})", other_works=fault_injection_works())
    try:
        yield request.param
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


# -- the operations -----------------------------------------------------------------------------


@dataclass
class Case:
    """One command: set up its work while there is space, then run it on a failing disk."""

    scene: Scene
    work: Path
    beside = False
    """Whether the command writes a file outside the ledger: its output, a restored file."""
    fsize = 4096
    """The file size limit for the I/O-error fault: below what the command must write (a
    commit writes at least one 4 KiB page and its frame header to the empty WAL)."""

    def prepare(self) -> None: ...

    def args(self) -> list[str]:
        raise NotImplementedError

    def output(self) -> Path | None:
        """The file or folder the command writes besides the ledger."""
        return None

    def check_done(self) -> None:
        """After the run once space returned: the output is complete."""

    def run(self) -> Run:
        return self.scene.cli(*self.args())


class Append(Case):
    def prepare(self) -> None:
        lines = [{"kind": "file.update", "source": "disk", "payload": {"n": i}} for i in range(300)]
        self.batch = self.work / "batch.jsonl"
        self.batch.write_text("".join(json.dumps(x) + "\n" for x in lines))

    def args(self) -> list[str]:
        return ["append", str(self.batch)]

    def check_done(self) -> None:
        assert len(self.scene.payloads()) == 300


class Seal(Case):
    def prepare(self) -> None:
        self.scene.append({"n": i} for i in range(1000))

    def args(self) -> list[str]:
        return ["seal"]

    def check_done(self) -> None:
        assert self.scene.status() == (1000, 1000, 1000)


class Import(Case):
    def prepare(self) -> None:
        lines = []
        for i in range(300):
            use = {"type": "tool_use", "id": f"toolu_disk_{i}", "name": "Bash", "input": {}}
            lines.append(
                {
                    "type": "assistant",
                    "sessionId": "disk-session",
                    "uuid": f"u{i}",
                    "timestamp": "2026-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": [use]},
                }
            )
        self.transcript = self.work / "disk-session.jsonl"
        self.transcript.write_text("".join(json.dumps(x) + "\n" for x in lines))

    def args(self) -> list[str]:
        return ["import", "claude-code", str(self.transcript)]

    def check_done(self) -> None:
        rows = self.scene.sql("SELECT count(DISTINCT tool_use_id) FROM tool_uses")
        assert rows[0][0] == 300


class Export(Case):
    beside = True

    def prepare(self) -> None:
        self.scene.append({"n": i, "file": {"path": f"/w/{i}"}} for i in range(300))

    def args(self) -> list[str]:
        return ["export", "--format", "jsonl", "--out", str(self.work / "out.jsonl")]

    def output(self) -> Path:
        return self.work / "out.jsonl"

    def check_done(self) -> None:
        assert len(self.output().read_text().splitlines()) == 300


class Evidence(Case):
    beside = True

    def prepare(self) -> None:
        self.scene.append({"n": i, "file": {"path": f"/w/{i}"}} for i in range(300))
        self.scene.seal()

    def args(self) -> list[str]:
        return ["evidence", "--out", str(self.work / "pack.zip")]

    def output(self) -> Path:
        return self.work / "pack.zip"

    def check_done(self) -> None:
        from affidavit.evidence import check_pack

        report = check_pack(self.output())
        assert report.ok and len(report.records) == 300


class Archive(Case):
    beside = True

    def prepare(self) -> None:
        self.scene.append({"n": i, "file": {"path": f"/w/{i}"}} for i in range(300))

    def args(self) -> list[str]:
        return ["archive", "--out", str(self.work / "archive")]

    def output(self) -> Path:
        return self.work / "archive"

    def check_done(self) -> None:
        from affidavit.evidence.archive import verify_archive
        from affidavit.ledger import Ledger

        with Ledger.open(self.scene.ledger, readonly=True) as ledger:
            verify_archive(self.output(), verifier=ledger.verifier, ledger=ledger)


class Checkpoint(Case):
    beside = True
    fsize = 64  # a checkpoint is a few hundred bytes

    def prepare(self) -> None:
        self.scene.append({"n": i} for i in range(10))
        self.scene.seal()

    def args(self) -> list[str]:
        return ["checkpoint", "--out", str(self.work / "kept.txt")]

    def output(self) -> Path:
        return self.work / "kept.txt"

    def check_done(self) -> None:
        (note,) = self.scene.sql("SELECT note FROM checkpoints")[0]
        assert self.output().read_text() == note


class Retention(Case):
    def prepare(self) -> None:
        self.config = self.work / "affidavit.toml"
        self.config.write_text("[retention]\nmaximum_days = 365\n")
        self.scene.append(({"n": i, "file": {"path": f"/old/{i}"}} for i in range(300)), when=OLD)

    def args(self) -> list[str]:
        return ["retention", "--config", str(self.config), "--apply", "--yes"]

    def check_done(self) -> None:
        payloads = self.scene.payloads()
        assert all(payloads[s] is None for s in range(300))


class Rollback(Case):
    beside = True

    def prepare(self) -> None:
        from affidavit.capture import snapshots, writer
        from affidavit.store.sqlite import SqliteStore

        self.path = self.work / "report.txt"
        self.before = b"before\n" * 300_000
        self.path.write_bytes(self.before)
        before = snapshots.snapshot(str(self.path))
        self.after = b"after\n" * 300_000
        self.path.write_bytes(self.after)
        after = snapshots.snapshot(str(self.path))
        file = {"path": str(self.path), "before_sha256": before.sha256}
        file |= {"after_sha256": after.sha256, "size": after.size}
        store = SqliteStore.open(self.scene.ledger)
        try:
            store.begin()
            writer.append_drafts(
                store, [("file.update", {"file": file})], source="disk", time=datetime.now(UTC)
            )
            snapshots.keep(store.connection, before)
            snapshots.keep(store.connection, after)
            store.commit()
        finally:
            store.close()

    def args(self) -> list[str]:
        return ["rollback", "0"]

    def check_done(self) -> None:
        assert self.path.read_bytes() == self.before


class Hook(Case):
    """The hook never fails the agent; what it could not write arrives once space returns."""

    def prepare(self) -> None:
        self.prompts = iter(["before", "sent while the disk failed", "after"])
        assert self.run().returncode == 0  # the hook has been running on this machine

    def run(self) -> Run:
        event = {
            "session_id": "disk-session",
            "hook_event_name": "UserPromptSubmit",
            "cwd": str(self.work),
            "prompt": next(self.prompts),
        }
        return self.scene.hook(event)

    def check_done(self) -> None:
        for prompt in ("sent while the disk failed", "after"):
            text = json.dumps(prompt)
            rows = self.scene.sql("SELECT count(*) FROM records WHERE instr(payload, ?)", [text])
            assert rows[0][0] == 1, f"{prompt!r} recorded {rows[0][0]} times, not once"


CASES: dict[str, type[Case]] = {
    "hook": Hook,
    "append": Append,
    "seal": Seal,
    "import": Import,
    "export": Export,
    "evidence": Evidence,
    "rollback": Rollback,
    "retention": Retention,
    "archive": Archive,
    "checkpoint": Checkpoint,
}


# -- the test -----------------------------------------------------------------------------------


def records(scene: Scene) -> list[tuple[object, ...]]:
    """Every record and payload: a failed command must leave them all as they were."""
    return scene.sql("SELECT seq, leaf, leaf_hash, salt, payload FROM records ORDER BY seq")


def checkpoints(scene: Scene) -> list[tuple[object, ...]]:
    return scene.sql("SELECT size, note FROM checkpoints ORDER BY size")


def litter(work: Path) -> list[str]:
    """Files a failed command left beside its output: temp files and partial folders."""
    names = sorted(p.name for p in work.iterdir())
    keep = {"filler", "home", "event.json", "batch.jsonl", "disk-session.jsonl", "affidavit.toml"}
    keep.add("report.txt")
    return [n for n in names if n not in keep and not n.startswith("ledger.sqlite")]


@contextmanager
def empty_wal(scene: Scene) -> Iterator[None]:
    """An empty WAL, so any commit needs new space (a used one is rewritten in place).

    The connection stays open meanwhile, so the WAL index (``-shm``) stays too: a command
    then needs no new space just to open the ledger, and fails where it writes.
    """
    conn = sqlite3.connect(scene.ledger)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield
    finally:
        conn.close()


FAULTS = [
    (fault, name)
    for fault in ("disk full", "output disk full", "I/O error")
    for name, case in CASES.items()
    if fault != "output disk full" or case.beside
]


@pytest.mark.parametrize(("fault", "name"), FAULTS, indirect=["fault"])
def test_a_failing_disk_loses_nothing(
    name: str, fault: str, tmp_path: Path, runner: Runner, reliability: Tally
) -> None:
    count = reliability("disk", f"{fault} during {name}")
    with count.trial():  # anything raised on the way is this attempt failing, and counted
        small = tmp_path / "small"
        ledger_folder = tmp_path / "ledger" if fault == "output disk full" else small
        scene = Scene(ledger_folder, runner)
        case = CASES[name](scene, small)
        case.prepare()
        before, kept = records(scene), checkpoints(scene)
        with empty_wal(scene):
            filler = None
            if fault == "I/O error":
                scene.fsize = case.fsize
            else:
                filler = fill(small)
            run = case.run()
            scene.fsize = None
        problems = failed_cleanly(case, run, before, kept)
        if filler is not None:
            filler.unlink()  # space returns
        problems += recovered(case)
        assert not problems, f"{name} on a failing disk ({fault}): " + "; ".join(problems)


@pytest.mark.parametrize("name", list(CASES))
def test_a_disk_that_fills_up_mid_write(
    name: str, tmp_path: Path, runner: Runner, runslow: bool, reliability: Tally
) -> None:
    """The disk runs out part way through the command, at a random point: the command
    either succeeds or fails as cleanly as on a disk that was full from the start."""
    seed = seed_for(f"disk {name}")
    rng = Random(seed)
    print(f"{name}: seed {seed} (replay with AFFIDAVIT_CRASH_SEED={seed})")
    tries, outcomes = LEVELS_LONG if runslow else LEVELS, Counter[str]()
    count = reliability("disk", f"disk filling up during {name}")
    for i in range(tries):
        small = tmp_path / f"small-{i}"
        why = mount_small(small)
        if why is not None:
            unavailable(f"cannot mount a small tmpfs ({why})", other_works=fault_injection_works())
        free = rng.randrange(0, 192 * 1024)  # less than a command needs: it runs out
        try:
            with count.trial(f"{free} bytes free"):
                scene = Scene(small, runner)
                case = CASES[name](scene, small)
                case.prepare()
                before, kept = records(scene), checkpoints(scene)
                with empty_wal(scene):
                    filler = fill(small)
                    os.truncate(filler, filler.stat().st_size - free)
                    run = case.run()
                if run.returncode == 0 and (name != "hook" or not run.stderr):
                    outcome, found = "succeeded", []
                    if name != "hook":  # its check counts the next event too: after recovery
                        case.check_done()
                else:
                    outcome, found = "failed cleanly", failed_cleanly(case, run, before, kept)
                filler.unlink()
                if outcome != "succeeded" or name == "hook":
                    found += recovered(case)
                scene.verify()
                outcomes[outcome] += 1
                assert not found, f"{name}, seed {seed}, {free} bytes free: " + "; ".join(found)
        finally:
            subprocess.run(["umount", "-l", str(small)], check=False)
            seen = ", ".join(f"{n}x {what}" for what, n in outcomes.items())
            count.note = f"seed {seed}; {seen}"
    print(f"{name}: {count.note}")


def failed_cleanly(
    case: Case, run: Run, before: list[tuple[object, ...]], kept: list[tuple[object, ...]]
) -> list[str]:
    """A failure on a full disk: exit 2 (the hook 0) with one line naming the disk, every
    record and payload as before, no output under its final name, nothing left beside it."""
    problems = []
    lines = [line for line in run.stderr.decode("utf-8", "replace").splitlines() if line]
    if isinstance(case, Hook):
        if (run.returncode, run.stdout) != (0, b""):
            problems.append(f"the hook must exit 0, silently on stdout: {run.describe()}")
    elif run.returncode != 2:
        problems.append(f"exit {run.returncode}, not 2: {run.describe()}")
    if len(lines) != 1 or not DISK.search(lines[0]):
        problems.append(f"not one line naming the disk problem: {lines[-5:]}")
    if records(case.scene) != before:
        problems.append("records or payloads changed")
    if checkpoints(case.scene)[: len(kept)] != kept:  # archive seals first: that may stay
        problems.append("checkpoints changed")
    output = case.output()
    if output is not None and os.path.lexists(output):
        problems.append(f"{output.name} exists after a failed write")
    left = litter(case.work)
    if left:
        problems.append(f"left behind: {left}")
    case.scene.verify()
    return problems


def recovered(case: Case) -> list[str]:
    """Once space returned: the same command succeeds and its output is complete."""
    done = case.run()
    if done.returncode != 0 or (isinstance(case, Hook) and done.stderr):
        return [f"once space returned: {done.describe()}"]
    case.check_done()
    case.scene.verify()
    return []


def test_the_disk_full_fault_is_real(tmp_path: Path) -> None:
    """The small file system is full for SQLite too, not only for the filler."""
    small = tmp_path / "small"
    why = mount_small(small)
    if why is not None:
        unavailable(f"cannot mount a small tmpfs ({why})", other_works=fault_injection_works())
    try:
        fill(small)
        with pytest.raises(OSError) as raised:
            (small / "one-more").write_bytes(b"x" * 4096)
        assert raised.value.errno == errno.ENOSPC
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)

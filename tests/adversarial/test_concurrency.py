"""Concurrency: 16 hook processes with `seal`, `log`, `export` and `verify` running beside them.

Sixteen workers each play one Claude Code session through the real hook command, one process
per event as Claude Code runs it: a prompt, then Read, Edit, Write and Bash calls, each a
PreToolUse and a PostToolUse, with the worker doing the tool's work on disk in between (so
the Bash call's side effect is a real new file). Meanwhile `affidavit seal --json`,
`affidavit log --format jsonl`, `affidavit export --format ocsf` and `affidavit verify` run
in loops. Then:

* exactly the expected records: each session's records, in the order it sent its events,
  every event's records exactly once, one ``convention.snapshot`` per session folder, and
  nothing else (no ``capture.error``, nothing spooled, an empty error log);
* seqs 0..N-1 without a gap;
* every checkpoint a seal printed is stored exactly as signed, sizes never shrink, and every
  stored checkpoint is consistent with the one before it (``merkle.verify_consistency`` on
  the ledger's proof for every pair, and ``affidavit prove --consistency A B --json`` on a
  sample of pairs, checked against the signed roots);
* every `log` and `export` saw a gapless prefix 0..k-1 that never shrank; every concurrent
  `verify` passed;
* every process exited 0 and no stderr line mentions a lock;
* `affidavit verify` passes at the end.

The default run lasts 12 s; ``--runslow`` runs the issue's 60 s.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability import Reliability as Tally

from affidavit import merkle
from affidavit.ledger import Ledger
from affidavit.note import open_checkpoint
from ledger_helpers import cli_env, key_of, make_records, new_ledger

WORKERS = 16
SECONDS, SECONDS_LONG = 12.0, 60.0
CLI_PROOF_SAMPLES = 8
HOOK_ARGS = ("--seal-interval", "3600")  # no detached seal: the seal loop is what we test


Expected = tuple[str, str | None]  # (kind, tool_use_id or prompt text)


@dataclass
class Proc:
    """One finished process: what it ran, its exit code and its stderr."""

    args: list[str]
    code: int
    stderr: str


@dataclass
class Run:
    ledger: Path
    home: Path
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    procs: list[Proc] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def run(self, args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "affidavit", *args],
            input=stdin,
            capture_output=True,
            env=cli_env(self.home),
            check=False,
        )
        with self.lock:
            self.procs.append(Proc(args, done.returncode, done.stderr.decode("utf-8", "replace")))
        return done

    def cli(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return self.run(["--ledger", str(self.ledger), *args])

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


# -- the sessions ---------------------------------------------------------------------------


class Session:
    """One worker: a Claude Code session in its own folder, sending one event per hook run."""

    def __init__(self, run: Run, number: int, folder: Path) -> None:
        self.run = run
        self.id = f"5668ec28-8187-4443-bfc9-{number:012d}"
        self.cwd = folder / f"session-{number:02d}"
        self.cwd.mkdir()
        (self.cwd / "notes.md").write_text("# notes\n")
        self.expected: list[Expected] = []
        self.events = 0
        self.calls = 0

    def event(self, name: str, expect: list[Expected], **fields: Any) -> None:
        payload = {
            "session_id": self.id,
            "transcript_path": f"/home/someone/.claude/projects/p/{self.id}.jsonl",
            "cwd": str(self.cwd),
            "permission_mode": "acceptEdits",
            "hook_event_name": name,
            **fields,
        }
        done = self.run.run(
            ["hook", "--ledger", str(self.run.ledger), *HOOK_ARGS], json.dumps(payload).encode()
        )
        if done.returncode != 0 or done.stdout or done.stderr:
            self.run.problem(f"hook {name} in {self.id}: exit {done.returncode}, {done.stderr!r}")
        if not self.expected:  # the first event of a folder snapshots its conventions
            expect = [*expect, ("convention.snapshot", None)]
        self.expected += expect
        self.events += 1

    def tool(
        self, tool: str, tool_input: dict[str, Any], act: Callable[[], Any], **post: Any
    ) -> None:
        """PreToolUse, the tool's work on disk, PostToolUse."""
        self.calls += 1
        use_id = f"toolu_{self.id[-6:]}_{self.calls:06d}"
        common = {"tool_name": tool, "tool_input": tool_input, "tool_use_id": use_id}
        self.event("PreToolUse", [("tool.intent", use_id)], **common)
        act()
        kind = post.pop("kind")
        extra: list[Expected] = post.pop("extra", [])
        self.event("PostToolUse", [(kind, use_id), *extra], **common, **post)

    def round(self) -> None:
        """A prompt, then Read, Edit, Write and Bash calls."""
        n = self.calls
        notes = self.cwd / "notes.md"
        prompt = f"round {n}: tidy the notes of {self.id[-4:]}"
        self.event("UserPromptSubmit", [("prompt.submit", prompt)], prompt=prompt)
        self.tool(
            "Read",
            {"file_path": str(notes)},
            lambda: None,
            kind="file.read",
            tool_response={"type": "text", "file": {"filePath": str(notes)}},
        )
        old = notes.read_text()
        new = old + f"- item {n}\n"
        self.tool(
            "Edit",
            {"file_path": str(notes), "old_string": old, "new_string": new},
            lambda: notes.write_text(new),
            kind="file.update",
            tool_response={"filePath": str(notes), "oldString": old, "newString": new},
        )
        created = self.cwd / f"draft-{n}.md"
        self.tool(
            "Write",
            {"file_path": str(created), "content": "draft\n"},
            lambda: created.write_text("draft\n"),
            kind="file.create",
            tool_response={"type": "create", "filePath": str(created), "content": "draft\n"},
        )
        touched = self.cwd / f"out-{n}.txt"
        self.tool(
            "Bash",
            {"command": f"echo done > out-{n}.txt", "description": "write a marker"},
            lambda: touched.write_text("done\n"),
            kind="command.exec",
            extra=[("file.create", None)],  # the side effect, filled in below
            tool_response={"stdout": "", "stderr": "", "interrupted": False},
        )
        # The side-effect record carries the Bash call's tool_use_id.
        kind, _ = self.expected[-1]
        self.expected[-1] = (kind, self.expected[-2][1])

    def play(self) -> None:
        try:
            while not self.run.stop.is_set():
                self.round()
        except Exception as e:  # a worker's own failure must fail the test, not hang it
            self.run.problem(f"session {self.id}: {type(e).__name__}: {e}")


# -- the loops beside them ------------------------------------------------------------------


@dataclass
class Seen:
    seals: list[tuple[int, str]] = field(default_factory=list)
    logs: list[int] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    verifies: int = 0


def loop(run: Run, body: Callable[[int], None]) -> None:
    i = 0
    try:
        while not run.stop.is_set():
            body(i)
            i += 1
    except Exception as e:
        run.problem(f"{body.__name__}: {type(e).__name__}: {e}")


def seal_loop(run: Run, seen: Seen) -> Callable[[int], None]:
    def seal(_: int) -> None:
        done = run.cli("seal", "--json")
        if done.returncode == 0:
            out = json.loads(done.stdout)
            seen.seals.append((out["size"], out["checkpoint"]))

    return seal


def log_loop(run: Run, seen: Seen) -> Callable[[int], None]:
    def log(_: int) -> None:
        done = run.cli("log", "--format", "jsonl")
        if done.returncode == 0:
            seqs = [json.loads(line)["seq"] for line in done.stdout.splitlines()]
            if seqs != list(range(len(seqs))):
                run.problem(f"log saw seqs that are not 0..{len(seqs) - 1}")
            seen.logs.append(len(seqs))

    return log


def export_loop(run: Run, seen: Seen, folder: Path) -> Callable[[int], None]:
    def export(i: int) -> None:
        out = folder / f"export-{i}.ocsf.jsonl"
        done = run.cli("export", "--format", "ocsf", "--out", str(out), "--json")
        if done.returncode == 0:
            written = json.loads(done.stdout)["written"]
            rows = [json.loads(line) for line in out.read_bytes().splitlines()]
            seqs = [row["metadata"]["sequence"] for row in rows]
            if len(rows) != written or seqs != list(range(written)):
                run.problem(f"export {i}: {written} written, seqs not 0..{written - 1}")
            seen.exports.append(written)
            out.unlink()

    return export


def verify_loop(run: Run, seen: Seen) -> Callable[[int], None]:
    def verify(_: int) -> None:
        done = run.cli("verify", "--json")
        if done.returncode == 0:
            seen.verifies += 1

    return verify


# -- the test -------------------------------------------------------------------------------


def observed_by_session(ledger: Path) -> tuple[int, dict[str, list[Expected]], Counter[str]]:
    """(size, each session's (kind, tool_use_id or prompt) in seq order, kinds overall)."""
    sessions: dict[str, list[Expected]] = {}
    kinds: Counter[str] = Counter()
    with Ledger.open(ledger, readonly=True) as opened:
        size = opened.store.size()
        for seq in range(size):
            record = opened.record(seq)
            payload = record.payload or {}
            agent = payload.get("agent") or {}
            kind = str(record.envelope.kind)
            kinds[kind] += 1
            ident = agent.get("tool_use_id") or (payload.get("prompt") or {}).get("text")
            sessions.setdefault(str(agent.get("session_id")), []).append((kind, ident))
    return size, sessions, kinds


def checkpoints_of(ledger: Path) -> list[tuple[int, str]]:
    with Ledger.open(ledger, readonly=True) as opened:
        return [(size, note) for size, note, _ in opened.store.checkpoints()]


def sample(items: list[Any], count: int) -> Iterator[Any]:
    if len(items) <= count:
        yield from items
        return
    step = (len(items) - 1) / (count - 1)
    for i in range(count):
        yield items[round(i * step)]


def test_sixteen_hooks_with_seal_log_export(
    tmp_path: Path, runslow: bool, reliability: Tally
) -> None:
    seconds = SECONDS_LONG if runslow else SECONDS
    new_ledger(tmp_path).close()
    run = Run(tmp_path / "ledger.sqlite", tmp_path / "home")
    work = tmp_path / "work"
    work.mkdir()
    exports = tmp_path / "exports"
    exports.mkdir()
    sessions = [Session(run, n, work) for n in range(WORKERS)]
    seen = Seen()
    threads = [threading.Thread(target=s.play) for s in sessions]
    threads += [
        threading.Thread(target=loop, args=(run, seal_loop(run, seen))),
        threading.Thread(target=loop, args=(run, log_loop(run, seen))),
        threading.Thread(target=loop, args=(run, export_loop(run, seen, exports))),
        threading.Thread(target=loop, args=(run, verify_loop(run, seen))),
    ]
    for t in threads:
        t.start()
    time.sleep(seconds)
    run.stop.set()
    for t in threads:
        t.join()
    final = run.cli("seal", "--json")
    assert final.returncode == 0, final.stderr

    # The figures first, so that a failing run still reports what it saw.
    size, observed, kinds = observed_by_session(run.ledger)
    expected = {s.id: s.expected for s in sessions}
    wanted = sum(len(e) for e in expected.values())
    stored = checkpoints_of(run.ledger)
    failed = [p for p in run.procs if p.code != 0]
    locked = [p for p in run.procs if "lock" in p.stderr.lower()]
    events = sum(s.events for s in sessions)
    # Counted item by item: each expected record seen exactly once, each process clean.
    records = reliability(
        "concurrency",
        f"{WORKERS} hook processes + seal/log/export/verify loops for {seconds:.0f} s",
        f"{events} hook events, {size} records, {len(stored)} checkpoints, {len(seen.logs)} "
        f"logs, {len(seen.exports)} exports, {seen.verifies} verifies beside them",
    )
    for sid, items in expected.items():
        got = Counter(observed.get(sid, []))
        for item in items:
            records.held_if(got[item] == 1, f"session {sid}: {item} seen {got[item]} times")
    extra = size - wanted
    for _ in range(max(extra, 0)):  # records nobody asked for: each one a failure
        records.fail(f"{extra} record(s) beyond the {wanted} expected")
    clean = reliability("concurrency", "processes that exited 0 without 'database is locked'")
    bad = {id(p) for p in failed + locked}
    for p in run.procs:
        clean.held_if(id(p) not in bad, f"{p.args[:3]} exited {p.code}: {p.stderr[-120:]!r}")

    # Every process exited 0 and none spoke of a lock.
    assert not run.problems, run.problems[:5]
    assert not failed, [(p.args[:3], p.code, p.stderr[-300:]) for p in failed[:5]]
    assert not locked, [(p.args[:3], p.stderr[-300:]) for p in locked[:5]]
    assert not (tmp_path / "ledger.sqlite.spool").exists()
    errors = tmp_path / "ledger.sqlite.errors.log"
    assert not errors.exists() or not errors.read_text()

    # Exactly the expected records, each session's in its order, seqs 0..N-1.
    assert observed == expected
    assert size == wanted
    assert kinds["convention.snapshot"] == WORKERS
    assert "capture.error" not in kinds
    with Ledger.open(run.ledger, readonly=True) as opened:
        assert [row[0] for row in opened.rows()] == list(range(size))

    # Checkpoints: every printed one stored as signed, growing, each consistent with the last.
    notes = dict(stored)
    assert all(notes.get(s) == note for s, note in seen.seals)
    assert [s for s, _ in seen.seals] == sorted(s for s, _ in seen.seals)
    assert stored[-1][0] == size
    with Ledger.open(run.ledger, readonly=True) as opened:
        verifier = opened.verifier
        cps = [open_checkpoint(note, verifier) for _, note in stored]
        pairs = list(itertools.pairwise(cps))
        consistent = reliability(
            "concurrency",
            "consecutive checkpoints published under load that are consistent",
            f"every pair in-process, {min(len(pairs), CLI_PROOF_SAMPLES)} through the CLI",
        )
        for old, new in pairs:
            with consistent.trial(f"{old.size} -> {new.size}"):
                proof = opened.prove_consistency(old.size, new.size)
                merkle.verify_consistency(old.size, new.size, proof.proof, old.root, new.root)
    cli = reliability("concurrency", "the same pairs proven through `affidavit prove`")
    for old, new in sample(pairs, CLI_PROOF_SAMPLES):
        with cli.trial(f"{old.size} -> {new.size}"):
            done = run.cli("prove", "--consistency", str(old.size), str(new.size), "--json")
            assert done.returncode == 0, done.stderr
            out = json.loads(done.stdout)
            hashes = [base64.b64decode(h) for h in out["proof"]]
            assert open_checkpoint(out["checkpoint"], verifier) == new
            merkle.verify_consistency(old.size, new.size, hashes, old.root, new.root)

    # The readers saw growing, gapless prefixes; the concurrent verifies passed.
    assert seen.logs == sorted(seen.logs) and seen.exports == sorted(seen.exports)
    assert seen.logs and seen.exports and seen.verifies and len(seen.seals) > 1

    done = run.cli("verify", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["records"], report["tree_size"]) == (size, size)


def test_verify_reads_one_moment_while_a_seal_commits(tmp_path: Path, reliability: Tally) -> None:
    """`verify` streams the ledger in several queries; a seal that commits between them (here
    exactly then, from verify's own progress callback) must not make it see a tree that
    never existed: subtree hashes past the integrated size it read, or uncounted ones."""
    ledger = new_ledger(tmp_path)
    ledger.append(make_records(5000))
    ledger.seal()
    ledger.append(make_records(3000, start=5000))  # sequenced, not yet integrated
    ledger.close()
    path = tmp_path / "ledger.sqlite"
    sealed: list[int] = []

    def seal_now(done: int) -> None:
        if not sealed:
            with Ledger.open(path, key_path=key_of(path)) as other:
                other.seal()
                sealed.append(other.store.size())

    count = reliability("concurrency", "verify while a seal commits in the middle of it")
    with count.trial():
        with Ledger.open(path, readonly=True) as reader:
            report = reader.verify(progress=seal_now)
        assert sealed == [8000]
        assert (report.records, report.tree_size) == (8000, 5000)
    with Ledger.open(path, readonly=True) as reader:
        assert reader.verify().tree_size == 8000

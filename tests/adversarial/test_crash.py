"""Crash safety: SIGKILL the real CLI at random instants, then check what it left.

Each operation (``hook``, ``append``, ``seal``, ``import``, ``export``, ``evidence``,
``rollback``, ``retention --apply``, and the other two commands that write an output file,
``archive`` and ``checkpoint --out``) runs in a child process (:mod:`crash_helpers`) that is
killed at an instant drawn uniformly over the duration of its recent uncrashed runs. After
every kill:

* the ledger verifies (:meth:`Ledger.verify`, what ``affidavit verify`` runs);
* every record the child reported as appended is there, with the payload it sent;
* no partial record or partial batch is visible: the ledger is in one of the states the
  operation's transactions can produce;
* an output file (export, evidence pack, archive folder, kept checkpoint) is absent or
  complete and valid under its final name;
* the next operation, run without a kill, succeeds with no manual repair.

The child is the real CLI entry point, forked from a server that has already imported it
(:mod:`crash_helpers` says why and how), so kill instants are drawn over the command's own
work. Each kill's outcome is named (``nothing imported``, ``first batch imported``...) and the
counts are printed and reported to the Reliability table, so a run shows which windows the
kills reached.

The seed of each test is printed and named in every failure; ``AFFIDAVIT_CRASH_SEED=N``
replays its inputs and kill instants (what an instant hits still depends on the machine's
speed). ``--runslow`` makes 200 kills per operation instead of 20.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stderr
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest
from crash_helpers import OLD, Run, Runner, Scene, Timer, real_cli, seed_for
from reliability import Reliability as Tally

KILLS, KILLS_LONG = 20, 200


class Operation:
    """One command under test. Subclasses set up work, run it and check what it left."""

    name = ""
    rounds_per_scene = 20  # a fresh ledger now and then keeps verifying it quick

    def __init__(self, rng: Random) -> None:
        self.rng = rng
        self.scene: Scene

    def start(self, scene: Scene) -> None:
        """A fresh ledger for the next rounds."""
        self.scene = scene

    def prepare(self, r: int) -> None:
        """Give the next run work to do."""

    def launch(self, r: int, kill_after: float | None) -> Run:
        raise NotImplementedError

    def check(self, r: int, run: Run) -> str:
        """What a killed (or finished) run left; asserts on anything wrong, else names it."""
        return ""

    def lost(self, state: str) -> bool:
        """Whether a killed run that left ``state`` lost what it was asked to keep (counted
        as lost, not held, even though nothing is broken)."""
        return False

    def after_recovery(self, state: str) -> str:
        """The state once the next run has had its chance to report the kill."""
        return state

    def recover(self, r: int) -> Run:
        """The next operation, not killed; asserts it succeeded. Its run times the kills."""
        raise NotImplementedError


def ok(run: Run, what: str) -> Run:
    assert not run.killed and run.returncode == 0, f"{what} failed: {run.describe()}"
    return run


def crash_test(op: Operation, root: Path, kills: int, seed: int, tally: Tally) -> None:
    """Kill ``op`` ``kills`` times; after each kill check it, recover and verify."""
    print(f"{op.name}: seed {seed} (replay with AFFIDAVIT_CRASH_SEED={seed})")
    runner = Runner(root)
    try:
        _crash_test(op, root, runner, kills, seed, tally)
    finally:
        runner.close()


def _crash_test(
    op: Operation, root: Path, runner: Runner, kills: int, seed: int, tally: Tally
) -> None:
    timer = Timer(op.rng)
    made = rounds = 0
    problem = ""
    states: Counter[str] = Counter()
    count = tally("crash", f"SIGKILL during {op.name}")
    while made < kills and rounds < 3 * kills:
        if rounds % op.rounds_per_scene == 0:
            op.start(Scene(root / f"scene-{rounds}", runner))
            op.prepare(rounds)
            timer.note(op.recover(rounds))  # an uncrashed run: the first duration to draw from
        rounds += 1
        op.prepare(rounds)
        delay = timer.draw()
        run = op.launch(rounds, delay)
        try:  # anything raised is a finding: counted, reported with the seed, then failed
            if not run.killed:  # it ended before the kill: then it must have succeeded
                ok(run, f"{op.name} (not killed)")
                timer.note(run)
            state = op.check(rounds, run)
            op.scene.verify()
            timer.note(op.recover(rounds))  # the next round's verify covers what it wrote
            if run.killed:
                state = op.after_recovery(state)
        except Exception as e:
            problem = f"round {rounds}, kill after {delay:.4f}s: {type(e).__name__}: {e}"
            count.fail(problem[:200])  # killed or not, this run broke a promise
            made += run.killed
            break
        if not run.killed:
            states["finished before the kill"] += 1
            continue
        made += 1
        states[state] += 1
        if op.lost(state):
            count.lose()
        else:
            count.held_if(True)
    cli = real_cli(op.scene.ledger, "verify", env=op.scene.env)  # a process of its own
    seen = "; ".join(f"{n}x {state}" for state, n in states.most_common())
    count.note = f"seed {seed}; left: {seen}"
    print(f"{op.name}: {made} kills, {count.held} held, {count.lost} lost; states left: {seen}")
    assert not problem, f"{op.name}, seed {seed}: {problem}"
    if cli.returncode != 0:  # not a kill of its own, but a failure all the same: show it
        count.fail(f"affidavit verify after the last kill exited {cli.returncode}")
        raise AssertionError(f"affidavit verify after {op.name}: {cli.stderr!r}")
    assert made == kills, f"{op.name}: only {made} of {rounds} runs were killed mid-way"


# -- append ------------------------------------------------------------------------------------


class Append(Operation):
    """``affidavit append`` in a loop; every seq list it printed must be in the ledger."""

    name = "append"
    FILES, LINES = 6, 40

    def prepare(self, r: int) -> None:
        self.before = self.scene.status()[0]
        self.round = r
        self.files = [self.batch(k) for k in range(self.FILES)]

    def batch(self, k: int) -> Path:
        path = self.scene.root / f"batch-{self.round}-{k}.jsonl"
        lines = (
            json.dumps({"kind": "file.update", "source": "crash.append", "payload": m})
            for m in self.marks(k)
        )
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def marks(self, k: int) -> list[dict[str, Any]]:
        r = self.round
        return [
            {"mark": f"{r}/{k}/{j}", "file": {"path": f"/w/{r}/{k}/{j}"}} for j in range(self.LINES)
        ]

    def appended(self) -> list[dict[str, Any] | None]:
        return list(self.scene.payloads(self.before).values())

    def launch(self, r: int, kill_after: float | None) -> Run:
        args = [str(self.scene.ledger), *map(str, self.files)]
        return self.scene.run("append-loop", args, kill_after=kill_after)

    def check(self, r: int, run: Run) -> str:
        printed = run.stdout.split(b"\n")[:-1]  # only the lines the child finished writing
        payloads = self.scene.payloads(self.before)
        for k, line in enumerate(printed):
            seqs = json.loads(line)["seqs"]
            got = [payloads.get(s) for s in seqs]
            assert got == self.marks(k), f"batch {k} was reported as {seqs} but is not there"
        # Whole batches only, in order, each once: the ledger holds a prefix of the files.
        appended = list(payloads.values())
        done = len(appended) // self.LINES
        expected = [m for k in range(done) for m in self.marks(k)]
        assert appended == expected, f"not a whole number of batches: {len(appended)} records"
        assert done >= len(printed)
        return f"{done} of {self.FILES} appends committed"

    def recover(self, r: int) -> Run:
        done = len(self.appended()) // self.LINES
        rest = self.files[done:] or [self.batch(self.FILES)]  # all in: append one more
        args = [str(self.scene.ledger), *map(str, rest)]
        run = ok(self.scene.run("append-loop", args), "append after a kill")
        total = max(self.FILES, done + 1)
        assert self.appended() == [m for k in range(total) for m in self.marks(k)]
        return run


# -- seal ---------------------------------------------------------------------------------------


class Seal(Operation):
    """``affidavit seal`` over a fresh batch of records: integrated and published, or not."""

    name = "seal"
    rounds_per_scene = 10
    RECORDS = 500

    def prepare(self, r: int) -> None:
        self.scene.append({"n": i, "round": r} for i in range(self.RECORDS))
        self.before = self.scene.status()

    def launch(self, r: int, kill_after: float | None) -> Run:
        return self.scene.cli("seal", kill_after=kill_after)

    def check(self, r: int, run: Run) -> str:
        size, integrated, published = self.scene.status()
        assert size == self.before[0]
        assert integrated in (self.before[1], size), f"integrated {integrated} of {size}"
        assert published in (self.before[2], size), f"published {published} of {size}"
        assert published <= integrated
        if run.stdout:  # printed only after the commit: it must be the stored checkpoint
            notes = [n for (n,) in self.scene.sql("SELECT note FROM checkpoints")]
            assert run.stdout.decode() in notes, "seal printed a checkpoint that is not stored"
        if published == size:
            return "integrated and published"
        return "integrated, not published" if integrated == size else "neither"

    def recover(self, r: int) -> Run:
        run = ok(self.scene.cli("seal"), "seal after a kill")
        size, integrated, published = self.scene.status()
        assert integrated == published == size
        (latest,) = self.scene.sql("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")
        assert run.stdout.decode() == latest[0]
        return run


# -- hook ---------------------------------------------------------------------------------------


class Hook(Operation):
    """``affidavit hook``: one transaction per event, and spooled events replayed once."""

    name = "hook"
    FILES = 200

    def start(self, scene: Scene) -> None:
        super().start(scene)
        self.work = scene.root / "work"
        self.work.mkdir()
        for i in range(self.FILES):
            (self.work / f"f{i}.txt").write_text(f"file {i}\n" * 20)
        self.spooled: set[str] = set()

    def event(self, name: str, tool: str | None, use_id: str, **extra: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "session_id": "crash-session",
            "transcript_path": str(self.scene.root / "t.jsonl"),
            "cwd": str(self.work),
            "permission_mode": "acceptEdits",
            "hook_event_name": name,
            **extra,
        }
        if tool is not None:
            event |= {"tool_name": tool, "tool_use_id": use_id}
        return event

    def spool(self, r: int) -> None:
        """What a hook run that found the ledger unavailable left behind (its own code)."""
        from affidavit.capture.hook import parse_options, report_failure

        prompt = self.event("UserPromptSubmit", None, "", prompt=f"spooled in round {r}")
        raw = json.dumps(prompt).encode()
        with redirect_stderr(io.StringIO()):
            report_failure(parse_options(["--ledger", str(self.scene.ledger)]), raw, "test")
        self.last_spool = hashlib.sha256(raw).hexdigest()
        self.spooled.add(self.last_spool)

    def prepare(self, r: int) -> None:
        self.spool(r)
        self.use_id = f"toolu_crash_{r}"
        self.shape = r % 3
        if self.shape == 0:  # a shell command that created one file and changed another
            from affidavit.capture.hook import Capture, parse_options

            command = {"command": f"touch new-{r}.txt; echo {r} >> f{r % self.FILES}.txt"}
            pre = self.event("PreToolUse", "Bash", self.use_id, tool_input=command)
            opts = parse_options(["--ledger", str(self.scene.ledger), "--seal-interval", "3600"])
            Capture(opts).run(json.dumps(pre).encode())
            (self.work / f"new-{r}.txt").write_text("new\n")
            with open(self.work / f"f{r % self.FILES}.txt", "a") as f:
                f.write(f"{r}\n")
            response = {"stdout": "", "stderr": "", "interrupted": False}
            self.payload = self.event(
                "PostToolUse", "Bash", self.use_id, tool_input=command, tool_response=response
            )
            self.kinds = ["command.exec", "file.create", "file.update"]
            self.intent = ["tool.intent"]  # the PreToolUse, recorded above
        elif self.shape == 1:
            path = self.work / f"f{r % self.FILES}.txt"
            path.write_text(f"written in round {r}\n" * 100)
            tool_input = {"file_path": str(path), "content": f"written in round {r}\n"}
            self.payload = self.event("PostToolUse", "Write", self.use_id, tool_input=tool_input)
            self.kinds, self.intent = ["file.update"], []
        else:
            self.payload = self.event("UserPromptSubmit", None, "", prompt=f"prompt {r}")
            self.kinds, self.intent = [], []

    def launch(self, r: int, kill_after: float | None) -> Run:
        return self.scene.hook(self.payload, kill_after=kill_after)

    def replayed(self) -> dict[str, int]:
        """sha256 of each replayed spooled event → how many capture.error records hold it."""
        rows = self.scene.sql("SELECT payload FROM records WHERE instr(payload, 'delayed capture')")
        found: dict[str, int] = {}
        for (body,) in rows:
            sha = json.loads(body)["input"]["sha256"]
            found[sha] = found.get(sha, 0) + 1
        return found

    def check(self, r: int, run: Run) -> str:
        if not run.killed:
            assert run.stdout == b"" and run.stderr == b"", run.describe()
        kinds = sorted(
            k
            for (k,) in self.scene.sql(
                "SELECT kind FROM tool_uses WHERE tool_use_id = ?", [self.use_id]
            )
        )
        whole = sorted(self.intent + self.kinds)
        assert kinds in (self.intent, whole), f"event {self.use_id} partly recorded: {kinds}"
        replayed = self.replayed()
        twice = {s: n for s, n in replayed.items() if n > 1}
        assert not twice, f"spooled events replayed more than once: {twice}"
        if self.kinds:
            recorded = kinds == whole
        else:
            text = json.dumps(f"prompt {r}")
            (n,) = self.scene.sql("SELECT count(*) FROM records WHERE instr(payload, ?)", [text])[0]
            assert n <= 1, f"prompt {r} recorded {n} times"
            recorded = n == 1
        event = "event recorded" if recorded else "event lost with the process"
        return f"{event}, spool {'replayed' if self.last_spool in replayed else 'kept'}"

    def lost(self, state: str) -> bool:
        # The event dies with a hook killed before its commit: a loss, not a hold, even
        # when the next run records a capture.gap saying so.
        return state.startswith("event lost")

    def after_recovery(self, state: str) -> str:
        """A lost event leaves a capture.gap (the next run finds the killed run's marker)
        unless the kill came before the hook had read its event at all."""
        sha = hashlib.sha256(json.dumps(self.payload).encode("utf-8")).hexdigest()
        gaps = self.scene.sql(
            "SELECT count(*) FROM records WHERE instr(payload, ?) AND instr(payload, ?)",
            ["a hook run was killed", sha],
        )[0][0]
        if not state.startswith("event lost"):
            # Killed after its commit: recorded, and no gap may count it again.
            assert gaps == 0, f"the recorded event {sha[:12]} also has a capture.gap"
            return state
        assert gaps <= 1, f"the lost event {sha[:12]} has {gaps} capture.gap records"
        trace = "capture.gap recorded" if gaps else "killed before it read its event"
        return state.replace("event lost with the process", f"event lost ({trace})")

    def recover(self, r: int) -> Run:
        prompt = self.event("UserPromptSubmit", None, "", prompt=f"after round {r}")
        run = self.scene.hook(prompt)
        assert (run.returncode, run.stdout, run.stderr) == (0, b"", b""), run.describe()
        missing = self.spooled - set(self.replayed())
        assert not missing, f"{len(missing)} spooled event(s) never recorded"
        spool = self.scene.root / "ledger.sqlite.spool"
        left = sorted(p.name for p in spool.iterdir()) if spool.exists() else []
        assert not left, f"spool not empty after a successful hook run: {left}"
        return run


# -- import -------------------------------------------------------------------------------------


class Import(Operation):
    """``affidavit import claude-code``: each tool call of the transcript exactly once."""

    name = "import"
    rounds_per_scene = 4
    USES = 1500  # a batch (transcript_batch.BATCH_RECORDS) and half of another

    def prepare(self, r: int) -> None:
        self.session = session = f"crash-{r}-{self.rng.randrange(10**9)}"
        self.ids = [f"toolu_{session}_{i}" for i in range(self.USES)]
        start = datetime(2026, 1, 1, tzinfo=UTC)
        lines = [self._line(session, start, 0, "user", "Do the task.")]
        for i, use_id in enumerate(self.ids):
            moment = start + timedelta(seconds=2 * i + 1)
            use = {
                "type": "tool_use",
                "id": use_id,
                "name": "Bash",
                "input": {"command": f"echo {i}"},
            }
            result = {"type": "tool_result", "tool_use_id": use_id, "content": f"{i}"}
            lines.append(self._line(session, moment, i, "assistant", [use]))
            lines.append(self._line(session, moment + timedelta(seconds=1), i, "user", [result]))
        self.transcript = self.scene.root / f"{session}.jsonl"
        self.transcript.write_text("".join(json.dumps(x) + "\n" for x in lines))

    @staticmethod
    def _line(session: str, moment: datetime, i: int, role: str, content: object) -> object:
        return {
            "type": role,
            "sessionId": session,
            "cwd": "/work",
            "version": "2.1.0",
            "uuid": f"{session}-{role}-{i}",
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "message": {"role": role, "content": content},
        }

    def counts(self) -> dict[str, int]:
        prefix = f"toolu_{self.session}_"
        rows = self.scene.sql(
            "SELECT tool_use_id, count(*) FROM tool_uses WHERE source = ? AND kind != ? "
            "AND substr(tool_use_id, 1, ?) = ? GROUP BY 1",
            ["claude-code.transcript", "capture.corroboration", len(prefix), prefix],
        )
        return dict(rows)

    def launch(self, r: int, kill_after: float | None) -> Run:
        return self.scene.cli("import", "claude-code", str(self.transcript), kill_after=kill_after)

    def check(self, r: int, run: Run) -> str:
        counts = self.counts()
        twice = [k for k, n in counts.items() if n > 1]
        assert not twice, f"{len(twice)} tool call(s) imported twice, e.g. {twice[:3]}"
        assert set(counts) <= set(self.ids)
        if not counts:
            return "nothing imported"
        return "all imported" if len(counts) == len(self.ids) else "first batch imported"

    def recover(self, r: int) -> Run:
        run = ok(self.scene.cli("import", "claude-code", str(self.transcript)), "import")
        counts = self.counts()
        assert set(counts) >= set(self.ids), "a tool call of the transcript was never imported"
        return run


# -- output files -------------------------------------------------------------------------------


def temp_left(out: Path) -> str:
    """Whether a temporary file or folder for ``out`` was left beside it (named apart)."""
    left = [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    return ", its temp file left" if left else ""


def complete_export(path: Path, fmt: str, leaves: dict[int, str]) -> None:
    """``path`` holds every record of the ledger with its leaf hash, in ``fmt``."""
    text = path.read_text(encoding="utf-8")
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        got = {int(row["seq"]): row["leaf_hash"] for row in rows}
    elif fmt == "jsonl":
        got = {o["seq"]: o["leaf_hash"] for o in map(json.loads, text.splitlines())}
    else:  # ocsf: every line an event; the seq and leaf hash sit in its unmapped/metadata
        lines = [json.loads(line) for line in text.splitlines()]
        assert len(lines) == len(leaves), f"{len(lines)} OCSF events for {len(leaves)} records"
        return
    assert got == leaves, f"{path.name}: {len(got)} rows, not the {len(leaves)} records"


class Export(Operation):
    """``affidavit export --out``: the file is the old one or a complete new one."""

    name = "export"

    def prepare(self, r: int) -> None:
        self.scene.append({"n": i, "file": {"path": f"/w/{r}/{i}.txt"}} for i in range(100))
        self.fmt = self.rng.choice(["jsonl", "csv", "ocsf"])
        self.out = self.scene.root / f"export-{r}.{self.fmt}"
        self.force = self.rng.random() < 0.5
        if self.force:  # replacing an earlier export: the old one must survive a kill
            self.out.write_text("an earlier export\n")
        leaves = self.scene.sql("SELECT seq, lower(hex(leaf_hash)) FROM records")
        self.leaves = dict(leaves)

    def launch(self, r: int, kill_after: float | None) -> Run:
        force = ["--force"] if self.force else []
        args = ["export", "--format", self.fmt, "--out", str(self.out), *force]
        return self.scene.cli(*args, kill_after=kill_after)

    def check(self, r: int, run: Run) -> str:
        earlier = "an earlier export\n" if self.force else None
        now = self.out.read_text() if self.out.exists() else None
        if not run.killed or now != earlier:  # then it must be the whole export
            complete_export(self.out, self.fmt, self.leaves)
            return "complete" + temp_left(self.out)
        return ("earlier file kept" if self.force else "absent") + temp_left(self.out)

    def recover(self, r: int) -> Run:
        run = ok(
            self.scene.cli("export", "--format", self.fmt, "--out", str(self.out), "--force"),
            "export",
        )
        complete_export(self.out, self.fmt, self.leaves)
        return run


class Evidence(Operation):
    """``affidavit evidence --out``: no pack, or one that verify-pack accepts in full."""

    name = "evidence"

    def prepare(self, r: int) -> None:
        self.scene.append({"n": i, "file": {"path": f"/w/{r}/{i}.txt"}} for i in range(40))
        self.scene.seal()
        self.out = self.scene.root / f"pack-{r}.zip"

    def launch(self, r: int, kill_after: float | None) -> Run:
        return self.scene.cli("evidence", "--out", str(self.out), kill_after=kill_after)

    def valid(self) -> None:
        from affidavit.evidence import check_pack
        from affidavit.ledger import Ledger

        with Ledger.open(self.scene.ledger, readonly=True) as ledger:
            key, published = ledger.verifier, ledger.status().published
        report = check_pack(self.out, key=key)
        assert report.ok, f"{self.out.name} does not verify: {report.failures()[:3]}"
        assert len(report.records) == published

    def check(self, r: int, run: Run) -> str:
        if self.out.exists():
            self.valid()
            return "complete" + temp_left(self.out)
        return "absent" + temp_left(self.out)

    def recover(self, r: int) -> Run:
        run = ok(self.scene.cli("evidence", "--out", str(self.out), "--force"), "evidence")
        self.valid()
        return run


class Archive(Operation):
    """``affidavit archive --out DIR``: no folder, or one that ``archive verify`` accepts."""

    name = "archive"

    def prepare(self, r: int) -> None:
        self.scene.append({"n": i, "file": {"path": f"/w/{r}/{i}.txt"}} for i in range(40))
        self.out = self.scene.root / "archives" / f"a-{r}"
        self.out.parent.mkdir(exist_ok=True)

    def launch(self, r: int, kill_after: float | None) -> Run:
        return self.scene.cli("archive", "--out", str(self.out), kill_after=kill_after)

    def valid(self, path: Path) -> None:
        from affidavit.evidence.archive import verify_archive
        from affidavit.ledger import Ledger

        with Ledger.open(self.scene.ledger, readonly=True) as ledger:
            verify_archive(path, verifier=ledger.verifier, ledger=ledger)

    def check(self, r: int, run: Run) -> str:
        if self.out.exists():
            self.valid(self.out)
            return "complete" + temp_left(self.out)
        return "absent" + temp_left(self.out)

    def recover(self, r: int) -> Run:
        target = self.out.with_name(self.out.name + "-again") if self.out.exists() else self.out
        run = ok(self.scene.cli("archive", "--out", str(target)), "archive")
        self.valid(target)
        return run


class Checkpoint(Operation):
    """``affidavit checkpoint --out FILE --force``: the old checkpoint or the new one."""

    name = "checkpoint --out"

    def start(self, scene: Scene) -> None:
        super().start(scene)
        self.out = scene.root / "kept-checkpoint.txt"

    def prepare(self, r: int) -> None:
        self.scene.append({"n": i} for i in range(5))
        self.old = self.out.read_text() if self.out.exists() else None
        self.scene.seal()
        (self.new,) = self.scene.sql("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")

    def launch(self, r: int, kill_after: float | None) -> Run:
        args = ["checkpoint", "--out", str(self.out), "--force"]
        return self.scene.cli(*args, kill_after=kill_after)

    def check(self, r: int, run: Run) -> str:
        now = self.out.read_text() if self.out.exists() else None
        assert now in (self.old, self.new[0]), f"kept checkpoint is neither old nor new: {now!r}"
        return ("new" if now == self.new[0] else "old") + temp_left(self.out)

    def recover(self, r: int) -> Run:
        run = ok(self.scene.cli("checkpoint", "--out", str(self.out), "--force"), "checkpoint")
        assert self.out.read_text() == self.new[0]
        return run


# -- rollback -----------------------------------------------------------------------------------


class Rollback(Operation):
    """``affidavit rollback SEQ``: the file holds the old or the new bytes, never a mix, and
    the restore is recorded exactly once."""

    name = "rollback"

    def start(self, scene: Scene) -> None:
        super().start(scene)
        self.work = scene.root / "work"
        self.work.mkdir()
        self.path = self.work / "report.txt"
        self.path.write_bytes(self.content(0))

    def content(self, r: int) -> bytes:
        body = f"round {r}: the quarterly report, line by line\n".encode() * 40_000
        return f"version {r} of {self.rng.randrange(10**9)}\n".encode() + body

    def prepare(self, r: int) -> None:
        """What the hook records for an Edit: a file.update with both contents kept."""
        from affidavit.capture import snapshots, writer
        from affidavit.store.sqlite import SqliteStore

        self.before = self.path.read_bytes()
        before = snapshots.snapshot(str(self.path))
        self.after = self.content(r)
        self.path.write_bytes(self.after)
        after = snapshots.snapshot(str(self.path))
        file = {"path": str(self.path), "before_sha256": before.sha256}
        file |= {"after_sha256": after.sha256, "size": after.size}
        store = SqliteStore.open(self.scene.ledger)
        try:
            store.begin()
            agent = {"product": "claude-code", "tool": "Edit", "tool_use_id": f"toolu_rb_{r}"}
            (self.seq,) = writer.append_drafts(
                store,
                [("file.update", {"agent": agent, "file": file})],
                source="claude-code.hook",
                time=datetime.now(UTC),
            )
            snapshots.keep(store.connection, before)
            snapshots.keep(store.connection, after)
            store.commit()
        finally:
            store.close()

    def launch(self, r: int, kill_after: float | None) -> Run:
        return self.scene.cli("rollback", str(self.seq), kill_after=kill_after)

    def restores(self) -> int:
        rows = self.scene.sql(
            "SELECT payload FROM records WHERE seq > ? AND instr(payload, '\"of_seq\"')",
            [self.seq],
        )
        return sum(1 for (body,) in rows if json.loads(body)["restore"]["of_seq"] == self.seq)

    def check(self, r: int, run: Run) -> str:
        now = self.path.read_bytes()
        assert now in (self.before, self.after), f"{self.path.name} holds a mix ({len(now)} B)"
        assert self.restores() <= 1, f"rollback of {self.seq} recorded twice"
        if self.restores():
            assert now == self.before, "a restore is recorded but the file was not restored"
            state = "restored and recorded"
        else:
            state = "untouched" if now == self.after else "restored, not yet recorded"
        temp = any(p.name.startswith(".affidavit-restore-") for p in self.work.iterdir())
        return state + (", its temp file left" if temp else "")

    def recover(self, r: int) -> Run:
        if self.restores():  # the killed run finished its work: the next rollback is another
            self.prepare(r)
        run = ok(self.scene.cli("rollback", str(self.seq)), "rollback after a kill")
        assert self.path.read_bytes() == self.before
        assert self.restores() == 1
        return run


# -- retention ----------------------------------------------------------------------------------


class Retention(Operation):
    """``affidavit retention --apply``: a batch is erased and recorded whole, or not at all."""

    name = "retention --apply"
    RECORDS = 400

    def start(self, scene: Scene) -> None:
        super().start(scene)
        self.config = scene.root / "affidavit.toml"
        self.config.write_text("[retention]\nmaximum_days = 365\n")

    def prepare(self, r: int) -> None:
        payloads = ({"n": i, "file": {"path": f"/old/{r}/{i}.txt"}} for i in range(self.RECORDS))
        self.seqs = set(self.scene.append(payloads, when=OLD))

    def launch(self, r: int, kill_after: float | None) -> Run:
        args = ["retention", "--config", str(self.config), "--apply", "--yes"]
        return self.scene.cli(*args, kill_after=kill_after)

    def check(self, r: int, run: Run) -> str:
        payloads = self.scene.payloads()
        erased = {s for s, p in payloads.items() if p is None}
        mine = erased & self.seqs
        assert mine in (set(), self.seqs), f"{len(mine)} of {len(self.seqs)} erased: not a batch"
        named: list[int] = []
        for seq, kind in self.scene.kinds().items():
            if kind == "erasure":
                body = payloads[seq]
                assert body is not None
                named += body["seqs"]
        assert sorted(named) == sorted(erased), "erased payloads and erasure records disagree"
        return "batch erased and recorded" if mine else "nothing erased"

    def recover(self, r: int) -> Run:
        args = ["retention", "--config", str(self.config), "--apply", "--yes"]
        run = ok(self.scene.cli(*args), "retention --apply after a kill")
        payloads = self.scene.payloads()
        assert all(payloads[s] is None for s in self.seqs)
        return run


# -- the tests ----------------------------------------------------------------------------------

OPERATIONS: dict[str, type[Operation]] = {
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


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_sigkill_leaves_a_verifiable_ledger(
    name: str, tmp_path: Path, runslow: bool, reliability: Tally
) -> None:
    seed = seed_for(name)
    op = OPERATIONS[name](Random(seed))
    crash_test(op, tmp_path, KILLS_LONG if runslow else KILLS, seed, reliability)


def test_the_harness_kills_mid_run(tmp_path: Path) -> None:
    """A run blocked forever (reading a FIFO nobody writes) is killed, and reported so."""
    runner = Runner(tmp_path)
    try:
        scene = Scene(tmp_path, runner)
        os.mkfifo(tmp_path / "fifo")
        run = scene.cli("append", str(tmp_path / "fifo"), kill_after=0.2)
        assert run.killed and run.returncode == -9
        done = scene.cli("append", "-", stdin=None)
        assert (done.killed, done.returncode) == (False, 0), done.describe()
    finally:
        runner.close()
    assert scene.verify() == 0


# -- the crashes the random kills found, replayed deterministically ------------------------------


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    runner = Runner(tmp_path)
    try:
        yield Scene(tmp_path / "scene", runner)
    finally:
        runner.close()


def test_a_spool_file_claimed_by_a_killed_hook_is_replayed_once(scene: Scene) -> None:
    hook = Hook(Random(0))
    hook.start(scene)
    spool = scene.root / "ledger.sqlite.spool"
    hook.spool(1)  # killed before its commit: the claimed file is all that is left
    (claimed,) = spool.iterdir()
    claimed.rename(spool / f"{claimed.name}.999999.claimed")
    hook.recover(1)
    hook.spool(2)  # killed after its commit, before deleting the file
    (pending,) = spool.iterdir()
    kept = pending.read_bytes()
    hook.recover(2)
    (spool / f"{pending.name}.999999.claimed").write_bytes(kept)
    hook.recover(3)
    assert hook.replayed() == dict.fromkeys(hook.spooled, 1)


def test_a_rollback_killed_before_recording_is_completed_by_the_next(scene: Scene) -> None:
    rollback = Rollback(Random(0))
    rollback.start(scene)
    rollback.prepare(1)
    rollback.path.write_bytes(rollback.before)  # restored, then killed before the record
    ok(scene.cli("rollback", str(rollback.seq)), "rollback after the kill")
    assert rollback.path.read_bytes() == rollback.before
    [(body,)] = scene.sql("SELECT payload FROM records WHERE seq = ?", [rollback.seq + 1])
    restore = json.loads(body)
    assert restore["restore"] == {"of_seq": rollback.seq, "forced": False, "found_restored": True}
    assert restore["file"]["after_sha256"] == hashlib.sha256(rollback.before).hexdigest()
    again = scene.cli("rollback", str(rollback.seq))
    assert again.returncode == 2
    assert f"already rolled back, by record {rollback.seq + 1}" in again.stderr.decode()


def test_a_killed_hook_that_lost_its_event_counts_as_lost_not_held(scene: Scene) -> None:
    """The states a killed hook leaves, as the crash loop counts them: an event that died
    with the process is lost (nothing in the ledger says so until a capture.gap does)."""
    hook = Hook(Random(0))
    hook.start(scene)
    hook.prepare(1)
    run = hook.launch(1, kill_after=None)  # not killed: recorded
    state = hook.check(1, run)
    assert state.startswith("event recorded") and not hook.lost(state)
    assert hook.lost("event lost with the process, spool kept")
    assert not Operation(Random(0)).lost("event lost with the process, spool kept")

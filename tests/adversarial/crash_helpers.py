"""The crash-safety harness: a forking runner of the real CLI, a killer, and ledger readers.

Starting Python and importing the CLI costs about 0.25 s, several times what most commands
take on the small ledgers these tests use, and every kill needs two runs (the killed one and
the next, which must succeed). So the runner is a fork server: ``python crash_helpers.py
zygote FD`` imports the CLI and every module its commands load lazily, then, for each run,
forks a child that takes the run's stdin, stdout, stderr, working folder and environment and
calls the real entry point, :func:`affidavit.cli.main`, exactly as ``python -m affidavit``
does. The parent's clock starts when the child exists, so a kill instant drawn uniformly over
the measured duration lands in the command's own work, not in interpreter start-up, where
nothing is written.

The server does not reap a child until the parent has sent its signal, so the pid the parent
kills is always that child's (running, or a zombie), never a reused one.

Modes: ``cli ARGS...`` (any ``affidavit`` command, the hook included) and ``append-loop
LEDGER FILE...`` (``affidavit append --json FILE`` once per file in one process, flushing
stdout after each, so the parent sees every seq list as soon as its append returned).

The same module, imported by the tests, holds :class:`Scene` (a ledger under ``tmp_path``
with user folders there too) and the readers the checks use.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

HERE = Path(__file__).resolve()
ORIGIN = "example.com/affidavit-crash"
OLD = datetime(2020, 1, 1, tzinfo=UTC)  # older than any retention limit
SEED_ENV = "AFFIDAVIT_CRASH_SEED"

# Modules the commands import on first use; loading them in the server keeps the kill
# window on the command's work. A module that is missing (an extra) is skipped.
PRELOAD = (
    "affidavit.capture.hook",
    "affidavit.capture.rollback",
    "affidavit.capture.transcripts",
    "affidavit.evidence.archive",
    "affidavit.evidence.retention",
    "affidavit.signing",
    "affidavit.evidence",
    "affidavit.export.cef",
    "affidavit.export.ecs",
    "affidavit.export.ocsf",
    "affidavit.export.tabular",
    "affidavit.note",
)


# -- the server and its children ----------------------------------------------------------------


def _preload() -> None:
    import importlib
    from contextlib import suppress

    from affidavit.cli import load

    load()
    for name in PRELOAD:
        with suppress(ImportError):
            importlib.import_module(name)


def _command(mode: str, args: list[str]) -> int:
    from affidavit.cli import main, run

    if mode == "cli":
        main(args)  # exits (the hook through os._exit)
    elif mode == "append-loop":
        ledger, files = args[0], args[1:]
        for name in files:
            code = run(["--ledger", ledger, "append", "--json", name])
            sys.stdout.flush()
            if code:
                return code
        return 0
    print(f"crash_helpers: unknown mode {mode!r}", file=sys.stderr)
    return 2


def _exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    print(e.code, file=sys.stderr)
    return 1


def _limit_file_size(limit: int) -> None:
    """Make every write that would grow a file past ``limit`` bytes fail with EFBIG.

    The I/O-error fault of the disk-full tests, which needs no small file system: SQLite
    reports it as SQLITE_IOERR, not SQLITE_FULL, and Python as OSError(EFBIG).
    """
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the run, call the CLI, leave as the interpreter would."""
    code = 1
    try:
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("fsize") is not None:
            _limit_file_size(request["fsize"])
        code = _command(request["mode"], request["args"])
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                code = code or 120  # what the interpreter does when it cannot flush
        os._exit(code)


def _serve(fd: int) -> None:
    _preload()
    sock = socket.socket(fileno=fd)
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        if not message:
            return
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(json.loads(message), fds)
        for f in fds:
            os.close(f)
        sock.send(str(pid).encode())
        sock.recv(16)  # the parent has killed it, or chosen not to: reap it now
        _, status = os.waitpid(pid, 0)
        sock.send(str(status).encode())


# -- the parent -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """One child run: killed by us, or ended by itself with ``returncode``."""

    killed: bool
    returncode: int
    stdout: bytes
    stderr: bytes
    elapsed: float
    """Seconds from the fork to the kill or the exit."""

    def describe(self) -> str:
        err = self.stderr.decode("utf-8", "replace").strip()
        return f"exit {self.returncode}" + (f": {err[-500:]}" if err else "")


def cli_env(home: Path) -> dict[str, str]:
    """User folders under ``home``; no AFFIDAVIT_* settings from the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
    for name in ("USERNAME", "CLAUDE_CONFIG_DIR"):
        env.pop(name, None)
    env.update(
        HOME=str(home),
        USER="crash-tester",
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONIOENCODING="utf-8",
    )
    return env


class Runner:
    """The fork server, from the parent's side. One run at a time."""

    def __init__(self, home: Path) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close(); the server's stderr)
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE), "zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stderr=self._log,
            env=cli_env(home),
        )
        theirs.close()

    def close(self) -> None:
        self._sock.close()
        self._proc.wait(timeout=60)
        self._log.close()

    def _died(self, e: OSError | None = None) -> AssertionError:
        code = self._proc.wait(timeout=60)
        self._log.seek(0)
        tail = self._log.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        return AssertionError(f"the fork server died (exit {code}, {e}): {' | '.join(tail)}")

    def _reply(self) -> int:
        try:
            data = self._sock.recv(64)
        except OSError as e:
            raise self._died(e) from e
        if not data:
            raise self._died()
        return int(data)

    def run(
        self,
        mode: str,
        args: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path,
        stdin: Path | None = None,
        kill_after: float | None = None,
        fsize: int | None = None,
    ) -> Run:
        """One run; with ``kill_after``, SIGKILL it that many seconds after it was forked;
        with ``fsize``, writes that would grow a file past that many bytes fail (EFBIG)."""
        request = {"mode": mode, "args": list(args), "env": env, "cwd": str(cwd), "fsize": fsize}
        # Pipes, not files, for stdout and stderr: a file size limit must not cut them.
        (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
        readers = [_Drain(out_r), _Drain(err_r)]
        try:
            with open(stdin or os.devnull, "rb") as source:
                fds = [source.fileno(), out_w, err_w]
                socket.send_fds(self._sock, [json.dumps(request).encode()], fds)
        except OSError as e:
            raise self._died(e) from e
        finally:
            os.close(out_w)
            os.close(err_w)
        pid = self._reply()
        start = time.monotonic()
        if kill_after is not None:
            time.sleep(kill_after)
            os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still this child's
        self._sock.send(b"reap")
        status = self._reply()
        elapsed = time.monotonic() - start
        stdout, stderr = (r.result() for r in readers)
        code = os.waitstatus_to_exitcode(status)
        return Run(code == -signal.SIGKILL, code, stdout, stderr, elapsed)


class _Drain:
    """Read a pipe to its end in a thread, so a chatty child never blocks on a full pipe."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with open(self._fd, "rb", buffering=0) as f:
            while chunk := f.read(1 << 16):
                self._chunks.append(chunk)

    def result(self) -> bytes:
        self._thread.join(timeout=300)
        return b"".join(self._chunks)


def real_cli(ledger: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """``python -m affidavit --ledger LEDGER ARGS...`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "affidavit", "--ledger", str(ledger), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        check=False,
    )


@dataclass
class Timer:
    """Kill instants drawn uniformly over the longest of the last few uncrashed runs."""

    rng: Random
    durations: list[float] = field(default_factory=list)

    def note(self, run: Run) -> None:
        if not run.killed:
            self.durations = [*self.durations[-4:], run.elapsed]

    def draw(self) -> float:
        span = max(self.durations, default=0.05)
        return self.rng.uniform(0.0, span)


def seed_for(name: str) -> int:
    """A fresh seed per test, or the one ``AFFIDAVIT_CRASH_SEED`` replays."""
    given = os.environ.get(SEED_ENV)
    if given:
        return int(given)
    return Random().randrange(2**32)


# -- the scene: a ledger and its folders ------------------------------------------------------


class Scene:
    """A ledger under ``root``, user folders beside it, and the readers the checks use."""

    def __init__(self, root: Path, runner: Runner) -> None:
        from affidavit.ledger import Ledger

        self.root = root
        self.runner = runner
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = cli_env(self.home)
        self.ledger = root / "ledger.sqlite"
        self.key = root / "ledger.sqlite.key"
        self.fsize: int | None = None  # see Runner.run
        Ledger.create(self.ledger, origin=ORIGIN, key_path=self.key).close()

    def run(
        self,
        mode: str,
        args: Sequence[str],
        *,
        kill_after: float | None = None,
        stdin: Path | None = None,
    ) -> Run:
        return self.runner.run(
            mode,
            args,
            env=self.env,
            cwd=self.root,
            stdin=stdin,
            kill_after=kill_after,
            fsize=self.fsize,
        )

    def cli(self, *args: str, kill_after: float | None = None, stdin: Path | None = None) -> Run:
        """``affidavit --ledger LEDGER ARGS...``"""
        args = ("--ledger", str(self.ledger), *args)
        return self.run("cli", args, stdin=stdin, kill_after=kill_after)

    def hook(self, event: dict[str, Any], kill_after: float | None = None) -> Run:
        """``affidavit hook --ledger LEDGER`` with ``event`` on stdin (no detached seal)."""
        data = self.root / "event.json"
        data.write_text(json.dumps(event), encoding="utf-8")
        args = ["hook", "--ledger", str(self.ledger), "--seal-interval", "3600"]
        return self.run("cli", args, stdin=data, kill_after=kill_after)

    # -- writing in-process (setting up work for the next kill) -------------------------------

    def append(self, payloads: Iterable[dict[str, Any]], *, when: datetime | None = None) -> range:
        from affidavit.ledger import Ledger
        from affidavit.record import Record

        moment = when or datetime.now(UTC)
        records = [
            Record.create("file.update", "crash.test", p, time=moment + timedelta(seconds=i))
            for i, p in enumerate(payloads)
        ]
        with Ledger.open(self.ledger, key_path=self.key) as ledger:
            return ledger.append(records)

    def seal(self) -> None:
        from affidavit.ledger import Ledger

        with Ledger.open(self.ledger, key_path=self.key) as ledger:
            ledger.seal()

    # -- reading ------------------------------------------------------------------------------

    def verify(self) -> int:
        """What ``affidavit verify`` checks (it calls this same method); returns the size."""
        from affidavit.ledger import Ledger

        with Ledger.open(self.ledger, readonly=True) as ledger:
            return ledger.verify().records

    def status(self) -> tuple[int, int, int]:
        """(size, integrated, published) of the ledger."""
        from affidavit.ledger import Ledger

        with Ledger.open(self.ledger, readonly=True) as ledger:
            st = ledger.status()
        return st.size, st.integrated, st.published

    def payloads(self, start: int = 0) -> dict[int, dict[str, Any] | None]:
        """seq → payload (None once erased) from ``start``."""
        from affidavit.ledger import Ledger

        with Ledger.open(self.ledger, readonly=True) as ledger:
            return {
                seq: None if body is None else json.loads(body)
                for seq, _, _, _, body in ledger.rows(start)
            }

    def kinds(self, start: int = 0) -> dict[int, str]:
        from affidavit.ledger import Ledger

        with Ledger.open(self.ledger, readonly=True) as ledger:
            return {seq: json.loads(leaf)["kind"] for seq, leaf, _, _, _ in ledger.rows(start)}

    def sql(self, query: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        import sqlite3

        conn = sqlite3.connect(f"{self.ledger.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return list(conn.execute(query, args))
        finally:
            conn.close()


if __name__ == "__main__":
    if sys.argv[1:2] != ["zygote"]:
        sys.exit("usage: crash_helpers.py zygote FD")
    _serve(int(sys.argv[2]))

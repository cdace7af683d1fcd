"""Start-up benchmark: how long a whole `affidavit` process takes, against `python -c pass`.

    .venv/bin/python bench/bench_startup.py [--runs 9] [--records 1000]

Runs, as separate processes, `python -c pass` (the interpreter's own fixed cost, the
floor), then `affidavit --version`, `--help`, every command's `--help`, and `prove`,
`status` and `log -n 1` against a small sealed ledger. Each is run --runs times,
interleaved with the floor so load on the machine hits both alike; the figure is the
best run (the least disturbed), and the ratio is to the best floor of the same run. Each
line also gives the process's CPU time (user + system, best run) and its ratio to the
floor's: on a busy machine it moves less than the wall time.
The target is at most 3x the floor for any read command.

The affidavit package's bytecode is compiled first, as an installed package has it: with
``PYTHONDONTWRITEBYTECODE`` set (as it may be in a development shell) an editable install
would otherwise compile every module it imports on every run, and that compile time, not
the command's, would be measured.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import affidavit
from affidavit.cli.group import COMMANDS
from affidavit.ledger import Ledger
from affidavit.record import Record
from bench_ledger import payload

TARGET = 3.0


def affidavit_command() -> list[str]:
    """The installed console script, as people run it; else `python -m affidavit`."""
    script = Path(sys.executable).parent / "affidavit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "affidavit"]


def once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d}; best of {args.runs} runs; ledger of "
          f"{args.records:,} records; load average {os.getloadavg()[0]:.1f} at the start",
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = Path(tmp) / "s.sqlite"
        key = Path(tmp) / "s.key"
        rng = random.Random(3)
        start = datetime(2026, 8, 1, tzinfo=UTC)
        with Ledger.create(path, origin="bench.example/startup", key_path=key) as ledger:
            ledger.append(
                Record.create("file.update", "bench", payload(i, rng), time=start)
                for i in range(args.records)
            )
            ledger.integrate()
            ledger.publish()
        env = {**os.environ, "AFFIDAVIT_LEDGER": str(path), "AFFIDAVIT_KEY": str(key)}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        compileall.compile_dir(Path(affidavit.__file__).parent, quiet=1)
        was = "set" if "PYTHONDONTWRITEBYTECODE" in os.environ else "not set"
        print(f"bytecode: the affidavit package compiled beforehand, as installed "
              f"(PYTHONDONTWRITEBYTECODE was {was} in this shell)")  # fmt: skip
        run = affidavit_command()
        cases: list[tuple[str, list[str]]] = [
            ("--version", ["--version"]),
            ("--help", ["--help"]),
            ("prove 7", ["prove", "7"]),
            ("status", ["status"]),
            ("log -n 1", ["log", "-n", "1"]),
        ]
        cases += [(f"{name} --help", [name, "--help"]) for name in sorted(COMMANDS)]
        floor_argv = [sys.executable, "-c", "pass"]
        floors: list[tuple[float, float]] = []
        best: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for _ in range(args.runs):
            for label, words in cases:
                floors.append(once(floor_argv, env))
                seconds, used = once([*run, *words], env)
                best[label] = min(best.get(label, seconds), seconds)
                cpu[label] = min(cpu.get(label, used), used)
        floor = min(wall for wall, _ in floors)
        floor_cpu = min(used for _, used in floors)
        # CPU time (user + system, best run) moves less than wall time when the machine is
        # busy: it leaves out the time a process waited for a core.
        print(f"floor: python -c pass            {floor * 1000:7.1f} ms          "
              f"CPU {floor_cpu * 1000:6.1f} ms")  # fmt: skip
        worst = 0.0
        for label, _ in cases:
            ratio = best[label] / floor
            worst = max(worst, ratio) if not label.endswith(" --help") else worst
            used = cpu[label]
            print(f"affidavit {label:<24}{best[label] * 1000:7.1f} ms  {ratio:5.1f} x floor"
                  f"  CPU {used * 1000:6.1f} ms  {used / floor_cpu:5.1f} x")  # fmt: skip
        helps = [best[label] / floor for label, _ in cases if label.endswith(" --help")]
        print(f"every command's --help: {min(helps):.1f}-{max(helps):.1f} x floor")
        print(f"slowest of --version, --help, prove, status, log: {worst:.1f} x floor "
              f"(target <= {TARGET:.0f} x)")  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

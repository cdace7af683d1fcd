"""Capture hook benchmarks (issue: capture). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_hook.py [--runs 200] [--pairs 40] [--files 10000]

1. ``affidavit hook`` as a whole process, for a typical PostToolUse Edit payload (the shape
   of the real Claude Code fixture, pointed at a real temp file) against a ledger that holds
   some records: run as the installed hook command runs it (``python -E -P -m affidavit
   hook``) and through the console script (``python -E -P .venv/bin/affidavit hook``), with
   the baseline ``python -c pass`` on the same interpreter binary interleaved in the same
   loop, because these machines are noisy. Targets: median <= 3x baseline, p99 <= 5x.
2. The Bash workspace manifest on a workspace of ``--files`` files: a PreToolUse +
   PostToolUse pair for a Bash event against the same pair for a non-shell tool, both as
   whole hook processes, interleaved. The difference is what the manifest adds (target
   <= 100 ms).

HOME and the XDG folders point into the temp folder, so no real user file is read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from affidavit.ledger import Ledger
from affidavit.record import Record

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # the venv's interpreter, as the installed hook names it
CONSOLE_SCRIPT = str(Path(PYTHON).parent / "affidavit")


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
    )
    env.pop("CLAUDE_CONFIG_DIR", None)
    return env


def edit_event(path: Path, use_id: str) -> dict[str, Any]:
    """PostToolUse Edit in the shape of the RonKat2008 fixture post_tool_use_edit.json."""
    text = path.read_text()
    return {
        "cwd": str(path.parent),
        "duration_ms": 2,
        "hook_event_name": "PostToolUse",
        "permission_mode": "acceptEdits",
        "prompt_id": "b6027b00-cda7-421e-a049-e52ae7462dd1",
        "session_id": "5668ec28-8187-4443-bfc9-b89bf23120bc",
        "tool_input": {
            "file_path": str(path),
            "new_string": "hello",
            "old_string": "hi",
            "replace_all": False,
        },
        "tool_name": "Edit",
        "tool_response": {
            "filePath": str(path),
            "newString": "hello",
            "oldString": "hi",
            "originalFile": text.replace("hello", "hi", 1),
            "replaceAll": False,
            "structuredPatch": [
                {
                    "lines": ["-hi", "+hello"],
                    "newLines": 1,
                    "newStart": 1,
                    "oldLines": 1,
                    "oldStart": 1,
                }
            ],
            "userModified": False,
        },
        "tool_use_id": use_id,
        "transcript_path": f"{path.parent}/.claude/projects/p/5668ec28.jsonl",
    }


FAILURES: list[str] = []


def timed(args: list[str], stdin: bytes, env: dict[str, str], cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run(args, input=stdin, capture_output=True, env=env, cwd=cwd, check=False)
    elapsed = time.perf_counter() - t
    if done.returncode != 0 or done.stderr:  # the hook exits 0 anyway; say so, once
        if not FAILURES:
            print(f"  ! exit {done.returncode}: {done.stderr[:300]!r}", file=sys.stderr)
        FAILURES.append(done.stderr.decode("utf-8", "replace"))
    return elapsed


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def show(name: str, values: list[float], base: list[float] | None = None) -> None:
    med, tail = statistics.median(values), p99(values)
    line = f"  {name:<34} median {med * 1000:7.1f} ms   p99 {tail * 1000:7.1f} ms"
    if base is not None:
        line += (
            f"   ratio median {med / statistics.median(base):4.2f}x   p99 {tail / p99(base):4.2f}x"
        )
    print(line)


def prefill(ledger: Path, count: int) -> None:
    """A ledger holding ``count`` records, sealed, so the hook appends to a lived-in file."""
    key = ledger.with_name(ledger.name + ".key")
    with Ledger.create(ledger, origin="example.com/bench-hook", key_path=key) as opened:
        now = datetime.now(UTC)
        batch = [
            Record.create("file.update", "bench", {"n": i, "path": f"docs/{i}.md"}, time=now)
            for i in range(count)
        ]
        opened.append(batch)
        opened.seal()


def bench_process(folder: Path, runs: int) -> None:
    ledger = folder / "ledger.sqlite"
    prefill(ledger, 1000)
    work = folder / "work"
    work.mkdir()
    target = work / "note.txt"
    target.write_text("hello\n" + "a line of a typical source file\n" * 200)
    env = env_for(folder / "home")
    hook_tail = ["hook", "--ledger", str(ledger)]
    variants: dict[str, list[str]] = {
        "python -c pass (baseline)": [PYTHON, "-c", "pass"],
        "python -E -P -m affidavit hook": [PYTHON, "-E", "-P", "-m", "affidavit", *hook_tail],
        "python -E -P bin/affidavit hook": [PYTHON, "-E", "-P", CONSOLE_SCRIPT, *hook_tail],
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    rng = random.Random(1)
    for args in variants.values():  # warm the page cache once
        timed(args, json.dumps(edit_event(target, "toolu_warm")).encode(), env, work)
    for i in range(runs):
        order = list(variants)
        rng.shuffle(order)
        for name in order:
            stdin = json.dumps(edit_event(target, f"toolu_01bench{i:06d}{name[:3]}")).encode()
            times[name].append(timed(variants[name], stdin, env, work))
    with Ledger.open(ledger, readonly=True) as opened:
        status = opened.status()
    base = times["python -c pass (baseline)"]
    print(f"\n1. whole hook process, PostToolUse Edit, {runs} runs each, interleaved")
    print(f"   ledger: 1000 records before, {status.size} after; {status.published} published")
    for name, values in times.items():
        show(name, values, None if values is base else base)
    print("   targets: median <= 3x, p99 <= 5x the baseline")


def make_workspace(root: Path, files: int) -> None:
    per_dir = 100
    for i in range(files):
        folder = root / f"src/pkg{i // per_dir:03d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True)
        (folder / f"module_{i % per_dir:03d}.py").write_text(f"x = {i}\n")
    git = root / ".git" / "objects"
    git.mkdir(parents=True)
    for i in range(500):  # skipped by the manifest
        (git / f"obj{i}").write_bytes(b"\0" * 16)


def bench_manifest(folder: Path, files: int, pairs: int) -> None:
    ledger = folder / "ledger.sqlite"
    prefill(ledger, 1000)
    work = folder / "work"
    work.mkdir()
    make_workspace(work, files)
    env = env_for(folder / "home")
    args = [PYTHON, "-E", "-P", "-m", "affidavit", "hook", "--ledger", str(ledger)]

    def pair(tool: str, tool_input: dict[str, Any], use_id: str) -> float:
        base = {
            "session_id": "5668ec28-8187-4443-bfc9-b89bf23120bc",
            "cwd": str(work),
            "permission_mode": "acceptEdits",
            "tool_name": tool,
            "tool_input": tool_input,
            "tool_use_id": use_id,
        }
        pre = json.dumps({**base, "hook_event_name": "PreToolUse"}).encode()
        response = {"stdout": "", "stderr": "", "interrupted": False, "isImage": False}
        post = {**base, "hook_event_name": "PostToolUse", "tool_response": response}
        return timed(args, pre, env, work) + timed(args, json.dumps(post).encode(), env, work)

    shapes: dict[str, Callable[[int], float]] = {
        "Bash pair (manifest)": lambda i: pair(
            "Bash", {"command": "true", "description": "noop"}, f"toolu_bash{i}"
        ),
        "non-shell pair (mcp tool)": lambda i: pair(
            "mcp__drive__search", {"query": "q3 forecast"}, f"toolu_mcp{i}"
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in shapes}
    for run in shapes.values():
        run(-1)  # warm up
    rng = random.Random(2)
    for i in range(pairs):
        order = list(shapes)
        rng.shuffle(order)
        for name in order:
            times[name].append(shapes[name](i))
    bash, other = times["Bash pair (manifest)"], times["non-shell pair (mcp tool)"]
    print(f"\n2. Bash manifest, {files} files (+500 under .git), {pairs} Pre+Post pairs each")
    for name, values in times.items():
        show(name, values)
    added = statistics.median(bash) - statistics.median(other)
    tail = p99(bash) - p99(other)
    print(f"  added by the manifest: median {added * 1000:.1f} ms, p99 {tail * 1000:.1f} ms")
    print("   target: <= 100 ms added per pair")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--files", type=int, default=10_000)
    opts = parser.parse_args()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"date:    {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, {platform.machine()}")
    # The interpreter's version, not its path: results are committed, machine paths are not.
    print(f"python:  {platform.python_version()}")
    if load is not None:
        print(f"load:    {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) at start")
    with tempfile.TemporaryDirectory(prefix="bench-hook-") as tmp:
        (Path(tmp) / "a").mkdir()
        bench_process(Path(tmp) / "a", opts.runs)
        (Path(tmp) / "b").mkdir()
        bench_manifest(Path(tmp) / "b", opts.files, opts.pairs)
    if FAILURES:
        print(f"\nWARNING: {len(FAILURES)} runs wrote to stderr; their times are not valid")
    if load is not None:
        now = os.getloadavg()
        print(f"\nload:    {now[0]:.2f} {now[1]:.2f} {now[2]:.2f} (1/5/15 min) at end")


if __name__ == "__main__":
    main()

"""The 10,000,000-record scale run (issue 16 item 7, issue 12's 10M org log query). Prints
figures; progress goes to stderr.

    .venv/bin/python bench/bench_10m.py [--sizes 10000,100000,1000000,10000000] [--pg URL]

One SQLite ledger grows from empty to the largest size, and at each size it stops to
measure (so one build serves every size): disk bytes per record, `append` of 1,000 records
(library, and `affidavit append` as a whole process), `affidavit verify` against the floor
measured in the same run (sqlite3 reading every leaf and one bare ``hashlib`` SHA-256 of
it), `prove SEQ`, `log -n 1`, `log --path` (one folder, and a folder of five), `log --since`
(the last day), and `export --format ocsf` of a fixed window (the newest 10,000 records; an
export of all 10M would take too long to repeat) -- each a whole process, with its peak
RSS, against `python -c pass`. The records the append measurements add stay in the ledger
(they are the next records of the same stream), so a size is its nominal figure plus a few
thousand.

The records are hook-shaped (a Claude Code event mapped by the capture code, raw event
kept): 40 people (one per 400-event session), 50 folders (10 business functions of 5
folders each: `--path finance` covers five folders, `--path finance/q1` one), 9 kinds
(file.update, file.create, file.read, command.exec, tool.intent, web.fetch, web.search,
prompt.submit, session.start) and 90 days of time spread over 10M records.

Then the collector (issue 12): the ledger's rows are copied into a fresh collector schema
on PostgreSQL as the ingest and the integrator would leave them (40 endpoint logs, one per
person; every entry with its org seq), the first 20,000 through the real integrator, so the
org log's own bytes per record are measured, the rest with COPY (the build is not a
figure). The `GET /api/v1/records` query code (:func:`affidavit.server.records.page`) then
answers `--path` over five folders and `--since` one day, each paged to its end, with
EXPLAIN ANALYZE of the first page and the table and index sizes per record.

Everything lives in a temporary folder (``$BENCH_DIR`` or the system's) and a schema named
``bench10m_<pid>``; both are removed at the end, also after an error. ``--keep FOLDER`` builds
the ledger in FOLDER (which must be empty or new) and leaves it there, so the collector part
can be run again on it alone (``--collector-from FOLDER/ledger.sqlite``) after a change to the
query code, without building 10M records again.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from affidavit.capture.events import map_event
from affidavit.ledger import Ledger
from affidavit.record import Record, format_time
from bench_scale import hook_event

CLI = [sys.executable, "-m", "affidavit"]
TIME = shutil.which("time", path="/usr/bin:/bin") or "time"  # GNU time, for peak RSS
START = datetime(2026, 8, 1, tzinfo=UTC)
SPAN_RECORDS = 10_000_000  # the time step spreads this many records over 90 days
STEP = timedelta(days=90) / SPAN_RECORDS
FUNCTIONS = [
    "finance", "hr", "legal", "eng", "marketing",
    "sales", "ops", "support", "research", "design",
]  # fmt: skip
SUBFOLDERS = ["q1", "q2", "audit", "contracts", "misc"]
# (hook event, tool) per 20 events: 9 kinds once mapped
MIX = (
    [("PostToolUse", "Edit")] * 5
    + [("PostToolUse", "Write")] * 2
    + [("PostToolUse", "Read")] * 4
    + [("PostToolUse", "Bash")] * 3
    + [("PreToolUse", "Edit")] * 2
    + [("PostToolUse", "WebFetch"), ("PostToolUse", "WebSearch")]
    + [("UserPromptSubmit", None), ("SessionStart", None)]
)
BUILD_CHUNK = 20_000
BYTES_PER_RECORD = 3_000
EXPORT_WINDOW = 10_000


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def progress(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def at(i: int) -> datetime:
    return START + STEP * i


# -- records ----------------------------------------------------------------------------------


def event(i: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any], int]:
    """(hook event, what the hook observed on disk, person) of record ``i``."""
    name, tool = MIX[rng.randrange(len(MIX))]
    person = (i // 400) % 40  # hook_event's sessions are 400 events long
    folder = rng.randrange(50)
    cwd = f"/home/user{person}/work"
    path = f"{cwd}/{FUNCTIONS[folder // 5]}/{SUBFOLDERS[folder % 5]}/doc{i % 1000}.md"
    e = hook_event(i, rng)
    e.update(cwd=cwd, hook_event_name=name, tool_name=tool)
    observed: dict[str, Any] = {}
    if tool in ("Edit", "Write", "Read"):
        e["tool_input"] = {**e["tool_input"], "file_path": path}
        e["tool_response"] = {"filePath": path, "success": True}
        observed = {"before_sha256": f"{rng.getrandbits(256):064x}"}
        if tool != "Read":
            observed.update(after_sha256=f"{rng.getrandbits(256):064x}", size=rng.randrange(9999))
    if tool == "Write":
        e["tool_input"] = {"file_path": path, "content": "row,total\n" * (1 + i % 9)}
        e["tool_response"] = {"type": "create", "filePath": path}
        observed["before_known"] = False
    elif tool == "Bash":
        e["tool_input"] = {"command": f"pytest -q tests/test_{i % 200}.py", "description": "t"}
        e["tool_response"] = {"stdout": "1 passed", "stderr": "", "interrupted": False}
    elif tool == "WebFetch":
        e["tool_input"] = {"url": f"https://docs.example.com/p{i % 500}", "prompt": "summary"}
        e["tool_response"] = {"code": 200, "bytes": 9_000 + i % 999}
    elif tool == "WebSearch":
        e["tool_input"] = {"query": f"quarterly close checklist {i % 300}"}
        e["tool_response"] = {"results": 10}
    elif tool is None:
        for key in ("tool_name", "tool_input", "tool_response", "tool_use_id"):
            e.pop(key)
        if name == "UserPromptSubmit":
            e["prompt"] = f"Update the {FUNCTIONS[folder // 5]} report for week {i % 52}"
        else:
            e["source"] = "startup"
    return e, observed, person


def records(first: int, count: int) -> list[Record]:
    rng = random.Random(first)
    out = []
    for i in range(first, first + count):
        e, observed, p = event(i, rng)
        actor = {"user": f"user{p}", "host": f"laptop-{p}", "email": f"u{p}@ex.com"}
        ((kind, body),) = map_event(e, actor=actor, observed=observed)
        out.append(Record.create(kind, "claude-code.hook", body, time=at(i)))
    return out


def jsonl_of(batch: list[Record], path: Path) -> Path:
    """The records as `affidavit append` reads them."""
    with path.open("w") as out:
        for r in batch:
            line = {"kind": r.envelope.kind, "source": r.envelope.source, "time": r.envelope.time}
            out.write(json.dumps({**line, "payload": json.loads(r.payload_json or b"{}")}) + "\n")
    return path


# -- processes --------------------------------------------------------------------------------


def run(args: list[str], *, count_lines: bool = False) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MB, lines printed) of one whole process.

    The peak RSS comes from GNU time, which forks the process from its own small image: a
    child forked from this (larger) process would report this one's RSS as its own."""
    out = subprocess.PIPE if count_lines else subprocess.DEVNULL
    with tempfile.NamedTemporaryFile("r") as rss:
        t = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", "-o", rss.name, *args], stdout=out,
                                stderr=subprocess.PIPE)  # fmt: skip
        lines = 0
        if proc.stdout is not None:
            for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
                lines += chunk.count(b"\n")
        err = proc.stderr.read() if proc.stderr else b""
        proc.wait()
        seconds = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[2:])} exited {proc.returncode}: {err[-500:]!r}")
        return seconds, int(rss.read().split()[-1]) // 1024, lines


def median_run(
    args: list[str], rounds: int, *, count_lines: bool = False
) -> tuple[float, int, int]:
    samples = [run(args, count_lines=count_lines) for _ in range(rounds)]
    return (statistics.median(s[0] for s in samples), max(s[1] for s in samples), samples[0][2])


# -- the ledger at one size ----------------------------------------------------------------


class Figures:
    """Every figure by name and size, for the growth table at the end."""

    def __init__(self) -> None:
        self.by_name: dict[str, dict[int, float]] = {}
        self.units: dict[str, str] = {}

    def add(self, name: str, n: int, value: float, unit: str) -> None:
        self.by_name.setdefault(name, {})[n] = value
        self.units[name] = unit

    def growth(self) -> None:
        print("growth from the smallest to the largest size (exponent k of size^k: "
              "falls <= -0.15 < flat < 0.15, log-like < 0.7, linear ~1):")  # fmt: skip
        for name, values in self.by_name.items():
            sizes = sorted(values)
            if len(sizes) < 2 or values[sizes[0]] <= 0:
                continue
            lo, hi = sizes[0], sizes[-1]
            k = math.log(values[hi] / values[lo]) / math.log(hi / lo)
            shape = (
                "falls"
                if k <= -0.15
                else "flat"
                if k < 0.15
                else "log-like"
                if k < 0.7
                else "linear"
            )
            steps = "  ".join(f"{values[n]:,.3g}" for n in sizes)
            print(f"  {name:<38} {steps:<42} {self.units[name]:<10} k={k:5.2f} {shape}")


def measure(path: Path, n: int, nominal: int, rounds: int, fig: Figures, folder: Path) -> int:
    """Print every figure at this size; returns the ledger's size afterwards."""
    label = f"{nominal:,}"
    ledger = ["--ledger", str(path)]
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    disk = path.stat().st_size
    print(f"\n== {label} records (load average {load()})", flush=True)
    print(f"on disk: {disk / n:,.0f} bytes/record ({disk / 1e9:.2f} GB, index included)")
    fig.add("disk bytes/record", nominal, disk / n, "B")

    progress(f"{label}: append")
    lib, cli, rss = [], [], 0
    for _ in range(rounds):
        batch = records(n, 1_000)
        t = time.perf_counter()
        with Ledger.open(path) as led:
            led.append(batch)
        lib.append(time.perf_counter() - t)
        n += 1_000
        jsonl = jsonl_of(records(n, 1_000), folder / "batch.jsonl")
        seconds, peak, _ = run([*CLI, *ledger, "append", str(jsonl)])
        cli.append(seconds)
        rss = max(rss, peak)
        n += 1_000
    with Ledger.open(path, key_path=path.with_name(path.name + ".key")) as led:
        led.seal()
    print(f"append 1,000 records, one durable batch, median of {rounds}: library "
          f"{statistics.median(lib) * 1000:.0f} ms ({1000 / statistics.median(lib):,.0f} rec/s); "
          f"`affidavit append` process {statistics.median(cli) * 1000:.0f} ms "
          f"({1000 / statistics.median(cli):,.0f} rec/s, peak RSS {rss} MB)")  # fmt: skip
    fig.add("append 1,000, library", nominal, statistics.median(lib) * 1000, "ms")
    fig.add("append 1,000, process", nominal, statistics.median(cli) * 1000, "ms")

    progress(f"{label}: start-up, prove, log, export")
    base, base_rss, _ = median_run([sys.executable, "-c", "pass"], 5)
    print(f"python -c pass: {base * 1000:.0f} ms, peak RSS {base_rss} MB")
    newest = at(n - 1)
    day = format_time(newest - timedelta(days=1))
    window = format_time(at(n - EXPORT_WINDOW))
    out = folder / "export.ocsf.jsonl"
    cases = [
        ("prove SEQ (the middle record)", ["prove", str(n // 2)], False),
        ("log -n 1", ["log", "-n", "1"], False),
        ("log --path finance/q1 (one folder)", ["log", "--path", "finance/q1"], True),
        ("log --path finance (five folders)", ["log", "--path", "finance"], True),
        ("log --since (the last day)", ["log", "--since", day], True),
        (f"export --format ocsf, newest {EXPORT_WINDOW:,}",
         ["export", "--format", "ocsf", "--force", "--out", str(out), "--since", window], False),
    ]  # fmt: skip
    for name, args, count in cases:
        seconds, peak, lines = median_run([*CLI, *ledger, *args], rounds, count_lines=count)
        rows = f", {lines:,} rows" if count else ""
        extra = ""
        if name.startswith("export"):
            extra = f", {EXPORT_WINDOW / seconds:,.0f} rec/s"
        print(f"{name:<40} {seconds * 1000:8.0f} ms  {seconds / base:5.1f} x python -c pass  "
              f"peak RSS {peak:4d} MB{rows}{extra}")  # fmt: skip
        fig.add(name, nominal, seconds * 1000, "ms")
        fig.add(name.split(" (")[0].split(",")[0] + " RSS", nominal, peak, "MB")

    progress(f"{label}: verify")
    verify_rounds = rounds if n < 1_000_000 else 1
    floors, walls, peak = [], [], 0
    for _ in range(verify_rounds):
        floors.append(floor(path))
        seconds, rss, _ = run([*CLI, *ledger, "verify"])
        walls.append(seconds)
        peak = max(peak, rss)
    f, v = statistics.median(floors), statistics.median(walls)
    print(f"verify (process, views checked), median of {verify_rounds}: {v:.1f} s, "
          f"{n / v:,.0f} rec/s, peak RSS {peak} MB; floor (sqlite3 reads every leaf, bare "
          f"hashlib SHA-256 of each): {n / f:,.0f} rec/s; "
          f"verify takes {v / f:.1f} x the floor")  # fmt: skip
    fig.add("verify", nominal, n / v, "rec/s")
    fig.add("verify / floor", nominal, v / f, "x")
    fig.add("verify RSS", nominal, peak, "MB")
    return n


def floor(path: Path) -> float:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        t = time.perf_counter()
        for (leaf,) in conn.execute("SELECT leaf FROM records ORDER BY seq"):
            hashlib.sha256(b"\x00" + leaf).digest()
        return time.perf_counter() - t
    finally:
        conn.close()


def ledger_run(folder: Path, sizes: list[int], rounds: int, fig: Figures) -> tuple[Path, int]:
    path = folder / "ledger.sqlite"
    key = path.with_name(path.name + ".key")
    led = Ledger.create(path, origin="bench.example/10m", key_path=key)
    n, building, t = 0, 0.0, time.perf_counter()
    try:
        for nominal in sizes:
            b = time.perf_counter()
            while n < nominal:
                count = min(BUILD_CHUNK, nominal - n)
                led.append(records(n, count))
                n += count
                if n // BUILD_CHUNK % 25 == 0:
                    progress(f"built {n:,} ({n / (building + time.perf_counter() - b):,.0f}/s)")
            led.seal()
            building += time.perf_counter() - b
            led.close()
            n = measure(path, n, nominal, rounds, fig, folder)
            led = Ledger.open(path, key_path=key)
    finally:
        led.close()
    print(f"\nbuilt {n:,} records in {building:,.0f} s of appends ({n / building:,.0f} records/s, "
          f"batches of {BUILD_CHUNK:,}, not a figure); whole ledger run "
          f"{time.perf_counter() - t:,.0f} s", flush=True)  # fmt: skip
    return path, n


# -- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000",
                        help="sizes to measure at (default: %(default)s)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="samples per figure")
    pg = os.environ.get("AFFIDAVIT_TEST_PG", "postgresql://127.0.0.1:5432/test")
    parser.add_argument("--pg", default=pg, help="PostgreSQL for the collector")
    parser.add_argument("--no-collector", action="store_true", help="skip the PostgreSQL part")
    parser.add_argument(
        "--collector-from",
        type=Path,
        metavar="LEDGER",
        help="only the collector part, from a ledger this script builds "
        "(another run's, still growing: it waits for its rows)",
    )
    parser.add_argument(
        "--collector-records",
        type=int,
        metavar="N",
        help="with --collector-from: load N records (default: all it holds)",
    )
    parser.add_argument("--keep", type=Path, metavar="FOLDER",
                        help="build the ledger in FOLDER and leave it there")  # fmt: skip
    args = parser.parse_args()
    if args.collector_from:
        from collector_at_scale import collector_run

        collector_run(args.collector_from, args.pg, args.collector_records)
        return
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    root = (
        str(args.keep.parent) if args.keep else os.environ.get("BENCH_DIR") or tempfile.gettempdir()
    )
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        sys.exit(f"{args.keep}: not empty; --keep builds a new ledger there")
    need, free = max(sizes) * BYTES_PER_RECORD, shutil.disk_usage(root).free
    if need * 2 > free:
        sys.exit(f"{root}: {free / 1e9:.1f} GB free; the ledger needs about {need / 1e9:.1f} GB")
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d}; one ledger of hook-shaped records measured at "
          f"{', '.join(f'{n:,}' for n in sizes)}; load average at the start: {load()}",
          flush=True)  # fmt: skip
    fig = Figures()
    with contextlib.ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            tmp = str(args.keep)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(dir=root, prefix="bench10m-"))
        path, n = ledger_run(Path(tmp), sizes, args.rounds, fig)
        print()
        fig.growth()
        if not args.no_collector:
            print(f"\n== the collector on PostgreSQL, {n:,} org log entries "
                  f"(load average {load()})", flush=True)  # fmt: skip
            # A fresh process: the ledger run's memory is gone and the query code is loaded
            # as it is now.
            subprocess.run([sys.executable, __file__, "--collector-from", str(path),
                            "--pg", args.pg], check=True)  # fmt: skip
    print(f"load average at the end: {load()}")


if __name__ == "__main__":
    main()

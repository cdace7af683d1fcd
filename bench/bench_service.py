"""Recorder service benchmarks (issue 11). Prints figures, each beside a floor measured in
the same run; asserts nothing.

    .venv/bin/python bench/bench_service.py [--runs 100] [--rounds 8] [--events 4000]

1. ``affidavit hook`` as a whole process with the service answering (service mode), for a
   PostToolUse Edit of a real temp file, against ``python -c pass`` on the same interpreter,
   interleaved in one loop because these machines are noisy. Goal: median <= 2.5x. Beside
   it, the CPU time (user + system) of the same runs: on a loaded machine the wall clock
   counts time spent waiting for a core, the CPU time does not.
2. 16 hook processes started at once, ``--rounds`` times: the p99 of their whole-process
   times, beside 16 ``python -c pass`` started at once. Goal: p99 <= 300 ms. Beside it, the
   CPU time per process: 16 processes on two cores wait for each other, so the wall clock
   follows the CPU time the 16 need together, and any other load on the machine.
3. Service append throughput: 16 clients (processes), each on its own connection, sending
   ``record`` frames back to back and waiting for each ack. Floor: the same number of
   records appended in-process one commit each (what 16 direct-mode hooks would pay in
   commits). Goal: >= 2,000 acknowledged events/s.

The service runs as the benchmark's own user here (the figures are the same under its own
account); HOME and the XDG folders point into the temp folder.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from affidavit.capture import wire
from affidavit.ledger import Ledger
from affidavit.record import Record

PYTHON = sys.executable
CLIENTS = 16


def env_for(home: Path, sock: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        AFFIDAVIT_SOCKET=str(sock),
    )
    env.pop("CLAUDE_CONFIG_DIR", None)
    return env


def edit_event(path: Path, use_id: str) -> dict[str, Any]:
    return {
        "cwd": str(path.parent),
        "hook_event_name": "PostToolUse",
        "session_id": "5668ec28-8187-4443-bfc9-b89bf23120bc",
        "tool_name": "Edit",
        "tool_input": {"file_path": str(path), "old_string": "hi", "new_string": "hello"},
        "tool_response": {"filePath": str(path), "userModified": False},
        "tool_use_id": use_id,
    }


def start_service(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    ledger, sock = folder / "ledger.sqlite", folder / "run" / "recorder.sock"
    with Ledger.create(ledger, origin="example.com/bench-service", key_path=folder / "k") as led:
        now = datetime.now(UTC)
        led.append(Record.create("file.update", "bench", {"n": i}, time=now) for i in range(1000))
        led.seal()
    args = [PYTHON, "-m", "affidavit", "--ledger", str(ledger), "--key-file", str(folder / "k")]
    proc = subprocess.Popen(
        [*args, "service", "--socket", str(sock)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(sock))
            return proc, sock
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the service did not start")


def run_timed(args: list[str], stdin: bytes, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one process, run alone."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(args, input=stdin, capture_output=True, env=env, cwd=cwd, check=False)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0 or done.stderr:
        print(f"  ! exit {done.returncode}: {done.stderr[:300]!r}", file=sys.stderr)
    return elapsed, cpu


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def line(name: str, values: list[float], base: list[float] | None = None) -> str:
    med, tail = statistics.median(values), p99(values)
    text = f"  {name:<36} median {med * 1000:7.1f} ms   p99 {tail * 1000:7.1f} ms"
    if base is not None:
        text += f"   ratio median {med / statistics.median(base):4.2f}x"
    return text


def bench_process(work: Path, env: dict[str, str], runs: int) -> None:
    target = work / "note.txt"
    target.write_text("hello\n" + "a line of a typical source file\n" * 200)
    variants = {
        "python -c pass (floor)": [PYTHON, "-c", "pass"],
        "python -E -P -m affidavit hook": [PYTHON, "-E", "-P", "-m", "affidavit", "hook"],
    }
    times: dict[str, list[float]] = {n: [] for n in variants}
    cpu: dict[str, list[float]] = {n: [] for n in variants}
    rng = random.Random(1)
    for i in range(runs):
        order = list(variants)
        rng.shuffle(order)
        for name in order:
            stdin = json.dumps(edit_event(target, f"toolu_p{i:06d}{name[:3]}")).encode()
            wall, used = run_timed(variants[name], stdin, env, work)
            times[name].append(wall)
            cpu[name].append(used)
    base = times["python -c pass (floor)"]
    print(f"\n1. whole hook process, service mode, PostToolUse Edit, {runs} runs each, interleaved")
    for name, values in times.items():
        print(line(name, values, None if values is base else base))
    hook = "python -E -P -m affidavit hook"
    ratio = statistics.median(times[hook]) / statistics.median(base)
    print(f"   goal: median <= 2.5x the floor: {'met' if ratio <= 2.5 else 'MISSED'}")
    floor_cpu = statistics.median(cpu["python -c pass (floor)"])
    hook_cpu = statistics.median(cpu[hook])
    print(
        f"  CPU time (user + system), median: floor {floor_cpu * 1000:.1f} ms, hook "
        f"{hook_cpu * 1000:.1f} ms, ratio {hook_cpu / floor_cpu:4.2f}x"
    )


def bench_parallel(work: Path, env: dict[str, str], rounds: int) -> None:
    target = work / "note.txt"
    hook = [PYTHON, "-E", "-P", "-m", "affidavit", "hook"]
    floor, hooks = [], []
    cpu: dict[int, list[float]] = {id(floor): [], id(hooks): []}  # per process, each round
    for r in range(rounds):
        for args, out in (([PYTHON, "-c", "pass"], floor), (hook, hooks)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            procs = []
            for c in range(CLIENTS):
                stdin = json.dumps(edit_event(target, f"toolu_par{r}_{c}")).encode()
                t = time.perf_counter()
                p = subprocess.Popen(
                    args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, cwd=work
                )
                procs.append((p, stdin, t))
            for p, stdin, _ in procs:
                assert p.stdin is not None
                try:
                    p.stdin.write(stdin)
                    p.stdin.close()
                except BrokenPipeError:
                    pass  # python -c pass exits without reading
            for p, _, t in procs:
                p.wait()
                out.append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu[id(out)].append(used / CLIENTS)
    print(f"\n2. {CLIENTS} hook processes at once, {rounds} rounds ({len(hooks)} runs)")
    print(line(f"{CLIENTS} x python -c pass (floor)", floor))
    print(line(f"{CLIENTS} x affidavit hook", hooks, floor))
    print(f"   goal: p99 <= 300 ms: {'met' if p99(hooks) <= 0.300 else 'MISSED'}")
    floor_cpu, hook_cpu = (statistics.median(cpu[id(v)]) for v in (floor, hooks))
    ratio = hook_cpu / floor_cpu
    print(
        f"  CPU time (user + system) per process, median of the rounds: floor "
        f"{floor_cpu * 1000:.1f} ms, hook {hook_cpu * 1000:.1f} ms, ratio {ratio:4.2f}x"
    )


def client(sock: str, count: int, worker: int, start: Any) -> None:
    frames = [
        {
            "op": "record",
            "claims": {},
            "event": {
                "session_id": f"s{worker}",
                "hook_event_name": "PostToolUse",
                "tool_name": "mcp__bench__echo",
                "tool_input": {"i": i},
                "tool_response": {"ok": True},
                "tool_use_id": f"toolu_t{worker}_{i}",
            },
        }
        for i in range(count)
    ]
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock)
        start.wait()
        for f in frames:
            wire.send(s, f)
            reply = wire.receive(s)
            if not reply or not reply.get("ok"):
                raise SystemExit(f"not acknowledged: {reply}")


def bench_throughput(folder: Path, sock: Path, events: int) -> None:
    per = events // CLIENTS
    start = multiprocessing.Event()
    procs = [
        multiprocessing.Process(target=client, args=(str(sock), per, w, start))
        for w in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every client connected and waiting
    t = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t
    failed = [p.exitcode for p in procs if p.exitcode]
    rate = per * CLIENTS / elapsed
    floor_ledger = folder / "floor.sqlite"
    with Ledger.create(floor_ledger, origin="example.com/floor", key_path=folder / "fk") as led:
        now = datetime.now(UTC)
        n = min(per * CLIENTS, 1000)
        t = time.perf_counter()
        for i in range(n):
            led.append([Record.create("tool.call", "bench", {"i": i}, time=now)])
        floor = n / (time.perf_counter() - t)
    print(f"\n3. service append throughput, {CLIENTS} clients, {per * CLIENTS} events")
    print(f"  one commit per record, in-process (floor)   {floor:9.0f} records/s")
    ratio = rate / floor
    print(f"  service, {CLIENTS} clients, acked {rate:21.0f} events/s   ratio {ratio:4.1f}x")
    if failed:
        print(f"  ! {len(failed)} client(s) failed")
    print(f"   goal: >= 2,000 acknowledged events/s: {'met' if rate >= 2000 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--events", type=int, default=4000)
    args = parser.parse_args()
    print(
        f"bench_service on {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; load "
        f"{os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "run").mkdir()
        work = folder / "work"
        work.mkdir()
        env = env_for(folder / "home", folder / "run" / "recorder.sock")
        proc, sock = start_service(folder, env)
        try:
            bench_process(work, env, args.runs)
            bench_parallel(work, env, args.rounds)
            bench_throughput(folder, sock, args.events)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    print(
        f"\nload {os.getloadavg()[0]:.1f} at the end (other work on this machine skews all figures)"
    )


if __name__ == "__main__":
    main()

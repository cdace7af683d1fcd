"""Export benchmarks (issue: affidavit export). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_export.py [--records 1000000] [--formats ocsf,ecs,...]

Builds a ledger of N records shaped like the hook's (a file.update / command.exec /
prompt.submit mix, with actor, agent, tool and a capped ``raw`` event), indexes it, then
times each export format writing to a file, each in a fresh process that reads its own
peak RSS (VmHWM in /proc/self/status). The baseline, measured the same way in the same
run: a bare ``SELECT seq, leaf, payload FROM records`` with ``json.loads(payload)`` and a
``json.dumps`` line written per record, the least any JSON Lines export can do in Python.
Target (issue): OCSF >= 50,000 records/s with peak memory <= 200 MB at 1,000,000 records.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from affidavit import export, query
from affidavit.ledger import Ledger
from affidavit.record import Record

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
FOLDERS = ["finance/q3", "hr/reviews", "legal/contracts", "eng/src/app", "marketing/site"]
COMMANDS = ["git status", "ls -la finance", "python scripts/report.py --quarter 3", "rm tmp.txt"]
FORMATS = ("ocsf", "ecs", "cef", "csv", "jsonl", "parquet")


def draft(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """(kind, payload) as the hook writes them: 60% file.update, 25% command.exec,
    15% prompt.submit; about 1 KB of payload each, ``raw`` included."""
    # One session = one user on one host, 500 records long, as on a real endpoint.
    user = f"user{i // 500 % 97}"
    session = f"5668ec28-8187-4443-bfc9-{i // 500:012x}"
    tool_use = f"toolu_01{rng.getrandbits(96):024x}"
    cwd = f"/Users/{user}/work"
    actor = {
        "user": user,
        "host": f"laptop-{i // 500 % 13}",
        "email": f"{user}@example.com",
        "account_uuid": "8f6e2f4c-1b2a-4c3d-9e8f-0a1b2c3d4e5f",
        "org_uuid": "1b2a4c3d-8f6e-2f4c-9e8f-0a1b2c3d4e5f",
    }
    agent = {
        "product": "claude-code",
        "session_id": session,
        "prompt_id": f"b6027b00-cda7-421e-a049-{i // 20:012x}",
        "surface": "cli",
        "permission_mode": "acceptEdits",
        "cwd": cwd,
    }
    slot = i % 20
    if slot < 12:
        path = f"{cwd}/{FOLDERS[i % len(FOLDERS)]}/doc-{i % 1000}.md"
        tool_input = {"file_path": path, "old_string": "Costs: 0.9M", "new_string": "Costs: 0.95M"}
        agent.update(tool_use_id=tool_use, tool="Edit", event="PostToolUse")
        payload = {
            "actor": actor,
            "agent": agent,
            "file": {
                "path": path,
                "before_sha256": f"{rng.getrandbits(256):064x}",
                "after_sha256": f"{rng.getrandbits(256):064x}",
                "size": rng.randrange(100, 1_000_000),
            },
            "tool": {"name": "Edit", "input": tool_input},
            "outcome": "ok",
            "raw": {
                "hook_event_name": "PostToolUse",
                "tool_name": "Edit",
                "tool_input": tool_input,
            },
        }
        return "file.update", payload
    if slot < 17:
        text = COMMANDS[i % len(COMMANDS)]
        agent.update(tool_use_id=tool_use, tool="Bash", event="PostToolUse")
        tool_input = {"command": text, "description": "Run it"}
        return "command.exec", {
            "actor": actor,
            "agent": agent,
            "command": {"text": text, "description": "Run it", "exit": 0},
            "tool": {"name": "Bash", "input": tool_input},
            "outcome": "ok",
            "raw": {
                "hook_event_name": "PostToolUse",
                "tool_name": "Bash",
                "tool_input": tool_input,
            },
        }
    agent["event"] = "UserPromptSubmit"
    prompt = f"Update the Q3 forecast in finance/q3 (request {i}); keep the owner line."
    return "prompt.submit", {
        "actor": actor,
        "agent": agent,
        "prompt": {"text": prompt},
        "raw": {"hook_event_name": "UserPromptSubmit", "prompt": prompt},
    }


def build(path: Path, n: int, batch: int) -> Ledger:
    rng = random.Random(1)
    ledger = Ledger.create(path, origin="bench.example/laptop-1", key_path=path.with_suffix(".k"))
    for start in range(0, n, batch):
        records = []
        for i in range(start, min(n, start + batch)):
            kind, payload = draft(i, rng)
            at = T0 + timedelta(milliseconds=37 * i)
            records.append(Record.create(kind, "claude-code.hook", payload, time=at))
        ledger.append(records)
    return ledger


def child(fmt: str, ledger_path: str, out: str) -> None:
    """Run one export in this (fresh) process; print seconds, records and VmHWM in kB."""
    ledger = Ledger.open(Path(ledger_path))
    t = time.perf_counter()
    if fmt == "baseline":
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        written = 0
        cursor = ledger.store.connection.execute("SELECT seq, leaf, payload FROM records")
        with open(out, "w", encoding="utf-8") as f:
            while batch := cursor.fetchmany(2048):
                for seq, _leaf, payload in batch:
                    f.write(encode({"seq": seq, "payload": json.loads(payload)}) + "\n")
                    written += 1
    else:
        exporter = export.exporter(fmt, origin=ledger.origin)
        report = export.write_file(ledger.store, query.Filters(), exporter, Path(out))
        written = report.written
    seconds = time.perf_counter() - t
    status = Path("/proc/self/status").read_text().splitlines()
    hwm = next(line for line in status if line.startswith("VmHWM"))
    print(json.dumps({"seconds": seconds, "written": written, "hwm_kb": int(hwm.split()[1])}))


def run_child(fmt: str, ledger: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", fmt, str(ledger), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    result["bytes"] = out.stat().st_size
    out.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    n = args.records
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    figures: dict[str, Any] = {"date": date, "machine": machine, "records": n}
    print(f"# {machine}; {date}; {n:,} records", flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = Path(tmp) / "bench.sqlite"
        t = time.perf_counter()
        ledger = build(path, n, args.batch)
        print(f"built the ledger in {time.perf_counter() - t:.1f} s (not counted)", flush=True)
        t = time.perf_counter()
        query.refresh(ledger.store)
        index = time.perf_counter() - t
        ledger.store.purge_erased()
        ledger.close()
        figures["actions_index_per_s"] = round(n / index)
        print(f"folder rules applied (first query) {n / index:>10,.0f} records/s")
        base = run_child("baseline", path, Path(tmp) / "baseline.jsonl")
        base_rate = n / base["seconds"]
        figures["baseline"] = {**base, "per_s": round(base_rate)}
        print(
            f"{'baseline (select+loads+dumps)':<29}{base_rate:>10,.0f} records/s  1.00 x  "
            f"peak {base['hwm_kb'] / 1024:5.0f} MB  {base['bytes'] / n:6.0f} B/record",
            flush=True,
        )
        for fmt in args.formats.split(","):
            result = run_child(fmt, path, Path(tmp) / f"out.{fmt}")
            assert result["written"] == n, result
            per_s = n / result["seconds"]
            figures[fmt] = {**result, "per_s": round(per_s), "ratio": round(per_s / base_rate, 3)}
            print(
                f"{fmt:<29}{per_s:>10,.0f} records/s  {per_s / base_rate:.2f} x  "
                f"peak {result['hwm_kb'] / 1024:5.0f} MB  {result['bytes'] / n:6.0f} B/record",
                flush=True,
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Ledger core benchmarks (issue: ledger core). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_ledger.py [--records 1000000] [--json OUT]

Baselines measured in the same run, because these machines are noisy:

* raw ``hashlib`` leaf hashing over the very leaf bytes the ledger stores: the physical
  limit of this design in Python (one SHA-256 per leaf);
* a bare SQLite insert + commit with ``synchronous=FULL`` for the single-record appends,
  which is what one fsync costs on this disk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from affidavit import merkle
from affidavit.ledger import Ledger
from affidavit.record import Record

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
FOLDERS = ["finance/q3", "hr/reviews", "legal/contracts", "eng/src/app", "marketing/site"]
TOOLS = ["Edit", "Write", "Read", "Bash", "mcp__drive__search"]


def payload(i: int, rng: random.Random) -> dict[str, object]:
    """About 600 bytes, shaped like a captured Edit: actor, agent, file, hashes."""
    folder = FOLDERS[i % len(FOLDERS)]
    return {
        "actor": {
            "user": f"user{i % 97}",
            "host": f"laptop-{i % 13}",
            "email": f"user{i % 97}@example.com",
            "account_uuid": "8f6e2f4c-1b2a-4c3d-9e8f-0a1b2c3d4e5f",
            "org_uuid": "1b2a4c3d-8f6e-2f4c-9e8f-0a1b2c3d4e5f",
        },
        "agent": {
            "product": "claude-code",
            "version": "2.1.278",
            "session_id": f"5668ec28-8187-4443-bfc9-{i // 500:012x}",
            "tool_use_id": f"toolu_01{rng.getrandbits(96):024x}",
            "tool": TOOLS[i % len(TOOLS)],
            "surface": "cli",
        },
        "file": {
            "path": f"/Users/user{i % 97}/work/{folder}/doc-{i % 1000}.md",
            "before_sha256": f"{rng.getrandbits(256):064x}",
            "after_sha256": f"{rng.getrandbits(256):064x}",
            "size": rng.randrange(100, 1_000_000),
        },
    }


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds else float("inf")


def bench_single_appends(path: Path, count: int) -> tuple[float, float]:
    """Single-record durable appends (one hook each) vs a bare fsync-ed SQLite insert."""
    rng = random.Random(7)
    with Ledger.open(path) as ledger:
        records = [
            Record.create("file.update", "bench", payload(i, rng), time=NOW) for i in range(count)
        ]
        t = time.perf_counter()
        for r in records:
            ledger.append([r])
        ours = rate(count, time.perf_counter() - t)
    bare = sqlite3.connect(path.with_name("bare.sqlite"), isolation_level=None)
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("PRAGMA synchronous=FULL")
    bare.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, leaf BLOB, payload BLOB)")
    leaf = records[0].envelope.leaf()
    t = time.perf_counter()
    for i in range(count):
        bare.execute("BEGIN IMMEDIATE")
        bare.execute("INSERT INTO t VALUES (?, ?, ?)", (i, leaf, records[i].payload_json))
        bare.execute("COMMIT")
    baseline = rate(count, time.perf_counter() - t)
    bare.close()
    return ours, baseline


def verify_in_child(path: Path) -> tuple[float, int]:
    """Full verify in a fresh process: (seconds, its own peak RSS in bytes)."""
    code = (
        "import sys, time; from pathlib import Path\n"
        "from affidavit.ledger import Ledger\n"
        "l = Ledger.open(Path(sys.argv[1]), readonly=True); t = time.perf_counter()\n"
        "r = l.verify(); s = time.perf_counter() - t\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(s, r.records, hwm.split()[1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), int(out[2]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=2_000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    n = args.records
    rng = random.Random(1)
    out: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "records": n,
    }
    print(f"# {out['machine']}; {n:,} records", flush=True)

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = Path(tmp) / "bench.sqlite"
        ledger = Ledger.create(path, origin="bench.example/ledger", key_path=Path(tmp) / "k")

        t = time.perf_counter()
        payloads = [payload(i, rng) for i in range(n)]
        gen = time.perf_counter() - t
        print(f"generated payloads in {gen:.1f} s (not counted)", flush=True)

        t = time.perf_counter()
        records = [Record.create("file.update", "bench", p, time=NOW) for p in payloads]
        build = time.perf_counter() - t
        del payloads
        leaves = [r.envelope.leaf() for r in records]
        avg_leaf = sum(map(len, leaves)) / n
        avg_payload = sum(len(r.payload_json or b"") for r in records) / n

        t = time.perf_counter()
        for leaf in leaves:
            hashlib.sha256(b"\x00" + leaf).digest()
        base_hash = time.perf_counter() - t
        del leaves

        t = time.perf_counter()
        for i in range(0, n, args.batch):
            ledger.append(records[i : i + args.batch])
        t_append = time.perf_counter() - t
        t = time.perf_counter()
        ledger.integrate()
        t_integrate = time.perf_counter() - t
        t = time.perf_counter()
        ledger.publish()
        t_publish = time.perf_counter() - t
        del records
        pipeline = t_append + t_integrate + t_publish
        ledger.store.purge_erased()
        disk = path.stat().st_size

        hash_rate = rate(n, base_hash)
        out.update(
            {
                "avg_leaf_bytes": round(avg_leaf),
                "avg_payload_bytes": round(avg_payload),
                "baseline_hashlib_leaf_hash_per_s": round(hash_rate),
                "build_records_per_s": round(rate(n, build)),
                "append_integrate_publish_per_s": round(rate(n, pipeline)),
                "append_per_s": round(rate(n, t_append)),
                "integrate_per_s": round(rate(n, t_integrate)),
                "publish_s": round(t_publish, 4),
                "end_to_end_per_s": round(rate(n, build + pipeline)),
                "bytes_per_record_on_disk": round(disk / n),
            }
        )
        print(f"baseline hashlib leaf hash      {hash_rate:>12,.0f} records/s", flush=True)
        for key, label in [
            ("build_records_per_s", "build records (JCS + commitment)"),
            ("append_integrate_publish_per_s", "append+integrate+publish"),
            ("append_per_s", "  append (durable, batches)"),
            ("integrate_per_s", "  integrate"),
            ("end_to_end_per_s", "build + append+integrate+publish"),
        ]:
            value = float(out[key])  # type: ignore[arg-type]
            print(f"{label:<32}{value:>12,.0f} records/s  ({value / hash_rate:.3f} x baseline)")
        print(f"publish                         {t_publish * 1000:>12.1f} ms")
        print(
            f"on disk                         {disk / n:>12.0f} bytes/record "
            f"(leaf {avg_leaf:.0f} B, payload {avg_payload:.0f} B)",
            flush=True,
        )

        samples = []
        sizes = ledger.latest_checkpoint()
        assert sizes is not None
        size = sizes[0]
        prng = random.Random(3)
        for _ in range(1000):
            seq = prng.randrange(size)
            t = time.perf_counter()
            p = ledger.prove_inclusion(seq)
            merkle.verify_inclusion(p.leaf_hash, p.index, p.tree_size, p.proof, ledger.root(size))
            samples.append(time.perf_counter() - t)
        samples.sort()
        out["inclusion_prove_verify_median_ms"] = round(statistics.median(samples) * 1000, 4)
        out["inclusion_prove_verify_p99_ms"] = round(samples[989] * 1000, 4)
        print(
            "inclusion proof gen + verify    "
            f"{statistics.median(samples) * 1000:>12.3f} ms median, "
            f"{samples[989] * 1000:.3f} ms p99",
            flush=True,
        )
        ledger.close()

        seconds, peak = verify_in_child(path)
        out["verify_per_s"] = round(rate(n, seconds))
        out["verify_peak_rss_mb"] = round(peak / 2**20, 1)
        print(
            f"full verify                     {rate(n, seconds):>12,.0f} records/s  "
            f"({rate(n, seconds) / hash_rate:.3f} x baseline), peak RSS {peak / 2**20:.0f} MB",
            flush=True,
        )

        ours, bare = bench_single_appends(path, args.singles)
        out["single_append_per_s"] = round(ours)
        out["baseline_bare_sqlite_fsync_commit_per_s"] = round(bare)
        print(
            f"single-record durable appends   {ours:>12,.0f} /s  (bare SQLite fsync-ed commit: "
            f"{bare:,.0f} /s, ratio {ours / bare:.2f})"
        )

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

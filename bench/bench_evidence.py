"""Evidence pack benchmarks (issue: evidence packs). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_evidence.py [--records 100000] [--every 10] [--keep DIR]

Target: a pack of 10,000 records from a ledger of >= 100,000 built in <= 10 s and
verified in <= 5 s. One record in ``--every`` is under ``/finance/``, and the pack selects
``--path finance``. Measured in the same run, because these machines are noisy:

* the ``actions`` index refresh on a cold ledger, once (``affidavit log`` pays it too, and
  it is incremental afterwards), kept apart from the build;
* the baseline: ``zipfile`` alone writing the very bytes of the pack's members at the same
  compression level, and reading them back with a SHA-256 of each: what any pack of this
  size costs before a single proof is made or checked.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from affidavit import query
from affidavit.evidence import build_pack, verify_pack
from affidavit.evidence.build import COMPRESS_LEVEL
from affidavit.ledger import Ledger
from affidavit.record import Record

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
FOLDERS = ["hr/reviews", "legal/contracts", "eng/src/app", "marketing/site"]
TOOLS = ["Edit", "Write", "Read", "Bash"]


def payload(i: int, every: int, rng: random.Random) -> dict[str, object]:
    """About 600 bytes, shaped like a captured Edit."""
    folder = "finance/q3" if i % every == 0 else FOLDERS[i % len(FOLDERS)]
    return {
        "actor": {
            "user": f"user{i % 97}",
            "host": f"laptop-{i % 13}",
            "email": f"user{i % 97}@example.com",
        },
        "agent": {
            "product": "claude-code",
            "version": "2.1.278",
            "session_id": f"5668ec28-8187-4443-bfc9-{i // 500:012x}",
            "tool_use_id": f"toolu_01{rng.getrandbits(96):024x}",
            "tool": TOOLS[i % len(TOOLS)],
            "cwd": f"/Users/user{i % 97}/work",
        },
        "file": {
            "path": f"/Users/user{i % 97}/work/{folder}/doc-{i % 1000}.md",
            "before_sha256": f"{rng.getrandbits(256):064x}",
            "after_sha256": f"{rng.getrandbits(256):064x}",
            "size": rng.randrange(100, 1_000_000),
        },
    }


def make_ledger(folder: Path, count: int, every: int) -> Path:
    path = folder / "ledger.sqlite"
    rng = random.Random(7)
    with Ledger.create(path, origin="bench.example/evidence", key_path=folder / "key") as ledger:
        for start in range(0, count, 50_000):
            ledger.append(
                Record.create(
                    "file.update", "bench", payload(i, every, rng), time=T0 + timedelta(seconds=i)
                )
                for i in range(start, min(count, start + 50_000))
            )
        ledger.seal()
    return path


def baseline(pack: Path, folder: Path) -> tuple[float, float]:
    """zipfile alone: write the pack's member bytes again, then read and hash them."""
    with zipfile.ZipFile(pack) as z:
        members = {name: z.read(name) for name in z.namelist()}
    copy = folder / "baseline.zip"
    t = time.perf_counter()
    with zipfile.ZipFile(copy, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as z:
        for name, data in members.items():
            z.writestr(name, data)
    write = time.perf_counter() - t
    t = time.perf_counter()
    with zipfile.ZipFile(copy) as z:
        for name in z.namelist():
            hashlib.sha256(z.read(name)).digest()
    return write, time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10, help="one record in N is selected")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    t = time.perf_counter()
    path = make_ledger(folder, args.records, args.every)
    print(
        f"ledger of {args.records:,} records, sealed, in {time.perf_counter() - t:.1f} s "
        "(not counted)"
    )

    filters = query.Filters(path="finance")
    with Ledger.open(path) as ledger:
        t = time.perf_counter()
        query.refresh(ledger.store)
        print(
            f"folder rules applied to the index of {args.records:,} records: "
            f"{time.perf_counter() - t:.2f} s (again only when the rules change)"
        )
        for label, window in (("pack", False), ("pack --window-complete", True)):
            out = folder / ("window.zip" if window else "pack.zip")
            t = time.perf_counter()
            result = build_pack(
                ledger,
                out,
                filters=filters,
                now=datetime.now(UTC),
                window_complete=window,
                force=True,
            )
            built = time.perf_counter() - t
            t = time.perf_counter()
            report = verify_pack(out, key=ledger.verifier)
            verified = time.perf_counter() - t
            assert len(report.records) == result.records
            zip_write, zip_read = baseline(out, folder)
            print(
                f"{label}: {result.records:,} records, {result.bytes / 2**20:.1f} MiB: "
                f"build {built:.2f} s (target <= 10), verify {verified:.2f} s (target <= 5); "
                f"baseline zipfile alone: write {zip_write:.2f} s, read+hash {zip_read:.2f} s"
            )
    if args.keep is None:
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()
    sys.stdout.flush()


if __name__ == "__main__":
    main()

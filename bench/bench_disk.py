"""Disk benchmark (issue 16, item 6): bytes per hook record on disk, index included.

    .venv/bin/python bench/bench_disk.py [--records 1000000]

Builds two sealed ledgers from the same hook-shaped records as ``bench_scale.py`` (a
PostToolUse Edit, Write, Read or Bash event mapped by the capture code, in batches of
20,000): one as the hook writes them now (``raw_rest``: the event's fields the payload does
not already hold), one with the whole event in ``raw`` as records were written before, so
the saving is measured in the same run. For each it prints the file size per record, the
average canonical payload, and where the bytes go: each table and index of the file, with
the page space left unused (SQLite's ``dbstat``). Target: a hook record <= 2 KB (2,048
bytes) on disk, every index included.

The ledgers live in a temporary folder (``$BENCH_DIR`` or the system's), removed at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from affidavit.capture.events import SOURCE_HOOK, source_event
from affidavit.ledger import Ledger
from affidavit.record import Record
from bench_scale import BUILD_CHUNK, drafts

TARGET = 2048
Shape = Callable[[dict[str, Any]], dict[str, Any]]


def whole_event(payload: dict[str, Any]) -> dict[str, Any]:
    """The same payload with the whole source event in ``raw``, as written before raw_rest."""
    payload = dict(payload)
    payload["raw"] = source_event(payload)
    del payload["raw_rest"]
    return payload


def build(path: Path, n: int, shape: Shape) -> float:
    """A sealed ledger of ``n`` records; the average canonical payload size."""
    payload_bytes = 0
    ledger = Ledger.create(path, origin="bench.example/disk", key_path=path.with_suffix(".key"))
    for first in range(0, n, BUILD_CHUNK):
        chunk = [
            Record.create(kind, SOURCE_HOOK, shape(body), time=at)
            for kind, at, body in drafts(first, min(BUILD_CHUNK, n - first), seed=first)
        ]
        payload_bytes += sum(len(r.payload_json or b"") for r in chunk)
        ledger.append(chunk)
    ledger.seal()
    ledger.store.purge_erased()  # moves the WAL into the file
    ledger.close()
    return payload_bytes / n


def report(label: str, path: Path, n: int, payload: float) -> int:
    size = path.stat().st_size
    per = size / n
    verdict = "met" if per <= TARGET else "MISSED"
    print(f"{label}: {per:,.0f} bytes/record on disk at {n:,} records "
          f"(target <= {TARGET:,}: {verdict}); canonical payload {payload:,.0f} bytes")  # fmt: skip
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.OperationalError:
        print("  (this SQLite has no dbstat table: no breakdown)")
        rows = []
    finally:
        conn.close()
    unused = sum(u for _, _, u in rows)
    for name, pages, free in rows:
        if pages / n >= 1:
            print(f"  {name:<20}{pages / n:7,.0f} bytes/record  "
                  f"({free / pages:4.0%} of its pages unused)")  # fmt: skip
    if rows:
        print(f"  unused page space in all: {unused / n:,.0f} bytes/record ({unused / size:.0%})")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records per ledger")
    args = parser.parse_args()
    if args.records < BUILD_CHUNK:
        parser.error(f"--records must be at least {BUILD_CHUNK:,}")
    root = os.environ.get("BENCH_DIR") or tempfile.gettempdir()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}, {datetime.now(UTC):%Y-%m-%d}; "
          f"{args.records:,} hook-shaped records per ledger", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        sizes = {}
        shapes: list[tuple[str, Shape]] = [
            ("raw_rest (now)", dict),
            ("whole raw (before)", whole_event),
        ]
        for label, shape in shapes:
            path = Path(tmp) / f"{len(sizes)}.sqlite"
            t = time.perf_counter()
            payload = build(path, args.records, shape)
            print(f"built in {time.perf_counter() - t:.0f} s (not a figure)", flush=True)
            sizes[label] = report(label, path, args.records, payload)
            path.unlink()
        now, before = sizes.values()
        print(f"raw_rest saves {(before - now) / args.records:,.0f} bytes/record "
              f"({1 - now / before:.0%} of the file)")  # fmt: skip


if __name__ == "__main__":
    main()

"""What `affidavit verify`'s peak RSS is made of: memory it allocates, and the ledger file's
pages it maps. Prints figures.

    .venv/bin/python bench/bench_verify_memory.py LEDGER [LEDGER ...]

GNU time's peak RSS (what bench_10m.py prints) counts every resident page of a process,
the pages of a memory-mapped file included: verify's two connections each map up to 2 GiB of
the ledger (SQLite's ``mmap_size``, for speed), so that figure grows with the file up to about
4 GiB. Those pages are the file's page cache, shared and dropped by the kernel under memory
pressure like any cached read, not memory verify allocates. This samples the process's
``RssAnon`` (allocated) and ``RssFile`` (mapped file pages: the ledger's, and the
interpreter's own libraries) in /proc every 20 ms while it
verifies, beside ``VmHWM`` (the same peak GNU time reports), and `python -c pass` as the
floor. Ledgers are read, never changed (bench_10m.py --keep FOLDER leaves one).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

CLI = [sys.executable, "-m", "affidavit"]


def status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status; empty once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            out[name] = int(value.split()[0])
    return out


def peaks(command: list[str]) -> tuple[float, dict[str, int], int]:
    """(seconds, peak of each field in MB, exit status) of one run of ``command``."""
    top: dict[str, int] = {}
    t = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while process.poll() is None:
        for name, kb in status(process.pid).items():
            if name in ("VmHWM", "RssAnon", "RssFile"):
                top[name] = max(top.get(name, 0), kb)
        time.sleep(0.02)
    seconds = time.perf_counter() - t
    return seconds, {k: v // 1024 for k, v in top.items()}, process.returncode


def main() -> None:
    if len(sys.argv) < 2 or any(not Path(p).is_file() for p in sys.argv[1:]):
        sys.exit("usage: bench_verify_memory.py LEDGER [LEDGER ...] (existing ledger files)")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d}; load average at the start: {load}")  # fmt: skip
    _, floor, _ = peaks([sys.executable, "-c", "import time; time.sleep(0.2)"])
    print(f"floor: python sleeping 0.2 s, peak allocated {floor.get('RssAnon', 0)} MB")
    for ledger in sys.argv[1:]:
        path = Path(ledger)
        size = path.stat().st_size
        seconds, top, code = peaks([*CLI, "--ledger", str(path), "verify"])
        if code != 0:
            sys.exit(f"{path}: verify failed (exit {code})")
        print(f"verify {size / 1e9:.2f} GB ledger: {seconds:.1f} s; peak RSS {top.get('VmHWM')} MB"
              f" = allocated (RssAnon) at most {top.get('RssAnon')} MB + file pages mapped "
              f"(RssFile: the ledger, and Python's own libraries) at most "
              f"{top.get('RssFile')} MB")  # fmt: skip


if __name__ == "__main__":
    main()

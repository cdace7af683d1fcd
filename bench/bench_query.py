"""Query benchmarks: `affidavit log` filters over a large ledger. Prints figures only.

    .venv/bin/python bench/bench_query.py [--records 1000000]

Measures, on one ledger: applying the folder rules to every row of the `actions` index
(the rows themselves are written by triggers with each record; the rules are applied again
only when they change), `log --path <folder>`, `log --since` (the newest 2 %), a page of
`log -n 100 --after SEQ` and `log --by function|folder|actor|session` through the real CLI
code (rows fetched; one case also written as JSON Lines to /dev/null), and, as the
baseline in the same run, a bare `SELECT count(*)` over the same table (the floor for any
full scan in SQLite).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from affidavit import query
from affidavit.ledger import Ledger
from affidavit.record import Record
from bench_ledger import payload

RULES = [("finance", "finance"), ("hr", "HR"), ("legal", "legal"), ("eng", "engineering")]
FUNCTIONS = ["finance", "hr", "legal", "eng", "marketing"]
SUBFOLDERS = ["q1", "q2", "q3", "q4", "audit", "payroll", "contracts", "src", "site", "misc"]


def spread(i: int, p: dict[str, object]) -> dict[str, object]:
    """50 folders: 5 functions x 10 subfolders, so a function is 20% and a folder 2%."""
    file = p["file"]
    assert isinstance(file, dict)
    sub = SUBFOLDERS[(i // 5) % 10]
    file["path"] = f"/Users/user{i % 97}/work/{FUNCTIONS[i % 5]}/{sub}/doc-{i % 1000}.md"
    return p


def timed(fn: object, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.records
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d}; {n:,} records", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = Path(tmp) / "q.sqlite"
        ledger = Ledger.create(path, origin="bench.example/query", key_path=Path(tmp) / "k")
        rng = random.Random(5)
        start = datetime(2026, 8, 1, tzinfo=UTC)
        for first in range(0, n, 20_000):
            ledger.append(
                Record.create("file.update", "bench", spread(i, payload(i, rng)),
                              time=start + timedelta(seconds=i * 7))
                for i in range(first, min(n, first + 20_000))
            )  # fmt: skip
        t = time.perf_counter()
        query.refresh(ledger.store, RULES)
        build = time.perf_counter() - t
        print(f"folder rules applied to the index {build:8.2f} s  ({n / build:,.0f} records/s)")
        conn = ledger.store.connection
        floor = timed(
            lambda: conn.execute("SELECT count(*) FROM actions WHERE size >= 0").fetchone()
        )

        def run(filters: query.Filters, by: str | None = None) -> None:
            """The log command's work up to formatting: refresh, filter, fetch every row."""
            query.refresh(ledger.store, RULES)
            if by:
                list(query.totals(ledger.store, filters, by)[1])
            else:
                list(query.actions(ledger.store, filters)[1])

        def as_jsonl(filters: query.Filters) -> None:
            from affidavit.cli.query import write_rows

            names, rows = query.actions(ledger.store, filters)
            stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
            try:
                write_rows(names, rows, "jsonl")
            finally:
                sys.stdout.close()
                sys.stdout = stdout

        # The last 2 % of the records by time: what `log --since` asks of a year-long ledger.
        since = (start + timedelta(seconds=int(n * 0.98) * 7)).isoformat().replace("+00:00", "Z")
        recent = query.Filters(since=since)
        page_after = n // 2

        def page() -> None:
            list(query.actions(ledger.store, query.Filters(path="finance/q1"),
                               after=page_after, limit=100)[1])  # fmt: skip

        newest = sum(1 for _ in query.actions(ledger.store, recent)[1])
        matched = sum(1 for _ in query.actions(ledger.store, query.Filters(path="finance"))[1])
        one = sum(1 for _ in query.actions(ledger.store, query.Filters(path="finance/q1"))[1])
        folder = timed(lambda: run(query.Filters(path="finance")))
        subfolder = timed(lambda: run(query.Filters(path="finance/q1")))
        glob = timed(lambda: run(query.Filters(path="finance/**", kinds=("file",))))
        by_function = timed(lambda: run(query.Filters(), "function"))
        by_folder = timed(lambda: run(query.Filters(), "folder"))
        by_actor = timed(lambda: run(query.Filters(), "actor"))
        by_session = timed(lambda: run(query.Filters(), "session"))
        since_time = timed(lambda: run(recent))
        paged = timed(page)
        by_day = timed(lambda: run(query.Filters(), "day"))
        jsonl = timed(lambda: as_jsonl(query.Filters(path="finance")), repeat=3)
        print(f"baseline full-scan count(*)   {floor * 1000:8.1f} ms")
        for label, seconds in [
            (f"log --path finance/q1 ({one:,} rows)", subfolder),
            (f"log --path finance ({matched:,} rows)", folder),
            ("log --path finance/** --kind file", glob),
            (f"log --since (last 2 %, {newest:,} rows)", since_time),
            ("log --path finance/q1 -n 100 --after", paged),
            ("log --by function", by_function),
            ("log --by folder", by_folder),
            ("log --by actor (the person)", by_actor),
            ("log --by session", by_session),
            ("log --by day", by_day),
            ("  ... --path finance, written as jsonl", jsonl),
        ]:
            print(f"{label:<38}{seconds * 1000:8.1f} ms  ({seconds / floor:5.1f} x baseline)")
        ledger.close()


if __name__ == "__main__":
    main()

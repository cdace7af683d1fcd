"""Benchmark :func:`affidavit.detect.scan.detect` on ~50 MB of mixed synthetic text.

The text is generated here: prose, CSV rows, source code, log lines and JSON, with digits,
UUIDs, order ids, timestamps and dates everywhere, and a regulated value (card, SSN, IBAN,
NHS number, email, phone, MRN, ICD-10 code, key) in about one line in fifty. It is cut into
1 MiB pieces, as ``affidavit scan`` reads text files.

Prints detect()'s MB/s and a baseline measured on the same pieces in the same run: one
simple regex (``\\d{13,19}``, a card-number shape) run with ``finditer``, and the ratio.

    .venv/bin/python bench/bench_scan.py [--mb 50]
"""

from __future__ import annotations

import argparse
import random
import re
import time
import uuid

from affidavit.detect.scan import detect

_VOCABULARY = (
    "the of and to in is for that with on as this be are from by at or an it not we can "
    "invoice payment customer account order report patient record quarter budget forecast "
    "config value return self data file path error result user request handler cache index"
)
WORDS = _VOCABULARY.split()
HITS = (
    "card 4539 1488 0343 6467",
    "SSN 536-22-8726",
    "IBAN GB82 WEST 1234 5698 7654 32",
    "NHS number 943 476 5919",
    "mail jane.doe@acme-corp.co.uk",
    "tel +44 20 7946 0958",
    "MRN: 00123456",
    "Diagnosis: E11.9 type 2 diabetes",
    "key sk-ant-api03-Zx8fQ2mP9vL3kR7tY1wB5nC4hJ6gD0sA-xxyz",
)


def line(rng: random.Random) -> str:
    shape = rng.randrange(5)
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 16)))
    if shape == 0:
        text = words.capitalize() + "."
    elif shape == 1:
        text = (
            f"{rng.randrange(10**6)},{words.split()[0]},{rng.randrange(10**9)},"
            f"{rng.random() * 1e4:.2f},ORD-2024-{rng.randrange(10**6):06d}"
        )
    elif shape == 2:
        text = (
            f"    {words.split()[0]} = compute({rng.randrange(1000)}, '{uuid.uuid4()}')  # {words}"
        )
    elif shape == 3:
        text = (
            f"2026-11-{rng.randrange(1, 29):02d}T10:{rng.randrange(60):02d}:00Z INFO "
            f"req={uuid.uuid4()} took {rng.randrange(5000)}ms {words}"
        )
    else:
        text = f'{{"id": {rng.randrange(10**12)}, "name": "{words}", "sha": "{uuid.uuid4().hex}"}}'
    if rng.randrange(50) == 0:
        text += " " + rng.choice(HITS)
    return text + "\n"


def pieces(megabytes: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    out, buf, size, total = [], [], 0, megabytes * 1_000_000
    while total > 0:
        text = line(rng)
        buf.append(text)
        size += len(text)
        total -= len(text)
        if size >= 1 << 20:
            out.append("".join(buf))
            buf, size = [], 0
    if buf:
        out.append("".join(buf))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    chunks = pieces(args.mb)
    size = sum(len(c.encode("utf-8")) for c in chunks) / 1e6

    start = time.perf_counter()
    found = sum(len(detect(c)) for c in chunks)
    ours = time.perf_counter() - start

    simple = re.compile(r"\d{13,19}")
    start = time.perf_counter()
    baseline_hits = sum(1 for c in chunks for _ in simple.finditer(c))
    baseline = time.perf_counter() - start

    print(f"text:      {size:.1f} MB in {len(chunks)} pieces of 1 MiB")
    print(f"detect():  {size / ours:7.1f} MB/s  ({ours:.2f} s, {found} matches)")
    print(f"baseline:  {size / baseline:7.1f} MB/s  ({baseline:.2f} s, {baseline_hits} matches)")
    print(f"ratio:     detect() takes {ours / baseline:.1f}x the time of one simple regex")


if __name__ == "__main__":
    main()

"""Coverage-guided fuzzing of Affidavit's parsers with atheris (optional; not run by pytest).

    pip install atheris
    python tests/adversarial/fuzz/fuzz_parsers.py TARGET [libFuzzer options...]
    python tests/adversarial/fuzz/fuzz_parsers.py hook -max_total_time=60 -rss_limit_mb=1024

TARGET is one of: hook (decode + map_event + the record it makes), append (the
``affidavit append`` line reader), config (``affidavit.toml``), checkpoint (signed notes),
leaf (envelope bytes), pack-line (an evidence pack's records.jsonl line). Each target lets
only ``AffidavitError`` out; anything else is a crash that libFuzzer saves as a reproducer.
The Hypothesis suite beside this folder (test_hostile_input.py) is the standing version.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from affidavit import config
    from affidavit.capture import events, hook
    from affidavit.cli.commands import _read_lines
    from affidavit.errors import AffidavitError
    from affidavit.evidence.records import parse_item
    from affidavit.note import Signer, open_checkpoint
    from affidavit.record import Envelope, Record

T0 = datetime(2026, 11, 26, tzinfo=UTC)
VERIFIER = Signer.from_seed("example.com/fuzz", bytes(32)).verifier()


def fuzz_hook(data: bytes) -> None:
    event, _ = hook.decode(data)
    if event is None:
        return
    for kind, payload in events.map_event(event, actor={"user": "fuzz"}):
        try:
            Record.create(kind, events.SOURCE_HOOK, payload, time=T0)
        except AffidavitError:
            # What the hook falls back on must always be storable.
            Record.create(kind, events.SOURCE_HOOK, events.storable(payload), time=T0)


def fuzz_append(data: bytes) -> None:
    for _ in _read_lines(io.BytesIO(data), "fuzz.jsonl", lambda: T0):
        pass


def fuzz_config(data: bytes) -> None:
    config.parse(data.decode("utf-8", "replace"), Path("affidavit.toml"))


def fuzz_checkpoint(data: bytes) -> None:
    open_checkpoint(data, VERIFIER)


def fuzz_leaf(data: bytes) -> None:
    Envelope.from_leaf(data)


def fuzz_pack_line(data: bytes) -> None:
    parse_item(data, None)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "hook": fuzz_hook,
    "append": fuzz_append,
    "config": fuzz_config,
    "checkpoint": fuzz_checkpoint,
    "leaf": fuzz_leaf,
    "pack-line": fuzz_pack_line,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options...]")
    target = TARGETS[sys.argv[1]]

    def one_input(data: bytes) -> None:
        with contextlib.suppress(AffidavitError):
            target(data)

    atheris.Setup([sys.argv[0], *sys.argv[2:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

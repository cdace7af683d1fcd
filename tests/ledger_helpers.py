"""Helpers shared by the ledger, tamper and CLI tests: ledgers, records, raw SQLite, the CLI."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from affidavit.ledger import Ledger
from affidavit.record import Kind, Record

ORIGIN = "example.com/affidavit-test"
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


class Clock:
    """A clock that moves one second per reading, so every record's time is known."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_records(count: int, start: int = 0) -> list[Record]:
    """``count`` file.update records whose payload names their number ``start + i``."""
    return [
        Record.create(
            Kind.FILE_UPDATE,
            "test.suite",
            {"n": i, "path": f"docs/file-{i}.txt", "actor": f"user-{i}@example.com"},
            time=T0 + timedelta(minutes=i),
        )
        for i in range(start, start + count)
    ]


def new_ledger(folder: Path, name: str = "ledger.sqlite", origin: str = ORIGIN) -> Ledger:
    path = folder / name
    return Ledger.create(path, origin=origin, key_path=key_of(path), clock=Clock())


def key_of(path: Path) -> Path:
    """Where the CLI looks for a ``--ledger`` file's key."""
    return path.with_name(path.name + ".key")


def grow(ledger: Ledger, batches: Sequence[int]) -> list[str]:
    """Append each batch and seal after it; returns the checkpoint notes, in order."""
    notes = []
    for count in batches:
        size = ledger.store.size()
        ledger.append(make_records(count, start=size))
        notes.append(ledger.seal())
    return notes


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to a ledger file, committing on success."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def cli_env(home: Path) -> dict[str, str]:
    """The environment for a CLI subprocess: user folders under ``home``, no ledger defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONIOENCODING="utf-8",
    )
    return env


def affidavit(ledger: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """Run ``python -m affidavit --ledger LEDGER ARGS...`` with user folders in a temp dir.

    stdin is always a pipe, never the terminal pytest may run in.
    """
    result = subprocess.run(
        [sys.executable, "-m", "affidavit", "--ledger", str(ledger), *args],
        input=stdin,
        capture_output=True,
        env=cli_env(ledger.parent / "home"),
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode("utf-8"),
        result.stderr.decode("utf-8"),
    )

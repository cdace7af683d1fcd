"""The recorder service ships on its own: a real service process (``affidavit service``), its
hooks (``affidavit hook``), a real collector (uvicorn) and the real PostgreSQL.

The service here runs as the test's own account: which account may read the ledger is
test_service_accounts.py's subject, not this one's.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector_helpers import Collector
from ledger_helpers import affidavit, cli_env
from pg_helpers import Schemas

ORIGIN = "laptop.example.com/service-1"
WAIT_S = 60.0  # a bound on waiting, not a timing assertion


def until(what: str, ready: Callable[[], bool], limit: float = WAIT_S) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting {limit:g} s for {what}")


class Laptop:
    """One endpoint: a ledger, enrolled, recorded by a service that ships it."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.ledger = folder / "ledger.sqlite"
        self.socket = folder / "run" / "recorder.sock"
        self.errors = folder / "service.err"
        self.work = folder / "work"
        self.work.mkdir()
        self.process: subprocess.Popen[bytes] | None = None
        done = affidavit(self.ledger, "init", "--origin", ORIGIN)
        assert done.returncode == 0, done.stderr

    def start(self, token: str) -> None:
        env = cli_env(self.folder / "home") | {"AFFIDAVIT_TOKEN": token}
        with self.errors.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "affidavit", "--ledger", str(self.ledger),
                 "service", "--socket", str(self.socket)],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        until("the service to listen", self.socket.exists)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=90)

    def write(self, name: str, text: str) -> None:
        """What Claude Code's PostToolUse hook sends after a Write, through the real hook."""
        path = self.work / name
        path.write_text(text)
        event = {
            "session_id": "s-1",
            "hook_event_name": "PostToolUse",
            "tool_name": "Write",
            "tool_use_id": f"toolu_{name}",
            "cwd": str(self.work),
            "tool_input": {"file_path": str(path), "content": text},
            "tool_response": {"type": "create", "filePath": str(path)},
        }
        done = subprocess.run(
            [sys.executable, "-m", "affidavit", "hook", "--ledger", str(self.ledger),
             "--socket", str(self.socket)],
            input=json.dumps(event).encode(), capture_output=True,
            env=cli_env(self.folder / "home"), check=False, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def size(self) -> int:
        with sqlite3.connect(f"file:{self.ledger}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])

    def said(self) -> str:
        return self.errors.read_text("utf-8", errors="replace")


@pytest.fixture
def collector(pg_schemas: Schemas, tmp_path: Path) -> Iterator[Collector]:
    c = Collector(pg_schemas, tmp_path)
    c.cli("init", "--origin", "collector.example.com/org")
    with c.serving():
        yield c


@pytest.fixture
def laptop(tmp_path: Path) -> Iterator[Laptop]:
    one = Laptop(tmp_path / "laptop")
    try:
        yield one
    finally:
        one.stop()


def held(c: Collector) -> list[int]:
    rows = c.sql("SELECT seq FROM entries WHERE origin = %s ORDER BY seq", ORIGIN)
    return [int(s) for (s,) in rows]


def test_the_service_ships_each_record_then_backs_off_and_catches_up_once(
    collector: Collector, laptop: Laptop
) -> None:
    token = collector.token("device", "laptop-1")
    enrolled = affidavit(laptop.ledger, "enrol", collector.url, "--token", token)
    assert enrolled.returncode == 0, enrolled.stderr
    laptop.start(token)

    laptop.write("a.txt", "first\n")
    until("the first record on the collector", lambda: held(collector) != [])
    assert held(collector) == list(range(laptop.size()))
    before = laptop.size()

    port = int(collector.url.rsplit(":", 1)[1])
    collector.stop()
    for name in ("b.txt", "c.txt", "d.txt"):
        laptop.write(name, f"{name} while the collector is away\n")
    failures = re.compile(r"shipping failed: cannot reach the collector .*; next try in ([\d.]+) s")
    until("three failed tries", lambda: len(failures.findall(laptop.said())) >= 3)
    waits = [float(w) for w in failures.findall(laptop.said())]
    assert waits[1] > waits[0] * 1.5 and waits[2] > waits[1] * 1.5, waits  # it backs off

    made_while_away = laptop.size() - before
    assert made_while_away >= 3
    with collector.serving(port=port):
        until("the backlog on the collector", lambda: len(held(collector)) == laptop.size())
        assert held(collector) == list(range(laptop.size()))  # each seq once, none missing
        # The rows are committed before the service has the answer and says so.
        until("the service's word that it resumed", lambda: "resumed" in laptop.said())
        resumed = re.findall(r"shipping resumed: sent (\d+) record", laptop.said())
        assert resumed == [str(made_while_away)], laptop.said()  # sent once, not again
        count = collector.sql("SELECT count(*) FROM entries WHERE origin = %s", ORIGIN)
        assert count == [(laptop.size(),)]
        laptop.stop()

    state = json.loads(laptop.ledger.with_name("ledger.sqlite.collector.json").read_text())
    sizes = [c["size"] for c in state["cosignatures"]]
    assert sizes == sorted(set(sizes)) and sizes[-1] == laptop.size()
    verified = affidavit(laptop.ledger, "verify")
    assert verified.returncode == 0 and "witnessed by collector.example.com/org" in verified.stdout


def test_a_token_without_enrolment_stops_the_service_at_start(tmp_path: Path) -> None:
    one = Laptop(tmp_path / "laptop")
    refused = affidavit(one.ledger, "service", "--socket", str(one.socket), "--token", "t0k")
    assert refused.returncode == 2 and "is not enrolled; run `affidavit enrol`" in refused.stderr
    assert "t0k" not in refused.stderr

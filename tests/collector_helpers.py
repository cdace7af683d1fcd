"""A real collector for the tests: `affidavit server init` in a fresh PostgreSQL schema, then
`affidavit server` (uvicorn) on a free loopback port, stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from ledger_helpers import affidavit, cli_env
from pg_helpers import Schemas

ORIGIN = "collector.example.com/org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """One collector's database schema, keys and (while :meth:`serving`) server process."""

    def __init__(self, schemas: Schemas, home: Path) -> None:
        self.db = schemas.url
        self.schema = schemas.new()
        self.home = home
        self.keys = home / "collector-keys"
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "server.log"

    def options(self) -> list[str]:
        return ["--db", self.db, "--schema", self.schema, "--keys", str(self.keys)]

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``affidavit server ARGS --db --schema --keys`` (the options after the subcommand)."""
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "affidavit",
                "server",
                *args,
                "--db",
                self.db,
                "--schema",
                self.schema,
                "--keys",
                str(self.keys),
            ],
            capture_output=True,
            text=True,
            env=cli_env(self.home),
            check=False,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def token(self, role: str, name: str) -> str:
        return self.cli("token", "create", "--role", role, "--name", name).stdout.strip()

    @contextmanager
    def serving(
        self,
        workers: int = 1,
        env: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
        *,
        port: int | None = None,
    ) -> Iterator[Collector]:
        """Serve until the block ends; ``env`` adds to the server's environment (``AFFIDAVIT_*``
        settings); ``port``: the same one again, as after a restart."""
        port = port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = cli_env(self.home) | {"AFFIDAVIT_SERVER_SEAL_EVERY": "0.5"} | (env or {})
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "affidavit",
                    "server",
                    "--db",
                    self.db,
                    "--schema",
                    self.schema,
                    "--keys",
                    str(self.keys),
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(workers),
                    *options,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        try:
            self._wait_up()
            yield self
        finally:
            self.stop()

    def enrol_and_ship(self, ledger: Path, token: str) -> None:
        """Enrol the endpoint ``ledger`` with this collector and ship it, through the CLI."""
        for step in (("enrol", self.url), ("ship",)):
            done = affidavit(ledger, *step, "--token", token)
            assert done.returncode == 0, done.stderr

    def _wait_up(self) -> None:
        for _ in range(300):
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError("the collector exited:\n" + self.log.read_text())
            try:
                if httpx.get(self.url + "/api/v1/whoami", timeout=2).status_code == 401:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("the collector did not start:\n" + self.log.read_text())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def get(self, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.get(self.url + path, headers=headers, timeout=30, **kw)

    def post(self, path: str, token: str | None, body: Any) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(self.url + path, content=data, headers=headers, timeout=60)

    def sql(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.db, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return conn.execute(query, args).fetchall()


@contextmanager
def served(schemas: Schemas, home: Path) -> Iterator[Collector]:
    """A collector made with `server init --origin ORIGIN` and serving while the block runs."""
    c = Collector(schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving():
        yield c

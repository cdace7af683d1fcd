"""PostgreSQL for the tests: the server's address, one schema prefix per test run, raw SQL.

The address is ``$AFFIDAVIT_TEST_PG`` (default ``postgresql://127.0.0.1:5432/test``, trust
auth). A run names every schema it makes ``affidavit_t<pid>_<random>_...`` and drops them all
at the end. An unreachable server skips the PostgreSQL tests with a message, and fails them
under ``CI=true``, so CI can never go green by skipping them.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from affidavit.ledger import Ledger
from affidavit.note import Signer
from affidavit.record import format_time
from affidavit.store.log import LogStore
from affidavit.store.postgres import PostgresStore, connect
from affidavit.store.sqlite import SqliteStore

DEFAULT_URL = "postgresql://127.0.0.1:5432/test"


def reachable_url() -> str:
    """The test server's address; skips (or fails under CI=true) if it does not answer."""
    url = os.environ.get("AFFIDAVIT_TEST_PG", DEFAULT_URL)
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as e:
        message = f"needs PostgreSQL at {url} ($AFFIDAVIT_TEST_PG): {str(e).strip()[:200]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    return url


class Schemas:
    """Fresh schema names for one test run; :meth:`drop_all` removes every one made."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"affidavit_t{os.getpid()}_{secrets.token_hex(3)}"
        self._numbers = itertools.count()

    def new(self) -> str:
        return f"{self.prefix}_{next(self._numbers)}"

    def drop_all(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            names = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
                (self.prefix,),
            ).fetchall()
            for (name,) in names:
                conn.execute(f'DROP SCHEMA "{name}" CASCADE')


class PgRaw:
    """A plain connection inside one log's schema, taking SQLite's ``?`` placeholders, so a
    test's raw SQL runs unchanged against either store; every statement commits."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql.replace("?", "%s"), args)


@contextmanager
def raw_sql(store: LogStore) -> Iterator[Any]:
    """Raw SQL on a store's tables behind its back: sqlite3 for a file, psycopg for a schema."""
    if isinstance(store, SqliteStore):
        from ledger_helpers import raw

        with raw(Path(store.path)) as conn:
            yield conn
        return
    assert isinstance(store, PostgresStore)
    with psycopg.connect(store.connection.info.dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{store.schema}"')
        yield PgRaw(conn)


def new_pg_ledger(schemas: Schemas, origin: str | None = None) -> Ledger[PostgresStore]:
    """A new ledger in a fresh schema, with an in-memory key and the one-second clock."""
    from ledger_helpers import ORIGIN, Clock

    name = origin or ORIGIN
    signer = Signer.generate(name)
    clock = Clock()
    conn = connect(schemas.url)
    store = PostgresStore.create(
        conn,
        schemas.new(),
        {"origin": name, "vkey": signer.verifier().vkey(), "created": format_time(clock())},
    )
    return Ledger(store, signer=signer, clock=clock)

"""The collector's store: one RFC 9162 log in its own PostgreSQL schema (psycopg 3).

The second :class:`~affidavit.store.log.LogStore`; the tables are the SQLite store's four::

    <schema>.meta(key, value)                   origin, verifier key, integrated size, schema
    <schema>.records(seq, leaf, leaf_hash,      seq is the leaf index, from 0
                     salt, payload)             salt/payload are NULL once erased
    <schema>.nodes(level, idx, hash)            every complete subtree of level >= 1
    <schema>.checkpoints(size, note, published) every signed checkpoint ever published

One schema per log, so an endpoint's log, the org log and a test run never share a table.

One writer at a time, across every process and host that reaches the database: :meth:`begin`
takes a transaction-level advisory lock named after the schema (as Tessera's MySQL driver
serialises its integrator with a lock row); PostgreSQL releases it at commit, at rollback and
when a connection dies, so a killed worker never leaves the log locked. Every connection sets
``synchronous_commit = on``: a commit returns only once its WAL is flushed, whatever the
database's default.

Pages and their checksums are PostgreSQL's business (``initdb --data-checksums``,
``amcheck``); :meth:`check_pages` checks that the schema is an Affidavit log.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg

from affidavit.errors import (
    InputError,
    LedgerCorruptError,
    LedgerError,
    LedgerExistsError,
    LedgerNotFoundError,
)
from affidavit.store.log import NewRow, Row

SCHEMA_VERSION = 1

_CHUNK = 4096
# Schema names are interpolated into SQL text, so only this shape is ever accepted.
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

_DDL = """
CREATE TABLE {s}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE {s}.records (
    seq BIGINT PRIMARY KEY,
    leaf BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    salt BYTEA,
    payload BYTEA
);
CREATE TABLE {s}.nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE {s}.checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL,
    published TEXT NOT NULL
)
"""

# Binary parameters (%b): the leaves and payloads travel as bytes, not as hex text.
_APPEND = (
    "WITH base AS (SELECT coalesce(max(seq) + 1, 0) AS first FROM {s}.records), "
    "added AS (INSERT INTO {s}.records (seq, leaf, leaf_hash, salt, payload) "
    "SELECT base.first + r.n - 1, r.leaf, r.leaf_hash, r.salt, r.payload FROM base, "
    "unnest(%b::bytea[], %b::bytea[], %b::bytea[], %b::bytea[]) "
    "WITH ORDINALITY AS r(leaf, leaf_hash, salt, payload, n)) "
    "SELECT first FROM base"
)


def check_schema_name(name: str) -> str:
    """``name`` if it can name a log's schema (lower-case letters, digits, ``_``)."""
    if not _NAME.fullmatch(name):
        raise InputError(
            f"log name {name!r}: use 1-63 lower-case letters, digits and _, not starting "
            "with a digit"
        )
    return name


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection with durable commits; a clear error if the server is away."""
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as e:
        raise LedgerError(f"cannot connect to PostgreSQL at {describe(url)}: {_first(e)}") from e
    prepare(conn)
    return conn


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Settings every connection a store uses must have (pooled ones too).

    JIT off: the collector's statements are short index walks whose cost estimates (a
    lateral lookup per row, many rows) pass ``jit_above_cost``, and compiling them took
    longer than running them (18 ms of a console page's 78 at 1M records).

    Custom plans always: psycopg prepares a statement run five times on a connection, and
    PostgreSQL then may plan it once for any parameters (a generic plan). The collector's
    queries depend on theirs (a folder's share of the log, a time window, a cursor): on a
    pooled connection the console's person-and-folder page went from 75 ms to 250 ms once
    its statements turned generic, at 1M records."""
    conn.execute(
        "SET synchronous_commit = on; SET jit = off; SET plan_cache_mode = force_custom_plan"
    )


def describe(url: str) -> str:
    """Where ``url`` points, without the password: ``host:port/dbname``."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the given address"
    host = info.get("host") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


class PostgresStore:
    """One log's tables in one PostgreSQL schema, over one connection (autocommit mode;
    transactions are explicit). Not thread-safe: one store per thread or task."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str, *, owned: bool = True) -> None:
        self._conn = conn
        self.schema = check_schema_name(schema)
        self._owned = owned
        info = conn.info
        self.path = f"postgresql://{info.host}:{info.port}/{info.dbname} log {schema}"

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls, conn: psycopg.Connection[Any], schema: str, meta: dict[str, str], *, owned: bool = True
    ) -> PostgresStore:
        """Create the log's schema and tables; refuses a schema that already exists."""
        check_schema_name(schema)
        with conn.transaction():
            found = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            if found is not None:
                raise LedgerExistsError(f"a log named {schema} already exists; not overwriting it")
            conn.execute(f'CREATE SCHEMA "{schema}"')
            for statement in _DDL.format(s=f'"{schema}"').split(";"):
                conn.execute(statement)  # the name was validated
            rows = {"schema": str(SCHEMA_VERSION), "integrated": "0", **meta}
            with conn.cursor() as cur:
                cur.executemany(
                    f'INSERT INTO "{schema}".meta VALUES (%s, %s)',
                    list(rows.items()),
                )
        return cls(conn, schema, owned=owned)

    @classmethod
    def open(
        cls, conn: psycopg.Connection[Any], schema: str, *, owned: bool = True
    ) -> PostgresStore:
        """Open an existing log; :class:`LedgerNotFoundError` if there is none by that name."""
        store = cls(conn, schema, owned=owned)
        try:
            store.check_pages()
        except BaseException:
            if owned:
                conn.close()
            raise
        return store

    def check_pages(self) -> None:
        """Check that the schema holds an Affidavit log of this version."""
        try:
            version = self.meta("schema")
        except psycopg.errors.UndefinedTable as e:
            raise LedgerNotFoundError(
                f"no log named {self.schema} in {self.path.rsplit(' log ', 1)[0]}; "
                "create it first (`affidavit server init`)"
            ) from e
        if version != str(SCHEMA_VERSION):
            raise LedgerCorruptError(f"{self.path} has no Affidavit schema {SCHEMA_VERSION} marker")

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The raw connection, for tables that live beside the log (the collector's)."""
        return self._conn

    def close(self) -> None:
        if self._owned:
            self._conn.close()

    def _q(self, text: str) -> str:
        # The schema name passed check_schema_name, so it is safe to place in the text.
        return text.replace("{s}", f'"{self.schema}"')

    def _exec(self, text: str, args: Sequence[object] | None = None) -> psycopg.Cursor[Any]:
        return self._conn.execute(self._q(text), args)

    # -- transactions -----------------------------------------------------------------------

    def begin(self) -> None:
        """Start the write transaction and wait for the log's writer lock."""
        self._conn.execute("BEGIN")
        try:
            self.lock_writer()
        except BaseException:
            self.rollback()
            raise

    def lock_writer(self) -> None:
        """Wait for the log's writer lock inside a transaction the caller already opened
        (:meth:`begin` does both); it is held until that transaction ends."""
        self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"affidavit.log:{self.schema}",),
        )

    def commit(self) -> None:
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.closed:
            return  # the server ended the transaction with the connection
        if self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                self._conn.execute("ROLLBACK")
            except psycopg.OperationalError:
                # A connection that died mid-transaction took the transaction (and the writer
                # lock) with it: there is nothing left to roll back.
                if not self._conn.broken:
                    raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees one committed state (a repeatable-read transaction)."""
        self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self.rollback()

    # -- meta -------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._exec("SELECT value FROM {s}.meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._exec(
            "INSERT INTO {s}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = %s",
            (key, value, value),
        )

    # -- records ----------------------------------------------------------------------------

    def size(self) -> int:
        row = self._exec("SELECT max(seq) FROM {s}.records").fetchone()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def add_records(self, rows: Iterable[NewRow]) -> int:
        """Append (leaf, leaf_hash, salt, payload) rows; returns the first seq.

        Call between :meth:`begin` and :meth:`commit`: the writer lock makes the log's size
        the next seq, and the primary key refuses a second writer that skipped the lock. One
        statement, which numbers the rows itself, so a writer holding the lock in a pipeline
        waits one round trip for it, not two (as fast as COPY at 100 and at 5,000 rows).
        """
        columns: list[list[bytes | None]] = [[], [], [], []]
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        found = self._exec(_APPEND, columns).fetchone()
        assert found is not None  # the statement always answers one row
        return int(found[0])

    def records(self, start: int = 0, end: int | None = None) -> Iterator[Row]:
        """Records with ``start <= seq < end``, streamed in pages by seq."""
        sql = "SELECT seq, leaf, leaf_hash, salt, payload FROM {s}.records WHERE seq >= %s"
        if end is not None:
            sql += " AND seq < %s"
        sql += f" ORDER BY seq LIMIT {_CHUNK}"
        at = start
        while True:
            args = (at,) if end is None else (at, end)
            batch = self._exec(sql, args).fetchall()
            for seq, leaf, leaf_hash, salt, payload in batch:
                yield int(seq), leaf, leaf_hash, salt, payload
            if len(batch) < _CHUNK:
                return
            at = int(batch[-1][0]) + 1

    def record(self, seq: int) -> Row | None:
        row = self._exec(
            "SELECT seq, leaf, leaf_hash, salt, payload FROM {s}.records WHERE seq = %s", (seq,)
        ).fetchone()
        return None if row is None else (int(row[0]), row[1], row[2], row[3], row[4])

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._exec(
            "SELECT leaf_hash FROM {s}.records WHERE seq >= %s AND seq < %s ORDER BY seq",
            (start, end),
        )
        return [r[0] for r in rows]

    def erased_count(self) -> int:
        row = self._exec("SELECT count(*) FROM {s}.records WHERE payload IS NULL").fetchone()
        return 0 if row is None else int(row[0])

    def erase_payloads(self, seqs: Iterable[int]) -> int:
        cur = self._exec(
            "UPDATE {s}.records SET salt = NULL, payload = NULL "
            "WHERE seq = ANY(%s) AND payload IS NOT NULL",
            (list(seqs),),
        )
        return cur.rowcount

    def purge_erased(self) -> None:
        """Rewrite the table without the old row versions, so the erased payloads leave its
        files. PostgreSQL's WAL archive and backups keep them until they expire: the README
        says so."""
        self._exec("VACUUM FULL {s}.records")

    # -- tree -------------------------------------------------------------------------------

    def add_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        sql = self._q("COPY {s}.nodes (level, idx, hash) FROM STDIN")
        with self._conn.cursor() as cur, cur.copy(sql) as copy:
            for node in nodes:
                copy.write_row(node)

    def node_hashes(self, keys: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of subtrees ``(level, index)`` in two queries, whatever their number."""
        leaves = [i for lv, i in keys if lv == 0]
        inner = [(lv, i) for lv, i in keys if lv != 0]
        found: dict[tuple[int, int], bytes] = {}
        if leaves:
            rows = self._exec(
                "SELECT seq, leaf_hash FROM {s}.records WHERE seq = ANY(%s)", (leaves,)
            )
            found.update(((0, int(seq)), h) for seq, h in rows)
        if inner:
            rows = self._exec(
                "SELECT n.level, n.idx, n.hash FROM {s}.nodes n "
                "JOIN unnest(%b::int[], %b::bigint[]) AS k(level, idx) "
                "ON n.level = k.level AND n.idx = k.idx",
                ([lv for lv, _ in inner], [i for _, i in inner]),
            )
            found.update(((int(lv), int(i)), h) for lv, i, h in rows)
        out = []
        for level, idx in keys:
            if (level, idx) not in found:
                raise LedgerCorruptError(f"subtree (level {level}, index {idx}) is missing")
            out.append(found[(level, idx)])
        return out

    def nodes_at(self, level: int) -> Iterator[tuple[int, bytes]]:
        at = 0
        while True:
            batch = self._exec(
                "SELECT idx, hash FROM {s}.nodes WHERE level = %s AND idx >= %s "
                f"ORDER BY idx LIMIT {_CHUNK}",
                (level, at),
            ).fetchall()
            for idx, h in batch:
                yield int(idx), h
            if len(batch) < _CHUNK:
                return
            at = int(batch[-1][0]) + 1

    def node_levels(self) -> dict[int, int]:
        rows = self._exec("SELECT level, count(*) FROM {s}.nodes GROUP BY level")
        return {int(level): int(count) for level, count in rows}

    # -- checkpoints ------------------------------------------------------------------------

    def add_checkpoint(self, size: int, note: str, published: str) -> None:
        self._exec("INSERT INTO {s}.checkpoints VALUES (%s, %s, %s)", (size, note, published))

    def checkpoints(self) -> Iterator[tuple[int, str, str]]:
        rows = self._exec("SELECT size, note, published FROM {s}.checkpoints ORDER BY size")
        for size, note, published in rows.fetchall():
            yield int(size), note, published

    def latest_checkpoint(self) -> tuple[int, str, str] | None:
        row = self._exec(
            "SELECT size, note, published FROM {s}.checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), row[1], row[2])

    def drop(self) -> None:
        """Delete the whole log (its schema). For tests and for `server init` undoing itself."""
        self._conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

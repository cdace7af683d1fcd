"""What only the PostgreSQL store must do: one writer across connections, a killed writer's
lock released, durable commits seen by other connections, clear errors for bad names, for a
log that is not there and for a server that does not answer."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from affidavit.errors import InputError, LedgerError, LedgerExistsError, LedgerNotFoundError
from affidavit.ledger import Ledger
from affidavit.store.postgres import PostgresStore, connect
from ledger_helpers import make_records
from pg_helpers import Schemas, new_pg_ledger


def test_concurrent_appenders_get_disjoint_contiguous_seqs(pg_schemas: Schemas) -> None:
    with new_pg_ledger(pg_schemas) as first:
        schema = first.store.schema
        ranges: list[range] = []
        errors: list[BaseException] = []

        def append_many() -> None:
            try:
                store = PostgresStore.open(connect(pg_schemas.url), schema)
                with Ledger(store) as ledger:
                    for _ in range(10):
                        ranges.append(ledger.append(make_records(7)))
            except BaseException as e:  # reported below; a thread cannot fail the test
                errors.append(e)

        threads = [threading.Thread(target=append_many) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        seqs = sorted(s for r in ranges for s in r)
        assert seqs == list(range(4 * 10 * 7))
        first.seal()
        assert first.verify().records == 280


def test_a_killed_writer_does_not_leave_the_log_locked(pg_schemas: Schemas) -> None:
    with new_pg_ledger(pg_schemas) as ledger:
        victim = PostgresStore.open(connect(pg_schemas.url), ledger.store.schema)
        victim.begin()  # holds the writer lock
        victim.add_records(
            [(r.leaf, b"\x00" * 32, r.salt, r.payload_json) for r in make_records(2)]
        )
        pid = victim.connection.info.backend_pid
        with psycopg.connect(pg_schemas.url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # The lock went with the connection; what it wrote was never committed.
        assert ledger.append(make_records(3)) == range(0, 3)
        ledger.seal()
        assert ledger.verify().records == 3
        victim.rollback()  # on a dead connection: nothing to do, no second error
        victim.close()


def test_appended_rows_are_numbered_from_the_size_and_kept_byte_for_byte(
    pg_schemas: Schemas,
) -> None:
    with new_pg_ledger(pg_schemas) as ledger:
        ledger.append(make_records(3))
        store = ledger.store
        rows = [(b"leaf-a\x00\xff", b"\x01" * 32, None, None), (b"b", b"\x02" * 32, b"s", b"{}")]
        store.begin()
        assert store.add_records([]) == 3  # nothing added: the next seq is the size
        assert store.add_records(rows) == 3
        store.commit()
        assert [r[1:] for r in store.records(3)] == rows
        assert store.size() == 5


def test_a_commit_is_visible_to_another_connection_at_once(pg_schemas: Schemas) -> None:
    with new_pg_ledger(pg_schemas) as ledger:
        ledger.append(make_records(4))
        note = ledger.seal()
        with Ledger(PostgresStore.open(connect(pg_schemas.url), ledger.store.schema)) as other:
            assert other.store.size() == 4
            assert other.latest_checkpoint() == (4, note)
            assert other.verify().tree_size == 4


def test_creating_a_log_twice_is_refused(pg_schemas: Schemas) -> None:
    with new_pg_ledger(pg_schemas) as ledger:
        conn = connect(pg_schemas.url)
        with pytest.raises(LedgerExistsError, match=ledger.store.schema):
            PostgresStore.create(conn, ledger.store.schema, {"origin": "x", "vkey": "y"})
        conn.close()
        assert ledger.verify().records == 0


def test_opening_a_missing_log_names_it(pg_schemas: Schemas) -> None:
    name = pg_schemas.new()
    with pytest.raises(LedgerNotFoundError, match=f"no log named {name}"):
        PostgresStore.open(connect(pg_schemas.url), name)


@pytest.mark.parametrize("name", ["", "Upper", "1st", "a-b", 'x"; DROP TABLE t; --', "a" * 64])
def test_a_log_name_that_could_not_be_a_schema_is_refused(name: str) -> None:
    with pytest.raises(InputError, match="log name"):
        PostgresStore.open(None, name)  # type: ignore[arg-type]  # refused before any use


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    with pytest.raises(LedgerError, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1/x") as e:
        connect("postgresql://me:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in str(e.value) and "\n" not in str(e.value)


def test_connections_plan_every_execution_for_its_parameters_and_never_jit(
    pg_schemas: Schemas,
) -> None:
    """psycopg prepares a statement run five times; PostgreSQL may then plan it once for
    all parameters (a generic plan), which made the console's folder pages three times
    slower on a pooled connection. The store's connections always plan with the values."""
    query = "SELECT relname FROM pg_class WHERE oid = %s"

    def plans(conn: psycopg.Connection[Any]) -> tuple[int, int]:
        for n in range(12):
            conn.execute(query, (1259 + n,)).fetchall()
        row = conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement = 'SELECT relname FROM pg_class WHERE oid = $1'"
        ).fetchone()
        assert row is not None, "psycopg did not prepare the statement"
        return int(row[0]), int(row[1])

    with psycopg.connect(pg_schemas.url, autocommit=True) as plain:
        generic, _ = plans(plain)
        assert generic > 0  # the default this guards against: the check can fail
    with connect(pg_schemas.url) as conn:
        generic, custom = plans(conn)
        assert generic == 0 and custom > 0
        assert conn.execute("SHOW jit").fetchone() == ("off",)

"""The collector's tables and keys: what ``affidavit server init`` makes.

Everything lives in one PostgreSQL schema (``--schema``, default ``affidavit``), and the org
log in a second one beside it (``<schema>_org``, a :class:`PostgresStore` log)::

    config(key, value)            origin, the org log's and the witness's verifier keys
    tokens(id, name, role, ...)   bearer tokens, argon2-hashed (:mod:`.tokens`)
    endpoints(origin, vkey, ...)  one row per enrolled endpoint log: its pinned key, how many
                                  records the collector holds, the compact range (frontier) of
                                  their tree and the last checkpoint it cosigned
    entries(origin, seq, ...)     every shipped record, once by (origin, seq); ``org_seq`` is
                                  its index in the org log, given as it is stored (NULL only
                                  in rows an earlier collector stored, until integrated);
                                  ``folders`` the folder names of its file (:mod:`.folders`)
    direct(org_seq, ...)          the records the collector appended to the org log itself
    cosignatures(origin, size,..) every checkpoint the collector cosigned, and the line
    witnessed_logs(origin, vkey,  other C2SP logs this collector witnesses through
      size, checkpoint)           ``POST /add-checkpoint``, with the last checkpoint it cosigned
    witnesses(url, vkey)          external witnesses asked to cosign the org log's checkpoints
    org_cosignatures(witness,     their cosignatures, one per witness and org log size
      size, ...)

The two signing keys are files (mode 0600) in the key folder, never in the database: one
signs the org log's checkpoints, the other cosigns endpoint checkpoints (C2SP asks for a
separate key per cosigner). A stolen database copy can forge neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from affidavit.cosignature import Cosigner
from affidavit.errors import InputError, LedgerError, LedgerExistsError
from affidavit.keys import FileSigner, read_key_file, write_key_file
from affidavit.note import Signer
from affidavit.record import format_time
from affidavit.store.postgres import PostgresStore, check_schema_name

DEFAULT_SCHEMA = "affidavit"
VERSION = "1"

_DDL = """
CREATE TABLE {s}.config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE {s}.tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('device', 'auditor', 'admin')),
    hash TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked TIMESTAMPTZ,
    last_used TIMESTAMPTZ
);
CREATE TABLE {s}.endpoints (
    origin TEXT PRIMARY KEY,
    vkey TEXT NOT NULL,
    token_id BIGINT NOT NULL REFERENCES {s}.tokens (id),
    enrolled TIMESTAMPTZ NOT NULL DEFAULT now(),
    size BIGINT NOT NULL DEFAULT 0,
    frontier BYTEA[] NOT NULL DEFAULT '{{}}',
    cosigned_size BIGINT,
    cosigned_note TEXT
);
CREATE TABLE {s}.entries (
    origin TEXT NOT NULL REFERENCES {s}.endpoints (origin),
    seq BIGINT NOT NULL,
    leaf BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    salt BYTEA,
    payload BYTEA,
    kind TEXT NOT NULL,
    time TEXT NOT NULL,
    received BIGSERIAL NOT NULL,
    org_seq BIGINT UNIQUE,
    folders TEXT[],
    PRIMARY KEY (origin, seq)
);
CREATE INDEX entries_pending ON {s}.entries (received) WHERE org_seq IS NULL;
CREATE INDEX entries_time ON {s}.entries (time, org_seq);
CREATE INDEX entries_received ON {s}.entries (received);
CREATE INDEX entries_folders ON {s}.entries USING gin (folders);
CREATE TABLE {s}.direct (
    org_seq BIGINT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    time TEXT NOT NULL,
    folders TEXT[]
);
CREATE INDEX direct_time ON {s}.direct (time, org_seq);
CREATE INDEX direct_folders ON {s}.direct USING gin (folders);
CREATE TABLE {s}.cosignatures (
    origin TEXT NOT NULL REFERENCES {s}.endpoints (origin),
    size BIGINT NOT NULL,
    checkpoint TEXT NOT NULL,
    cosignature TEXT NOT NULL,
    time BIGINT NOT NULL,
    PRIMARY KEY (origin, size)
);
CREATE TABLE {s}.witnessed_logs (
    origin TEXT PRIMARY KEY,
    vkey TEXT NOT NULL,
    size BIGINT NOT NULL DEFAULT 0,
    checkpoint TEXT,
    added TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE {s}.witnesses (
    url TEXT PRIMARY KEY,
    vkey TEXT NOT NULL UNIQUE,
    added TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE {s}.org_cosignatures (
    witness TEXT NOT NULL REFERENCES {s}.witnesses (vkey) ON DELETE CASCADE,
    size BIGINT NOT NULL,
    cosignature TEXT NOT NULL,
    time BIGINT NOT NULL,
    PRIMARY KEY (witness, size)
)
"""


def default_keys_dir() -> Path:
    import platformdirs

    return platformdirs.user_config_path("affidavit") / "collector"


@dataclass(frozen=True, slots=True)
class Collector:
    """One collector: where its tables are, its origin, and its two keys."""

    schema: str
    origin: str
    org_vkey: str
    witness_vkey: str
    keys: Path

    @property
    def org_schema(self) -> str:
        return f"{self.schema}_org"

    @property
    def witness_name(self) -> str:
        return Cosigner.from_vkey(self.witness_vkey).name

    def org_signer(self) -> FileSigner:
        return FileSigner(self.keys / "org.key")

    def witness_signer(self) -> Signer:
        signer = read_key_file(self.keys / "witness.key")
        if Cosigner(signer.name, signer.public_key).vkey() != self.witness_vkey:
            raise LedgerError(f"{self.keys / 'witness.key'} is not this collector's witness key")
        return signer

    @classmethod
    def load(cls, conn: psycopg.Connection[Any], schema: str, keys: Path) -> Collector:
        check_schema_name(schema)
        try:
            rows = dict(conn.execute(f'SELECT key, value FROM "{schema}".config').fetchall())
        except psycopg.errors.UndefinedTable as e:
            raise LedgerError(
                f"no collector in schema {schema}; create it with `affidavit server init`"
            ) from e
        return cls(schema, rows["origin"], rows["org_vkey"], rows["witness_vkey"], keys)


_UPGRADE = """
ALTER TABLE {s}.entries ADD COLUMN IF NOT EXISTS folders TEXT[];
ALTER TABLE {s}.direct ADD COLUMN IF NOT EXISTS folders TEXT[];
CREATE INDEX IF NOT EXISTS entries_folders ON {s}.entries USING gin (folders);
CREATE INDEX IF NOT EXISTS direct_folders ON {s}.direct USING gin (folders);
CREATE INDEX IF NOT EXISTS entries_received ON {s}.entries (received)
"""
_BATCH = 5000


def upgrade(
    conn: psycopg.Connection[Any], schema: str, progress: Callable[[str], None] | None = None
) -> int:
    """Bring a collector made by an earlier version up to this one's tables; returns how
    many rows it filled. Run at the start of ``affidavit server`` and ``server seal``.

    Collectors before the ``folders`` column (:mod:`.folders`) get it, its index, an index
    on ``received`` (the identity join's cursor: without it, each scan of new entries read
    the whole table, 3.5 s at 1M records), and every row's folders from its payload, in
    batches of the primary key, each committed, so an interrupted upgrade resumes;
    ``config.folders`` marks it done, and a collector made by this version starts done. One
    upgrader at a time (an advisory lock); the others wait."""
    check_schema_name(schema)
    s = f'"{schema}"'
    # A session lock for the whole upgrade (``conn`` is in autocommit mode): each worker of a
    # starting server calls this, and the second must find it done, not fill it again.
    lock = ("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"upgrade:{schema}",))
    conn.execute(*lock)
    try:
        return _upgrade(conn, schema, s, progress)
    finally:
        conn.execute(lock[0].replace("_lock(", "_unlock("), lock[1])


def _upgrade(
    conn: psycopg.Connection[Any], schema: str, s: str, progress: Callable[[str], None] | None
) -> int:
    from affidavit.server import folders

    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"ddl:{schema}",))
        done = conn.execute(f"SELECT 1 FROM {s}.config WHERE key = 'folders'").fetchone()
        if done is not None:
            return 0
        for statement in _UPGRADE.format(s=s).split(";"):
            conn.execute(statement)
    filled, after = 0, ("", -1)
    while True:
        with conn.transaction():
            rows = conn.execute(
                f"SELECT origin, seq, payload FROM {s}.entries WHERE (origin, seq) > (%s, %s) "
                f"ORDER BY origin, seq LIMIT {_BATCH}",
                after,
            ).fetchall()
            if not rows:
                break
            conn.execute(
                f"UPDATE {s}.entries e SET folders = v.f::text[] FROM unnest(%b::text[], "
                "%b::bigint[], %b::text[]) AS v(o, q, f) WHERE e.origin = v.o AND e.seq = v.q "
                "AND e.folders IS NULL",
                ([r[0] for r in rows], [r[1] for r in rows],
                 [folders.literal(folders.of_payload(r[2])) for r in rows]),
            )  # fmt: skip
        filled, after = filled + len(rows), (rows[-1][0], rows[-1][1])
        if progress is not None:
            progress(f"upgrade: folders of {filled:,} shipped records filled")
    with conn.transaction():
        conn.execute(f"UPDATE {s}.direct d SET folders = ARRAY[]::text[] WHERE d.folders IS NULL")
        rows = conn.execute(
            f'SELECT d.org_seq, r.payload FROM {s}.direct d JOIN "{schema}_org".records r '
            "ON r.seq = d.org_seq WHERE r.payload LIKE '%%\"path\"%%'"
        ).fetchall()
        conn.execute(
            f"UPDATE {s}.direct d SET folders = v.f::text[] FROM unnest(%b::bigint[], "
            "%b::text[]) AS v(q, f) WHERE d.org_seq = v.q",
            ([r[0] for r in rows], [folders.literal(folders.of_payload(r[1])) for r in rows]),
        )
        conn.execute(f"INSERT INTO {s}.config VALUES ('folders', '1')")
    return filled + len(rows)


def init_collector(
    conn: psycopg.Connection[Any], *, schema: str, origin: str, keys: Path
) -> Collector:
    """Make the tables, the org log and both keys; refuses to touch an existing collector."""
    check_schema_name(schema)
    if len(schema) > 59:
        raise InputError(f"schema name {schema!r}: at most 59 characters (the org log adds 4)")
    org_key, witness_key = keys / "org.key", keys / "witness.key"
    for path in (org_key, witness_key):
        if path.exists():
            raise LedgerExistsError(f"a key already exists at {path}; not overwriting it")
    org = Signer.generate(origin)
    witness = Signer.generate(f"{origin}/witness")
    witness_vkey = Cosigner(witness.name, witness.public_key).vkey()
    with conn.transaction():
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            raise LedgerExistsError(f"schema {schema} already exists; not overwriting it")
        conn.execute(f'CREATE SCHEMA "{schema}"')
        for statement in _DDL.format(s=f'"{schema}"').split(";"):
            conn.execute(statement)
        config = {"version": VERSION, "origin": origin, "org_vkey": org.verifier().vkey()}
        config["witness_vkey"] = witness_vkey
        config["folders"] = "1"  # every row gets its folders as it is stored (see upgrade)
        with conn.cursor() as cur:
            cur.executemany(f'INSERT INTO "{schema}".config VALUES (%s, %s)', list(config.items()))
        created = format_time(datetime.now(UTC))
        meta = {"origin": origin, "vkey": org.verifier().vkey(), "created": created}
        PostgresStore.create(conn, f"{schema}_org", meta, owned=False)
        # Keys last, inside the transaction: if writing them fails, no tables are left behind.
        write_key_file(org_key, org)
        try:
            write_key_file(witness_key, witness)
        except BaseException:
            org_key.unlink()
            raise
    return Collector(schema, origin, org.verifier().vkey(), witness_vkey, keys)

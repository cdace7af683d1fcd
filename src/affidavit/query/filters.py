"""The filters every listing shares, the listings themselves, and read-only SQL.

``affidavit log``, ``sql``, ``export`` and the collector's query API select through
:class:`Filters` over the ``actions`` index.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from affidavit.errors import InputError
from affidavit.query.rules import path_clause, path_matches
from affidavit.store.sqlite import SqliteStore

COLUMNS = (
    "seq",
    "time",
    "kind",
    "source",
    "actor_user",
    "actor_email",
    "agent",
    "session_id",
    "tool_use_id",
    "tool",
    "path",
    "folder",
    "function",
    "before_sha256",
    "after_sha256",
    "size",
    "command",
    "corroborated",
    "erased",
    "leaf_hash",
)
PERSONAL = ("actor_user", "actor_email", "path", "folder", "function", "command")
GROUPS = {
    "folder": "folder",
    "function": "function",
    "actor": "coalesce(actor_email, actor_user)",
    "kind": "kind",
    "day": "substr(time, 1, 10)",
    "agent": "agent",
    "session": "session_id",
}
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, *, now: datetime) -> str:
    """A date, a datetime or a duration back from now (``30d``, ``12h``) as record time text."""
    m = _DURATION.fullmatch(text.strip())
    if m:
        moment = now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise InputError(
                f"{text!r} is not a date (2026-11-01), a datetime (2026-11-01T09:00:00Z) "
                "or a duration (30d, 12h, 15m)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters every listing shares; they combine with AND."""

    actor: str | None = None
    agent: str | None = None
    session: str | None = None
    kinds: tuple[str, ...] = ()
    path: str | None = None
    function: str | None = None
    tool: str | None = None
    since: str | None = None
    until: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        args: list[object] = []
        if self.actor:
            clauses.append("(actor_user = ? OR actor_email = ?)")
            args += [self.actor, self.actor]
        for column, value in (
            ("agent", self.agent),
            ("session_id", self.session),
            ("tool", self.tool),
            ("function", self.function),
        ):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if self.kinds:
            parts = []
            for kind in self.kinds:
                parts.append("(kind = ? OR kind LIKE ? ESCAPE '\\')")
                args += [kind, kind.replace("_", "\\_").replace("%", "\\%") + ".%"]
            clauses.append("(" + " OR ".join(parts) + ")")
        if self.path:
            sql, globs = path_clause(self.path)
            clauses.append(sql)
            args += globs
        if self.since:
            clauses.append("time >= ?")
            args.append(self.since)
        if self.until:
            clauses.append("time < ?")
            args.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def reader(store: SqliteStore) -> sqlite3.Connection:
    """The store's connection with ``path_matches`` registered for queries."""
    conn = store.connection
    conn.create_function(
        "path_matches", 2, lambda p, g: p is not None and path_matches(p, g), deterministic=True
    )
    return conn


def actions(store: SqliteStore, filters: Filters) -> tuple[list[str], Iterator[tuple[object, ...]]]:
    where, args = filters.where()
    cursor = reader(store).execute(f"SELECT * FROM actions{where} ORDER BY seq", args)
    return list(COLUMNS), _stream(cursor)


def totals(
    store: SqliteStore, filters: Filters, by: str
) -> tuple[list[str], Iterator[tuple[object, ...]]]:
    if by not in GROUPS:
        raise InputError(f"--by takes one of {', '.join(GROUPS)}")
    where, args = filters.where()
    expr = GROUPS[by]
    cursor = reader(store).execute(
        f"SELECT {expr} AS {by}, count(*) AS actions, min(time) AS first, max(time) AS last "
        f"FROM actions{where} GROUP BY 1 ORDER BY 2 DESC, 1",
        args,
    )
    return [by, "actions", "first", "last"], _stream(cursor)


def _stream(cursor: sqlite3.Cursor) -> Iterator[tuple[object, ...]]:
    while batch := cursor.fetchmany(2048):
        yield from batch


_WRITES = {
    sqlite3.SQLITE_INSERT,
    sqlite3.SQLITE_UPDATE,
    sqlite3.SQLITE_DELETE,
    sqlite3.SQLITE_ATTACH,
    sqlite3.SQLITE_DETACH,
    sqlite3.SQLITE_CREATE_TABLE,
    sqlite3.SQLITE_DROP_TABLE,
    sqlite3.SQLITE_CREATE_INDEX,
    sqlite3.SQLITE_DROP_INDEX,
    sqlite3.SQLITE_ALTER_TABLE,
    sqlite3.SQLITE_CREATE_VIEW,
    sqlite3.SQLITE_DROP_VIEW,
    sqlite3.SQLITE_CREATE_TRIGGER,
    sqlite3.SQLITE_DROP_TRIGGER,
    sqlite3.SQLITE_CREATE_TEMP_TABLE,
    sqlite3.SQLITE_TRANSACTION,
    sqlite3.SQLITE_PRAGMA,
    sqlite3.SQLITE_SAVEPOINT,
    sqlite3.SQLITE_CREATE_VTABLE,
    sqlite3.SQLITE_DROP_VTABLE,
}


def run_sql(store: SqliteStore, sql: str) -> tuple[list[str], Iterator[tuple[object, ...]]]:
    """Run one read-only statement; anything that would write (or attach, or set a pragma)
    is refused before it runs."""
    conn = reader(store)
    refused: list[str] = []

    def authorize(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
        if action in _WRITES:
            refused.append(arg1 or arg2 or "")
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorize)
    try:
        cursor = conn.execute(sql)
    except sqlite3.DatabaseError as e:
        if refused or "not authorized" in str(e):
            raise InputError(
                "affidavit sql is read-only: the statement would write or change the "
                "database and was refused"
            ) from e
        raise InputError(f"SQL error: {e}") from e
    except sqlite3.Warning as e:
        raise InputError(f"SQL error: {e} (one statement at a time)") from e
    finally:
        conn.set_authorizer(None)
    names = [d[0] for d in cursor.description or []]
    return names, _stream(cursor)

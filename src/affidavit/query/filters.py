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
from affidavit.query.rules import folder_clause, path_clause, path_matches
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

    def where(self, *, folder_index: bool = True) -> tuple[str, list[object]]:
        """The SQL condition and its arguments; ``folder_index=False`` leaves ``--path`` to
        the path GLOB alone (see :func:`folder_index_pays`)."""
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
            narrowed = folder_clause(globs) if folder_index else None
            if narrowed is not None:
                clauses.append(narrowed[0])
                args += narrowed[1]
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


def folder_index_pays(store: SqliteStore, filters: Filters) -> bool:
    """Whether ``--path`` should find its rows through the folder index: only while the
    folders that can match hold under an eighth of the rows. Each row read through an index
    is a random page read, several times the cost of a row of a scan in table order, and
    SQLite keeps no statistics to make this choice itself. The count reads the index alone.
    """
    if not filters.path:
        return True
    narrowed = folder_clause(path_clause(filters.path)[1])
    if narrowed is None:
        return True
    conn = store.connection
    rows = int(conn.execute("SELECT coalesce(max(seq), -1) + 1 FROM actions").fetchone()[0])
    sql = f"SELECT count(*) FROM actions WHERE {narrowed[0]}"
    matched = int(conn.execute(sql, narrowed[1]).fetchone()[0])
    return matched * 8 < rows


def actions(
    store: SqliteStore, filters: Filters, *, after: int | None = None, limit: int | None = None
) -> tuple[list[str], Iterator[tuple[object, ...]]]:
    """The matching rows in seq order; a page of them with ``after`` (the last seq of the
    page before: keyset paging, so page N costs what page 1 does) and ``limit``."""
    pays = folder_index_pays(store, filters)
    sql, args = actions_sql(filters, after=after, limit=limit, folder_index=pays)
    return list(COLUMNS), _stream(reader(store).execute(sql, args))


def actions_sql(
    filters: Filters,
    *,
    after: int | None = None,
    limit: int | None = None,
    folder_index: bool = True,
) -> tuple[str, list[object]]:
    """The statement :func:`actions` runs (tests/test_query_plans.py reads its plan)."""
    where, args = filters.where(folder_index=folder_index)
    if where:
        if after is not None:
            where += " AND seq > ?"
            args.append(after)
        body = in_seq_order(where, indexed=narrows(filters, folder_index=folder_index))
    elif after is not None:
        body = " WHERE seq > ? ORDER BY seq"  # a seek in the table itself
        args.append(after)
    else:
        body = " ORDER BY seq"
    if limit is not None:
        body += " LIMIT ?"
        args.append(limit)
    return f"SELECT * FROM actions{body}", args


def in_seq_order(where: str, *, indexed: bool = True) -> str:
    """``where`` and ``ORDER BY seq``, written so the order does not defeat the filters' index.

    Given ``WHERE time >= ? ORDER BY seq``, SQLite walks the whole table in seq order rather
    than the time index and a sort. Selecting the matching seqs first lets the filters use
    their index (covering: seqs are in every index), and the rows are then read by seq in
    order, with no sort. Filters that read no narrowing index (``indexed`` false, see
    :func:`narrows`) scan the table in seq order as it is, which the detour would only slow.
    """
    if not where or not indexed:
        return f"{where} ORDER BY seq"
    return f" WHERE seq IN (SELECT seq FROM actions{where}) ORDER BY seq"


def narrows(filters: Filters, *, folder_index: bool) -> bool:
    """Whether a filter can find its rows through an index that leaves most rows out: a time
    window, a function, a session, or --path through the folder index."""
    folder = folder_index and bool(filters.path)
    if folder and filters.path:
        folder = folder_clause(path_clause(filters.path)[1]) is not None
    return bool(filters.since or filters.until or filters.function or filters.session or folder)


def totals(
    store: SqliteStore, filters: Filters, by: str
) -> tuple[list[str], Iterator[tuple[object, ...]]]:
    if by not in GROUPS:
        raise InputError(f"--by takes one of {', '.join(GROUPS)}")
    sql, args = totals_sql(filters, by, folder_index=folder_index_pays(store, filters))
    return [by, "actions", "first", "last"], _stream(reader(store).execute(sql, args))


def totals_sql(filters: Filters, by: str, *, folder_index: bool = True) -> tuple[str, list[object]]:
    """The statement :func:`totals` runs (tests/test_query_plans.py reads its plan)."""
    if by not in GROUPS:
        raise InputError(f"--by takes one of {', '.join(GROUPS)}")
    where, args = filters.where(folder_index=folder_index)
    expr = GROUPS[by]
    if by == "actor":
        # Counted per (email, user) first, from the actions_actor index alone, then merged:
        # SQLite does not count an index on the coalesce() itself as covering, so grouping
        # by the expression directly would read every row of the table.
        sql = (
            "SELECT coalesce(actor_email, actor_user) AS actor, sum(n) AS actions, "
            "min(first) AS first, max(last) AS last FROM (SELECT actor_email, actor_user, "
            f"count(*) AS n, min(time) AS first, max(time) AS last FROM actions{where} "
            "GROUP BY actor_email, actor_user) GROUP BY 1 ORDER BY 2 DESC, 1"
        )
    else:
        sql = (
            f"SELECT {expr} AS {by}, count(*) AS actions, min(time) AS first, "
            f"max(time) AS last FROM actions{where} GROUP BY 1 ORDER BY 2 DESC, 1"
        )
    return sql, args


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

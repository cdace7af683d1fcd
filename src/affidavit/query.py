"""Who did what to which file, when: the ``actions`` table and the filters over it.

``actions`` is derived data: one row per record, flattened from the envelope and the payload
(see :data:`COLUMNS`), written by SQLite triggers in the same transaction as the record
(:mod:`affidavit.store.derived`) and checked row by row by ``affidavit verify``
(:mod:`affidavit.views`). The tree never covers it; its rows carry ``seq`` and
``leaf_hash`` so any row can be traced back to its proof. Erasing a record blanks every
payload-derived column of its row and sets ``erased``; the row stays.

Business functions (finance, HR, legal...) come from folder rules: ``(glob, function)``
pairs matched against the path, first match wins.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from affidavit.errors import InputError
from affidavit.store import derived
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
Rule = tuple[str, str]


def _dirname(path: str) -> str:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut] if cut > 0 else path[: cut + 1]


def function_of(path: str | None, rules: Sequence[Rule]) -> str | None:
    if not path:
        return None
    for pattern, function in rules:
        if path_matches(path, pattern):
            return function
    return None


def path_matches(path: str, pattern: str) -> bool:
    """A folder or glob: ``finance`` and ``finance/**`` match any path under a ``finance``
    folder; an absolute pattern matches from the root."""
    path = path.replace("\\", "/")
    pattern = pattern.replace("\\", "/").rstrip("/")
    if not any(c in pattern for c in "*?["):
        pattern += "/**"
    pattern = pattern.replace("**", "*")
    if pattern.startswith("/"):
        return fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern)


def _glob(pattern: str) -> str:
    """fnmatch syntax (``**`` and ``*`` alike, ``[!x]``) as SQLite GLOB syntax."""
    return pattern.replace("**", "*").replace("[!", "[^")


def path_clause(pattern: str) -> tuple[str, list[object]]:
    """The SQL for :func:`path_matches`, evaluated by SQLite's GLOB in C (a million rows in
    a fraction of a second, where a Python callback per row takes seconds). Windows paths
    are matched by the same pattern with backslashes, as GLOB has no escape character."""
    pattern = pattern.replace("\\", "/").rstrip("/")
    if not any(c in pattern for c in "*?["):
        pattern += "/**"
    globs = [_glob(pattern)] if pattern.startswith("/") else [_glob(pattern), "*/" + _glob(pattern)]
    globs += [g.replace("/", "\\") for g in globs if "/" in g]
    return "(" + " OR ".join(["path GLOB ?"] * len(globs)) + ")", list(globs)


def rules_in_force(store: SqliteStore) -> list[Rule]:
    """The folder → function rules of the affidavit.toml in force; if it cannot be read
    now, the rules the index was last built with (so a broken file never blanks them)."""
    from affidavit import config

    try:
        return config.load().function_rules
    except InputError:
        stored = store.meta("actions_rules")
        return [(str(a), str(b)) for a, b in json.loads(stored)] if stored else []


def rule_globs(rules: Sequence[Rule]) -> list[tuple[int, str, str]]:
    """The ``function_rules`` rows for ``rules``: (rule number, GLOB, function)."""
    out: list[tuple[int, str, str]] = []
    for number, (pattern, function) in enumerate(rules):
        _, globs = path_clause(pattern)
        out += [(number, str(g), function) for g in globs]
    return out


def refresh(store: SqliteStore, rules: Sequence[Rule] | None = None) -> int:
    """Bring the ``function`` column in line with the folder rules in force; returns the
    number of rows whose function was re-derived (0 when the rules did not change).

    The rows themselves need no refresh: SQLite triggers derive each one when its record
    is written (:mod:`affidavit.store.derived`). ``rules`` default to
    :func:`rules_in_force`, so every command sees the same ``function`` column.
    """
    if rules is None:
        rules = rules_in_force(store)
    fingerprint = json.dumps(list(rules))
    if store.meta("actions_rules") == fingerprint:
        return 0
    conn = store.connection
    store.begin()
    try:
        conn.execute("DELETE FROM function_rules")
        conn.executemany("INSERT INTO function_rules VALUES (?, ?, ?)", rule_globs(rules))
        changed = conn.execute(
            f"UPDATE actions SET function = {derived.function_sql('actions.path')} "
            "WHERE path IS NOT NULL OR function IS NOT NULL"
        ).rowcount
        store.set_meta("actions_rules", fingerprint)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return int(changed)


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


# -- reads for compliance, the report, evidence and export ------------------------------------
# Everything outside the store that needs the index asks here, so the index's SQL lives in one
# module; the records themselves are read through the log store (``store.records``).


def _column(name: str) -> str:
    if name not in COLUMNS:
        raise ValueError(f"actions has no column {name!r}")
    return name


def _narrowed(
    filters: Filters | None, source: str | None, not_source: str | None, live_only: bool
) -> tuple[str, list[object]]:
    where, args = (filters or Filters()).where()
    clauses = [where[len(" WHERE ") :]] if where else []
    if source is not None:
        clauses.append("source = ?")
        args.append(source)
    if not_source is not None:
        clauses.append("source != ?")
        args.append(not_source)
    if live_only:
        clauses.append("erased = 0")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def select(
    store: SqliteStore,
    columns: Sequence[str],
    filters: Filters | None = None,
    *,
    source: str | None = None,
    live_only: bool = False,
) -> Iterator[tuple[Any, ...]]:
    """``columns`` of the index rows that match, in seq order, streamed. ``source`` keeps
    one source's rows; ``live_only`` leaves out erased records."""
    names = ", ".join(_column(c) for c in columns)
    where, args = _narrowed(filters, source, None, live_only)
    return _stream(reader(store).execute(f"SELECT {names} FROM actions{where} ORDER BY seq", args))


def count(store: SqliteStore, filters: Filters | None = None) -> int:
    """How many index rows match ``filters`` (every record has one)."""
    where, args = (filters or Filters()).where()
    return int(reader(store).execute(f"SELECT count(*) FROM actions{where}", args).fetchone()[0])


def count_by(store: SqliteStore, column: str) -> list[tuple[Any, int]]:
    """``(value, rows)`` per value of ``column``, most rows first, then by value."""
    name = _column(column)
    rows = store.connection.execute(
        f"SELECT {name}, count(*) FROM actions GROUP BY {name} ORDER BY count(*) DESC, {name}"
    )
    return [(value, int(n)) for value, n in rows]


def last_indexed(store: SqliteStore) -> int:
    """The highest seq the index holds, -1 when it is empty."""
    return int(store.connection.execute("SELECT coalesce(max(seq), -1) FROM actions").fetchone()[0])


def first_time(store: SqliteStore, *, not_sources: Sequence[str] = ()) -> str | None:
    """The earliest record time, leaving out records of ``not_sources`` (e.g. imports)."""
    where = f" WHERE source NOT IN ({', '.join('?' * len(not_sources))})" if not_sources else ""
    row = store.connection.execute(f"SELECT min(time) FROM actions{where}", list(not_sources))
    value = row.fetchone()[0]
    return None if value is None else str(value)


def content_versions(store: SqliteStore) -> tuple[int, int]:
    """``(versions, kept)``: distinct file contents the file records name (before or after),
    and how many of them the content store holds. Reads ``blobs`` only to count matches."""
    versions, kept = store.connection.execute(
        "SELECT count(h), count(b.sha256) FROM ("
        " SELECT after_sha256 AS h FROM actions WHERE kind LIKE 'file.%' AND after_sha256 "
        " IS NOT NULL UNION SELECT before_sha256 FROM actions WHERE kind LIKE 'file.%' AND "
        " before_sha256 IS NOT NULL) LEFT JOIN blobs b ON b.sha256 = h"
    ).fetchone()
    return int(versions), int(kept)


def mcp_tools(store: SqliteStore) -> list[tuple[str, int, int]]:
    """``(tool, first seq, calls)`` per MCP tool (``mcp__server__tool``), intents left out."""
    rows = store.connection.execute(
        "SELECT tool, min(seq), count(*) FROM actions WHERE tool LIKE 'mcp\\_\\_%' ESCAPE '\\' "
        "AND kind != 'tool.intent' GROUP BY tool"
    )
    return [(str(tool), int(seq), int(calls)) for tool, seq, calls in rows]


_FILE_WORK = "kind LIKE 'file.%' AND source != ? AND seq NOT IN ({})"


def _file_work(not_source: str, skip: Sequence[int]) -> tuple[str, list[object]]:
    return _FILE_WORK.format(",".join("?" * len(skip))), [not_source, *skip]


def file_activity(
    store: SqliteStore, *, not_source: str, skip: Sequence[int] = ()
) -> list[tuple[str | None, str | None, str, int]]:
    """``(function, folder, day, actions)`` of live file records with a path, per day,
    leaving out ``not_source``'s records and the seqs in ``skip``."""
    work, args = _file_work(not_source, skip)
    rows = store.connection.execute(
        "SELECT function, folder, substr(time, 1, 10), count(*) FROM actions "
        f"WHERE path IS NOT NULL AND erased = 0 AND {work} GROUP BY 1, 2, 3",
        args,
    )
    return [(fn, folder, str(day), int(n)) for fn, folder, day, n in rows]


def file_totals(
    store: SqliteStore, by: str, *, not_source: str, skip: Sequence[int] = ()
) -> list[tuple[str | None, int]]:
    """``(value, actions)`` of file records per ``by`` (``function`` or ``folder``), most
    first; erased records count (their path is gone, not the fact that they happened)."""
    name = _column(by)
    work, args = _file_work(not_source, skip)
    rows = store.connection.execute(
        f"SELECT {name}, count(*) FROM actions WHERE (erased = 1 OR path IS NOT NULL) "
        f"AND {work} GROUP BY 1 ORDER BY count(*) DESC, 1",
        args,
    )
    return [(value, int(n)) for value, n in rows]


def file_rows(
    store: SqliteStore,
    by: str,
    value: str | None,
    *,
    not_source: str,
    skip: Sequence[int] = (),
    limit: int,
) -> list[tuple[Any, ...]]:
    """The newest ``limit`` file records whose ``by`` is ``value``: ``(seq, time, actor,
    agent, session, kind, tool, path, erased)``."""
    name = _column(by)
    work, args = _file_work(not_source, skip)
    match = f"{name} IS ?" if value is None else f"{name} = ?"
    return store.connection.execute(
        "SELECT seq, time, coalesce(actor_email, actor_user), agent, session_id, kind, tool, "
        f"path, erased FROM actions WHERE (erased = 1 OR path IS NOT NULL) AND {work} "
        f"AND {match} ORDER BY seq DESC LIMIT ?",
        [*args, value, limit],
    ).fetchall()

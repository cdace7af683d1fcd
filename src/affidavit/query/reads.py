"""Reads of the ``actions`` index for compliance, the report, evidence packs and exports.

They live here, beside the table's owner, so no module above writes SQL of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from affidavit.query.filters import (
    COLUMNS,
    Filters,
    _stream,
    folder_index_pays,
    in_seq_order,
    narrows,
    reader,
)
from affidavit.store.sqlite import SqliteStore

# -- reads for compliance, the report, evidence and export ------------------------------------
# Everything outside the store that needs the index asks here, so the index's SQL lives in one
# module; the records themselves are read through the log store (``store.records``).


def _column(name: str) -> str:
    if name not in COLUMNS:
        raise ValueError(f"actions has no column {name!r}")
    return name


def _narrowed(
    filters: Filters | None,
    source: str | None,
    not_source: str | None,
    live_only: bool,
    *,
    folder_index: bool,
) -> tuple[str, list[object]]:
    where, args = (filters or Filters()).where(folder_index=folder_index)
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
    filters = filters or Filters()
    pays = folder_index_pays(store, filters)
    where, args = _narrowed(filters, source, None, live_only, folder_index=pays)
    order = in_seq_order(where, indexed=narrows(filters, folder_index=pays))
    sql = f"SELECT {names} FROM actions{order}"
    return _stream(reader(store).execute(sql, args))


def count(store: SqliteStore, filters: Filters | None = None) -> int:
    """How many index rows match ``filters`` (every record has one)."""
    filters = filters or Filters()
    where, args = filters.where(folder_index=folder_index_pays(store, filters))
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

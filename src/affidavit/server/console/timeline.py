"""The timeline: every record the organisation holds, newest first, with the filters of
``affidavit log`` in the URL, paged, counted per business function and folder, and the
same view as CSV.

The records come from :func:`affidavit.server.records.page` (the query API's reader, read
backwards here), so the console and ``GET /api/v1/records`` never disagree on what a filter
means. URL parameters: ``person`` (user name or email), ``device`` (an endpoint origin),
``session``, ``folder`` (a folder or glob, as ``log --path``), ``function``, ``tool``,
``kind`` (repeatable, prefix: ``file`` is ``file.*``), ``since`` and ``until`` (ISO 8601;
a time without a zone is UTC) and ``before`` (the paging cursor, an org seq).
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from affidavit.errors import InputError
from affidavit.query.rules import function_of
from affidavit.record import format_time
from affidavit.server import records

PAGE = 50
COUNTS_OVER = 5000
CSV_MAX = 200_000
FIELDS = ("person", "device", "session", "folder", "function", "tool", "since", "until")
_TO_API = {"person": "actor", "folder": "path", "device": "device", "session": "session"}


@dataclass(frozen=True, slots=True)
class View:
    """The filters of one timeline view, as the URL gives them."""

    values: dict[str, str]
    kinds: tuple[str, ...]
    before: int = -1

    def api_filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {_TO_API.get(k, k): v for k, v in self.values.items() if v}
        out.pop("function", None)
        for key in ("since", "until"):
            if key in out:
                out[key] = _time(out[key], key)
        out["kind"] = list(self.kinds)
        return out

    def query(self, **change: str | int | None) -> list[tuple[str, str]]:
        """The URL query of this view with ``change`` applied (None drops a key)."""
        pairs = [(k, v) for k, v in self.values.items() if v and k not in change]
        pairs += [("kind", k) for k in self.kinds if "kind" not in change]
        pairs += [(k, str(v)) for k, v in change.items() if v is not None and k != "kind"]
        return pairs


def parse(params: Mapping[str, Sequence[str]]) -> View:
    values = {}
    for name in FIELDS:
        value = (params.get(name) or [""])[-1].strip()
        if len(value) > 500:
            raise InputError(f"filter {name}: at most 500 characters")
        values[name] = value
    kinds = tuple(k.strip() for k in params.get("kind", []) if k.strip())
    before = (params.get("before") or ["-1"])[-1]
    if not before.lstrip("-").isdigit():
        raise InputError("before: an org seq (a whole number)")
    return View(values, kinds, int(before))


def _time(text: str, name: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"filter {name}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class Timeline:
    rows: list[dict[str, Any]]
    next_before: int | None
    functions: list[tuple[str, int]] = field(default_factory=list)
    folders: list[tuple[str, int]] = field(default_factory=list)
    counted: int = 0
    sampled: bool = False


def _function_test(view: View, rules: Sequence[tuple[str, str]]) -> Any:
    wanted = view.values.get("function")
    if not wanted:
        return None
    if not rules:
        raise InputError("function: the console has no folder rules (AFFIDAVIT_CONSOLE_POLICY)")
    return lambda r: function_of(r["path"], rules) == wanted


def load(
    conn: psycopg.Connection[Any], schema: str, view: View, rules: Sequence[tuple[str, str]]
) -> Timeline:
    filters, also = view.api_filters(), _function_test(view, rules)
    rows, next_before = records.page(
        conn, schema, filters, view.before, PAGE, newest_first=True, also=also
    )
    for row in rows:
        row["function"] = function_of(row["path"], rules) if rules else None
        row["folder"] = folder_of(row["path"])
    # Counts come from a bounded sample (the newest COUNTS_OVER records the view's envelope
    # filters select), so a sparse view over a million records still renders in time.
    sample = None if also else records.newest_paths(conn, schema, filters, COUNTS_OVER)
    if sample is not None:
        paths, more = sample
    else:  # a path glob or a function: only Python can tell which records match
        found, cursor = records.page(
            conn, schema, filters, -1, COUNTS_OVER, newest_first=True, also=also
        )
        paths, more = [r["path"] for r in found], cursor is not None
    functions: Counter[str] = Counter()
    folders: Counter[str] = Counter()
    for path in paths:
        if path:
            folders[folder_of(path) or "/"] += 1
            if rules:
                functions[function_of(path, rules) or "(none)"] += 1
    return Timeline(
        rows,
        next_before,
        functions.most_common(12),
        folders.most_common(12),
        len(paths),
        more,
    )


def folder_of(path: str | None) -> str | None:
    return posixpath.dirname(path.replace("\\", "/")) if path else None


def csv_records(
    conn: psycopg.Connection[Any], schema: str, view: View, rules: Sequence[tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    """Every record of the view (at most :data:`CSV_MAX`), newest first."""
    filters, also = view.api_filters(), _function_test(view, rules)
    cursor, sent = view.before, 0
    while sent < CSV_MAX:
        rows, cursor_next = records.page(
            conn, schema, filters, cursor, records.MAX_LIMIT, newest_first=True, also=also
        )
        for row in rows:
            row["function"] = function_of(row["path"], rules) if rules else None
            yield row
        sent += len(rows)
        if cursor_next is None:
            return
        cursor = cursor_next

"""Exports for SIEMs and analysts: OCSF, ECS, CEF, CSV, JSON Lines and Parquet.

One :class:`Exporter` per format (``ocsf``, ``ecs``, ``cef``, ``csv``, ``jsonl``, ``parquet``),
each a module of this package. They all read the same stream of :class:`Row` (one per
record: the flattened ``actions`` columns of :mod:`affidavit.query` plus the payload JSON),
selected by the same :class:`~affidavit.query.Filters` as ``affidavit log``, in seq order.

Every exported row carries the record's ``seq`` and ``leaf_hash`` (hex, as in ``actions``),
so a row in a SIEM leads back to ``affidavit prove SEQ``. Erased records are exported too,
with their envelope fields only, marked erased: a gap in the seqs is then never an erasure.

Memory stays flat whatever the ledger size: rows stream from SQLite in batches and each
format writes as it goes. :func:`write_file` writes atomically (temp file in the same
folder, fsync, rename) and never replaces an existing file unless told to.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

from affidavit import query
from affidavit.errors import InputError
from affidavit.files import atomic_writer
from affidavit.store.damage import damaged
from affidavit.store.log import Row as LogRow
from affidavit.store.sqlite import SqliteStore

Progress = Callable[[int], None]

PRODUCT = "Affidavit"
# Agent products whose vendor is known, for the formats that name one.
VENDORS = {"claude-code": "Anthropic", "cowork": "Anthropic"}


class Row(NamedTuple):
    """One record: the ``actions`` columns (see :data:`affidavit.query.COLUMNS`) + payload."""

    seq: int
    time: str
    kind: str
    source: str
    actor_user: str | None
    actor_email: str | None
    agent: str | None
    session_id: str | None
    tool_use_id: str | None
    tool: str | None
    path: str | None
    folder: str | None
    function: str | None
    before_sha256: str | None
    after_sha256: str | None
    size: int | None
    command: str | None
    corroborated: int
    erased: int
    leaf_hash: str
    payload: bytes | None  # canonical JSON; None once erased
    # The payload parsed, once, by the reader (None once erased, or when not given). Shared:
    # an exporter copies what it changes.
    body: Any = None


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What an export wrote. ``unmapped_by_kind`` counts records that the format has no
    specific mapping for (written in its generic form); ``erased`` those written as
    envelope only."""

    written: int
    unmapped_by_kind: Mapping[str, int] = field(default_factory=dict)
    erased: int = 0

    @property
    def unmapped(self) -> int:
        return sum(self.unmapped_by_kind.values())


class Exporter(Protocol):
    """One export format. ``write`` MUST stream: constant memory whatever ``rows`` holds."""

    name: str
    suffix: str

    def write(self, rows: Iterable[Row], out: IO[bytes]) -> ExportReport: ...


# name → (module, class); modules load on demand, so pyarrow is only needed for parquet.
FORMATS = {
    "ocsf": ("affidavit.export.ocsf", "OcsfExporter"),
    "ecs": ("affidavit.export.ecs", "EcsExporter"),
    "cef": ("affidavit.export.cef", "CefExporter"),
    "csv": ("affidavit.export.tabular", "CsvExporter"),
    "jsonl": ("affidavit.export.tabular", "JsonlExporter"),
    "parquet": ("affidavit.export.parquet", "ParquetExporter"),
}


def product_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("affidavit")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def exporter(name: str, *, origin: str) -> Exporter:
    """The exporter for format ``name``; ``origin`` names the ledger in the exported rows.

    Raises :class:`InputError` for an unknown format or a missing optional dependency.
    """
    if name not in FORMATS:
        raise InputError(f"unknown export format {name!r}; choose one of {', '.join(FORMATS)}")
    module, cls = FORMATS[name]
    made: Exporter = getattr(importlib.import_module(module), cls)(
        origin=origin, version=product_version()
    )
    return made


# -- reading --------------------------------------------------------------------------------


def count_rows(store: SqliteStore, filters: query.Filters) -> int:
    return query.count(store, filters)


_RUN = 2048


def _with_records(
    store: SqliteStore, selected: Iterator[tuple[Any, ...]]
) -> Iterator[tuple[tuple[Any, ...], LogRow]]:
    """Each selected index row beside its record, read through the log store a run of
    seqs at a time (one range read per run of neighbours, not one query per record)."""
    batch: list[tuple[Any, ...]] = []

    def flush() -> Iterator[tuple[tuple[Any, ...], LogRow]]:
        first, last = batch[0][0], batch[-1][0]
        wanted = {row[0]: row for row in batch}
        if last - first < 4 * len(batch):  # dense: one range read
            found = {r[0]: r for r in store.records(first, last + 1) if r[0] in wanted}
        else:
            found = {s: r for s in wanted if (r := store.record(s)) is not None}
        for row in batch:
            record = found.get(row[0])
            if record is None:
                raise damaged(
                    store.path, f"record {row[0]}, listed in the index, does not read back"
                )
            yield row, record
        batch.clear()

    for row in selected:
        batch.append(row)
        if len(batch) == _RUN:
            yield from flush()
    if batch:
        yield from flush()


def read_rows(
    store: SqliteStore, filters: query.Filters, rules: Sequence[query.Rule] = ()
) -> Iterator[Row]:
    """Matching records in seq order, streamed.

    The index only selects: every field written is taken from the record's leaf and its
    committed payload, each checked (leaf hash, envelope, commitment) as it is read
    (:func:`affidavit.views.committed_row`), so an edited index cannot change what an
    export says. A record the index lists but the store cannot read raises.
    """
    from affidavit.views import committed_row

    cache: dict[str, str | None] = {}

    def function_of(path: str) -> str | None:
        if path not in cache:
            if len(cache) > 65_536:
                cache.clear()
            cache[path] = query.function_of(path, rules)
        return cache[path]

    # One read snapshot: the index and the records are read by two statements, and a record
    # erased between them must not make the two disagree.
    with store.snapshot():
        selected = query.select(store, ("seq", "corroborated"), filters)
        for (seq, corroborated), (_, leaf, leaf_hash, salt, payload) in _with_records(
            store, selected
        ):
            row, body = committed_row(seq, leaf, leaf_hash, salt, payload, function_of)
            yield Row._make((*row[:-3], corroborated, *row[-2:], payload, body))


def _reporting(rows: Iterator[Row], progress: Progress) -> Iterator[Row]:
    done = 0
    for row in rows:
        yield row
        done += 1
        if not done & 0xFFF:
            progress(done)
    progress(done)


def write_file(
    store: SqliteStore,
    filters: query.Filters,
    fmt: Exporter,
    out: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
    rules: Sequence[query.Rule] = (),
) -> ExportReport:
    """Export the matching records to ``out`` atomically: a temp file beside it, fsync,
    rename. An existing ``out`` is kept unless ``force``; a failed export leaves no file.
    ``rules`` are the folder → function rules the ``actions`` index is refreshed with."""
    if out.exists() and not force:
        raise InputError(f"{out} exists; use --force to overwrite it")
    if out.is_dir():
        raise InputError(f"{out} is a folder; give a file name")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {out}: folder {folder} does not exist")
    query.refresh(store, rules)
    rows = read_rows(store, filters, rules)
    if progress is not None:
        rows = _reporting(rows, progress)
    try:
        with atomic_writer(out, exclusive=not force) as f:
            report = fmt.write(rows, f)
    except FileExistsError:
        raise InputError(f"{out} appeared during the export; use --force to overwrite it") from None
    return report


# -- helpers the formats share --------------------------------------------------------------


class Lines:
    """Text lines to a binary stream, joined and encoded in batches (far fewer writes)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._buffer: list[str] = []

    def add(self, line: str) -> None:
        self._buffer.append(line)
        if len(self._buffer) >= 512:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._out.write("".join(self._buffer).encode("utf-8"))
            self._buffer.clear()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class EpochMs:
    """Record time text → epoch milliseconds, fast for the ``format_time`` form.

    Records arrive in seq order, so consecutive times mostly share their second: the
    parsed second is kept and only the milliseconds are read from the text.
    """

    def __init__(self) -> None:
        self._second = ""
        self._base = 0

    def __call__(self, text: str) -> int:
        if len(text) == 27 and text[19] == "." and text[26] == "Z":
            second = text[:19]
            if second != self._second:
                moment = datetime.fromisoformat(second).replace(tzinfo=UTC)
                self._base = (moment - _EPOCH) // _MS
                self._second = second
            return self._base + int(text[20:23])
        return (datetime.fromisoformat(text) - _EPOCH) // _MS


FILE_ACTIONS = {
    "file.create": "create",
    "file.read": "read",
    "file.update": "update",
    "file.delete": "delete",
    "file.rename": "rename",
}


def file_action(kind: str, file: Mapping[str, object]) -> str:
    """create, read, update, delete or rename; a ``file.restore`` is named by its effect."""
    action = FILE_ACTIONS.get(kind)
    if action is not None:
        return action
    if file.get("old_path"):
        return "rename"
    if file.get("after_sha256") is None:
        return "delete"
    return "create" if file.get("before_sha256") is None else "update"


def basename(path: str) -> str:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[cut + 1 :] if cut >= 0 else path


def payload_copy(row: Row) -> dict[str, Any]:
    """The row's payload as a dict its caller may change at the top level (not below): a
    copy of what the reader parsed, or parsed now for a row made without it."""
    from affidavit.views import load_payload

    body = row.body if row.body is not None or row.payload is None else load_payload(row.payload)
    return dict(body) if type(body) is dict else {}


def section(payload: Mapping[str, object], name: str) -> dict[str, object]:
    """A payload section as a dict (``{}`` when absent or not an object)."""
    value = payload.get(name)
    return value if isinstance(value, dict) else {}


def text_of(mapping: Mapping[str, object], name: str) -> str | None:
    value = mapping.get(name)
    return value if isinstance(value, str) and value else None


def int_of(mapping: Mapping[str, object], name: str) -> int | None:
    value = mapping.get(name)
    return value if type(value) is int else None

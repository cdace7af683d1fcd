"""Apache Parquet through pyarrow, an optional extra: ``pip install 'affidavit[parquet]'``.

The columns of the CSV export (:data:`affidavit.query.COLUMNS`), typed: ``seq`` and
``size`` int64, ``time`` timestamp (microseconds, UTC), ``corroborated`` and ``erased``
bool, the rest strings; plus ``payload``, the stored payload JSON as a string (null once
erased), so nothing is lost for DuckDB, Spark or pandas (``json_extract(payload, ...)``).
Rows are written in row groups of :data:`ROW_GROUP` records, zstd-compressed, so memory
stays flat whatever the ledger size (about 180 MB at peak, half of it pyarrow's own code).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, Any

from affidavit import query
from affidavit.errors import InputError
from affidavit.export import ExportReport, Row

# Rows are converted CHUNK at a time and written in row groups of ROW_GROUP rows: memory
# holds one row group in Arrow form (about 1.3 KB a record) plus one chunk of Python objects.
CHUNK = 2_048
ROW_GROUP = 8_192


def _pyarrow() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, or an error that names the extra to install."""
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError as e:
        raise InputError(
            "the parquet format needs pyarrow: install affidavit[parquet] "
            "(pip install 'affidavit[parquet]')"
        ) from e


class ParquetExporter:
    name = "parquet"
    suffix = ".parquet"

    def __init__(self, *, origin: str, version: str) -> None:
        self.origin = origin
        self._pa, self._pq = _pyarrow()  # fail before any file is made
        pa = self._pa
        required = ("seq", "time", "kind", "source", "erased", "leaf_hash")
        fields = [pa.field(n, _type(pa, n), nullable=n not in required) for n in query.COLUMNS]
        fields.append(pa.field("payload", pa.string()))
        meta = {b"affidavit.origin": origin.encode("utf-8"), b"affidavit.version": version.encode()}
        self.schema = pa.schema(fields, metadata=meta)

    def write(self, rows: Iterable[Row], out: IO[bytes]) -> ExportReport:
        pa = self._pa
        written = erased = 0
        pending: list[Any] = []  # converted batches of the row group being filled
        with self._pq.ParquetWriter(out, self.schema, compression="zstd") as writer:
            for batch in _batches(iter(rows)):
                pending.append(self._convert(batch))
                written += len(batch)
                erased += sum(1 for row in batch if row.payload is None)
                if len(pending) * CHUNK >= ROW_GROUP:
                    writer.write_table(pa.Table.from_batches(pending))
                    pending.clear()
            if pending:
                writer.write_table(pa.Table.from_batches(pending))
        return ExportReport(written, {}, erased)

    def _convert(self, batch: list[Row]) -> Any:
        """Rows → one Arrow record batch (Python objects live for one chunk only)."""
        pa = self._pa
        arrays = []
        width = len(self.schema)  # the parsed body that follows the payload is not a column
        columns = zip(*(row[:width] for row in batch), strict=True)
        for field, values in zip(self.schema, columns, strict=True):
            if field.name == "time":
                arrays.append(pa.array(values, pa.string()).cast(field.type))
            elif field.name in ("corroborated", "erased"):
                arrays.append(pa.array([bool(v) for v in values], field.type))
            elif field.name == "payload":
                texts = [None if v is None else v.decode("utf-8") for v in values]
                arrays.append(pa.array(texts, field.type))
            else:
                arrays.append(pa.array(values, field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _type(pa: Any, name: str) -> Any:
    if name == "time":
        return pa.timestamp("us", tz="UTC")
    if name in ("seq", "size"):
        return pa.int64()
    if name in ("corroborated", "erased"):
        return pa.bool_()
    return pa.string()


def _batches(rows: Iterator[Row]) -> Iterator[list[Row]]:
    while batch := list(islice(rows, CHUNK)):
        yield batch

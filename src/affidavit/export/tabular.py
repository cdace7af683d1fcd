"""Affidavit's own shapes: CSV (the ``actions`` columns) and JSON Lines (the payload).

* ``csv``: a header, then one row per record with the columns of ``affidavit log``
  (:data:`affidavit.query.COLUMNS`: seq, time, kind, ..., erased, leaf_hash); RFC 4180
  quoting, CRLF line ends, UTF-8. Values are written as captured: a spreadsheet may treat
  agent-written text that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, so open
  the file as text, or import it, rather than double-clicking it.
* ``jsonl``: one object per record, ``{"seq", "leaf_hash", "time", "kind", "source",
  "erased", "payload"}``, the payload exactly as stored (the README's payload shape, ``raw``
  included); ``null`` once erased.

Nothing is mapped away, so neither format reports unmapped records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import IO

from affidavit import query
from affidavit.export import ExportReport, Lines, Row

_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode
_WIDTH = len(query.COLUMNS)


class CsvExporter:
    name = "csv"
    suffix = ".csv"

    def __init__(self, *, origin: str, version: str) -> None:
        self.origin = origin

    def write(self, rows: Iterable[Row], out: IO[bytes]) -> ExportReport:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        written = erased = 0
        try:
            writer = csv.writer(text)
            writer.writerow(query.COLUMNS)
            for row in rows:
                writer.writerow(row[:_WIDTH])
                written += 1
                erased += row.erased
        finally:
            text.flush()
            text.detach()  # the caller owns ``out``: leave it open
        return ExportReport(written, {}, erased)


class JsonlExporter:
    name = "jsonl"
    suffix = ".jsonl"

    def __init__(self, *, origin: str, version: str) -> None:
        self.origin = origin

    def write(self, rows: Iterable[Row], out: IO[bytes]) -> ExportReport:
        lines = Lines(out)
        written = erased = 0
        for row in rows:
            head = {
                "seq": row.seq,
                "leaf_hash": row.leaf_hash,
                "time": row.time,
                "kind": row.kind,
                "source": row.source,
                "erased": row.payload is None,
            }
            # The stored payload is already canonical JSON: splice it in, unparsed.
            body = "null" if row.payload is None else row.payload.decode("utf-8")
            lines.add(f'{_encode(head)[:-1]},"payload":{body}}}\n')
            written += 1
            erased += row.payload is None
        lines.flush()
        return ExportReport(written, {}, erased)

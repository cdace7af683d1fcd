"""Rows read straight from an SQLite file's pages, for when its b-tree can no longer lead to
them (https://sqlite.org/fileformat2.html, sections 1.6 and 2.1).

A truncated file or a torn interior page cuts SQLite off from every leaf page below it,
although those pages are intact. :func:`table_leaf_rows` walks every page of the file and
decodes the cells of each table-leaf page, so :mod:`affidavit.salvage` can still find
records there. Nothing here knows which table a page belongs to: the caller recognises its
rows (a record's leaf hashes to its stored leaf hash, which no other row does). Only the
part of a row stored on its own page is decoded; a column that spills to an overflow page
is returned as None. Pages no longer in use may still hold old rows; for a ledger, whose
leaves never change, an old copy is the same row.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

__all__ = ["table_leaf_rows"]

Value = int | float | bytes | str | None

_TABLE_LEAF = 0x0D
_INT_SIZES = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}


def table_leaf_rows(path: str | os.PathLike[str]) -> Iterator[tuple[int, list[Value]]]:
    """(rowid, columns) of every cell on every table-leaf page of the file at ``path``."""
    with open(path, "rb") as f:
        header = f.read(100)
        if len(header) < 100:
            return
        size = struct.unpack(">H", header[16:18])[0]
        size = 65536 if size == 1 else size
        if size < 512 or size & (size - 1):
            return
        usable = size - header[20]
        f.seek(0)
        number = 0
        while page := f.read(size):
            number += 1
            yield from _cells(page, 100 if number == 1 else 0, usable)


def _cells(page: bytes, head: int, usable: int) -> Iterator[tuple[int, list[Value]]]:
    if len(page) < head + 8 or page[head] != _TABLE_LEAF:
        return
    count = struct.unpack(">H", page[head + 3 : head + 5])[0]
    for i in range(count):
        at = head + 8 + 2 * i
        if at + 2 > len(page):
            return
        (offset,) = struct.unpack(">H", page[at : at + 2])
        try:
            size, offset = _varint(page, offset)
            rowid, offset = _varint(page, offset)
            local = _local_size(size, usable)
            yield rowid, _record(page[offset : offset + local], complete=local == size)
        except (IndexError, ValueError, struct.error):
            continue  # a damaged cell: skip it, keep the others


def _local_size(payload: int, usable: int) -> int:
    """How much of a table-leaf cell's payload is on its page (fileformat2 section 1.6)."""
    most = usable - 35
    if payload <= most:
        return payload
    least = (usable - 12) * 32 // 255 - 23
    local = least + (payload - least) % (usable - 4)
    return local if local <= most else least


def _record(data: bytes, *, complete: bool) -> list[Value]:
    """The columns of a record; those past the end of ``data`` (on overflow pages) are None."""
    header_size, at = _varint(data, 0)
    if header_size > len(data):
        raise ValueError("record header past the cell")
    types = []
    while at < header_size:
        serial, at = _varint(data, at)
        types.append(serial)
    out: list[Value] = []
    body = header_size
    for serial in types:
        width = _width(serial)
        if body + width > len(data):
            if complete:
                raise ValueError("column past the end of the record")
            out.append(None)
            body += width
            continue
        raw = data[body : body + width]
        body += width
        if serial == 0:
            out.append(None)
        elif serial in _INT_SIZES:
            out.append(int.from_bytes(raw, "big", signed=True))
        elif serial == 7:
            out.append(struct.unpack(">d", raw)[0])
        elif serial in (8, 9):
            out.append(serial - 8)
        elif serial >= 12 and serial % 2 == 0:
            out.append(bytes(raw))
        elif serial >= 13:
            out.append(raw.decode("utf-8", "replace"))
        else:
            raise ValueError(f"reserved serial type {serial}")
    return out


def _width(serial: int) -> int:
    if serial in _INT_SIZES:
        return _INT_SIZES[serial]
    if serial == 7:
        return 8
    if serial < 12:
        return 0
    return (serial - 12) // 2 if serial % 2 == 0 else (serial - 13) // 2


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    return (value << 8) | data[at + 8], at + 9

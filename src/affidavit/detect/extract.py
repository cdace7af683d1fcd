"""Text out of files for the data scan: ``(location, text)`` pieces.

``line 12`` for text (the line a piece starts at; findings carry the line of each match),
``B4`` for CSV cells, ``Sheet1!B4`` for XLSX, ``paragraph 3`` / ``table 1 B2`` for DOCX,
``page 3`` for PDF. XLSX, DOCX and PDF need the ``affidavit[scan]`` extra (openpyxl,
python-docx, pypdf); without it those files are reported as unreadable, naming the extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from affidavit.errors import InputError

MAX_BYTES = 50 * 1024 * 1024
CHUNK_CHARS = 1 << 20
_BINARY = frozenset((
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".ico", ".webp", ".heic", ".mp3",
    ".mp4", ".mov", ".avi", ".mkv", ".wav", ".flac", ".zip", ".gz", ".tgz", ".bz2", ".xz",
    ".7z", ".rar", ".zst", ".tar", ".jar", ".whl", ".exe", ".dll", ".so", ".dylib", ".o",
    ".a", ".class", ".pyc", ".bin", ".dat", ".iso", ".dmg", ".sqlite", ".db", ".woff",
    ".woff2", ".ttf", ".otf", ".psd",
))  # fmt: skip
_UNSUPPORTED = frozenset((
    ".xls", ".doc", ".ppt", ".pptx", ".odt", ".ods", ".odp", ".pages", ".numbers", ".key",
))  # fmt: skip


class SkippedFile(InputError):
    """The file is not text we can read (binary, unsupported, too large); counted, not an
    error."""


class Piece(NamedTuple):
    location: str
    text: str
    context: str = ""  # a column header: keyword rules may read it
    line: int | None = None  # a text piece: the line it starts at
    warning: str | None = None  # a problem worth reporting; the piece carries no text


def _needs(suffix: str, library: str) -> InputError:
    return InputError(f"reading {suffix} files needs {library}: pip install 'affidavit[scan]'")


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _encoding(head: bytes) -> str | None:
    """The encoding to read a file with, or None when it looks binary (NUL bytes)."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return None if b"\x00" in head else "utf-8-sig"


def _text(path: Path, encoding: str, skip: int = 0) -> Iterator[Piece]:
    # errors="replace": a stray byte in a log must not hide the rest of the file.
    with open(path, encoding=encoding, errors="replace") as f:
        buf: list[str] = []
        size, first = 0, skip + 1
        for number, line in enumerate(f, start=1):
            if number <= skip:
                continue
            buf.append(line)
            size += len(line)
            if size >= CHUNK_CHARS:
                yield Piece(f"line {first}", "".join(buf), line=first)
                buf, size, first = [], 0, number + 1
        if buf:
            yield Piece(f"line {first}", "".join(buf), line=first)


def _csv(path: Path, encoding: str) -> Iterator[Piece]:
    import contextlib
    import csv

    with open(path, encoding=encoding, errors="replace", newline="") as f:
        sample = f.read(8192)
        f.seek(0)
        dialect: type[csv.Dialect] | csv.Dialect = (
            csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
        )
        with contextlib.suppress(csv.Error):  # one column, or too irregular: the default
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        reader = csv.reader(f, dialect)
        header: list[str] = []
        try:
            for r, row in enumerate(reader, start=1):
                if r == 1:
                    header = row
                for c, cell in enumerate(row):
                    if cell.strip():
                        context = header[c] if r > 1 and c < len(header) else ""
                        yield Piece(f"{_column(c)}{r}", cell, context)
        except csv.Error as e:
            line = reader.line_num
            yield Piece("", "", warning=f"line {line}: not CSV ({e}); read on as text")
            yield from _text(path, encoding, skip=max(0, line - 1))


def _xlsx(path: Path) -> Iterator[Piece]:
    try:
        import openpyxl
    except ImportError as e:
        raise _needs(path.suffix, "openpyxl") from e
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            header: Sequence[Any] = ()
            for r, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                if r == 1:
                    header = row
                for c, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    label = header[c] if r > 1 and c < len(header) else None
                    context = label if isinstance(label, str) else ""
                    yield Piece(f"{sheet.title}!{_column(c)}{r}", str(value), context)
    finally:
        book.close()


def _docx(path: Path) -> Iterator[Piece]:
    try:
        import docx
    except ImportError as e:
        raise _needs(path.suffix, "python-docx") from e
    document = docx.Document(str(path))
    for i, paragraph in enumerate(document.paragraphs, start=1):
        if paragraph.text.strip():
            yield Piece(f"paragraph {i}", paragraph.text)
    for t, table in enumerate(document.tables, start=1):
        header: list[str] = []
        for r, row in enumerate(table.rows, start=1):
            cells = [cell.text for cell in row.cells]
            if r == 1:
                header = cells
            for c, text in enumerate(cells):
                if text.strip():
                    context = header[c] if r > 1 and c < len(header) else ""
                    yield Piece(f"table {t} {_column(c)}{r}", text, context)
    for s, section in enumerate(document.sections, start=1):
        for part, name in ((section.header, "header"), (section.footer, "footer")):
            text = "\n".join(p.text for p in part.paragraphs)
            if text.strip():
                yield Piece(f"section {s} {name}", text)


def _pdf(path: Path) -> Iterator[Piece]:
    try:
        import pypdf
    except ImportError as e:
        raise _needs(path.suffix, "pypdf") from e
    reader = pypdf.PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise InputError("the PDF is encrypted with a password; its text cannot be read")
    for i, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        if text.strip():
            yield Piece(f"page {i}", text)


_READERS: dict[str, Callable[[Path], Iterator[Piece]]] = {
    ".xlsx": _xlsx,
    ".xlsm": _xlsx,
    ".docx": _docx,
    ".pdf": _pdf,
}


def pieces(path: Path, max_bytes: int) -> Iterator[Piece]:
    suffix = path.suffix.lower()
    size = os.stat(path).st_size
    if size > max_bytes:
        raise SkippedFile(f"larger than the {size_text(max_bytes)} limit ({size_text(size)})")
    if suffix in _READERS:
        yield from _READERS[suffix](path)
        return
    if suffix in _BINARY:
        raise SkippedFile(f"binary format ({suffix})")
    if suffix in _UNSUPPORTED:
        raise SkippedFile(f"{suffix} is not read; save it as .xlsx, .docx, .pdf or text")
    with open(path, "rb") as f:
        encoding = _encoding(f.read(8192))
    if encoding is None:
        raise SkippedFile("binary (NUL bytes)")
    yield from (_csv if suffix in (".csv", ".tsv") else _text)(path, encoding)


def extract_text(
    path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES
) -> Iterator[tuple[str, str]]:
    """``(location, text)`` pieces of a file; see the module docstring for locations.

    Raises :class:`SkippedFile` for binary, unsupported or oversized files and
    :class:`~affidavit.errors.InputError` when a reader library is missing; the document
    libraries raise their own errors for corrupt files.
    """
    for piece in pieces(Path(path), max_bytes):
        if piece.warning is None:
            yield piece.location, piece.text


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"

"""The data scan: regulated data in granted folders and in recorded payloads.

* :func:`detect` (from :mod:`affidavit.detect.detectors`) finds values in one text; the
  capture hook imports it from here, so this module's own imports stay light (the document
  libraries, ``hmac`` and the ledger load only when used).
* :func:`extract_text` turns a file into ``(location, text)`` pieces: ``line 12`` for text
  (the line a piece starts at; findings carry the line of each match), ``B4`` for CSV
  cells, ``Sheet1!B4`` for XLSX, ``paragraph 3`` / ``table 1 B2`` for DOCX, ``page 3`` for
  PDF. XLSX, DOCX and PDF need the ``affidavit[scan]`` extra (openpyxl, python-docx, pypdf);
  without it those files are reported as unreadable, naming the extra, and the scan goes on.
* :func:`scan_paths` / :func:`scan_files` and :func:`scan_ledger` turn matches into
  :class:`Finding` values: the masked value and an HMAC, never the raw value.
* :func:`record_findings` appends one ``policy.finding`` record per new finding.

The HMAC (SHA-256) lets two findings of the same card, IBAN or person be matched without
storing the value. Its key is ``[scan] hmac_key`` from ``affidavit.toml`` (the UTF-8 bytes
of the string, at least 16 characters; the same key on every machine makes HMACs comparable
across ledgers), else 32 random bytes made on first use and kept base64 in the ledger's
``meta`` table as ``scan_hmac_key``. That table is not in the tree and not in an export, so
an export's HMACs cannot be tested against guesses; whoever holds the ledger file can, for
values as guessable as an SSN. Use the config key, kept off the endpoint, where that matters.

Walking: folders are walked in name order without following symbolic links: a link to
outside the scanned folder is never followed, and one inside it is skipped because its
target is scanned at its own path. ``.git``, ``.hg`` and ``.svn`` are skipped, as are
files over ``max_bytes`` (50 MiB by default), files that are not regular files, known
binary formats and files with NUL bytes; each is counted in :class:`ScanReport`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from affidavit.detect.detectors import Match, canonical, detect, mask
from affidavit.errors import AffidavitError, InputError, LedgerError

if TYPE_CHECKING:
    from affidavit.config import Config
    from affidavit.ledger import Ledger
    from affidavit.store.sqlite import SqliteStore

__all__ = [
    "MAX_BYTES",
    "Finding",
    "Match",
    "ScanReport",
    "SkippedFile",
    "detect",
    "extract_text",
    "granted_roots",
    "hmac_key",
    "hmac_of",
    "mask",
    "record_findings",
    "scan_files",
    "scan_ledger",
    "scan_paths",
    "walk",
]

MAX_BYTES = 50 * 1024 * 1024
KEY_META = "scan_hmac_key"
SOURCE = "affidavit.scan"
CHUNK_CHARS = 1 << 20
_SKIP_DIRS = frozenset((".git", ".hg", ".svn"))
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
_OWN_KINDS = frozenset(("policy.finding", "erasure"))
_HASH_KEYS = ("sha256", "hash", "digest", "_id", "uuid", "salt")
ProgressFn = Callable[[int], None]


class Finding(NamedTuple):
    """One value found: where, what, masked, and its keyed HMAC. Never the raw value.

    A NamedTuple like :class:`Match`, so importing this module stays cheap for the hook.
    """

    source: str  # "file" or "record"
    where: str  # "/srv/finance/a.csv:B4" or "record 17 prompt.text"
    data_class: str
    rule: str
    masked: str
    hmac: str
    folder: str | None = None  # the granted folder (from affidavit.toml) it falls in
    confidence: str = "high"
    seq: int | None = None  # record findings: the record it was found in
    path: str | None = None  # the file scanned, or the file the record is about

    def payload(self) -> dict[str, Any]:
        """The ``finding`` object of its ``policy.finding`` record (empty fields left out)."""
        out: dict[str, Any] = {"type": "data"}
        for name in ("data_class", "rule", "masked", "hmac", "confidence", "where", "source"):
            out[name] = getattr(self, name)
        if self.folder is not None:
            out["folder"] = self.folder
        if self.seq is not None:
            out["seq"] = self.seq
        return out


class ScanReport:
    """What a scan looked at and what it could not read (filled in as the scan runs)."""

    __slots__ = ("bytes", "errors", "files", "records", "skipped")

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0
        self.records = 0
        self.skipped: list[tuple[str, str]] = []  # (path, why): binary, too large, link...
        self.errors: list[tuple[str, str]] = []  # (path, why): unreadable, corrupt, no extra


class SkippedFile(InputError):
    """The file is not text we can read (binary, unsupported, too large); counted, not an
    error."""


class _Piece(NamedTuple):
    location: str
    text: str
    context: str = ""  # a column header: keyword rules may read it
    line: int | None = None  # a text piece: the line it starts at
    warning: str | None = None  # a problem worth reporting; the piece carries no text


# -- keys -----------------------------------------------------------------------------------


def hmac_of(value: str, key: bytes) -> str:
    """HMAC-SHA256 of the value's UTF-8 bytes, hex."""
    import hashlib
    import hmac

    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def config_key(cfg: Config | None) -> bytes | None:
    if cfg is None or cfg.scan_hmac_key is None:
        return None
    key = cfg.scan_hmac_key.encode("utf-8")
    if len(key) < 16:
        raise InputError(
            f"{cfg.path or 'affidavit.toml'}: field scan.hmac_key: use at least 16 random "
            "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return key


def hmac_key(ledger: Ledger, cfg: Config | None = None) -> bytes:
    """The config's ``scan.hmac_key``, else the ledger's own key (made on first use)."""
    import base64
    import sqlite3

    key = config_key(cfg)
    if key is not None:
        return key
    store = ledger.store
    stored = store.meta(KEY_META)
    if stored is None:
        store.begin()
        try:
            stored = store.meta(KEY_META)  # another scan may have made it meanwhile
            if stored is None:
                stored = base64.b64encode(os.urandom(32)).decode("ascii")
                store.set_meta(KEY_META, stored)
            store.commit()
        except sqlite3.OperationalError as e:  # a ledger opened read-only
            store.rollback()
            raise LedgerError(
                f"{store.path} has no scan HMAC key yet and cannot be written ({e}); "
                "run `affidavit scan` once with write access, or set scan.hmac_key"
            ) from e
        except BaseException:
            store.rollback()
            raise
    return base64.b64decode(stored)


# -- text out of files ----------------------------------------------------------------------


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


def _text(path: Path, encoding: str, skip: int = 0) -> Iterator[_Piece]:
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
                yield _Piece(f"line {first}", "".join(buf), line=first)
                buf, size, first = [], 0, number + 1
        if buf:
            yield _Piece(f"line {first}", "".join(buf), line=first)


def _csv(path: Path, encoding: str) -> Iterator[_Piece]:
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
                        yield _Piece(f"{_column(c)}{r}", cell, context)
        except csv.Error as e:
            line = reader.line_num
            yield _Piece("", "", warning=f"line {line}: not CSV ({e}); read on as text")
            yield from _text(path, encoding, skip=max(0, line - 1))


def _xlsx(path: Path) -> Iterator[_Piece]:
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
                    yield _Piece(f"{sheet.title}!{_column(c)}{r}", str(value), context)
    finally:
        book.close()


def _docx(path: Path) -> Iterator[_Piece]:
    try:
        import docx
    except ImportError as e:
        raise _needs(path.suffix, "python-docx") from e
    document = docx.Document(str(path))
    for i, paragraph in enumerate(document.paragraphs, start=1):
        if paragraph.text.strip():
            yield _Piece(f"paragraph {i}", paragraph.text)
    for t, table in enumerate(document.tables, start=1):
        header: list[str] = []
        for r, row in enumerate(table.rows, start=1):
            cells = [cell.text for cell in row.cells]
            if r == 1:
                header = cells
            for c, text in enumerate(cells):
                if text.strip():
                    context = header[c] if r > 1 and c < len(header) else ""
                    yield _Piece(f"table {t} {_column(c)}{r}", text, context)
    for s, section in enumerate(document.sections, start=1):
        for part, name in ((section.header, "header"), (section.footer, "footer")):
            text = "\n".join(p.text for p in part.paragraphs)
            if text.strip():
                yield _Piece(f"section {s} {name}", text)


def _pdf(path: Path) -> Iterator[_Piece]:
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
            yield _Piece(f"page {i}", text)


_READERS: dict[str, Callable[[Path], Iterator[_Piece]]] = {
    ".xlsx": _xlsx,
    ".xlsm": _xlsx,
    ".docx": _docx,
    ".pdf": _pdf,
}


def _pieces(path: Path, max_bytes: int) -> Iterator[_Piece]:
    suffix = path.suffix.lower()
    size = os.stat(path).st_size
    if size > max_bytes:
        raise SkippedFile(f"larger than the {_size(max_bytes)} limit ({_size(size)})")
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
    for piece in _pieces(Path(path), max_bytes):
        if piece.warning is None:
            yield piece.location, piece.text


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


# -- walking and scanning files -------------------------------------------------------------


def granted_roots(cfg: Config) -> tuple[list[Path], list[str]]:
    """The folders ``affidavit.toml`` grants, as paths to walk, and what could not be used.

    Absolute folders and absolute globs (expanded now) are walked; a relative pattern
    (``finance``, matched at any depth by the policy) names no place to start from.
    """
    import glob

    roots: list[Path] = []
    problems: list[str] = []
    for folder in cfg.folders:
        pattern = os.path.expanduser(folder.path)
        if not os.path.isabs(pattern):
            problems.append(f"folder {folder.path!r} is relative; give it as a PATH to scan it")
        elif any(c in pattern for c in "*?["):
            roots += sorted(Path(p) for p in glob.glob(pattern.removesuffix("/**")))
        else:
            roots.append(Path(pattern))
    return roots, problems


def folder_of(path: str | None, cfg: Config | None) -> str | None:
    """The granted folder that ``path`` falls in (the most specific), as the config names it."""
    if not path or cfg is None or not cfg.folders:
        return None
    from affidavit.query import path_matches

    candidates = {os.path.abspath(path), os.path.realpath(path)}
    best: str | None = None
    for folder in cfg.folders:
        pattern = os.path.expanduser(folder.path)
        if any(path_matches(p, pattern) for p in candidates) and (
            best is None or len(folder.path) > len(best)
        ):
            best = folder.path
    return best


def walk(
    paths: Iterable[str | os.PathLike[str]], *, report: ScanReport, max_bytes: int = MAX_BYTES
) -> Iterator[tuple[Path, int]]:
    """``(file, size)`` for every file to scan under ``paths``, in name order; what is not
    scanned goes to ``report`` (see the module docstring)."""
    import stat

    def check(path: Path, root: Path | None) -> tuple[Path, int] | None:
        if root is not None and path.is_symlink():
            outside = not path.resolve().is_relative_to(root)
            report.skipped.append(
                (str(path), "symbolic link to outside the scanned folder (not followed)")
                if outside
                else (str(path), "symbolic link; its target is scanned where it is")
            )
            return None
        try:
            st = os.stat(path)
        except OSError as e:
            report.errors.append((str(path), e.strerror or str(e)))
            return None
        if not stat.S_ISREG(st.st_mode):
            report.skipped.append((str(path), "not a regular file"))
        elif st.st_size > max_bytes:
            report.skipped.append((str(path), f"larger than the {_size(max_bytes)} limit"))
        else:
            return path, st.st_size
        return None

    for given in paths:
        top = Path(os.path.abspath(os.path.expanduser(given)))
        if not top.is_dir():
            if not top.exists():
                report.errors.append((str(top), "no such file or folder"))
            elif (found := check(top, None)) is not None:
                yield found
            continue
        root = top.resolve()

        def failed(e: OSError) -> None:
            report.errors.append((str(e.filename), e.strerror or str(e)))

        for folder, dirs, files in os.walk(top, onerror=failed):
            for name in dirs:
                if os.path.islink(os.path.join(folder, name)):
                    report.skipped.append(
                        (os.path.join(folder, name), "symbolic link to a folder (not followed)")
                    )
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            for name in sorted(files):
                if (found := check(Path(folder, name), root)) is not None:
                    yield found


def _line_locations(piece: _Piece, matches: list[Match]) -> list[str]:
    if piece.line is None:
        return [piece.location] * len(matches)
    out, line, pos = [], piece.line, 0
    for m in matches:  # in order: count newlines once across the piece
        line += piece.text.count("\n", pos, m.start)
        pos = m.start
        out.append(f"line {line}")
    return out


def _scan_file(
    path: Path, cfg: Config | None, key: bytes, report: ScanReport, include_low: bool,
    max_bytes: int,
) -> Iterator[Finding]:  # fmt: skip
    where, folder = str(path), folder_of(str(path), cfg)
    seen: set[tuple[str, str]] = set()
    chars = 0
    try:
        for piece in _pieces(path, max_bytes):
            if piece.warning is not None:
                report.errors.append((where, piece.warning))
                continue
            chars += len(piece.text)
            if chars > 4 * max_bytes:  # a small archive-like document can inflate a lot
                report.errors.append((where, f"stopped after {chars} characters of text"))
                return
            matches = [m for m in detect(piece.text, context=piece.context)
                       if include_low or m.confidence != "low"]  # fmt: skip
            for m, location in zip(matches, _line_locations(piece, matches), strict=True):
                digest = hmac_of(canonical(m, piece.text), key)
                if (location, digest) in seen:
                    continue
                seen.add((location, digest))
                yield Finding("file", f"{where}:{location}", m.data_class, m.rule, m.masked,
                              digest, folder, m.confidence, None, where)  # fmt: skip
    except SkippedFile as e:
        report.skipped.append((where, str(e)))
    except AffidavitError as e:
        report.errors.append((where, str(e)))
    except OSError as e:
        report.errors.append((where, e.strerror or str(e)))
    except Exception as e:  # the document parsers raise anything on a corrupt or hostile file
        report.errors.append((where, f"cannot read it: {type(e).__name__}: {e}"))


def scan_files(
    files: Iterable[tuple[Path, int]],
    *,
    cfg: Config | None,
    key: bytes,
    report: ScanReport | None = None,
    include_low: bool = False,
    max_bytes: int = MAX_BYTES,
    progress: ProgressFn | None = None,
) -> Iterator[Finding]:
    """Findings in ``(file, size)`` pairs from :func:`walk`; ``progress`` gets bytes done."""
    report = ScanReport() if report is None else report
    done = 0
    for path, size in files:
        report.files += 1
        report.bytes += size
        yield from _scan_file(path, cfg, key, report, include_low, max_bytes)
        done += size
        if progress is not None:
            progress(done)


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    *,
    cfg: Config | None,
    key: bytes | None = None,
    report: ScanReport | None = None,
    include_low: bool = False,
    max_bytes: int = MAX_BYTES,
) -> Iterator[Finding]:
    """Findings in the files under ``paths``. The HMAC key is ``key``, else the config's."""
    key = key if key is not None else config_key(cfg)
    if key is None:
        raise InputError("no HMAC key: pass key=hmac_key(ledger) or set scan.hmac_key")
    report = ScanReport() if report is None else report
    files = walk(paths, report=report, max_bytes=max_bytes)
    yield from scan_files(files, cfg=cfg, key=key, report=report, include_low=include_low,
                          max_bytes=max_bytes)  # fmt: skip


# -- scanning recorded payloads -------------------------------------------------------------


def _strings(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list) and depth < 64:
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]", depth + 1)
    elif isinstance(value, dict) and depth < 64:
        for name, item in value.items():
            if not str(name).lower().endswith(_HASH_KEYS):  # our own hashes and ids
                yield from _strings(item, f"{where}.{name}", depth + 1)


def payload_texts(payload: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(field, text)`` for the free text a payload holds: prompt.text, command.text, every
    string in tool.input and raw (except hashes and ids)."""
    for section in ("prompt", "command"):
        part = payload.get(section)
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            yield f"{section}.text", part["text"]
    tool = payload.get("tool")
    if isinstance(tool, dict) and "input" in tool:
        yield from _strings(tool["input"], "tool.input")
    if "raw" in payload:
        yield from _strings(payload["raw"], "raw")


def scan_ledger(
    ledger: Ledger,
    *,
    since_seq: int = 0,
    cfg: Config | None = None,
    key: bytes | None = None,
    report: ScanReport | None = None,
    include_low: bool = False,
    progress: ProgressFn | None = None,
) -> Iterator[Finding]:
    """Findings in the payloads of records ``since_seq`` onwards (erased ones have none).

    One finding per value per record: the same value in ``tool.input`` and ``raw`` is
    reported once, at the first field.
    """
    import json

    key = key if key is not None else hmac_key(ledger, cfg)
    report = ScanReport() if report is None else report
    for seq, leaf, _, _, body in ledger.rows(since_seq):
        if progress is not None and seq % 4096 == 0:
            progress(seq - since_seq)
        if body is None or json.loads(leaf).get("kind") in _OWN_KINDS:
            continue
        report.records += 1
        payload = json.loads(body)
        file = payload.get("file")
        path = file.get("path") if isinstance(file, dict) else None
        path = path if isinstance(path, str) else None
        seen: set[tuple[str, str]] = set()
        for field, text in payload_texts(payload):
            for m in detect(text):
                if m.confidence == "low" and not include_low:
                    continue
                digest = hmac_of(canonical(m, text), key)
                if (m.rule, digest) not in seen:
                    seen.add((m.rule, digest))
                    yield Finding("record", f"record {seq} {field}", m.data_class, m.rule,
                                  m.masked, digest, folder_of(path, cfg), m.confidence, seq,
                                  path)  # fmt: skip


# -- recording ------------------------------------------------------------------------------


def _recorded(store: SqliteStore) -> set[tuple[str, str]]:
    """(where, hmac) of every data finding in the ledger: the ``actions`` index says which
    records are policy findings, and records it has not indexed yet are read directly."""
    import json

    conn = store.connection
    (last,) = conn.execute("SELECT coalesce(max(seq), -1) FROM actions").fetchone()
    bodies = [b for (b,) in conn.execute(
        "SELECT payload FROM records WHERE payload IS NOT NULL AND seq IN "
        "(SELECT seq FROM actions WHERE kind = 'policy.finding')"
    )]  # fmt: skip
    for leaf, body in conn.execute(
        "SELECT leaf, payload FROM records WHERE seq > ? AND payload IS NOT NULL", (last,)
    ):
        if b'"kind":"policy.finding"' in leaf:
            bodies.append(body)
    keys: set[tuple[str, str]] = set()
    for body in bodies:
        finding = json.loads(body).get("finding")
        if isinstance(finding, dict) and finding.get("type") == "data":
            keys.add((str(finding.get("where")), str(finding.get("hmac"))))
    return keys


def record_findings(
    ledger: Ledger,
    findings: Iterable[Finding],
    *,
    actor: dict[str, Any] | None = None,
    now: Any = None,
) -> range:
    """Append one ``policy.finding`` per finding not already recorded; returns their seqs.

    A finding with the same ``where`` and ``hmac`` as one in the ledger is not recorded
    again (checked inside the write transaction, so two scans at once cannot both add it).
    The payload is ``{"finding": Finding.payload(), "actor": ..., "file": {"path"}}``: the
    masked value and the HMAC, never the raw value. ``findings`` is read in full before the
    write lock is taken, so a slow scan never holds up the capture hook.
    """
    import getpass
    import socket
    from datetime import UTC, datetime

    from affidavit import merkle
    from affidavit.record import Kind, Record

    items = list(findings)
    if actor is None:
        actor = {"user": getpass.getuser(), "host": socket.gethostname()}
    time = now if now is not None else datetime.now(UTC)
    store = ledger.store
    store.begin()
    try:
        done = _recorded(store)
        rows = []
        for f in items:
            if (f.where, f.hmac) in done:
                continue
            done.add((f.where, f.hmac))
            payload: dict[str, Any] = {"finding": f.payload(), "actor": actor}
            if f.path is not None:
                payload["file"] = {"path": f.path}
            record = Record.create(Kind.POLICY_FINDING, SOURCE, payload, time=time)
            rows.append((record.leaf, merkle.leaf_hash(record.leaf), record.salt,
                         record.payload_json))  # fmt: skip
        first = store.add_records(rows) if rows else store.size()
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return range(first, first + len(rows))

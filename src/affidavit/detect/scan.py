"""The data scan: regulated data in granted folders (and, through :mod:`.records`, in
recorded payloads).

* :func:`detect` (from :mod:`affidavit.detect.detectors`) finds values in one text; the
  capture-time policy imports the detectors directly, never this module.
* :func:`extract_text` (:mod:`.extract`) turns a file into ``(location, text)`` pieces;
  files it cannot read are reported as unreadable, naming the extra, and the scan goes on.
* :func:`scan_paths` / :func:`scan_files` (and :func:`.records.scan_ledger`) turn matches
  into :class:`Finding` values: the masked value and an HMAC, never the raw value;
  :func:`.records.record_findings` appends one ``policy.finding`` record per new finding.

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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from affidavit.detect.detectors import Match, canonical, detect, mask
from affidavit.detect.extract import MAX_BYTES, Piece, SkippedFile, extract_text, pieces, size_text
from affidavit.errors import AffidavitError, InputError, LedgerError

if TYPE_CHECKING:
    from affidavit.config import Config
    from affidavit.ledger import Ledger

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
    "scan_files",
    "scan_paths",
    "walk",
]

KEY_META = "scan_hmac_key"
SOURCE = "affidavit.scan"
_SKIP_DIRS = frozenset((".git", ".hg", ".svn"))
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
            report.skipped.append((str(path), f"larger than the {size_text(max_bytes)} limit"))
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


def _line_locations(piece: Piece, matches: list[Match]) -> list[str]:
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
        for piece in pieces(path, max_bytes):
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

"""Archive snapshots: a sealed, write-once copy of the ledger that verifies on its own.

``affidavit archive`` seals the ledger (integrate + publish), takes the latest checkpoint,
of size N, and copies records ``[0, N)``, their payloads, every checkpoint up to N and the
content blobs into a new directory (format ``affidavit.archive/v1``)::

    manifest.txt                                      C2SP signed note by the ledger key
    checkpoints/<size>.txt                            every checkpoint of size <= N, as signed
    records/<first>-<last>.jsonl                      {"leaf": base64, "seq"} per line
    payloads/<first>-<last>.<sha256>.jsonl            {"payload_json", "salt", "seq"}
    blobs/<sha256>                                    file contents, raw bytes

Numbers are 12 decimal digits. Records and payloads come in segments of :data:`SEGMENT`
seqs aligned on multiples of it; the last segment ends at N - 1. A payloads line is absent
when the payload was erased, and the erasure record that names it is in the archive.

The manifest's text (one line each, objects sorted by name)::

    affidavit.archive/v1
    origin <origin>
    key <verifier key>
    tree <N> <base64 root>
    created <RFC 3339>
    object <sha256 hex> <size> <name>            one per file, the manifest excepted

Ready for an S3 Object Lock target: no name ever maps to two contents, so no object is ever
rewritten. Records segments are named by range (the leaves of an append-only log never
change; a partial last segment has its own name, superseded by the full one later),
checkpoints by size (one log has one checkpoint per size), payload segments by range and
hash (erasure changes them), blobs by hash. An incremental archive uploads only the objects
whose names are new plus its manifest (``manifests/<N>.txt`` in a shared prefix); every
manifest still lists every object, so one manifest alone describes one complete snapshot.
An archive keeps payloads as they were when it was taken: erasing one later means removing
the archive once its lock expires.

Writing is crash-safe: a private temporary folder beside the target (every file opened
relative to it, ``O_EXCL | O_NOFOLLOW``), each file fsync-ed and made 0444, the folders
fsync-ed, the result verified, then renamed into place and the folders made 0555.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from affidavit import merkle
from affidavit.capture import snapshots
from affidavit.errors import (
    AffidavitError,
    ConsistencyError,
    InputError,
    LedgerError,
    VerificationError,
)
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner, Verifier, open_checkpoint, open_note, sign_note
from affidavit.record import Envelope, Kind, Record, commitment, format_time, read_leaf
from affidavit.signing import sign_payload
from affidavit.verify.erasure import erased_by
from affidavit.verify.tree import TreeCheck

FORMAT = "affidavit.archive/v1"
SOURCE = "affidavit.archive"
MANIFEST = "manifest.txt"
SEGMENT = 100_000
FOLDERS = ("blobs", "checkpoints", "payloads", "records")

_NAME = re.compile(
    r"checkpoints/(\d{12})\.txt|records/(\d{12})-(\d{12})\.jsonl"
    r"|payloads/(\d{12})-(\d{12})\.([0-9a-f]{64})\.jsonl|blobs/([0-9a-f]{64})"
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Manifest:
    origin: str
    vkey: str
    tree_size: int
    root: bytes
    created: str
    objects: Mapping[str, tuple[str, int]]
    """name → (SHA-256 hex, size in bytes)."""

    def text(self) -> str:
        lines = [
            FORMAT,
            f"origin {self.origin}",
            f"key {self.vkey}",
            f"tree {self.tree_size} {_b64(self.root)}",
            f"created {self.created}",
            *(f"object {h} {n} {name}" for name, (h, n) in sorted(self.objects.items())),
        ]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Manifest:
        """Strict: exactly the lines :meth:`text` writes, or InputError naming the line."""
        lines = text[:-1].split("\n") if text.endswith("\n") else []
        if len(lines) < 5 or lines[0] != FORMAT:
            raise InputError(f"not an {FORMAT} manifest")
        heads = [line.split(" ", 1) for line in lines[1:5]]
        if [h[0] for h in heads] != ["origin", "key", "tree", "created"] or any(
            len(h) != 2 for h in heads
        ):
            raise InputError("lines 2-5 must be origin, key, tree and created")
        size, _, root = heads[2][1].partition(" ")
        if not _DECIMAL.fullmatch(size):
            raise InputError(f"line 4: tree size {size[:30]!r} is not a decimal")
        root_hash = _unb64(root, "line 4: root hash")
        if len(root_hash) != merkle.HASH_SIZE:
            raise InputError("line 4: the root hash is not 32 bytes")
        objects: dict[str, tuple[str, int]] = {}
        previous = ""
        for number, line in enumerate(lines[5:], start=6):
            parts = line.split(" ")
            if not (
                len(parts) == 4
                and parts[0] == "object"
                and _HEX64.fullmatch(parts[1])
                and _DECIMAL.fullmatch(parts[2])
                and _NAME.fullmatch(parts[3])
            ):
                raise InputError(f"line {number}: not 'object <sha256> <size> <name>'")
            if parts[3] <= previous:
                raise InputError(f"line {number}: objects are not sorted by name")
            previous = parts[3]
            objects[parts[3]] = (parts[1], int(parts[2]))
        origin, vkey, created = heads[0][1], heads[1][1], heads[3][1]
        return cls(origin, vkey, int(size), root_hash, created, objects)


@dataclass(frozen=True, slots=True)
class ArchiveReport:
    """What an archive holds (after writing) or what was checked (after verifying)."""

    path: Path
    origin: str
    tree_size: int
    root: bytes
    created: str
    records: int
    erased: int
    checkpoints: int
    blobs: int
    objects: int
    bytes: int
    manifest_sha256: str
    ledger_size: int | None = None
    """The ledger checkpoint the archive was proven consistent with (None: offline)."""
    record_seq: int | None = None
    """The ledger record of the archive (``affidavit archive`` only)."""
    unpublished: str | None = None
    """Why that record is not published yet, if publishing it failed (the next seal does)."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise InputError(f"{what} is not a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"{what} is not base64") from e
    if _b64(raw) != value:
        raise InputError(f"{what} is not canonical base64")
    return raw


def _line(item: Mapping[str, object]) -> bytes:
    return (
        json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        + b"\n"
    )


def segment_name(first: int, last: int) -> str:
    return f"{first:012d}-{last:012d}"


# -- writing --------------------------------------------------------------------------------


class _Object:
    """One file being written in the private folder; named once its hash is known."""

    def __init__(self, writer: _Writer, folder: str) -> None:
        self.writer, self.folder = writer, folder
        self.dir_fd = writer.folder(folder)
        self.temp = f".part-{len(writer.objects)}-{os.urandom(4).hex()}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        self.fd = os.open(self.temp, flags, 0o600, dir_fd=self.dir_fd)
        self.sha, self.size, self.buffer = hashlib.sha256(), 0, bytearray()

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self.buffer += data
        if len(self.buffer) >= 1 << 20:
            self._flush()

    def _flush(self) -> None:
        view = memoryview(bytes(self.buffer))
        self.buffer.clear()
        while view:
            view = view[os.write(self.fd, view) :]

    def finish(self, name: str) -> str:
        """fsync, make read-only, link as ``name`` (never over an existing name)."""
        self._flush()
        os.fsync(self.fd)
        os.fchmod(self.fd, 0o444)
        os.close(self.fd)
        fd = self.dir_fd
        os.link(self.temp, name, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
        os.unlink(self.temp, dir_fd=self.dir_fd)
        path = f"{self.folder}/{name}" if self.folder else name
        self.writer.objects[path] = (self.sha.hexdigest(), self.size)
        return name


class _Writer:
    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self.dirs: dict[str, int] = {}
        self.objects: dict[str, tuple[str, int]] = {}

    def folder(self, name: str) -> int:
        if not name:
            return self.root_fd
        if name not in self.dirs:
            os.mkdir(name, 0o700, dir_fd=self.root_fd)
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
            self.dirs[name] = os.open(name, flags, dir_fd=self.root_fd)
        return self.dirs[name]

    def put(self, folder: str, name: str, data: bytes) -> None:
        obj = _Object(self, folder)
        obj.write(data)
        obj.finish(name)

    def close(self, mode: int | None = None) -> None:
        for fd in (*self.dirs.values(), self.root_fd):
            if mode is not None:
                os.fchmod(fd, mode)
            os.close(fd)


@contextmanager
def _snapshot(ledger: Ledger) -> Iterator[tuple[int, str]]:
    """Seal, then hold a read transaction in which no erasure lies beyond the checkpoint.

    An erasure sequenced after the checkpoint would leave payloads missing with no erasure
    record inside ``[0, N)`` to account for them; then seal again and retry.
    """
    conn = ledger.store.connection
    for _ in range(_RETRIES):
        ledger.seal()
        conn.execute("BEGIN")
        try:
            latest = ledger.latest_checkpoint()
            assert latest is not None  # seal always leaves one
            late = conn.execute(
                "SELECT 1 FROM records WHERE seq >= ? AND instr(leaf, ?) LIMIT 1",
                (latest[0], b'"kind":"erasure"'),
            ).fetchone()
            if late is None:
                yield latest
                return
        finally:
            conn.execute("COMMIT")
    raise LedgerError("the ledger kept erasing records while archiving; run it again")


def write_archive(
    ledger: Ledger, target: Path, *, signer: NoteSigner, now: datetime
) -> ArchiveReport:
    """Seal the ledger and write its snapshot to ``target``, which must not exist yet."""
    target = Path(os.path.abspath(target))
    if os.path.lexists(target):
        raise InputError(f"{target} already exists; an archive is written once, never over")
    if not target.parent.is_dir():
        raise InputError(f"no folder {target.parent} to put the archive in")
    temp = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    writer: _Writer | None = None
    try:
        writer = _Writer(os.open(temp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
        with _snapshot(ledger) as (size, note):
            erased = _write_objects(ledger, writer, size)
        cp = open_checkpoint(note, ledger.verifier)
        manifest = Manifest(
            ledger.origin, ledger.verifier.vkey(), size, cp.root, format_time(now), writer.objects
        )
        signed = sign_note(manifest.text(), [signer]).encode("utf-8")
        objects = dict(writer.objects)
        writer.put("", MANIFEST, signed)
        for fd in (*writer.dirs.values(), writer.root_fd):
            os.fsync(fd)
        verify_archive(Path(temp), verifier=ledger.verifier)  # never seal a broken archive
        if os.path.lexists(target):
            raise InputError(f"{target} appeared while archiving; not writing over it")
        # rename() would replace an empty folder or a symlink planted in the last instant;
        # either way the archive lands at the target and nothing is written through a link.
        os.rename(temp, target)
        parent = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(parent)
        finally:
            os.close(parent)
    except BaseException:
        if writer is not None:
            writer.close()
        shutil.rmtree(temp, ignore_errors=True)
        raise
    writer.close(0o555)
    return ArchiveReport(
        target,
        ledger.origin,
        size,
        cp.root,
        manifest.created,
        size,
        erased,
        sum(1 for n in objects if n.startswith("checkpoints/")),
        sum(1 for n in objects if n.startswith("blobs/")),
        len(objects),
        sum(n for _, n in objects.values()),
        hashlib.sha256(signed).hexdigest(),
    )


def _write_objects(ledger: Ledger, writer: _Writer, size: int) -> int:
    """Checkpoints, record and payload segments, blobs; returns how many payloads are erased."""
    store = ledger.store
    for cp_size, cp_note, _ in store.checkpoints():
        if cp_size <= size:
            writer.put("checkpoints", f"{cp_size:012d}.txt", cp_note.encode("utf-8"))
    erased = 0
    for first in range(0, size, SEGMENT):
        last = min(first + SEGMENT, size) - 1
        records, payloads = _Object(writer, "records"), _Object(writer, "payloads")
        for seq, leaf, _, salt, body in store.records(first, last + 1):
            records.write(_line({"leaf": _b64(leaf), "seq": seq}))
            if salt is None or body is None:
                erased += 1
                continue
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise VerificationError(f"record {seq}: its payload is not UTF-8") from e
            payloads.write(_line({"payload_json": text, "salt": _b64(salt), "seq": seq}))
        name = segment_name(first, last)
        records.finish(f"{name}.jsonl")
        payloads.finish(f"{name}.{payloads.sha.hexdigest()}.jsonl")
    for (sha,) in store.connection.execute("SELECT sha256 FROM blobs ORDER BY sha256"):
        if not _HEX64.fullmatch(str(sha)):
            continue  # not a content hash this store wrote; nothing to name it by
        try:
            data = snapshots.get_blob(store.connection, sha)
        except ValueError as e:
            raise VerificationError(f"blob {sha}: {e}", where=f"blob {sha}") from e
        if data is not None:
            writer.put("blobs", sha, data)
    return erased


def record_archive(
    ledger: Ledger,
    signer: NoteSigner,
    report: ArchiveReport,
    *,
    now: datetime,
    actor: Mapping[str, Any] | None = None,
) -> int:
    """Append the signed archive record (the contract :mod:`.gather` reads); returns its seq."""
    body = {
        "archive": {
            "at": format_time(now),
            "location": str(report.path),
            "format": FORMAT,
            "tree_size": report.tree_size,
            "root": _b64(report.root),
            "records": report.records,
            "erased": report.erased,
            "objects": report.objects,
            "bytes": report.bytes,
            "manifest_sha256": report.manifest_sha256,
        },
        "actor": dict(actor or {}),
    }
    record = Record.create(Kind.ATTESTATION, SOURCE, sign_payload(body, signer), time=now)
    return ledger.append([record])[0]


def archive(
    ledger: Ledger,
    target: Path,
    *,
    signer: NoteSigner,
    now: datetime,
    actor: Mapping[str, Any] | None = None,
) -> ArchiveReport:
    """Write the archive, record it in the ledger and publish that record.

    An archive that cannot be recorded (a full disk) is removed again, so the command can
    simply be run again. Once recorded it stays: if publishing the record then fails, the
    report says why in ``unpublished`` and the next seal publishes it; failing instead would
    send the caller to run it again, which an archive written once refuses.
    """
    report = write_archive(ledger, target, signer=signer, now=now)
    try:
        seq = record_archive(ledger, signer, report, now=now, actor=actor)
    except Exception:
        for folder, _, _ in os.walk(report.path):
            os.chmod(folder, 0o700)  # it was made read-only
        shutil.rmtree(report.path, ignore_errors=True)
        raise
    try:
        ledger.seal()
    except (AffidavitError, sqlite3.Error, OSError) as e:
        return replace(report, record_seq=seq, unpublished=str(e))
    return replace(report, record_seq=seq)


# -- verifying ------------------------------------------------------------------------------


def _fail(name: str, message: str) -> VerificationError:
    return VerificationError(f"{name}: {message}", where=name)


def verify_archive(
    path: Path, *, verifier: Verifier, ledger: Ledger | None = None
) -> ArchiveReport:
    """Check an archive; with ``ledger``, also prove the ledger only grew since it.

    Checks the manifest's signature, every listed file's size and SHA-256 and that nothing
    else is there, every checkpoint's signature, the leaves' hashes folded into the root of
    every archived checkpoint, every payload against its commitment, every missing payload
    against an erasure record, and each blob's name against its hash. Raises
    :class:`VerificationError` naming the file, InputError when the folder is unreadable.
    """
    if not path.is_dir():
        raise InputError(f"no archive folder at {path}")
    raw = _read(path, MANIFEST)
    try:
        manifest = Manifest.parse(open_note(raw, [verifier]).text)
    except (InputError, VerificationError) as e:
        raise _fail(MANIFEST, f"{e}; damaged, or not signed by {verifier.vkey()}") from e
    if manifest.vkey != verifier.vkey() or manifest.origin != verifier.name:
        raise _fail(MANIFEST, f"names key {manifest.vkey}, not {verifier.vkey()}")
    _check_listing(path, manifest)
    for name, (sha, size) in manifest.objects.items():
        digest, actual = _hash(path, name)
        if actual != size:
            raise _fail(name, f"is {actual} bytes; the manifest says {size}")
        if digest != sha:
            raise _fail(name, "its SHA-256 does not match the manifest: the file was changed")
        m = _NAME.fullmatch(name)
        if m is not None and (m.group(6) or m.group(7) or sha) != sha:
            raise _fail(name, "its name is not the SHA-256 of its content")
    erased, checkpoints = _check_tree(path, manifest, verifier)
    report = ArchiveReport(
        path,
        manifest.origin,
        manifest.tree_size,
        manifest.root,
        manifest.created,
        manifest.tree_size,
        erased,
        checkpoints,
        sum(1 for n in manifest.objects if n.startswith("blobs/")),
        len(manifest.objects),
        sum(n for _, n in manifest.objects.values()),
        hashlib.sha256(raw).hexdigest(),
    )
    if ledger is None:
        return report
    return replace(report, ledger_size=_check_ledger(manifest, ledger, verifier))


def _read(path: Path, name: str) -> bytes:
    try:
        fd = os.open(path / name, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise _fail(name, "is missing") from None
    except OSError as e:
        if os.path.islink(path / name):
            raise _fail(name, "is a symbolic link, not a file") from e
        raise InputError(f"cannot read {path / name}: {e}") from e
    with open(fd, "rb") as f:
        return f.read()


def _hash(path: Path, name: str) -> tuple[str, int]:
    try:
        fd = os.open(path / name, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise InputError(f"cannot read {path / name}: {e}") from e
    digest, size = hashlib.sha256(), 0
    with open(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check_listing(path: Path, manifest: Manifest) -> None:
    """Every listed file is there as a regular file, and nothing else is."""
    found: set[str] = set()
    for top, dirs, files in os.walk(path, onerror=_unreadable):
        rel = os.path.relpath(top, path)
        for d in dirs:
            name = d if rel == "." else f"{rel}/{d}"
            if rel != "." or d not in FOLDERS or os.path.islink(os.path.join(top, d)):
                raise _fail(name, "is not part of the archive (unlisted folder or link)")
        for f in files:
            name = f if rel == "." else f"{rel}/{f}"
            full = os.path.join(top, f)
            if name != MANIFEST and name not in manifest.objects:
                raise _fail(name, "is not listed in the manifest: a file was added")
            if os.path.islink(full) or not os.path.isfile(full):
                raise _fail(name, "is not a regular file")
            found.add(name)
    for name in manifest.objects:
        if name not in found:
            raise _fail(name, "is listed in the manifest but missing: a file was removed")


def _unreadable(e: OSError) -> None:
    raise InputError(f"cannot read {e.filename}: {e.strerror}")


def _check_tree(path: Path, manifest: Manifest, verifier: Verifier) -> tuple[int, int]:
    """Checkpoints, record and payload segments; returns (erased payloads, checkpoints)."""
    size = manifest.tree_size
    wanted: dict[int, tuple[str, bytes]] = {}
    segments: dict[tuple[str, int], tuple[str, int]] = {}
    for name in manifest.objects:
        m = _NAME.fullmatch(name)
        assert m is not None  # Manifest.parse checked every name
        if m.group(1):
            try:
                cp = open_checkpoint(_read(path, name), verifier)
            except (InputError, VerificationError) as e:
                raise _fail(name, f"not a checkpoint signed by the ledger key: {e}") from e
            if cp.size != int(m.group(1)) or cp.size > size:
                raise _fail(name, f"holds a checkpoint of size {cp.size} (archive: {size})")
            wanted[cp.size] = (name, cp.root)
        elif m.group(2) or m.group(4):
            kind, first, last = (
                name.split("/")[0],
                m.group(2) or m.group(4),
                m.group(3) or m.group(5),
            )
            segments[(kind, int(first))] = (name, int(last))
    if size not in wanted or wanted[size][1] != manifest.root:
        raise _fail(f"checkpoints/{size:012d}.txt", "is missing or its root is not the manifest's")
    tree = TreeCheck(None, wanted)
    missing: list[tuple[int, str]] = []
    named: set[int] = set()
    for first in range(0, size, SEGMENT):
        last = min(first + SEGMENT, size) - 1
        rec, pay = segments.pop(("records", first), None), segments.pop(("payloads", first), None)
        if rec is None or rec[1] != last or pay is None or pay[1] != last:
            what = f"records/{segment_name(first, last)}.jsonl"
            raise _fail(what, "the segment or its payloads segment is missing")
        commitments: list[tuple[bytes, str | None]] = []
        hashes: list[bytes] = []
        for seq, item in _items(path, rec[0], first, ("leaf", "seq")):
            try:
                env = Envelope.from_leaf(_unb64(item["leaf"], "leaf"))
            except InputError as e:
                raise _fail(rec[0], f"record {seq}: {e}") from e
            try:
                read_leaf(env.leaf())  # the same envelope checks as `affidavit verify`
            except InputError as e:
                raise _fail(rec[0], f"record {seq}: {e}") from e
            commitments.append((env.commitment, env.source if env.kind == Kind.ERASURE else None))
            hashes.append(merkle.leaf_hash(env.leaf()))
        if len(hashes) != last - first + 1:
            raise _fail(rec[0], f"holds {len(hashes)} records, not {last - first + 1}")
        for h in hashes:
            tree.add(h)
        seen: set[int] = set()
        for seq, item in _items(path, pay[0], first, ("payload_json", "salt", "seq"), gaps=True):
            if seq > last:
                raise _fail(pay[0], f"record {seq} lies beyond the segment")
            seen.add(seq)
            try:
                body = str(item["payload_json"]).encode("utf-8")
                salt = _unb64(item["salt"], "salt")
            except (InputError, UnicodeEncodeError) as e:
                raise _fail(pay[0], f"record {seq}: {e}") from e
            expected, eraser = commitments[seq - first]
            if commitment(salt, body) != expected:
                raise _fail(pay[0], f"record {seq}: its payload does not match its commitment")
            if eraser is not None:
                try:
                    named.update(erased_by(seq, eraser, body))
                except VerificationError as e:
                    raise _fail(pay[0], str(e)) from e
        missing += [(s, pay[0]) for s in range(first, last + 1) if s not in seen]
    if segments:
        raise _fail(next(iter(segments.values()))[0], f"lies beyond the archive's {size} records")
    tree.flush()
    for stop, (name, root) in sorted(wanted.items()):
        if tree.roots.get(stop) != root:
            raise _fail(name, f"its root is not the root of records 0..{stop - 1}")
    for seq, name in missing:
        if seq not in named:
            raise _fail(name, f"record {seq}: its payload is gone and no erasure record names it")
    return len(missing), len(wanted)


def _items(
    path: Path, name: str, first: int, keys: tuple[str, ...], *, gaps: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The lines of a segment, each exactly as the writer renders it, seqs ascending."""
    expected = first
    try:
        fd = os.open(path / name, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise InputError(f"cannot read {path / name}: {e}") from e
    with open(fd, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                item = json.loads(raw)
            except (ValueError, RecursionError):
                item = None
            if not isinstance(item, dict) or tuple(sorted(item)) != keys or _line(item) != raw:
                raise _fail(name, f"line {number} is not a line as the archive writes it")
            seq = item["seq"]
            if type(seq) is not int or seq < expected or (not gaps and seq != expected):
                raise _fail(name, f"line {number}: record {seq} is out of order")
            expected = seq + 1
            yield seq, item


def _check_ledger(manifest: Manifest, ledger: Ledger, verifier: Verifier) -> int:
    """Prove the ledger's latest checkpoint extends the archived one; returns its size."""
    where = "ledger checkpoint"
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise VerificationError("the ledger has no checkpoint to compare with", where=where)
    try:
        cp = open_checkpoint(latest[1], verifier)
    except (InputError, VerificationError) as e:
        raise VerificationError(f"{where}: {e}", where=where) from e
    size1, root1 = manifest.tree_size, manifest.root
    if cp.size < size1:
        raise ConsistencyError(
            f"the ledger was truncated: the archive holds {size1} records, the ledger's "
            f"latest checkpoint {cp.size}",
            size1=size1,
            size2=cp.size,
            root1=root1,
            root2=cp.root,
            where=where,
        )
    proof = ledger.prove_consistency(size1, cp.size).proof
    try:
        merkle.verify_consistency(size1, cp.size, proof, root1, cp.root)
    except VerificationError as e:
        raise ConsistencyError(
            f"the ledger's history differs from the archive's (size {size1}): {e}; "
            "run `affidavit verify` on the ledger",
            size1=size1,
            size2=cp.size,
            root1=root1,
            root2=cp.root,
            proof=proof,
            where=where,
        ) from e
    return cp.size

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

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from affidavit.capture import content
from affidavit.errors import (
    AffidavitError,
    InputError,
    LedgerError,
    VerificationError,
)
from affidavit.evidence.archive_format import (
    FOLDERS,
    FORMAT,
    HEX64,
    MANIFEST,
    SEGMENT,
    SOURCE,
    ArchiveReport,
    Manifest,
    json_line,
    segment_name,
)
from affidavit.evidence.archive_verify import verify_archive
from affidavit.evidence.layout import b64
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner, open_checkpoint, sign_note
from affidavit.record import Kind, Record, format_time
from affidavit.signing import sign_payload

__all__ = [
    "FOLDERS",
    "FORMAT",
    "MANIFEST",
    "SOURCE",
    "ArchiveReport",
    "archive",
    "record_archive",
    "segment_name",
    "verify_archive",
    "write_archive",
]
_RETRIES = 3


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
    store = ledger.store
    for _ in range(_RETRIES):
        ledger.seal()
        with store.snapshot():
            latest = ledger.latest_checkpoint()
            assert latest is not None  # seal always leaves one
            late = any(b'"kind":"erasure"' in row[1] for row in store.records(latest[0]))
            if not late:
                yield latest
                return
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
            records.write(json_line({"leaf": b64(leaf), "seq": seq}))
            if salt is None or body is None:
                erased += 1
                continue
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as e:
                raise VerificationError(f"record {seq}: its payload is not UTF-8") from e
            payloads.write(json_line({"payload_json": text, "salt": b64(salt), "seq": seq}))
        name = segment_name(first, last)
        records.finish(f"{name}.jsonl")
        payloads.finish(f"{name}.{payloads.sha.hexdigest()}.jsonl")
    for sha in content.names(store):
        if not HEX64.fullmatch(sha):
            continue  # not a content hash this store wrote; nothing to name it by
        try:
            data = content.get(store, sha)
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
            "root": b64(report.root),
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

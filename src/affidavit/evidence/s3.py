"""Archive snapshots in S3 Object Lock: upload, read back, verify (the ``[s3]`` extra).

The snapshot is the ``affidavit.archive/v1`` folder of :mod:`affidavit.evidence.archive`,
written to a private temporary folder and uploaded under one prefix. Its objects keep their
names (``records/…``, ``payloads/…``, ``checkpoints/…``, ``blobs/…``); the signed manifest
goes to ``manifests/<N>.txt``, N the tree size, so snapshots share a prefix and one
manifest alone describes one complete snapshot. Every object version is put in Object Lock
*compliance* mode with a retain-until date (AWS S3 user guide, "Locking objects with Object
Lock"): nobody, the root account included, can delete or shorten it before that date. An
object whose current version already holds the same bytes (SHA-256 in its metadata) under a
lock at least as long is reused, not uploaded again.

The bucket must have versioning and Object Lock enabled; a bucket without is refused before
anything is written, since its objects could be rewritten. After upload every version is
read back by its version id and the copy verified exactly as a local archive is (signed
manifest, every object's hash, every leaf folded into every checkpoint, the ledger proven
to extend it). Only then is the archive recorded: a signed ``attestation`` with the
``archive`` contract of :mod:`affidavit.compliance.gather`, its location the manifest's
``s3://`` URL, plus every object's key, version id and ETag.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from affidavit.errors import AffidavitError, InputError, VerificationError
from affidavit.evidence.archive import write_archive
from affidavit.evidence.archive_format import FORMAT, MANIFEST, ArchiveReport
from affidavit.evidence.archive_verify import verify_archive
from affidavit.evidence.s3_client import Location, S3Error, call, check_bucket
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner, Verifier
from affidavit.record import Kind, Record, format_time
from affidavit.signing import sign_payload

SOURCE = "affidavit.archive.s3"
MODE = "COMPLIANCE"


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object version of an archive in the bucket."""

    name: str
    """The name inside the archive (``manifest.txt`` for the manifest)."""
    key: str
    version_id: str
    etag: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "sha256": self.sha256,
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class S3Report:
    url: str
    """``s3://bucket/prefix/manifests/<N>.txt``: the snapshot's manifest."""
    archive: ArchiveReport
    objects: tuple[StoredObject, ...]
    retain_until: str
    uploaded: int
    reused: int
    record_seq: int | None = None
    unpublished: str | None = None


def manifest_name(tree_size: int) -> str:
    return f"manifests/{tree_size:012d}.txt"


@contextmanager
def _scratch() -> Iterator[Path]:
    """A private temporary folder, removed even though the archive writer made it read-only."""
    folder = Path(tempfile.mkdtemp(prefix="affidavit-s3-"))
    try:
        yield folder
    finally:
        for top, _, _ in os.walk(folder):
            os.chmod(top, 0o700)
        shutil.rmtree(folder, ignore_errors=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key_of(loc: Location, name: str, tree_size: int) -> str:
    return loc.key(manifest_name(tree_size) if name == MANIFEST else name)


def _put(
    client: Any, loc: Location, key: str, data: bytes, retain_until: datetime
) -> tuple[str, str, bool]:
    """Upload one object version locked until ``retain_until``; (version, ETag, uploaded).

    The current version is reused when it holds the same bytes under a lock that lasts at
    least as long: object names never map to two contents, so the bytes decide.
    """
    sha = _sha256(data)
    head = call(loc, key, client.head_object, Bucket=loc.bucket, Key=key, missing=True)
    if (
        head is not None
        and head.get("Metadata", {}).get("sha256") == sha
        and head.get("ObjectLockMode") == MODE
        and head.get("ObjectLockRetainUntilDate") is not None
        and head["ObjectLockRetainUntilDate"] >= retain_until
        and head.get("VersionId")
    ):
        return str(head["VersionId"]), str(head["ETag"]), False
    put = call(
        loc,
        key,
        client.put_object,
        Bucket=loc.bucket,
        Key=key,
        Body=data,
        Metadata={"sha256": sha},
        ObjectLockMode=MODE,
        ObjectLockRetainUntilDate=retain_until,
    )
    if not put.get("VersionId"):
        raise S3Error(f"{loc.url_of(key)}: the store returned no version id; is versioning on?")
    return str(put["VersionId"]), str(put["ETag"]), True


def upload(
    ledger: Ledger,
    loc: Location,
    *,
    client: Any,
    signer: NoteSigner,
    now: datetime,
    retain_until: datetime,
) -> S3Report:
    """Seal the ledger, upload its snapshot locked until ``retain_until``, read it back."""
    if retain_until <= now:
        raise InputError("the retain-until date must lie in the future")
    if retain_until.microsecond:  # S3 keeps whole seconds: round up, never lock shorter
        retain_until = retain_until.replace(microsecond=0) + timedelta(seconds=1)
    check_bucket(client, loc)
    with _scratch() as scratch:
        report = write_archive(ledger, scratch / "snapshot", signer=signer, now=now)
        manifest_key = loc.key(manifest_name(report.tree_size))
        if call(
            loc, manifest_key, client.head_object, Bucket=loc.bucket, Key=manifest_key, missing=True
        ):
            raise InputError(
                f"{loc.url_of(manifest_key)} exists: a snapshot of this size is archived already"
            )
        stored: list[StoredObject] = []
        uploaded = 0
        # The manifest last: until it is there, no reader takes the objects for a snapshot.
        names = [*sorted(n for n in _names(report.path) if n != MANIFEST), MANIFEST]
        for name in names:
            data = (report.path / name).read_bytes()
            key = _key_of(loc, name, report.tree_size)
            version, etag, new = _put(client, loc, key, data, retain_until)
            uploaded += new
            stored.append(StoredObject(name, key, version, etag, _sha256(data), len(data)))
    url = loc.url_of(manifest_key)
    checked = read_back(
        client, loc, tuple(stored), verifier=ledger.verifier, ledger=ledger, retain=retain_until
    )
    return S3Report(
        url,
        replace(checked, path=Path(url)),
        tuple(stored),
        format_time(retain_until),
        uploaded,
        len(stored) - uploaded,
    )


def _names(folder: Path) -> Iterator[str]:
    for top, _, files in os.walk(folder):
        rel = os.path.relpath(top, folder)
        for f in files:
            yield f if rel == "." else f"{rel}/{f}"


def read_back(
    client: Any,
    loc: Location,
    objects: tuple[StoredObject, ...],
    *,
    verifier: Verifier,
    ledger: Ledger | None,
    retain: datetime | None = None,
) -> ArchiveReport:
    """Download these exact versions and verify them as an archive; check each one's lock.

    ``retain``: the least retain-until date every version must carry (None: any date, but
    compliance mode all the same).
    """
    with _scratch() as scratch:
        for obj in objects:
            got = call(
                loc,
                obj.key,
                client.get_object,
                Bucket=loc.bucket,
                Key=obj.key,
                VersionId=obj.version_id,
                missing=True,
            )
            where = f"{loc.url_of(obj.key)} (version {obj.version_id})"
            if got is None:  # a locked version must outlive its date: its loss is a failure
                raise VerificationError(f"{where}: the archived version is gone", where=where)
            data = got["Body"].read()
            if got.get("ETag") != obj.etag or _sha256(data) != obj.sha256:
                raise VerificationError(f"{where}: not the bytes that were archived", where=where)
            if got.get("ObjectLockMode") != MODE:
                raise VerificationError(f"{where}: not locked in compliance mode", where=where)
            until = got.get("ObjectLockRetainUntilDate")
            if retain is not None and (until is None or until < retain):
                raise VerificationError(
                    f"{where}: locked until {until}, not {format_time(retain)}", where=where
                )
            target = scratch / obj.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return verify_archive(scratch, verifier=verifier, ledger=ledger)


def record(
    ledger: Ledger,
    signer: NoteSigner,
    report: S3Report,
    *,
    now: datetime,
    actor: Mapping[str, Any] | None = None,
) -> int:
    """Append the signed archive record (the contract :mod:`.gather` scores); returns its seq."""
    a = report.archive
    body = {
        "archive": {
            "at": format_time(now),
            "location": report.url,
            "format": FORMAT,
            "store": "s3",
            "lock_mode": MODE,
            "retain_until": report.retain_until,
            "tree_size": a.tree_size,
            "root": _b64(a.root),
            "records": a.records,
            "erased": a.erased,
            "bytes": a.bytes,
            "manifest_sha256": a.manifest_sha256,
            "objects": [o.to_json() for o in report.objects],
        },
        "actor": dict(actor or {}),
    }
    rec = Record.create(Kind.ATTESTATION, SOURCE, sign_payload(body, signer), time=now)
    return ledger.append([rec])[0]


def archive(
    ledger: Ledger,
    loc: Location,
    *,
    client: Any,
    signer: NoteSigner,
    now: datetime,
    retain_until: datetime,
    actor: Mapping[str, Any] | None = None,
) -> S3Report:
    """Upload, verify, record and publish. Locked objects cannot be removed if recording
    fails; the next run reuses them, so running it again is safe."""
    report = upload(ledger, loc, client=client, signer=signer, now=now, retain_until=retain_until)
    seq = record(ledger, signer, report, now=now, actor=actor)
    try:
        ledger.seal()
    except (AffidavitError, sqlite3.Error, OSError) as e:
        return replace(report, record_seq=seq, unpublished=str(e))
    return replace(report, record_seq=seq)


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode("ascii")

"""``affidavit archive verify s3://…``: check a snapshot stored by :mod:`.s3`.

The versions checked are the ones the ledger's signed archive record names (by version id
and ETag), so a newer version written over a key later, which a versioned bucket allows
even under Object Lock, cannot stand in for what was archived. Without such a record the
current versions are checked. Either way each version must be locked in compliance mode,
and the snapshot must verify as an archive and be extended by the ledger's checkpoint.
With the record, each version must also still be locked until the date it recorded: an
S3-compatible store that lets a compliance lock be shortened (or a version be deleted) does
not keep the promise, and the check says so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from affidavit.errors import InputError, VerificationError
from affidavit.evidence.archive_format import MANIFEST, ArchiveReport
from affidavit.evidence.s3 import SOURCE, StoredObject, read_back
from affidavit.evidence.s3_client import Location, call
from affidavit.ledger import Ledger
from affidavit.note import Verifier
from affidavit.record import Kind, parse_time


@dataclass(frozen=True, slots=True)
class StoredCheck:
    url: str
    archive: ArchiveReport
    recorded_seq: int | None
    """The ledger's archive record whose object versions were checked (None: latest ones)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the ledger's signed archive record says was stored."""

    seq: int
    objects: tuple[StoredObject, ...]
    retain_until: datetime


def recorded(ledger: Ledger, url: str) -> Recorded | None:
    """The latest signed S3 archive record for the manifest ``url``."""
    from affidavit import query
    from affidavit.signing import verify_payload

    _, rows = query.actions(ledger.store, query.Filters(kinds=(Kind.ATTESTATION,)))
    found: Recorded | None = None
    for row in rows:
        seq, source = row[0], row[3]
        if source != SOURCE or not isinstance(seq, int):
            continue
        payload = ledger.record(seq).payload or {}
        body = payload.get("archive")
        if not isinstance(body, dict) or body.get("location") != url:
            continue
        try:
            verify_payload(payload, ledger.verifier)
            objects = tuple(
                StoredObject(
                    str(o["name"]),
                    str(o["key"]),
                    str(o["version_id"]),
                    str(o["etag"]),
                    str(o["sha256"]),
                    int(o["size"]),
                )
                for o in body["objects"]
            )
            until = parse_time(str(body["retain_until"]))
        except (VerificationError, InputError, KeyError, TypeError, ValueError):
            continue  # not a record this module wrote and signed: it proves nothing
        found = Recorded(seq, objects, until)
    return found


def _latest_manifest(client: Any, loc: Location) -> str:
    folder = loc.key("manifests/")
    keys: list[str] = []
    token: dict[str, Any] = {}
    while True:
        page = call(
            loc,
            folder,
            client.list_objects_v2,
            Bucket=loc.bucket,
            Prefix=folder,
            **token,
        )
        keys += [str(o["Key"]) for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            break
        token = {"ContinuationToken": str(page["NextContinuationToken"])}
    if not keys:
        raise InputError(f"{loc.url_of(folder)}: no archive manifest there")
    return max(keys)


def _latest_objects(
    client: Any, loc: Location, manifest_key: str, verifier: Verifier
) -> tuple[StoredObject, ...]:
    """The current versions of a manifest and the objects it lists (no ledger record)."""
    from affidavit.evidence.archive_format import Manifest
    from affidavit.note import open_note

    got = call(loc, manifest_key, client.get_object, Bucket=loc.bucket, Key=manifest_key)
    raw = got["Body"].read()
    try:
        manifest = Manifest.parse(open_note(raw, [verifier]).text)
    except (InputError, VerificationError) as e:
        raise VerificationError(f"{loc.url_of(manifest_key)}: {e}", where=manifest_key) from e
    out = [
        StoredObject(
            MANIFEST,
            manifest_key,
            str(got["VersionId"]),
            str(got["ETag"]),
            hashlib.sha256(raw).hexdigest(),
            len(raw),
        )
    ]
    for name, (sha, size) in sorted(manifest.objects.items()):
        key = loc.key(name)
        head = call(loc, key, client.head_object, Bucket=loc.bucket, Key=key)
        out.append(StoredObject(name, key, str(head["VersionId"]), str(head["ETag"]), sha, size))
    return tuple(out)


def verify_stored(
    url: str, *, client: Any, verifier: Verifier, ledger: Ledger | None
) -> StoredCheck:
    """Check a stored snapshot: the object versions the ledger recorded for it (else the
    current ones), their compliance-mode lock, and the archive against the ledger.

    ``url`` is a manifest (``…/manifests/<N>.txt``) or a prefix (its latest manifest).
    """
    loc = Location.parse(url)
    if re.fullmatch(r"(.*/)?manifests/\d{12}\.txt", loc.prefix):
        manifest_key = loc.prefix
        base = loc.prefix.rsplit("manifests/", 1)[0].rstrip("/")
        loc = Location(loc.bucket, base)
    else:
        manifest_key = _latest_manifest(client, loc)
    manifest_url = loc.url_of(manifest_key)
    found = recorded(ledger, manifest_url) if ledger is not None else None
    objects = found.objects if found else _latest_objects(client, loc, manifest_key, verifier)
    retain = found.retain_until if found else None
    checked = read_back(client, loc, objects, verifier=verifier, ledger=ledger, retain=retain)
    return StoredCheck(
        manifest_url, replace(checked, path=Path(manifest_url)), found.seq if found else None
    )

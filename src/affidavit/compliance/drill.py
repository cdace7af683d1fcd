"""``affidavit drill``: prove that rollback works, on a scratch copy, and record the result.

The drill runs the real restore path end to end in a fresh temporary folder (never a user
file): write a file, snapshot it into the ledger's content store exactly as capture does,
change it, record the change as a ``file.update`` (source ``affidavit.drill``), undo that
record with :func:`affidavit.capture.rollback.rollback` (which records ``file.restore``),
and compare the bytes on disk with the original, byte for byte and by SHA-256.

The result is a signed record (the contract :mod:`.gather` reads)::

    kind "attestation", source "affidavit.drill"
    payload {"drill": {"ok": bool, "at": RFC 3339, "detail": str, "bytes": int,
                       "original_sha256", "restored_sha256", "update_seq", "restore_seq"},
             "actor": {...}, "signature": {...}}

A failed drill is recorded too (``ok`` false, ``detail`` says where it failed): it is
evidence that the control does not work. The last drill decides the checklist's
"backup and rollback tested" item.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from affidavit.capture import content, rollback, snapshots
from affidavit.errors import AffidavitError
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner
from affidavit.record import Kind, Record, format_time
from affidavit.signing import sign_payload

SOURCE = "affidavit.drill"


@dataclass(frozen=True, slots=True)
class DrillResult:
    seq: int
    ok: bool
    detail: str
    update_seq: int | None
    restore_seq: int | None


def run_drill(
    ledger: Ledger,
    signer: NoteSigner,
    *,
    now: datetime,
    actor: Mapping[str, Any] | None = None,
) -> DrillResult:
    """Run the drill in a temporary folder (removed after) and record its result."""
    scratch = Path(tempfile.mkdtemp(prefix="affidavit-drill-"))
    result: dict[str, Any] = {"at": format_time(now)}
    ok, detail = False, "not run"
    try:
        ok, detail = _exercise(ledger, scratch / "drill.txt", now, dict(actor or {}), result)
    except (AffidavitError, OSError, ValueError) as e:
        detail = f"{type(e).__name__}: {e}"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.update(ok=ok, detail=detail)
    body = {"drill": result, "actor": dict(actor or {})}
    record = Record.create(Kind.ATTESTATION, SOURCE, sign_payload(body, signer), time=now)
    seq = ledger.append([record])[0]
    return DrillResult(seq, ok, detail, result.get("update_seq"), result.get("restore_seq"))


def _exercise(
    ledger: Ledger, path: Path, now: datetime, actor: dict[str, Any], result: dict[str, Any]
) -> tuple[bool, str]:
    original = f"affidavit rollback drill {format_time(now)} {os.urandom(8).hex()}\n".encode()
    path.write_bytes(original)
    before = snapshots.snapshot(str(path))
    path.write_bytes(original + b"changed by the drill\n")
    after = snapshots.snapshot(str(path))
    store = ledger.store
    store.begin()
    try:
        content.keep(store, before.sha256, before.data)
        content.keep(store, after.sha256, after.data)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    change = Record.create(
        Kind.FILE_UPDATE,
        SOURCE,
        {
            "actor": actor,
            "file": {
                "path": str(path),
                "before_sha256": before.sha256,
                "after_sha256": after.sha256,
                "size": after.size,
            },
            "via": "rollback-drill",
        },
        time=now,
    )
    update_seq = ledger.append([change])[0]
    result.update(update_seq=update_seq, bytes=len(original), original_sha256=before.sha256)
    restore_seq = rollback.rollback(ledger, update_seq, actor=actor)
    restored = path.read_bytes()
    result.update(restore_seq=restore_seq, restored_sha256=hashlib.sha256(restored).hexdigest())
    if restored != original:
        return False, (
            f"record {restore_seq} restored {len(restored)} bytes that differ from the "
            f"{len(original)} bytes snapshotted"
        )
    return (
        True,
        f"restored {len(original)} bytes byte for byte (records {update_seq}, {restore_seq})",
    )

"""An endpoint's log rebuilt from the collector's copy, so ``affidavit evidence --server URL``
builds an ordinary evidence pack (``affidavit verify-pack`` checks it as any other).

The collector answers with the endpoint's pinned verifier key, the checkpoint it cosigned
(signed by the endpoint's own key) and the records up to it (see
:mod:`affidavit.server.endpoint_log`). None of it is taken on trust: the records are
appended to a new SQLite ledger that carries the endpoint's origin and key, the tree is
integrated, and its root must be the signed checkpoint's root, whose signature must verify
by that key, before the checkpoint is stored beside them; then the whole rebuilt log is
verified as ``affidavit verify`` would. A collector that changed, dropped or reordered a
record, or cut the log short, fails here with the reason; so does a payload erased on the
collector (its erasure is recorded on the org log, not in the endpoint's log). Standard library
HTTP (``urllib``).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from affidavit import merkle, remote
from affidavit.errors import LedgerError, VerificationError
from affidavit.ledger import Ledger
from affidavit.note import Verifier, open_checkpoint
from affidavit.record import format_time
from affidavit.store.sqlite import SqliteStore

PAGE = 5000


def _get(url: str, token: str, path: str, params: dict[str, str]) -> tuple[bytes, str | None]:
    headers, body = remote.get(url, token, f"{path}?{urllib.parse.urlencode(params)}", timeout=120)
    return body, headers.get("X-Next-After")


Row = tuple[bytes, bytes, bytes | None, bytes | None]


def _rows(url: str, token: str, device: str) -> Iterator[Row]:
    after: str | None = "-1"
    expected = 0
    while after is not None:
        body, after = _get(url, token, "/api/v1/entries", {"device": device, "after": after,
                                                           "limit": str(PAGE)})  # fmt: skip
        for line in body.decode("utf-8").splitlines():
            item = json.loads(line)
            if item["seq"] != expected:
                raise VerificationError(
                    f"the collector skipped record {expected} of {device}", where="collector"
                )
            expected += 1
            leaf = base64.b64decode(item["leaf"])
            salt = None if item["salt"] is None else base64.b64decode(item["salt"])
            payload = None if item["payload"] is None else base64.b64decode(item["payload"])
            yield leaf, merkle.leaf_hash(leaf), salt, payload


def rebuild(url: str, token: str, device: str, path: Path, *, now: datetime) -> Ledger:
    """A new ledger at ``path`` holding ``device``'s log as the collector cosigned it
    (``now``: when it was rebuilt, kept as the ledger's creation time)."""
    body, _ = _get(url, token, "/api/v1/endpoint", {"device": device})
    info: dict[str, Any] = json.loads(body)
    if not info.get("checkpoint"):
        raise LedgerError(f"the collector has cosigned no checkpoint of {device} yet")
    verifier = Verifier.from_vkey(info["vkey"])
    checkpoint = open_checkpoint(info["checkpoint"], verifier)  # the endpoint's own signature
    if verifier.name != device:
        raise VerificationError(f"the collector's key for {device} is named {verifier.name}")
    store = SqliteStore.create(
        path, {"origin": device, "vkey": info["vkey"], "created": format_time(now)}
    )
    ledger = Ledger(store)
    try:
        store.begin()
        try:
            batch: list[Row] = []
            for row in _rows(url, token, device):
                batch.append(row)
                if len(batch) == PAGE:
                    store.add_records(batch)
                    batch = []
            store.add_records(batch)
            store.commit()
        except BaseException:
            store.rollback()
            raise
        if ledger.integrate() != checkpoint.size:
            raise VerificationError(
                f"the collector holds {store.size()} records of {device}, not the "
                f"{checkpoint.size} its checkpoint covers", where="collector",
            )  # fmt: skip
        if ledger.root(checkpoint.size) != checkpoint.root:
            raise VerificationError(
                f"the records the collector holds of {device} are not the tree of the "
                f"checkpoint of size {checkpoint.size} it cosigned", where="collector",
            )  # fmt: skip
        store.begin()
        store.add_checkpoint(checkpoint.size, info["checkpoint"], format_time(now))
        store.commit()
        try:  # every record against its commitment, and every missing payload accounted for
            ledger.verify(key=verifier)
        except VerificationError as e:
            raise VerificationError(
                f"the collector's copy of {device}: {e} (a payload erased on the collector "
                "is named only on the org log: build this pack from the endpoint)",
                where="collector",
            ) from e
    except BaseException:
        ledger.close()
        raise
    return ledger

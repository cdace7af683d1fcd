"""The archive format ``affidavit.archive/v1``: its manifest, object names and line encoding
(described in :mod:`affidavit.evidence.archive`), shared by the writer and the verifier."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from affidavit import merkle
from affidavit.errors import (
    InputError,
)
from affidavit.evidence.layout import b64, unb64

FORMAT = "affidavit.archive/v1"
SOURCE = "affidavit.archive"
MANIFEST = "manifest.txt"
SEGMENT = 100_000
FOLDERS = ("blobs", "checkpoints", "payloads", "records")

OBJECT_NAME = re.compile(
    r"checkpoints/(\d{12})\.txt|records/(\d{12})-(\d{12})\.jsonl"
    r"|payloads/(\d{12})-(\d{12})\.([0-9a-f]{64})\.jsonl|blobs/([0-9a-f]{64})"
)
HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


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
            f"tree {self.tree_size} {b64(self.root)}",
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
        root_hash = unb64(root, "line 4: root hash")
        if len(root_hash) != merkle.HASH_SIZE:
            raise InputError("line 4: the root hash is not 32 bytes")
        objects: dict[str, tuple[str, int]] = {}
        previous = ""
        for number, line in enumerate(lines[5:], start=6):
            parts = line.split(" ")
            if not (
                len(parts) == 4
                and parts[0] == "object"
                and HEX64.fullmatch(parts[1])
                and _DECIMAL.fullmatch(parts[2])
                and OBJECT_NAME.fullmatch(parts[3])
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


def json_line(item: Mapping[str, object]) -> bytes:
    return (
        json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        + b"\n"
    )


def segment_name(first: int, last: int) -> str:
    return f"{first:012d}-{last:012d}"

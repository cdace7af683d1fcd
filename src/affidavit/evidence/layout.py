"""The evidence pack's files, its manifest, and reading a pack without trusting it.

A pack is one ZIP file; :mod:`affidavit.evidence` lists its members. This module holds what
the builder and the verifier must agree on byte for byte (names, the manifest's form, the
line format of records) and the reader that opens a pack someone else made: every name,
size and compression ratio is checked from the central directory before a single member is
decompressed, members are read into memory with the declared size as a hard cap, and
nothing is ever written to disk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from affidavit.errors import InputError

FORMAT = "affidavit-evidence/1"

README = "README.md"
MANIFEST = "manifest.json"
SELECTION = "selection.json"
CHECKPOINT = "checkpoint.txt"
VKEY = "vkey.txt"
RECORDS = "records.jsonl"
ERASURES = "erasures.jsonl"
WINDOW = "window.jsonl"
CONSISTENCY = "consistency.jsonl"
ENDPOINTS = "endpoints.jsonl"
CONTENT = "content/"

FIXED = (
    README, MANIFEST, SELECTION, CHECKPOINT, VKEY, RECORDS, ERASURES, WINDOW, CONSISTENCY,
    ENDPOINTS,
)  # fmt: skip
REQUIRED = (README, SELECTION, CHECKPOINT, VKEY, RECORDS)
"""Files every pack has besides the manifest (the others depend on options)."""

RECORD_FIELDS = ("seq", "leaf", "salt", "payload_json", "proof")
"""The keys of a records.jsonl / erasures.jsonl line, in the order they are written."""

ENDPOINT_FIELDS = ("org_seq", "origin", "seq", "leaf", "salt", "payload_json")
"""The keys of an endpoints.jsonl line (org-log packs), in the order they are written."""

_CONTENT_NAME = re.compile(r"content/[0-9a-f]{64}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\:]")


def is_sha256_hex(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def is_pack_name(name: str) -> bool:
    """Whether ``name`` is a file an evidence pack may hold."""
    return name in FIXED or _CONTENT_NAME.fullmatch(name) is not None


def content_name(sha256_hex: str) -> str:
    return CONTENT + sha256_hex


# -- encodings shared by builder and verifier ----------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: object, what: str, size: int | None = None) -> bytes:
    """Strict base64 (canonical, padded) of exactly ``size`` bytes when given."""
    if not isinstance(value, str):
        raise InputError(f"{what} is not a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"{what} is not valid base64") from e
    if b64(raw) != value:
        raise InputError(f"{what} is not canonical base64")
    if size is not None and len(raw) != size:
        raise InputError(f"{what} is {len(raw)} bytes, not {size}")
    return raw


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render_manifest(files: dict[str, str]) -> bytes:
    """The manifest's exact bytes: sorted keys, one-space indent, final newline.

    The verifier re-renders what it parsed and compares, so no byte of the manifest can
    change (not even white space) without being caught.
    """
    return render_json({"files": dict(sorted(files.items())), "format": FORMAT})


def render_json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def record_line(
    seq: int, leaf: bytes, salt: bytes | None, payload_json: bytes | None, proof: list[bytes]
) -> bytes:
    """One records.jsonl line. The payload is kept as the exact canonical JSON text the
    commitment was made over, so a verifier needs no RFC 8785 implementation."""
    item = {
        "seq": seq,
        "leaf": b64(leaf),
        "salt": None if salt is None else b64(salt),
        "payload_json": None if payload_json is None else payload_json.decode("utf-8"),
        "proof": [b64(h) for h in proof],
    }
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def endpoint_line(
    org_seq: int, origin: str, seq: int, leaf: bytes, salt: bytes | None, body: bytes | None
) -> bytes:
    """One endpoints.jsonl line: the endpoint record an ``org.entry`` of an org-log pack
    names, with its payload as the exact text committed to (null when erased)."""
    item = {
        "org_seq": org_seq,
        "origin": origin,
        "seq": seq,
        "leaf": b64(leaf),
        "salt": None if salt is None else b64(salt),
        "payload_json": None if body is None else body.decode("utf-8"),
    }
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# -- reading a pack safely -----------------------------------------------------------------


class PackRefusedError(InputError):
    """The file is not an evidence pack, or is one that is unsafe to open (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a pack may claim before any member is decompressed.

    ``member_bytes`` caps one member (each is read whole into memory, content files one
    at a time); ``total_bytes`` caps the sum; a member above ``ratio_floor`` bytes that
    inflates more than ``ratio`` times is a zip bomb: JSON, leaves and proofs compress
    about 3-10 times, a run of zeros about 1,000.
    """

    member_bytes: int = 1 << 30
    total_bytes: int = 64 << 30
    members: int = 1_000_000
    ratio: int = 200
    ratio_floor: int = 1 << 20


class DamagedMemberError(Exception):
    """A member's compressed bytes do not inflate to what its header says (CRC, length)."""


class PackReader:
    """An open pack: its member names, checked, and bounded reads. Use as a context manager."""

    def __init__(self, path: Path, limits: Limits | None = None) -> None:
        self.path = path
        limits = limits or Limits()
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise PackRefusedError(f"{path} is not a readable ZIP file: {e}") from e
        try:
            self._infos = _checked_infos(self._zip, limits)
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> PackReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def read(self, name: str) -> bytes:
        """The member's bytes; never more than its declared size, never inflated whole.

        ``ZipFile.read`` inflates a member in one call, so a header that understates the
        size of a deflate bomb would cost gigabytes before the length check; pieces cost 1 MiB.
        """
        return b"".join(self.chunks(name))

    def chunks(self, name: str) -> Iterator[bytes]:
        """The member in 1 MiB pieces (content files are hashed, never held whole)."""
        try:
            with self._zip.open(self._infos[name]) as f:
                while piece := f.read(1 << 20):
                    yield piece
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as e:
            raise DamagedMemberError(str(e)) from e


def _checked_infos(archive: zipfile.ZipFile, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.members:
        raise PackRefusedError(f"refused: {len(infos)} members, more than {limits.members}")
    out: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        shown = repr(name[:120])
        parts = name.split("/")
        if (
            not name
            or name.startswith("/")
            or _UNSAFE.search(name)
            or any(p in ("", ".", "..") for p in parts[:-1])
            or parts[-1] in (".", "..")
        ):
            raise PackRefusedError(
                f"refused: member name {shown} could escape a folder when unzipped "
                "(absolute, '..', a backslash or a drive letter); this is not a pack "
                "Affidavit made"
            )
        if name in out:
            raise PackRefusedError(f"refused: member {shown} appears twice")
        if info.flag_bits & 0x1:
            raise PackRefusedError(f"refused: member {shown} is encrypted")
        if info.file_size > limits.member_bytes:
            raise PackRefusedError(
                f"refused: member {shown} would inflate to {info.file_size:,} bytes, more "
                f"than the {limits.member_bytes:,}-byte limit per file"
            )
        if info.file_size > limits.ratio_floor and info.file_size > limits.ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise PackRefusedError(
                f"refused: member {shown} would inflate {ratio:,} times "
                f"({info.compress_size:,} -> {info.file_size:,} bytes): a zip bomb"
            )
        total += info.file_size
        if total > limits.total_bytes:
            raise PackRefusedError(
                f"refused: the members would inflate to more than {limits.total_bytes:,} bytes"
            )
        out[name] = info
    if not any(n in out for n in (MANIFEST, *REQUIRED)):
        raise PackRefusedError(
            f"{archive.filename} is a ZIP file but not an evidence pack: it has none of "
            f"{MANIFEST}, {', '.join(REQUIRED)}"
        )
    return out

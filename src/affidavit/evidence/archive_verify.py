"""``affidavit archive verify``: an archive checks out on its own (manifest signature, every
object's hash and size, the tree rebuilt from the records, the erasure rule, every
checkpoint), and, given the ledger, that the ledger's checkpoint extends it."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from affidavit import merkle
from affidavit.errors import (
    ConsistencyError,
    InputError,
    VerificationError,
)
from affidavit.evidence.archive_format import (
    FOLDERS,
    MANIFEST,
    OBJECT_NAME,
    SEGMENT,
    ArchiveReport,
    Manifest,
    json_line,
    segment_name,
)
from affidavit.evidence.layout import unb64
from affidavit.ledger import Ledger
from affidavit.note import Verifier, open_checkpoint, open_note
from affidavit.record import Envelope, Kind, commitment, read_leaf
from affidavit.verify.erasure import erased_by
from affidavit.verify.tree import TreeCheck


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
        m = OBJECT_NAME.fullmatch(name)
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
        m = OBJECT_NAME.fullmatch(name)
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
                env = Envelope.from_leaf(unb64(item["leaf"], "leaf"))
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
                salt = unb64(item["salt"], "salt")
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
            if not isinstance(item, dict) or tuple(sorted(item)) != keys or json_line(item) != raw:
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

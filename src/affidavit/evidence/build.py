"""Building an evidence pack from a ledger (see :mod:`affidavit.evidence` for the layout).

Every proof leads to one checkpoint, the latest published one; selected records it does
not cover yet are left out and counted (``unpublished``), so a pack never holds a record
without its proof. Proofs are read from the stored subtree hashes (O(log n) each) with
the hashes shared between proofs read once, and each is checked before it is written: a
damaged ledger fails the build instead of producing a pack that fails at the auditor's.

The pack is written to a temporary file beside ``out``, fsync-ed, then linked into place
(or, with ``force``, renamed over an existing file), so ``out`` is never half written.
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, Protocol

from affidavit import merkle, query
from affidavit.capture import content
from affidavit.errors import InputError, LedgerCorruptError, LedgerError, VerificationError
from affidavit.evidence import layout
from affidavit.evidence.readme import render_readme
from affidavit.files import atomic_writer
from affidavit.ledger import Ledger, Progress
from affidavit.note import Checkpoint, open_checkpoint
from affidavit.record import Kind, format_time

COMPRESS_LEVEL = 6
_WINDOW_BATCH = 8192


@dataclass(frozen=True, slots=True)
class BuildResult:
    """What went into a pack."""

    path: Path
    bytes: int
    tree_size: int
    records: int
    erased: int
    erasures: int
    unpublished: int
    content_files: int
    content_missing: tuple[str, ...]
    window: int | None
    consistency_from: tuple[int, ...]


class Nodes(Protocol):
    """What proving needs of a store: its subtree hashes (the SQLite and PostgreSQL stores)."""

    def node_hashes(self, keys: Sequence[tuple[int, int]]) -> list[bytes]: ...


class Prover:
    """Inclusion proofs from stored subtree hashes, each range hash read once per build."""

    def __init__(self, store: Nodes, size: int) -> None:
        self._store = store
        self._size = size
        self._ranges: dict[tuple[int, int], bytes] = {}

    def _range(self, start: int, end: int) -> bytes:
        h = self._ranges.get((start, end))
        if h is None:
            h = merkle.fold(self._store.node_hashes(merkle.subtrees(start, end)))
            if end - start > 1:  # a single leaf's hash is never shared: do not keep it
                self._ranges[(start, end)] = h
        return h

    def proof(self, seq: int) -> list[bytes]:
        return [self._range(a, b) for a, b in merkle.inclusion_ranges(seq, self._size)]


class PackFiles:
    """Members written so far and their SHA-256, for the manifest."""

    def __init__(self, archive: zipfile.ZipFile, moment: datetime) -> None:
        self._zip = archive
        self._date = (moment.year, moment.month, moment.day, moment.hour, moment.minute, 0)
        self.hashes: dict[str, str] = {}

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=max(self._date, (1980, 1, 1, 0, 0, 0)))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def put(self, name: str, data: bytes, *, listed: bool = True) -> None:
        self._zip.writestr(self._info(name), data, compresslevel=COMPRESS_LEVEL)
        if listed:
            self.hashes[name] = layout.sha256_hex(data)

    @contextlib.contextmanager
    def stream(self, name: str) -> Iterator[Callable[[bytes], None]]:
        digest = sha256()
        with self._zip.open(self._info(name), "w", force_zip64=True) as member:

            def write(data: bytes) -> None:
                digest.update(data)
                member.write(data)

            yield write
        self.hashes[name] = digest.hexdigest()


def build_pack(
    ledger: Ledger,
    out: Path,
    *,
    filters: query.Filters,
    now: datetime,
    with_content: bool = False,
    window_complete: bool = False,
    kept_checkpoints: Sequence[str] = (),
    force: bool = False,
    progress: Progress | None = None,
) -> BuildResult:
    """Write an evidence pack of the records ``filters`` select to ``out``.

    ``kept_checkpoints`` are signed notes an auditor kept: the pack then carries a
    consistency proof from each to the pack's checkpoint. Refuses to replace ``out``
    unless ``force``.
    """
    if out.exists() and not force:
        raise InputError(f"{out} exists; use --force to overwrite it")
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: no folder {out.parent}")
    query.refresh(ledger.store)
    # One read snapshot for the whole build (WAL: writers, such as the hook, go on), so a
    # record erased or a checkpoint published meanwhile cannot make the pack inconsistent.
    with ledger.store.snapshot():
        return _build(
            ledger,
            out,
            filters=filters,
            now=now,
            with_content=with_content,
            window_complete=window_complete,
            kept_checkpoints=kept_checkpoints,
            force=force,
            progress=progress,
        )


def _build(
    ledger: Ledger,
    out: Path,
    *,
    filters: query.Filters,
    now: datetime,
    with_content: bool,
    window_complete: bool,
    kept_checkpoints: Sequence[str],
    force: bool,
    progress: Progress | None,
) -> BuildResult:
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise LedgerError("nothing is published yet; run `affidavit seal` first")
    note = latest[1]
    checkpoint = open_checkpoint(note, ledger.verifier)
    consistency = [_consistency(ledger, kept, checkpoint) for kept in kept_checkpoints]
    _, rows = query.actions(ledger.store, filters)
    selected = [_seq(row) for row in rows]
    seqs = [s for s in selected if s < checkpoint.size]

    # 0600 until handed over: a pack built --with-content holds file contents.
    try:
        with atomic_writer(out, mode=0o600, exclusive=not force) as handle:
            with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                writer = _Writer(ledger, archive, checkpoint, now)
                writer.records(seqs, with_content=with_content, progress=progress)
                writer.erasures()
                writer.content()
                if window_complete:
                    writer.window()
                if consistency:
                    writer.files.put(layout.CONSISTENCY, b"".join(line for _, line in consistency))
                selection = {
                    "created": format_time(now),
                    "origin": checkpoint.origin,
                    "tree_size": checkpoint.size,
                    "filters": describe_filters(filters),
                    "records": len(seqs),
                    "erased": len(writer.erased),
                    "erasures": len(writer.erasure_seqs),
                    "unpublished_left_out": len(selected) - len(seqs),
                    "with_content": with_content,
                    "content_missing": writer.missing,
                    "window_complete": window_complete,
                    "consistency_from": [size for size, _ in consistency],
                }
                writer.finish(selection, note)
            length = handle.tell()
    except FileExistsError:
        raise InputError(f"{out} exists; use --force to overwrite it") from None
    return BuildResult(
        path=out,
        bytes=length,
        tree_size=checkpoint.size,
        records=len(seqs),
        erased=len(writer.erased),
        erasures=len(writer.erasure_seqs),
        unpublished=len(selected) - len(seqs),
        content_files=len(writer.wanted) - len(writer.missing),
        content_missing=tuple(writer.missing),
        window=checkpoint.size if window_complete else None,
        consistency_from=tuple(size for size, _ in consistency),
    )


def describe_filters(filters: query.Filters) -> dict[str, Any]:
    """The filters that were set, as selection.json records them."""
    out: dict[str, Any] = {}
    for name in ("actor", "agent", "session", "path", "function", "tool", "since", "until"):
        value = getattr(filters, name)
        if value:
            out[name] = value
    if filters.kinds:
        out["kinds"] = list(filters.kinds)
    return out


def _seq(row: tuple[object, ...]) -> int:
    seq = row[0]
    if not isinstance(seq, int):
        raise LedgerCorruptError(f"the actions index holds a seq that is not a number: {seq!r}")
    return seq


class _Writer:
    """Writes one pack's members; keeps what the manifest and selection.json report."""

    def __init__(
        self, ledger: Ledger, archive: zipfile.ZipFile, checkpoint: Checkpoint, now: datetime
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.checkpoint = checkpoint
        self.files = PackFiles(archive, now)
        self.prover = Prover(ledger.store, checkpoint.size)
        self.erased: list[int] = []
        self.erasure_seqs: list[int] = []
        self.wanted: dict[str, None] = {}  # content hashes, in first-seen order
        self.missing: list[str] = []

    def _line(self, seq: int) -> tuple[bytes, bytes | None]:
        """The record's pack line (proof checked) and its payload."""
        row = self.store.record(seq)
        if row is None:
            raise LedgerCorruptError(f"record {seq} is in the index but not in the ledger")
        _, leaf, leaf_hash, salt, body = row
        proof = self.prover.proof(seq)
        try:
            if merkle.leaf_hash(leaf) != leaf_hash:
                raise VerificationError("its leaf bytes do not hash to its stored leaf hash")
            merkle.verify_inclusion(
                leaf_hash, seq, self.checkpoint.size, proof, self.checkpoint.root
            )
        except VerificationError as e:
            raise LedgerCorruptError(
                f"record {seq}: {e}; the ledger is damaged (run `affidavit verify`), "
                "no pack written"
            ) from e
        return layout.record_line(seq, leaf, salt, body, proof), body

    def records(self, seqs: list[int], *, with_content: bool, progress: Progress | None) -> None:
        with self.files.stream(layout.RECORDS) as write:
            for done, seq in enumerate(seqs, start=1):
                line, body = self._line(seq)
                write(line)
                if body is None:
                    self.erased.append(seq)
                elif with_content:
                    self.wanted.update(dict.fromkeys(_content_refs(body)))
                if progress is not None and done % 1024 == 0:
                    progress(seq)  # records go in seq order: the bar moves along the log

    def erasures(self) -> None:
        """The erasure records that name the erased records of the selection, so the
        verifier can tell an erased payload from a withheld one."""
        if not self.erased:
            return
        left = set(self.erased)
        _, rows = query.actions(self.store, query.Filters(kinds=(Kind.ERASURE.value,)))
        for row in rows:
            seq = _seq(row)
            named = left.intersection((self.ledger.record(seq).payload or {}).get("seqs") or [])
            if not named:
                continue
            if seq >= self.checkpoint.size:
                raise LedgerError(
                    f"record {min(named)} was erased by record {seq}, which no checkpoint "
                    "covers yet; run `affidavit seal` first, so the pack can prove the erasure"
                )
            self.erasure_seqs.append(seq)
            left -= named
        if left:
            raise LedgerCorruptError(
                f"record {min(left)} has no payload but no erasure record names it; "
                "run `affidavit verify`"
            )
        with self.files.stream(layout.ERASURES) as write:
            for seq in self.erasure_seqs:
                write(self._line(seq)[0])

    def content(self) -> None:
        for h in self.wanted:
            try:
                data = content.get(self.store, h)
            except ValueError as e:
                raise LedgerCorruptError(f"the content store is damaged: {e}") from e
            if data is None:
                self.missing.append(h)
            else:
                self.files.put(layout.content_name(h), data)

    def window(self) -> None:
        """Every leaf of the checkpoint's tree, one per line, checked against its root."""
        size, frontier, count = self.checkpoint.size, list[bytes](), 0
        with self.files.stream(layout.WINDOW) as write:
            leaves: list[bytes] = []
            for _, leaf, _, _, _ in self.ledger.rows(0, size):
                leaves.append(leaf)
                if len(leaves) == _WINDOW_BATCH or count + len(leaves) == size:
                    write(b"\n".join(leaves) + b"\n")
                    frontier, _ = merkle.extend(
                        frontier, count, list(map(merkle.leaf_hash, leaves))
                    )
                    count += len(leaves)
                    leaves = []
        if count != size or merkle.fold(frontier) != self.checkpoint.root:
            raise LedgerCorruptError(
                f"the ledger's first {size} leaves do not rebuild its latest checkpoint; "
                "run `affidavit verify`, no pack written"
            )

    def finish(self, selection: dict[str, Any], note: str) -> None:
        files = self.files
        files.put(layout.SELECTION, layout.render_json(selection))
        files.put(layout.CHECKPOINT, note.encode("utf-8"))
        vkey = self.ledger.verifier.vkey()
        files.put(layout.VKEY, (vkey + "\n").encode("ascii"))
        files.put(layout.README, render_readme(selection, self.checkpoint, vkey))
        files.put(layout.MANIFEST, layout.render_manifest(files.hashes), listed=False)


def _content_refs(body: bytes) -> list[str]:
    payload = json.loads(body)
    file = payload.get("file") if isinstance(payload, dict) else None
    if not isinstance(file, dict):
        return []
    return [h for k in ("before_sha256", "after_sha256") if layout.is_sha256_hex(h := file.get(k))]


def _consistency(ledger: Ledger, kept: str, checkpoint: Checkpoint) -> tuple[int, bytes]:
    """(size, consistency.jsonl line) proving ``checkpoint`` extends the ``kept`` one."""
    try:
        old = open_checkpoint(kept, ledger.verifier)
    except VerificationError as e:
        raise VerificationError(
            f"the checkpoint given with --from is not signed by this ledger's key: {e}",
            where="kept checkpoint",
        ) from e
    if old.size > checkpoint.size:
        raise VerificationError(
            f"the checkpoint given with --from has size {old.size}, larger than the latest "
            f"published ({checkpoint.size}): the ledger was truncated, or that checkpoint is "
            "from another copy of it",
            where="kept checkpoint",
        )
    proof = ledger.prove_consistency(old.size, checkpoint.size).proof
    merkle.verify_consistency(old.size, checkpoint.size, proof, old.root, checkpoint.root)
    line = {"checkpoint": kept, "proof": [layout.b64(h) for h in proof]}
    return old.size, json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

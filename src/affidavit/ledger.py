"""The ledger: one append-only RFC 9162 log, its store, its signing key and its origin.

A record moves through three states:

* **sequenced**: :meth:`Ledger.append` MUST NOT return before the records are durably
  committed; the seqs it returns are theirs forever.
* **integrated**: :meth:`Ledger.integrate` adds their leaves to the tree and stores the hash of
  every complete subtree, so that any proof is O(log n) reads.
* **published**: :meth:`Ledger.publish` signs a C2SP checkpoint over the integrated tree and
  keeps it beside every checkpoint published before.

:meth:`Ledger.verify` rechecks everything from the stored bytes; see its docstring.
"""

from __future__ import annotations

import json
import re
from binascii import b2a_base64 as b2a
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from affidavit import merkle
from affidavit.errors import (
    ConsistencyError,
    InputError,
    LedgerCorruptError,
    LedgerError,
    VerificationError,
)
from affidavit.files import write_atomically
from affidavit.note import Checkpoint, Signer, Verifier, open_checkpoint, sign_checkpoint
from affidavit.query import forget
from affidavit.record import Envelope, Kind, Record, format_time
from affidavit.store.sqlite import Row, SqliteStore

Clock = Callable[[], datetime]
Progress = Callable[[int], None]

_INTEGRATE_CHUNK = 65_536
_VERIFY_CHUNK = 4_096


def _now() -> datetime:
    return datetime.now(UTC)


# -- key files ------------------------------------------------------------------------------


def write_key_file(path: Path, signer: Signer) -> None:
    """Write the signing key with mode 0600, durably; never over an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        write_atomically(path, signer.private_key_string() + "\n", mode=0o600, exclusive=True)
    except FileExistsError:
        raise LedgerError(f"a signing key already exists at {path}; not overwriting it") from None


def read_key_file(path: Path) -> Signer:
    try:
        mode = path.stat().st_mode
        text = path.read_text("ascii").strip()
    except FileNotFoundError:
        raise LedgerError(
            f"no signing key at {path}; publishing needs the key made by `affidavit init` "
            "(choose it with --key / AFFIDAVIT_KEY)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise LedgerError(f"cannot read the signing key at {path}: {e}") from e
    if mode & 0o077:
        raise LedgerError(
            f"signing key {path} is readable by other users (mode {mode & 0o777:o}); "
            f"run: chmod 600 {path}"
        )
    return Signer.from_private_key_string(text)


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    tree_size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    size1: int
    size2: int
    proof: tuple[bytes, ...]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class Status:
    origin: str
    vkey: str
    size: int
    integrated: int
    published: int
    last_checkpoint: str | None
    last_published_at: str | None
    erased: int


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What a successful :meth:`Ledger.verify` checked."""

    records: int
    erased: int
    nodes: int
    checkpoints: int
    tree_size: int
    root: bytes
    from_size: int | None = None


# -- the ledger -----------------------------------------------------------------------------


class Ledger:
    """One log. Open with :meth:`create` or :meth:`open`; close with :meth:`close`."""

    def __init__(
        self,
        store: SqliteStore,
        *,
        key_path: Path | None = None,
        clock: Clock = _now,
    ) -> None:
        self.store = store
        self.key_path = key_path
        self._clock = clock
        origin, vkey = store.meta("origin"), store.meta("vkey")
        if origin is None or vkey is None:
            raise LedgerCorruptError(f"{store.path} has no origin or verifier key")
        self.origin = origin
        self.verifier = Verifier.from_vkey(vkey)

    @classmethod
    def create(cls, path: Path, *, origin: str, key_path: Path, clock: Clock = _now) -> Ledger:
        """Make a new ledger and its signing key; refuses to overwrite either."""
        if key_path.exists():
            raise LedgerError(f"a signing key already exists at {key_path}; not overwriting it")
        signer = Signer.generate(origin)
        store = SqliteStore.create(
            path,
            {"origin": origin, "vkey": signer.verifier().vkey(), "created": format_time(clock())},
        )
        try:
            write_key_file(key_path, signer)
        except BaseException:
            store.close()
            path.unlink(missing_ok=True)
            raise
        return cls(store, key_path=key_path, clock=clock)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        key_path: Path | None = None,
        readonly: bool = False,
        check_pages: bool = True,
        clock: Clock = _now,
    ) -> Ledger:
        """Open a ledger; a writable open refuses a damaged file (:meth:`SqliteStore.open`)."""
        store = SqliteStore.open(path, readonly=readonly, check_pages=check_pages)
        return cls(store, key_path=key_path, clock=clock)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _signer(self) -> Signer:
        if self.key_path is None:
            raise LedgerError("this ledger was opened without its signing key")
        signer = read_key_file(self.key_path)
        if signer.verifier().vkey() != self.verifier.vkey():
            raise LedgerError(
                f"the key at {self.key_path} is not this ledger's key ({self.verifier.vkey()})"
            )
        return signer

    # -- sequencing -------------------------------------------------------------------------

    def append(self, records: Iterable[Record]) -> range:
        """Sequence records durably; returns their seqs only after the commit is on disk.

        All or nothing: if ``records`` raises part way (a bad input line), nothing is kept.
        """
        count = 0

        def rows() -> Iterator[tuple[bytes, bytes, bytes | None, bytes | None]]:
            nonlocal count
            for r in records:
                count += 1
                yield r.leaf, merkle.leaf_hash(r.leaf), r.salt, r.payload_json

        store = self.store
        store.begin()
        try:
            first = store.add_records(rows())
            store.commit()
        except BaseException:
            store.rollback()
            raise
        return range(first, first + count)

    # -- integration and publishing ---------------------------------------------------------

    def _frontier(self, size: int) -> list[bytes]:
        return self.store.node_hashes(merkle.subtrees(0, size)) if size else []

    def integrate(self) -> int:
        """Add every sequenced leaf to the tree; returns the integrated size."""
        store = self.store
        store.begin()
        try:
            done = _integrated(store)
            size = store.size()
            frontier = self._frontier(done)
            while done < size:
                hashes = store.leaf_hashes(done, min(size, done + _INTEGRATE_CHUNK))
                frontier, nodes = merkle.extend(frontier, done, hashes)
                store.add_nodes(nodes)
                done += len(hashes)
            store.set_meta("integrated", str(done))
            store.commit()
        except BaseException:
            store.rollback()
            raise
        return done

    def root(self, size: int) -> bytes:
        """Root of the tree's first ``size`` leaves (integrated), from stored subtrees."""
        return merkle.fold(self._frontier(size))

    def publish(self) -> str:
        """Sign a checkpoint over the integrated tree; returns the signed note.

        Publishing an unchanged tree returns the latest checkpoint instead of signing again.
        """
        signer = self._signer()
        store = self.store
        store.begin()
        try:
            size = _integrated(store)
            latest = store.latest_checkpoint()
            if latest is not None and latest[0] == size:
                store.commit()
                return latest[1]
            note = sign_checkpoint(Checkpoint(self.origin, size, self.root(size)), signer)
            store.add_checkpoint(size, note, format_time(self._clock()))
            store.commit()
        except BaseException:
            store.rollback()
            raise
        return note

    def seal(self) -> str:
        """Integrate and publish: the batch step the hook schedules."""
        self.integrate()
        return self.publish()

    # -- reading ----------------------------------------------------------------------------

    @staticmethod
    def _record(row: Row) -> Record:
        _, leaf, _, salt, body = row
        return Record(Envelope.from_leaf(leaf), leaf, body, salt)

    def record(self, seq: int) -> Record:
        row = self.store.record(seq)
        if row is None:
            raise InputError(f"no record {seq}; the ledger holds {self.store.size()}")
        return self._record(row)

    def rows(self, start: int = 0, end: int | None = None) -> Iterator[Row]:
        """Raw rows (seq, leaf, leaf_hash, salt, payload), streamed."""
        return self.store.records(start, end)

    def latest_checkpoint(self) -> tuple[int, str] | None:
        latest = self.store.latest_checkpoint()
        return None if latest is None else (latest[0], latest[1])

    def status(self) -> Status:
        latest = self.store.latest_checkpoint()
        return Status(
            origin=self.origin,
            vkey=self.verifier.vkey(),
            size=self.store.size(),
            integrated=_integrated(self.store),
            published=0 if latest is None else latest[0],
            last_checkpoint=None if latest is None else latest[1],
            last_published_at=None if latest is None else latest[2],
            erased=self.store.erased_count(),
        )

    # -- proofs -----------------------------------------------------------------------------

    def _range_hashes(self, ranges: Sequence[tuple[int, int]]) -> tuple[bytes, ...]:
        return tuple(merkle.fold(self.store.node_hashes(merkle.subtrees(a, b))) for a, b in ranges)

    def _published(self, size: int | None) -> tuple[int, str]:
        latest = self.store.latest_checkpoint()
        if latest is None:
            raise LedgerError("nothing is published yet; run `affidavit seal`")
        if size is None:
            return latest[0], latest[1]
        for cp_size, note, _ in self.store.checkpoints():
            if cp_size == size:
                return cp_size, note
        raise InputError(f"no checkpoint of size {size} was published")

    def prove_inclusion(self, seq: int, *, tree_size: int | None = None) -> InclusionProof:
        """Inclusion proof of record ``seq`` against a published checkpoint (latest by default)."""
        size, note = self._published(tree_size)
        if not 0 <= seq < size:
            raise InputError(
                f"record {seq} is not covered by the checkpoint of size {size}"
                + ("; run `affidavit seal` to publish it" if seq < self.store.size() else "")
            )
        (leaf_hash,) = self.store.node_hashes([(0, seq)])
        proof = self._range_hashes(merkle.inclusion_ranges(seq, size))
        return InclusionProof(seq, size, leaf_hash, proof, note)

    def prove_consistency(self, size1: int, size2: int | None = None) -> ConsistencyProof:
        """Proof that the published tree of ``size2`` (latest by default) extends ``size1``."""
        size, note = self._published(size2)
        if not 0 <= size1 <= size:
            raise InputError(f"no consistency proof from size {size1} to size {size}")
        proof = self._range_hashes(merkle.consistency_ranges(size1, size))
        return ConsistencyProof(size1, size, proof, note)

    # -- erasure ----------------------------------------------------------------------------

    def erase(self, seqs: Sequence[int], reason: str) -> int:
        """Delete the payload and salt of ``seqs`` and record why; returns the erasure's seq.

        The envelopes stay, so the log still verifies; the erased records are counted.
        """
        if not seqs:
            raise InputError("name at least one record to erase")
        if not reason.strip():
            raise InputError("an erasure needs a reason (--reason)")
        wanted = sorted(set(seqs))
        store = self.store
        store.begin()
        try:
            size = store.size()
            for seq in wanted:
                row = store.record(seq) if 0 <= seq < size else None
                if row is None:
                    raise InputError(f"no record {seq}; the ledger holds {size}")
                if self._record(row).envelope.kind == Kind.ERASURE:
                    raise InputError(f"record {seq} is an erasure record; those are kept")
            store.erase_payloads(wanted)
            forget(store, wanted)
            erasure = Record.create(
                Kind.ERASURE,
                "affidavit",
                {"seqs": wanted, "reason": reason},
                time=self._clock(),
            )
            leaf = erasure.leaf
            seq = store.add_records(
                [(leaf, merkle.leaf_hash(leaf), erasure.salt, erasure.payload_json)]
            )
            store.commit()
        except BaseException:
            store.rollback()
            raise
        store.purge_wal()
        return seq

    # -- verification -----------------------------------------------------------------------

    def verify(
        self,
        *,
        from_checkpoint: str | None = None,
        key: Verifier | None = None,
        progress: Progress | None = None,
    ) -> VerifyReport:
        """Recheck the whole ledger from its stored bytes; raise on the first failure.

        Checks, in one streaming pass: every leaf hash against its leaf bytes, seqs without
        gaps, every payload against its commitment, every missing payload against an erasure
        record, every stored subtree hash against the hashes below it, the root and signature
        of every checkpoint, and consistency between consecutive checkpoints. With
        ``from_checkpoint`` (a signed note the verifier kept) it also proves that the log only
        grew since. ``key`` pins the verifier key instead of trusting the one stored.

        A damaged file (any page SQLite's check rejects, a damaged WAL) raises
        :class:`LedgerCorruptError`; :func:`affidavit.salvage.salvage` then tells which
        records are still provable.
        """
        self.store.check_pages()
        # One snapshot: a seal committing midway would otherwise show subtree hashes past
        # the integrated size read at the start.
        with self.store.snapshot():
            return self._verify(from_checkpoint, key, progress)

    def _verify(
        self, from_checkpoint: str | None, key: Verifier | None, progress: Progress | None
    ) -> VerifyReport:
        verifier = key or self.verifier
        if key is not None and key.vkey() != self.verifier.vkey():
            raise VerificationError(
                f"the ledger's key {self.verifier.vkey()} is not the pinned key {key.vkey()}",
                where="verifier key",
            )
        store = self.store
        integrated = _integrated(store)
        checkpoints = [(s, n) for s, n, _ in store.checkpoints()]
        stops = [s for s, _ in checkpoints]
        roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        levels: dict[int, Iterator[tuple[int, bytes]]] = {}
        node_count = 0

        def check_nodes(nodes: list[tuple[int, int, bytes]]) -> None:
            nonlocal node_count
            for level, idx, h in nodes:
                cursor = levels.setdefault(level, store.nodes_at(level))
                stored = next(cursor, None)
                first = idx << level
                where = f"subtree (level {level}, index {idx})"
                if stored is None or stored[0] != idx:
                    raise VerificationError(
                        f"{where} over records {first}..{first + (1 << level) - 1} is missing",
                        where=where,
                    )
                if stored[1] != h:
                    raise VerificationError(
                        f"{where} does not match records {first}..{first + (1 << level) - 1} "
                        "under it: a record or the stored hash was changed",
                        where=where,
                    )
                node_count += 1

        erased_seen: list[int] = []
        erasures: set[int] = set()
        frontier: list[bytes] = []
        batch: list[bytes] = []
        done = 0
        expected = 0
        stop_iter = iter([s for s in stops if s > 0] + [-1])
        next_stop = next(stop_iter)

        def flush() -> None:
            nonlocal frontier, done, batch, next_stop
            frontier, nodes = merkle.extend(frontier, done, batch)
            check_nodes(nodes)
            done += len(batch)
            batch = []
            if done == next_stop:
                roots[done] = merkle.fold(frontier)
                next_stop = next(stop_iter)

        for seq, leaf, stored_hash, salt, body in store.records():
            where = f"record {seq}"
            if seq != expected:
                raise VerificationError(
                    f"record {expected} is missing: the ledger jumps from {expected - 1} to {seq}",
                    where=f"record {expected}",
                )
            expected += 1
            if type(leaf) is not bytes or type(stored_hash) is not bytes:  # a damaged row
                raise VerificationError(f"{where}: its row is not a record's bytes", where=where)
            h = sha256(b"\x00" + leaf).digest()
            if h != stored_hash:
                raise VerificationError(
                    f"{where}: its leaf bytes do not hash to its stored leaf hash", where=where
                )
            # Canonical JSON sorts keys, so every leaf starts with its base64 commitment;
            # anything else is not a leaf this ledger wrote.
            if leaf[:15] != _PREFIX or leaf[59:69] != b'","kind":"':
                raise VerificationError(
                    f"{where}: its leaf is not a canonical envelope", where=where
                )
            if body is None or salt is None:
                erased_seen.append(seq)
            elif type(salt) is not bytes or type(body) is not bytes:
                raise VerificationError(f"{where}: its payload is not stored bytes", where=where)
            elif b2a(sha256(salt + body).digest(), newline=False) != leaf[15:59]:
                raise VerificationError(
                    f"{where}: its payload or salt does not match the envelope's commitment",
                    where=where,
                )
            elif leaf.startswith(b'erasure","source":"affidavit",', 69):
                # Only erasures that Ledger.erase wrote (source "affidavit") account for a
                # missing payload; an "erasure" appended by any other source does not.
                erasures.update(_erased_seqs(body, where))
            if seq < integrated:
                batch.append(h)
                if len(batch) >= _VERIFY_CHUNK or done + len(batch) == next_stop:
                    flush()
            if progress is not None and expected % _VERIFY_CHUNK == 0:
                progress(expected)
        if batch:
            flush()
        if expected < integrated:
            raise VerificationError(
                f"the ledger holds {expected} records but {integrated} were integrated: "
                f"records {expected}..{integrated - 1} are gone",
                where=f"record {expected}",
            )
        for level, cursor in levels.items():
            extra = next(cursor, None)
            if extra is not None:
                raise VerificationError(
                    f"subtree (level {level}, index {extra[0]}) lies beyond the integrated tree",
                    where=f"subtree (level {level}, index {extra[0]})",
                )
        unaccounted = [s for s in erased_seen if s not in erasures]
        if unaccounted:
            raise VerificationError(
                f"record {unaccounted[0]}: its payload is gone but no erasure record names it",
                where=f"record {unaccounted[0]}",
            )
        if store.node_levels() and sum(store.node_levels().values()) != node_count:
            raise VerificationError("the store holds subtree hashes that belong to no record")

        previous: Checkpoint | None = None
        for size, note in checkpoints:
            where = f"checkpoint {size}"
            cp = _open_stored(note, verifier, where)
            if cp.size != size or cp.origin != self.origin:
                raise VerificationError(
                    f"{where}: the signed note says origin {cp.origin!r} size {cp.size}",
                    where=where,
                )
            if size > integrated or roots.get(size) != cp.root:
                raise VerificationError(
                    f"{where}: its root is not the root of the first {size} records", where=where
                )
            if previous is not None:
                proof = self._range_hashes(merkle.consistency_ranges(previous.size, size))
                try:
                    merkle.verify_consistency(previous.size, size, proof, previous.root, cp.root)
                except VerificationError as e:
                    raise VerificationError(f"{where}: {e}", where=where) from e
            previous = cp

        from_size = None
        if from_checkpoint is not None:
            from_size = self._verify_from(from_checkpoint, verifier, previous)
        return VerifyReport(
            records=expected,
            erased=len(erased_seen),
            nodes=node_count,
            checkpoints=len(checkpoints),
            tree_size=previous.size if previous else 0,
            root=previous.root if previous else merkle.EMPTY_ROOT,
            from_size=from_size,
        )

    def _verify_from(self, note: str, verifier: Verifier, latest: Checkpoint | None) -> int:
        where = "kept checkpoint"
        try:
            kept = open_checkpoint(note, verifier)
        except VerificationError as e:
            raise VerificationError(
                f"the checkpoint you kept is not signed by this ledger's key: {e}", where=where
            ) from e
        size = latest.size if latest else 0
        root = latest.root if latest else merkle.EMPTY_ROOT
        if kept.size > size:
            raise ConsistencyError(
                f"the ledger was truncated: you kept a checkpoint of size {kept.size}, "
                f"the ledger's latest is {size}",
                size1=kept.size,
                size2=size,
                root1=kept.root,
                root2=root,
                where=where,
            )
        proof = self._range_hashes(merkle.consistency_ranges(kept.size, size))
        try:
            merkle.verify_consistency(kept.size, size, proof, kept.root, root)
        except ConsistencyError as e:
            raise ConsistencyError(
                f"history was rewritten since the checkpoint you kept (size {kept.size}): {e}",
                size1=kept.size,
                size2=size,
                root1=kept.root,
                root2=root,
                proof=proof,
                where=where,
            ) from e
        return kept.size


def _integrated(store: SqliteStore) -> int:
    """The integrated size the store notes; a value that is not one is damage, not a crash."""
    value = store.meta("integrated") or "0"
    if not _DECIMAL.fullmatch(value):
        raise LedgerCorruptError(
            f"{store.path}: its integrated size {value[:30]!r} is not a number; "
            "the ledger was edited or damaged"
        )
    return int(value)


_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


def _open_stored(note: str, verifier: Verifier, where: str) -> Checkpoint:
    if not isinstance(note, str):  # a damaged row can hold any type
        raise VerificationError(f"{where}: its stored note is not text", where=where)
    try:
        return open_checkpoint(note, verifier)
    except (VerificationError, InputError) as e:
        raise VerificationError(f"{where}: {e}", where=where) from e


_PREFIX = b'{"commitment":"'


def _erased_seqs(body: bytes, where: str) -> list[int]:
    try:
        seqs = json.loads(body)["seqs"]
    except (ValueError, KeyError, TypeError) as e:
        raise VerificationError(
            f"{where}: erasure record without a list of seqs", where=where
        ) from e
    if not isinstance(seqs, list) or not all(type(s) is int for s in seqs):
        raise VerificationError(f"{where}: erasure record without a list of seqs", where=where)
    return seqs

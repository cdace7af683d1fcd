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

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Self, TypeVar, cast

from affidavit import merkle
from affidavit.errors import (
    InputError,
    LedgerCorruptError,
    LedgerError,
    VerificationError,
)
from affidavit.keys import FileSigner, write_key_file
from affidavit.ledger_results import ConsistencyProof as ConsistencyProof
from affidavit.ledger_results import InclusionProof as InclusionProof
from affidavit.ledger_results import Status as Status
from affidavit.note import Checkpoint, NoteSigner, Signer, Verifier, sign_checkpoint
from affidavit.record import Envelope, Kind, Record, format_time
from affidavit.store.log import LogStore, Row
from affidavit.store.sqlite import SqliteStore
from affidavit.verify.erasure import refuse_erasure
from affidavit.verify.log import VerifyReport, proof_hashes, verify_log

Clock = Callable[[], datetime]
Progress = Callable[[int], None]

_INTEGRATE_CHUNK = 65_536


def _now() -> datetime:
    return datetime.now(UTC)


# -- the ledger -----------------------------------------------------------------------------


if TYPE_CHECKING:
    # A default (PEP 696) needs typing_extensions before Python 3.13, and typing_extensions
    # imports inspect: about a tenth of a read command's start-up. Only the type checker
    # reads the default, so the running code uses the plain TypeVar.
    from typing_extensions import TypeVar as DefaultTypeVar

    StoreT = DefaultTypeVar("StoreT", bound=LogStore, default=SqliteStore)
else:
    StoreT = TypeVar("StoreT", bound=LogStore)


class Ledger(Generic[StoreT]):
    """One log over a :class:`~affidavit.store.log.LogStore` (by default an endpoint's
    SQLite file: :meth:`create`, :meth:`open`); close with :meth:`close`."""

    def __init__(
        self,
        store: StoreT,
        *,
        signer: NoteSigner | None = None,
        clock: Clock = _now,
    ) -> None:
        self.store = store
        self.signer = signer
        self._clock = clock
        origin, vkey = store.meta("origin"), store.meta("vkey")
        if origin is None or vkey is None:
            raise LedgerCorruptError(f"{store.path} has no origin or verifier key")
        self.origin = origin
        self.verifier = Verifier.from_vkey(vkey)

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        origin: str,
        key_path: Path | None = None,
        signer: NoteSigner | None = None,
        clock: Clock = _now,
    ) -> Ledger:
        """Make a new ledger. Either pass the ``signer`` that will sign its checkpoints
        (its name must be ``origin``), or a ``key_path`` where a new key is written with
        mode 0600; refuses to overwrite a ledger or a key."""
        if (signer is None) == (key_path is None):
            raise InputError("give the ledger either a signer or a key_path for a new key")
        if key_path is not None and key_path.exists():
            raise LedgerError(f"a signing key already exists at {key_path}; not overwriting it")
        new_key = Signer.generate(origin) if signer is None else None
        vkey = (signer or new_key).verifier().vkey()  # type: ignore[union-attr]
        store = SqliteStore.create(
            path, {"origin": origin, "vkey": vkey, "created": format_time(clock())}
        )
        if new_key is not None and key_path is not None:
            try:
                write_key_file(key_path, new_key)
            except BaseException:
                store.close()
                path.unlink(missing_ok=True)
                raise
            signer = FileSigner(key_path)
        return Ledger(store, signer=signer, clock=clock)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        key_path: Path | None = None,
        signer: NoteSigner | None = None,
        readonly: bool = False,
        check_pages: bool = False,
        clock: Clock = _now,
    ) -> Ledger:
        """Open a ledger; a writable open refuses a damaged file (:meth:`SqliteStore.open`).

        The signer is ``signer``, else a :class:`~affidavit.keys.FileSigner` over
        ``key_path`` (read only when something is signed), else none: publishing then fails.
        """
        store = SqliteStore.open(path, readonly=readonly, check_pages=check_pages)
        if signer is None and key_path is not None:
            signer = FileSigner(key_path)
        return Ledger(store, signer=signer, clock=clock)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def require_signer(self) -> NoteSigner:
        """The signer, checked against the verifier key the ledger holds."""
        if self.signer is None:
            raise LedgerError("this ledger was opened without its signing key")
        found = self.signer.verifier().vkey()
        if found != self.verifier.vkey():
            raise LedgerError(
                f"the signer {self.signer!r} holds key {found}, not this ledger's key "
                f"({self.verifier.vkey()})"
            )
        return self.signer

    # -- sequencing -------------------------------------------------------------------------

    def append(self, records: Iterable[Record]) -> range:
        """Sequence records durably; returns their seqs only after the commit is on disk.

        All or nothing: if ``records`` raises part way (a bad input line), nothing is kept.
        """
        count = 0

        def rows() -> Iterator[tuple[bytes, bytes, bytes | None, bytes | None]]:
            nonlocal count
            for r in records:
                refuse_erasure(r.envelope.kind)
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
        signer = self.require_signer()
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
        return proof_hashes(self.store, ranges)

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
        store.purge_erased()
        return seq

    # -- verification -----------------------------------------------------------------------

    def verify(
        self,
        *,
        from_checkpoint: str | None = None,
        key: Verifier | None = None,
        progress: Progress | None = None,
        views: Sequence[tuple[str, Callable[[StoreT], int]]] = (),
    ) -> VerifyReport:
        """Recheck the whole ledger from its stored bytes; raise on the first failure.

        Runs :func:`affidavit.verify.verify_log` in one read snapshot, with SQLite's page
        check of the whole file (first, or beside the rows with the views): every row (leaf
        hash, envelope, commitment, erasures), every stored subtree, every checkpoint's
        signature and root, consistency between consecutive checkpoints, and with
        ``from_checkpoint`` (a signed note the verifier kept) that the log only grew since.
        ``key`` pins the verifier key instead of trusting the one stored. ``views`` are the
        derived tables to check against the verified records (:data:`affidavit.views.VIEWS`;
        ``affidavit verify`` passes all).

        A damaged file raises :class:`LedgerCorruptError`; :func:`affidavit.salvage.salvage`
        then tells which records are still provable.
        """
        if key is not None and key.vkey() != self.verifier.vkey():
            raise VerificationError(
                f"the ledger's key {self.verifier.vkey()} is not the pinned key {key.vkey()}",
                where="verifier key",
            )
        # One snapshot: a seal committing midway would otherwise show subtree hashes past
        # the integrated size read at the start. A SQLite file gets a second connection on
        # the same snapshot, which checks the pages and the views beside the rows.
        with contextlib.ExitStack() as reading:
            beside: StoreT | None = None
            if views and isinstance(self.store, SqliteStore):
                # The isinstance narrows the store, not StoreT: here StoreT is SqliteStore.
                beside = cast("StoreT", reading.enter_context(self.store.paired_snapshot()))
            else:
                self.store.check_pages()
                reading.enter_context(self.store.snapshot())
            return verify_log(
                self.store,
                origin=self.origin,
                verifier=key or self.verifier,
                integrated=_integrated(self.store),
                from_checkpoint=from_checkpoint,
                progress=progress,
                views=views,
                views_store=beside,
            )


def _integrated(store: LogStore) -> int:
    """The integrated size the store notes; a value that is not one is damage, not a crash."""
    value = store.meta("integrated") or "0"
    if not _DECIMAL.fullmatch(value):
        raise LedgerCorruptError(
            f"{store.path}: its integrated size {value[:30]!r} is not a number; "
            "the ledger was edited or damaged"
        )
    return int(value)


_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")

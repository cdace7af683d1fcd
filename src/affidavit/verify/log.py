"""Verifying a whole ledger's store: rows, tree, checkpoints, then the derived views.

:func:`verify_log` runs the row checker and the tree folder over every record in one
streaming pass, then checks every checkpoint (signature, root, consistency with the one
before) and a checkpoint the caller kept, then the derived views it is given
(:mod:`affidavit.views`), all inside the caller's one read snapshot.

Given a second store open on that same snapshot, the page check and the views run on it
in a worker thread while the rows are checked, and this thread, once its rows are done,
shares the parts of a view check given in parts (:mod:`affidavit.verify.beside`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import TypeVar

from affidavit import merkle
from affidavit.errors import ConsistencyError, InputError, VerificationError
from affidavit.note import Checkpoint, Verifier, open_checkpoint
from affidavit.store.log import LogStore
from affidavit.verify.beside import Beside
from affidavit.verify.rows import RowCheck
from affidavit.verify.tree import TreeCheck

Progress = Callable[[int], None]
S = TypeVar("S", bound=LogStore)

_BATCH = 4_096  # rows checked per step; also how often progress is reported


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What a successful verification checked."""

    records: int
    erased: int
    nodes: int
    checkpoints: int
    tree_size: int
    root: bytes
    from_size: int | None = None
    views: tuple[tuple[str, int], ...] = ()


def range_hash(store: LogStore, start: int, end: int) -> bytes:
    """Root of leaves ``start..end`` from the stored subtrees (O(log n) reads)."""
    return merkle.fold(store.node_hashes(merkle.subtrees(start, end)))


def proof_hashes(store: LogStore, ranges: Sequence[tuple[int, int]]) -> tuple[bytes, ...]:
    return tuple(range_hash(store, a, b) for a, b in ranges)


def verify_log(
    store: S,
    *,
    origin: str,
    verifier: Verifier,
    integrated: int,
    from_checkpoint: str | None = None,
    progress: Progress | None = None,
    views: Sequence[tuple[str, Callable[[S], int]]] = (),
    views_store: S | None = None,
) -> VerifyReport:
    """Recheck a ledger's store from its bytes; raise on the first failure.

    Call inside one read snapshot of ``store``. ``integrated`` is the size the store says
    was integrated; ``verifier`` the key checkpoints must be signed with.

    ``views_store``, a second store on the same snapshot, moves the medium check
    (``check_pages``, which the caller otherwise runs first) and the views into a worker
    thread beside the rows (:mod:`affidavit.verify.beside`).
    """
    beside = None if views_store is None else Beside(views_store, views)
    try:
        report = _verify_log(
            store,
            origin=origin,
            verifier=verifier,
            integrated=integrated,
            from_checkpoint=from_checkpoint,
            progress=progress,
        )
    except BaseException as e:
        damage = None if beside is None else beside.cancel()
        if damage is not None:
            raise damage from e
        raise
    if beside is not None:
        checked = beside.result(helper=store)  # its rows done, this thread helps
    else:
        checked = tuple((name, check(store)) for name, check in views)
    return replace(report, views=checked)


def _verify_log(
    store: LogStore,
    *,
    origin: str,
    verifier: Verifier,
    integrated: int,
    from_checkpoint: str | None,
    progress: Progress | None,
) -> VerifyReport:
    checkpoints = [(s, n) for s, n, _ in store.checkpoints()]
    rows = RowCheck()
    tree = TreeCheck(store.nodes_at, [s for s, _ in checkpoints])
    stream = store.records()
    while batch := list(islice(stream, _BATCH)):
        first = rows.expected
        hashes = rows.add_batch(batch)
        tree.add_batch(hashes[: max(0, integrated - first)])
        if progress is not None:
            progress(rows.expected)
    tree.finish()
    if rows.expected < integrated:
        raise VerificationError(
            f"the ledger holds {rows.expected} records but {integrated} were integrated: "
            f"records {rows.expected}..{integrated - 1} are gone",
            where=f"record {rows.expected}",
        )
    rows.finish()
    levels = store.node_levels()
    if levels and sum(levels.values()) != tree.nodes:
        raise VerificationError("the store holds subtree hashes that belong to no record")

    previous: Checkpoint | None = None
    for size, note in checkpoints:
        where = f"checkpoint {size}"
        cp = _open_stored(note, verifier, where)
        if cp.size != size or cp.origin != origin:
            raise VerificationError(
                f"{where}: the signed note says origin {cp.origin!r} size {cp.size}", where=where
            )
        if size > integrated or tree.roots.get(size) != cp.root:
            raise VerificationError(
                f"{where}: its root is not the root of the first {size} records", where=where
            )
        if previous is not None:
            proof = proof_hashes(store, merkle.consistency_ranges(previous.size, size))
            try:
                merkle.verify_consistency(previous.size, size, proof, previous.root, cp.root)
            except VerificationError as e:
                raise VerificationError(f"{where}: {e}", where=where) from e
        previous = cp

    from_size = None
    if from_checkpoint is not None:
        from_size = _verify_from(store, from_checkpoint, verifier, previous)
    return VerifyReport(
        records=rows.expected,
        erased=len(rows.erased),
        nodes=tree.nodes,
        checkpoints=len(checkpoints),
        tree_size=previous.size if previous else 0,
        root=previous.root if previous else merkle.EMPTY_ROOT,
        from_size=from_size,
    )


def _open_stored(note: str, verifier: Verifier, where: str) -> Checkpoint:
    if not isinstance(note, str):  # a damaged row can hold any type
        raise VerificationError(f"{where}: its stored note is not text", where=where)
    try:
        return open_checkpoint(note, verifier)
    except (VerificationError, InputError) as e:
        raise VerificationError(f"{where}: {e}", where=where) from e


def _verify_from(store: LogStore, note: str, verifier: Verifier, latest: Checkpoint | None) -> int:
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
    proof = proof_hashes(store, merkle.consistency_ranges(kept.size, size))
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

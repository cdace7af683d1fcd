"""The fast paths of ``verify`` agree with the slow ones they stand in for.

* :meth:`RowCheck.add_batch` with :meth:`RowCheck.add`, row by row, on real rows changed
  the ways a file can be changed (same hashes, same first error, same erasure state);
* :meth:`TreeCheck.add_batch` with :meth:`TreeCheck.add` (roots at every checkpoint size,
  subtrees checked, the first bad subtree named alike);
* the actions check's folder test with the contract's ``_dirname``;
* the views checked beside the rows, on a second connection, with the views checked after
  them: the same verdict and the same message, and a snapshot shared exactly while a writer
  keeps committing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit import merkle, query, views
from affidavit.errors import AffidavitError, VerificationError
from affidavit.ledger import Ledger, _integrated
from affidavit.record import Kind, Record
from affidavit.store import derived
from affidavit.verify.beside import Part, SplitCheck
from affidavit.verify.log import verify_log
from affidavit.verify.rows import RowCheck
from affidavit.verify.tree import TreeCheck, root_of
from ledger_helpers import T0, make_records, new_ledger, raw

# -- rows -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_rows(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    """Real rows: records, one of them erased, and the erasure record that names it."""
    ledger = new_ledger(tmp_path_factory.mktemp("rows"))
    ledger.append(make_records(12))
    ledger.erase([3], "a test")
    ledger.append(make_records(4, start=13))
    rows = [tuple(r) for r in ledger.rows()]
    ledger.close()
    return rows


def _outcome(check: RowCheck, feed: Any) -> tuple[object, ...]:
    try:
        hashes = feed()
        check.finish()
        result: object = ("ok", hashes)
    except (VerificationError, TypeError, ValueError) as e:
        result = (type(e).__name__, str(e))
    return result, check.expected, sorted(check.erased), sorted(check.erasures)


def _one_by_one(rows: list[tuple[Any, ...]]) -> tuple[object, ...]:
    check = RowCheck()
    return _outcome(check, lambda: [check.add(*row) for row in rows])


def _batched(rows: list[tuple[Any, ...]], size: int) -> tuple[object, ...]:
    check = RowCheck()

    def feed() -> list[bytes]:
        out: list[bytes] = []
        for at in range(0, len(rows), size):
            out += check.add_batch(rows[at : at + size])
        return out

    return _outcome(check, feed)


def _flip(value: Any, at: int) -> Any:
    if not isinstance(value, bytes) or not value:
        return b"x"
    i = at % len(value)
    return value[:i] + bytes([value[i] ^ 1]) + value[i + 1 :]


CHANGES = {
    "nothing": lambda row, at: row,
    "seq": lambda row, at: (row[0] + 1 + at % 3, *row[1:]),
    "leaf byte": lambda row, at: (row[0], _flip(row[1], at), *row[2:]),
    "leaf and its hash": lambda row, at: (
        row[0],
        _flip(row[1], at),
        merkle.leaf_hash(_flip(row[1], at)),
        *row[3:],
    ),
    "leaf hash": lambda row, at: (row[0], row[1], _flip(row[2], at), *row[3:]),
    "salt": lambda row, at: (*row[:3], _flip(row[3], at), row[4]),
    "payload": lambda row, at: (*row[:4], _flip(row[4], at)),
    "payload gone": lambda row, at: (*row[:3], None, None),
    "salt gone": lambda row, at: (*row[:3], None, row[4]),
    "leaf as text": lambda row, at: (row[0], "text", *row[2:]),
    "hash as text": lambda row, at: (row[0], row[1], "text", *row[3:]),
    "payload as text": lambda row, at: (*row[:4], "{}"),
}


@given(
    changes=st.lists(
        st.tuples(st.integers(0, 16), st.sampled_from(sorted(CHANGES)), st.integers(0, 10_000)),
        max_size=3,
    ),
    size=st.integers(1, 20),
)
def test_batched_rows_agree_with_rows_one_at_a_time(
    stored_rows: list[tuple[Any, ...]], changes: list[tuple[int, str, int]], size: int
) -> None:
    rows = list(stored_rows)
    for index, name, at in changes:
        rows[index] = CHANGES[name](rows[index], at)
    assert _batched(rows, size) == _one_by_one(rows)


def test_the_unchanged_rows_pass_both_ways(stored_rows: list[tuple[Any, ...]]) -> None:
    outcome = _batched(list(stored_rows), 5)
    assert outcome == _one_by_one(list(stored_rows))
    assert outcome[0] == ("ok", [merkle.leaf_hash(row[1]) for row in stored_rows])
    assert outcome[2] == [3]


# -- tree -----------------------------------------------------------------------------------


def _stored_nodes(hashes: list[bytes]) -> dict[int, list[tuple[int, bytes]]]:
    _, nodes = merkle.extend([], 0, hashes)
    levels: dict[int, list[tuple[int, bytes]]] = {}
    for level, idx, h in nodes:
        levels.setdefault(level, []).append((idx, h))
    return levels


def _fold(
    hashes: list[bytes],
    stored: dict[int, list[tuple[int, bytes]]],
    stops: list[int],
    size: int | None,
) -> tuple[object, ...]:
    def nodes_at(level: int) -> Iterator[tuple[int, bytes]]:
        return iter(sorted(stored.get(level, [])))

    tree = TreeCheck(nodes_at, stops)
    try:
        if size is None:
            for h in hashes:
                tree.add(h)
        else:
            for at in range(0, len(hashes), size):
                tree.add_batch(hashes[at : at + size])
        tree.finish()
    except VerificationError as e:
        return ("failed", str(e))
    return ("ok", tree.roots, tree.nodes, tree.root())


@given(
    count=st.integers(0, 300),
    stops=st.lists(st.integers(1, 300), max_size=4),
    size=st.integers(1, 70),
    change=st.one_of(st.none(), st.tuples(st.integers(1, 8), st.integers(0, 300))),
)
def test_batched_tree_agrees_with_leaves_one_at_a_time(
    count: int, stops: list[int], size: int, change: tuple[int, int] | None
) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(count)]
    stored = _stored_nodes(hashes)
    if change is not None and stored.get(change[0]):
        level, pick = change
        entries = stored[level]
        idx, h = entries[pick % len(entries)]
        entries[pick % len(entries)] = (idx, bytes(32) if h != bytes(32) else b"\x01" * 32)
    stops = [s for s in stops if s <= count]
    batched = _fold(hashes, stored, stops, size)
    assert batched == _fold(hashes, stored, stops, None)
    if change is None:
        assert batched[0] == "ok"
        roots = batched[1]
        assert isinstance(roots, dict)
        for stop in stops:
            assert roots[stop] == root_of(hashes[:stop])


# -- the folder check -----------------------------------------------------------------------

PATHS = st.text(alphabet="ab/\\.é \x00", max_size=10)
_NEW = f"SELECT ({views._folder_of_sql('?1', '?2')}) IS 1"
_OLD = f"SELECT ?1 IS ({derived.folder_sql('?2')})"  # the triggers' own derivation


@given(path=st.one_of(st.none(), PATHS), other=st.one_of(st.none(), PATHS), data=st.data())
def test_the_folder_check_agrees_with_the_contract_and_the_derivation(
    path: str | None, other: str | None, data: st.DataObject
) -> None:
    right = views._dirname(path) if path else None
    near = [other, right, "", "/", "\\"]
    if right is not None:
        near += [right + "/", right[:-1], right + "a", "/" + right]
    folder = data.draw(st.sampled_from(near))
    conn = sqlite3.connect(":memory:")
    (new,) = conn.execute(_NEW, (folder, path)).fetchone()
    (old,) = conn.execute(_OLD, (folder, path)).fetchone()
    if "\x00" in (path or ""):
        # SQLite's text functions stop at a NUL; no derived path holds one (the triggers cut
        # values there), so such a row is always flagged and rechecked in Python.
        assert not new
    else:
        assert bool(new) == (folder == right), (folder, path, right)
        if "\x00" not in (folder or ""):
            assert bool(old) == bool(new), (folder, path)


# -- views beside the rows ------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = new_ledger(tmp_path)
    opened.append(
        Record.create(
            Kind.FILE_UPDATE,
            "test.suite",
            {"actor": {"user": f"u{i % 3}"}, "file": {"path": f"docs/d{i % 4}/f{i}.txt"}},
            time=T0 + timedelta(minutes=i),
        )
        for i in range(40)
    )
    opened.seal()
    yield opened
    opened.close()


def _sequential(ledger: Ledger) -> str:
    store = ledger.store
    try:
        store.check_pages()
        with store.snapshot():
            verify_log(
                store,
                origin=ledger.origin,
                verifier=ledger.verifier,
                integrated=_integrated(store),
                views=views.VIEWS,
            )
    except AffidavitError as e:
        return f"{type(e).__name__}: {e}"
    return "ok"


def _beside(ledger: Ledger, checks: Any = views.VIEWS) -> str:
    try:
        report = ledger.verify(views=checks)
    except AffidavitError as e:
        return f"{type(e).__name__}: {e}"
    assert dict(report.views)["actions"] == report.records
    return "ok"


TAMPERS = {
    "nothing": [],
    "an index path": ["UPDATE actions SET path = '/elsewhere' WHERE seq = 7"],
    "an index folder": ["UPDATE actions SET folder = 'docs/x' WHERE seq = 9"],
    # SQLite's text functions stop at a NUL: the SQL pass must still flag this row.
    "an index path with a NUL": ["UPDATE actions SET path = path || char(0) || 'x' WHERE seq = 4"],
    "an index row gone": ["DELETE FROM actions WHERE seq = 30"],
    # SQLite's JSON functions raise on a BLOB: verify crashed instead of naming the row.
    "a BLOB in an index user": ["UPDATE actions SET actor_user = x'7530' WHERE seq = 6"],
    "a BLOB in an index time": ["UPDATE actions SET time = x'41' WHERE seq = 8"],
    "a payload and an index row": [
        "UPDATE records SET payload = x'7b7d' WHERE seq = 5",
        "UPDATE actions SET path = '/elsewhere' WHERE seq = 2",
    ],
    "a subtree": ["UPDATE nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1"],
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_views_beside_the_rows_report_what_views_after_them_report(
    ledger: Ledger, name: str
) -> None:
    with raw(Path(ledger.store.path)) as conn:
        for sql in TAMPERS[name]:
            conn.execute(sql)
    beside = _beside(ledger)
    assert beside == _sequential(ledger)
    assert (beside == "ok") == (name == "nothing"), beside
    if name == "a payload and an index row":
        assert "record 5" in beside and "actions" not in beside
    if name.startswith("a BLOB"):
        assert "differs from the" in beside, beside


# The fixture's 40 records in parts of 3 seqs: both threads take parts, in either order.
SMALL_PARTS = [("actions", views.actions_check(part_size=3)), *views.VIEWS[1:]]


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_views_in_parts_shared_by_both_threads_report_what_one_pass_reports(
    ledger: Ledger, name: str
) -> None:
    with raw(Path(ledger.store.path)) as conn:
        for sql in TAMPERS[name]:
            conn.execute(sql)
    assert _beside(ledger, SMALL_PARTS) == _sequential(ledger)


@pytest.mark.parametrize("seqs", [(2, 38), (38, 2), (20, 21), (0, 39)])
def test_of_two_failing_parts_the_first_seq_is_named(ledger: Ledger, seqs: tuple[int, int]) -> None:
    """Two parts fail, whichever thread checks them and whichever finishes first: the
    message names the lower seq, as one pass in seq order does."""
    with raw(Path(ledger.store.path)) as conn:
        for seq in seqs:
            conn.execute("UPDATE actions SET actor_user = 'someone' WHERE seq = ?", (seq,))
    first = min(seqs)
    for _ in range(5):
        message = _beside(ledger, SMALL_PARTS)
        assert message.startswith(f"VerificationError: actions row for seq {first}:"), message
    assert message == _sequential(ledger)


def _parts(store: object) -> list[Part]:
    return [(0, 1), (1, 2)]


def _no_finish(store: object) -> int:
    return 0


def test_a_part_that_fails_last_is_still_named_first(ledger: Ledger) -> None:
    """Part 0 fails only after part 1, checked by the other thread, has failed: the
    message is part 0's, as in one pass in order."""
    second_failed = threading.Event()

    def part(store: object, which: Part) -> None:
        if which == (1, 2):
            second_failed.set()
            raise VerificationError("part 1 fails")
        second_failed.wait(timeout=10)
        raise VerificationError("part 0 fails")

    checks = [("split", SplitCheck(_parts, part, _no_finish))]
    assert _beside(ledger, checks) == "VerificationError: part 0 fails"
    assert second_failed.is_set()  # both threads took a part


def test_a_view_failure_before_a_split_view_is_named_first(ledger: Ledger) -> None:
    """The first view fails once a part of the later split view, checked by the caller's
    thread meanwhile, has failed: the first view's failure is named."""
    part_failed = threading.Event()

    def first(store: object) -> int:
        part_failed.wait(timeout=10)
        raise VerificationError("the first view fails")

    def part(store: object, which: Part) -> None:
        part_failed.set()
        raise VerificationError("a part of the second view fails")

    checks = [("first", first), ("split", SplitCheck(_parts, part, _no_finish))]
    assert _beside(ledger, checks) == "VerificationError: the first view fails"
    assert part_failed.is_set()


def test_the_paired_snapshot_is_one_snapshot_while_a_writer_commits(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    new_ledger(tmp_path).close()
    stop = threading.Event()

    def write() -> None:
        with Ledger.open(path) as writer:
            while not stop.is_set():
                writer.append(make_records(1, start=writer.store.size()))

    thread = threading.Thread(target=write)
    thread.start()
    try:
        with Ledger.open(path, readonly=True) as reader:
            for _ in range(30):
                with reader.store.paired_snapshot() as twin:
                    mine = reader.store.size()
                    with raw(path) as conn:
                        conn.execute("SELECT 1")  # let the writer in between the reads
                    assert twin.size() == mine == reader.store.size()
                    assert (
                        twin.connection.execute("SELECT count(*) FROM actions").fetchone()
                        == reader.store.connection.execute(
                            "SELECT count(*) FROM actions"
                        ).fetchone()
                    )
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("rules", [[], [("docs/d1", "finance"), ("docs", "records")]])
@pytest.mark.parametrize("seq", [1, 2])
def test_a_changed_function_is_caught_with_and_without_folder_rules(
    ledger: Ledger, rules: list[tuple[str, str]], seq: int
) -> None:
    """The SQL pass skips the rule lookup when there are no rules: a function is then wrong
    whenever it is set; with rules, whenever it is not the first match."""
    query.refresh(ledger.store, rules)
    assert _beside(ledger) == "ok"
    with raw(Path(ledger.store.path)) as conn:
        conn.execute("UPDATE actions SET function = 'legal' WHERE seq = ?", (seq,))
    message = _beside(ledger)
    assert f"actions row for seq {seq}: function differs" in message, message
    assert message == _sequential(ledger)

"""Corruption: damaged copies of a real ledger file, and what Affidavit does with them.

A base ledger (3,040 records, a checkpoint every 100, 40 records never published) is built
once and closed cleanly; each case damages a copy the way disks and crashes do: half a page
of the records, subtree or checkpoint b-tree zeroed (a torn write), bytes flipped in a page
header, the file cut to fewer pages or to nothing, the 16-byte SQLite signature
overwritten, the write-ahead log zeroed or deleted with commits still in it. Then:

* ``append``, ``seal`` and ``hook`` refuse to write: ``append`` and ``seal`` exit 2 with one
  line naming the file and the damage; the hook exits 0, says so in one line and spools the
  event; no byte of the damaged file (or its WAL) changes;
* ``affidavit verify`` exits 1 and tells which records are still provable and against which
  checkpoint (the last good one), which are unreadable, and why; every record it calls
  provable has, in the damaged file, exactly the leaf the checkpoint commits to;
* what is knowable is told exactly: a torn records page costs the records on it and their
  audit-path partners, nothing else; a torn subtree page costs nothing; a lost checkpoint
  page falls back to the newest checkpoint still readable, or to one the verifier kept.

A WAL deleted with commits in it leaves a smaller, self-consistent file: only a checkpoint
kept outside the file (``verify --from``) can tell, and does. ``--runslow`` adds torn pages
and byte flips at random places of every table (seeded, the seed in the failure message).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import pytest
from reliability import Count
from reliability import Reliability as Tally

from affidavit import merkle
from affidavit.ledger import Ledger
from affidavit.note import Verifier, open_checkpoint
from affidavit.record import Record
from affidavit.store.pages import table_leaf_rows
from ledger_helpers import Clock, cli_env, key_of

ORIGIN = "example.com/corruption-test"
RECORDS, EVERY, UNPUBLISHED = 3000, 100, 40
RANDOM_CASES = 24

# -- the base ledger ------------------------------------------------------------------------


def records(count: int, start: int) -> list[Record]:
    """File actions about the size of real ones (a few hundred bytes of payload)."""
    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    return [
        Record.create(
            "file.update",
            "claude-code.hook",
            {
                "actor": {"user": "dana", "host": "laptop-17"},
                "agent": {"product": "claude-code", "session_id": f"s-{i // 50}", "tool": "Edit"},
                "file": {
                    "path": f"/srv/acme/finance/q{i % 4 + 1}/report-{i}.xlsx",
                    "before_sha256": hashlib.sha256(f"b{i}".encode()).hexdigest(),
                    "after_sha256": hashlib.sha256(f"a{i}".encode()).hexdigest(),
                },
                "raw": {"note": "x" * 400},
            },
            time=t0 + timedelta(seconds=i),
        )
        for i in range(start, start + count)
    ]


@dataclass(frozen=True)
class Base:
    folder: Path
    vkey: str
    notes: dict[int, str]  # every checkpoint: size → signed note
    leaves: list[bytes]  # every record's leaf bytes

    @property
    def path(self) -> Path:
        return self.folder / "ledger.sqlite"

    @property
    def latest(self) -> int:
        return max(self.notes)

    def copy(self, to: Path) -> Path:
        to.mkdir()
        for f in self.folder.iterdir():
            if f.name.startswith("ledger.sqlite") and not f.name.endswith("-shm"):
                shutil.copy2(f, to / f.name)
        return to / "ledger.sqlite"


def build(folder: Path, *, wal_tail: bool) -> Base:
    """The base ledger; with ``wal_tail`` the last 2 checkpoints and the unpublished records
    stay in the WAL (copied while the writer is still open, as after a hook's exit)."""
    folder.mkdir()
    path = folder / "ledger.sqlite"
    ledger = Ledger.create(path, origin=ORIGIN, key_path=key_of(path), clock=Clock())
    for start in range(0, RECORDS, EVERY):
        if wal_tail and start == RECORDS - 2 * EVERY:
            ledger.store.purge_erased()  # everything so far into the main file
        ledger.append(records(EVERY, start))
        ledger.seal()
    ledger.append(records(UNPUBLISHED, RECORDS))
    notes = {s: n for s, n, _ in ledger.store.checkpoints()}
    leaves = [row[1] for row in ledger.rows()]
    vkey = ledger.verifier.vkey()
    if wal_tail:
        frozen = folder.with_name(folder.name + "-frozen")
        frozen.mkdir()
        for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite.key"):
            shutil.copy2(folder / name, frozen / name)
        ledger.close()
        shutil.rmtree(folder)
        frozen.rename(folder)
    else:
        ledger.close()
        assert not (folder / "ledger.sqlite-wal").exists()
    return Base(folder, vkey, notes, leaves)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    return build(tmp_path_factory.mktemp("corruption") / "base", wal_tail=False)


@pytest.fixture(scope="module")
def wal_base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    return build(tmp_path_factory.mktemp("corruption") / "wal-base", wal_tail=True)


# -- where things are in the file (https://sqlite.org/fileformat2.html) --------------------


@dataclass(frozen=True)
class Page:
    number: int
    leaf: bool
    rowids: tuple[int, ...]  # a rowid table leaf's keys (records: the seqs on it)
    ancestors: tuple[int, ...]  # the interior pages above it, root first


def varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = data[at + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    return (value << 8) | data[at + 8], at + 9


def btrees(path: Path) -> tuple[int, dict[str, list[Page]]]:
    """Page size and, for every table and index, its pages."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        roots = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE rootpage > 0"))
    finally:
        conn.close()
    data = path.read_bytes()
    size = struct.unpack(">H", data[16:18])[0]
    out: dict[str, list[Page]] = {}
    for name, root in roots.items():
        pages: list[Page] = []
        stack: list[tuple[int, tuple[int, ...]]] = [(root, ())]
        while stack:
            number, ancestors = stack.pop()
            at = (number - 1) * size
            head = at + (100 if number == 1 else 0)
            kind = data[head]
            cells = struct.unpack(">H", data[head + 3 : head + 5])[0]
            interior = kind in (0x02, 0x05)
            pointers = head + (12 if interior else 8)
            offsets = [
                struct.unpack(">H", data[pointers + 2 * i : pointers + 2 * i + 2])[0]
                for i in range(cells)
            ]
            if interior:
                children = [struct.unpack(">I", data[at + o : at + o + 4])[0] for o in offsets]
                children.append(struct.unpack(">I", data[head + 8 : head + 12])[0])
                stack += [(c, (*ancestors, number)) for c in children]
                pages.append(Page(number, False, (), ancestors))
                continue
            rowids = []
            if kind == 0x0D:
                for o in offsets:
                    _, after = varint(data, at + o)
                    rowids.append(varint(data, after)[0])
            pages.append(Page(number, True, tuple(rowids), ancestors))
        out[name] = sorted(pages, key=lambda p: p.number)
    return size, out


# -- damage ---------------------------------------------------------------------------------

Damage = Callable[[Path], None]


def torn(page: int, size: int, *, half: str = "second") -> Damage:
    """A torn write: half of ``page`` reads back as zeros."""

    def damage(path: Path) -> None:
        at = (page - 1) * size + (size // 2 if half == "second" else 0)
        with open(path, "r+b") as f:
            f.seek(at)
            f.write(bytes(size // 2))

    return damage


def flipped(page: int, size: int, rng: Random, count: int = 6) -> Damage:
    """Random bytes flipped in ``page``'s header and cell pointers."""

    def damage(path: Path) -> None:
        head = (page - 1) * size + (100 if page == 1 else 0)
        with open(path, "r+b") as f:
            for _ in range(count):
                at = head + rng.randrange(0, 24)
                f.seek(at)
                byte = f.read(1)[0]
                f.seek(at)
                f.write(bytes([byte ^ (1 << rng.randrange(8))]))

    return damage


def cut(pages: int, size: int) -> Damage:
    def damage(path: Path) -> None:
        os.truncate(path, pages * size)

    return damage


def bad_signature(path: Path) -> None:
    with open(path, "r+b") as f:
        f.write(b"not an sqlite db")


def zeroed_wal(path: Path) -> None:
    wal = Path(f"{path}-wal")
    wal.write_bytes(bytes(wal.stat().st_size))


def deleted_wal(path: Path) -> None:
    Path(f"{path}-wal").unlink()


# -- running the real CLI ------------------------------------------------------------------


def affidavit(path: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """The real CLI on ledger ``path`` (the hook parses its own ``--ledger``)."""
    if args[:1] == ("hook",):
        argv = ["hook", "--ledger", str(path), *args[1:]]
    else:
        argv = ["--ledger", str(path), *args]
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", *argv],
        input=stdin,
        capture_output=True,
        env=cli_env(path.parent / "home"),
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


APPEND = b'{"kind": "file.read", "source": "test", "payload": {"file": {"path": "/srv/a"}}}\n'
EVENT = {
    "session_id": "0b9c6f4e-7d1a-4c55-9d1e-2b1f0c3a9e77",
    "transcript_path": "/home/dana/.claude/projects/p/0b9c6f4e.jsonl",
    "hook_event_name": "PostToolUse",
    "tool_name": "Read",
    "tool_input": {"file_path": "/srv/acme/finance/q1/report-1.xlsx"},
    "tool_response": {"type": "text"},
    "tool_use_id": "toolu_01Corruption",
}


def fingerprint(path: Path) -> dict[str, str]:
    """sha256 of the ledger file and of its WAL, if it holds anything (an empty WAL, which
    SQLite makes and removes as connections come and go, is the same as none)."""
    out = {}
    for f in (path, Path(f"{path}-wal")):
        if f.exists() and (f == path or f.stat().st_size):
            out[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def refusals(path: Path, *, expect: str, count: Count, hook_first: bool = False) -> None:
    """Run append, seal and the hook on a damaged file, each one counted as it refuses
    properly or not (and asserted, so a failure names the command). ``hook_first``: before
    any command has run the full check (and noted the damage)."""
    before = fingerprint(path)
    name = str(path)
    if hook_first:
        with count.trial("hook"):
            hook_refuses(path, before)
    # Writes check only what they touch (header, WAL, the last records): a whole-file check
    # on every write would grow with the ledger. `status --check` (and `verify`) read every
    # page, name the damage and leave a note that every later write honours.
    with count.trial("status --check"):
        checked = affidavit(path, "status", "--check")
        assert checked.returncode == 1, (checked.returncode, checked.stderr)
        line = one_line(checked.stderr)
        assert line.startswith(f"FAILED: ledger {name} is damaged: ") and expect in line, line
        assert fingerprint(path) == before, "status --check changed the damaged file"
    for args, stdin in ((("append",), APPEND), (("seal",), b"")):
        with count.trial(args[0]):
            done = affidavit(path, *args, stdin=stdin)
            line = one_line(done.stderr)
            assert done.returncode == 2, (args, done.returncode, done.stderr)
            assert line.startswith(f"error: ledger {name} is damaged: "), line
            assert expect in line, (expect, line)
            assert done.stdout == ""
            assert fingerprint(path) == before, f"{args[0]} changed the damaged file"
    if not hook_first:
        with count.trial("hook"):
            hook_refuses(path, before)


def hook_refuses(path: Path, before: dict[str, str]) -> None:
    """The hook exits 0, says in one line which ledger is damaged, and spools the event."""
    done = affidavit(path, "hook", stdin=json.dumps(EVENT).encode())
    line = one_line(done.stderr)
    assert done.returncode == 0 and done.stdout == "", done
    assert line.startswith("affidavit hook: ") and f"ledger {path} is damaged" in line, line
    spooled = list(Path(f"{path}.spool").glob("*.json"))
    assert len(spooled) == 1
    entry = json.loads(spooled[0].read_text())  # the event's records, redacted; not its raw bytes
    assert entry["input"]["sha256"] == hashlib.sha256(json.dumps(EVENT).encode()).hexdigest()
    assert [p["agent"]["tool_use_id"] for _, p in entry["records"]] == [EVENT["tool_use_id"]]
    assert fingerprint(path) == before, "the hook changed the damaged file"


@dataclass(frozen=True)
class Salvaged:
    checkpoint: int | None
    provable: set[int]
    unreadable: set[int]
    unproven: set[int]
    damage: list[str]
    records: int
    report: dict[str, Any]


def seqs(pairs: list[list[int]]) -> set[int]:
    return {s for a, b in pairs for s in range(a, b + 1)}


def salvaged(path: Path, *args: str) -> Salvaged:
    """`affidavit verify` on the damaged file: exit 1, the report, and its soundness."""
    before = fingerprint(path)
    text = affidavit(path, "verify", *args)
    assert text.returncode == 1, text
    assert text.stdout.startswith(f"DAMAGED: {path}\n"), text.stdout
    summary = one_line(text.stderr)
    assert summary.startswith(f"FAILED: ledger {path} is damaged: "), summary
    done = affidavit(path, "verify", "--json", *args)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert fingerprint(path) == before, "verify changed the damaged file"
    assert report["ok"] is False and report["damaged"] is True and report["damage"]
    assert report["error"] == summary.removeprefix("FAILED: ")
    cp = report["checkpoint"]
    out = Salvaged(
        checkpoint=None if cp is None else cp["size"],
        provable=seqs(report["provable"]),
        unreadable=seqs(report["unreadable"]),
        unproven=seqs(report["unproven"]),
        damage=report["damage"],
        records=report["records"],
        report=report,
    )
    # A partition of the records it knows.
    assert out.provable | out.unreadable | out.unproven == set(range(out.records))
    assert not out.provable & out.unreadable and not out.provable & out.unproven
    if cp is not None:
        assert f"records {describe(report['provable'])} are still provable" in summary
        assert f"against the checkpoint of size {cp['size']}" in summary
        assert all(s < cp["size"] for s in out.provable)
    return out


def describe(pairs: list[list[int]]) -> str:
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in pairs)


def check_sound(path: Path, base: Base, found: Salvaged, kept: str | None = None) -> None:
    """The checkpoint is one the ledger really signed, and every record called provable
    holds, in the damaged file, the leaf that checkpoint commits to (its inclusion proof,
    built from the undamaged ledger, verifies against the signed root)."""
    if found.checkpoint is None:
        assert not found.provable
        return
    note = found.report["checkpoint"]["note"]
    assert note in (base.notes.get(found.checkpoint), kept)
    cp = open_checkpoint(note, Verifier.from_vkey(base.vkey))
    damaged = leaves_readable(path, sorted(found.provable))
    with Ledger.open(base.path, readonly=True) as ledger:
        for seq in sample(sorted(found.provable), 60):
            proof = ledger.prove_inclusion(seq, tree_size=cp.size)
            assert damaged[seq] == base.leaves[seq]
            merkle.verify_inclusion(
                merkle.leaf_hash(damaged[seq]), seq, cp.size, proof.proof, cp.root
            )


def leaves_readable(path: Path, wanted: list[int]) -> dict[int, bytes]:
    """The leaf bytes of (a sample of) ``wanted`` as the damaged file holds them: through
    SQLite where it still reaches them, else from the pages themselves. Either way the caller
    checks them against the undamaged ledger and the signed root."""
    copy = path.with_name("peek.sqlite")
    shutil.copyfile(path, copy)
    with open(copy, "r+b") as f:
        f.write(b"SQLite format 3\x00")
    conn = sqlite3.connect(copy)
    conn.execute("PRAGMA writable_schema = ON")
    out: dict[int, bytes] = {}
    try:
        for seq in sample(wanted, 60):
            try:
                row = conn.execute("SELECT leaf FROM records WHERE seq = ?", (seq,)).fetchone()
            except sqlite3.DatabaseError:
                continue
            out[seq] = row[0]
        missing = set(sample(wanted, 60)) - set(out)
        for seq, columns in table_leaf_rows(copy):
            if seq in missing and len(columns) == 5 and isinstance(columns[1], bytes):
                out.setdefault(seq, columns[1])
        return out
    finally:
        conn.close()
        copy.unlink()


def sample(items: list[int], count: int) -> Iterator[int]:
    if len(items) <= count:
        yield from items
        return
    step = (len(items) - 1) / (count - 1)
    yield from (items[round(i * step)] for i in range(count))


def partners(unreadable: set[int]) -> set[int]:
    """An unreadable leaf's audit-path partner loses its proof too (its sibling's hash is
    unreadable): with the level-1 subtree hashes intact, that is all it costs."""
    return unreadable | {s ^ 1 for s in unreadable}


# -- the cases ------------------------------------------------------------------------------

REFUSED = (
    "append/seal/hook on a damaged file (torn page, flipped bytes, truncation, bad header, "
    "damaged WAL): refused, damage named, file untouched"
)
TOLD = "verify on a damaged file: which records are still provable, from the last good checkpoint"


def told(reliability: Tally) -> AbstractContextManager[None]:
    """One attempt at the TOLD row: held if the block passes, failed if it raises."""
    return reliability("corruption", TOLD).trial()


def damaged_copy(base: Base, tmp_path: Path, damage: Damage, name: str) -> Path:
    path = base.copy(tmp_path / name)
    before = fingerprint(path)
    damage(path)
    assert fingerprint(path) != before, f"{name}: the damage changed nothing"
    return path


def test_torn_records_page(base: Base, tmp_path: Path, reliability: Tally) -> None:
    size, trees = btrees(base.path)
    leaves = [p for p in trees["records"] if p.leaf]
    page = leaves[len(leaves) // 2]
    for half in ("second", "first"):
        path = damaged_copy(base, tmp_path, torn(page.number, size, half=half), half)
        refusals(
            path, expect="SQLite's integrity check found", count=reliability("corruption", REFUSED)
        )
        with told(reliability):
            found = salvaged(path)
            assert found.unreadable and found.unreadable <= set(page.rowids)
            assert found.checkpoint == base.latest
            cut_off = partners(found.unreadable) - found.unreadable
            assert found.provable == set(range(base.latest)) - found.unreadable - cut_off
            assert found.unproven == set(range(base.latest, RECORDS + UNPUBLISHED)) | cut_off
            check_sound(path, base, found)


def test_torn_tail_is_refused_by_the_hook_itself(
    base: Base, tmp_path: Path, reliability: Tally
) -> None:
    """The page written last is where a torn write lands. The hook skips the full page
    check, but rereads the last records before it appends, so it refuses this one itself;
    the commands that only read name the damage instead of failing with a traceback."""
    size, trees = btrees(base.path)
    tail = max((p for p in trees["records"] if p.leaf), key=lambda p: max(p.rowids))
    path = damaged_copy(base, tmp_path, torn(tail.number, size), "tail")
    refusals(path, expect="is damaged", hook_first=True, count=reliability("corruption", REFUSED))
    # (`log` reads only the index, which triggers keep beside the records and `verify`
    # checks; it does not touch the torn records page.)
    for args in (
        ("show", "--all"),
        ("export", "--format", "csv", "--out", str(tmp_path / "out.csv")),
    ):
        Path(f"{path}.damaged").unlink(missing_ok=True)  # as if no check had run yet
        done = affidavit(path, *args)
        line = one_line(done.stderr)
        assert done.returncode == 2 and line.startswith(f"error: ledger {path} is damaged: "), (
            args,
            done.stderr[-500:],
        )
    with told(reliability):
        found = salvaged(path)
        assert found.unreadable <= set(tail.rowids)
        assert found.checkpoint == base.latest
        check_sound(path, base, found)


def test_torn_subtree_page_costs_nothing(base: Base, tmp_path: Path, reliability: Tally) -> None:
    size, trees = btrees(base.path)
    page = [p for p in trees["nodes"] if p.leaf][1]
    path = damaged_copy(base, tmp_path, torn(page.number, size), "nodes")
    refusals(
        path, expect="SQLite's integrity check found", count=reliability("corruption", REFUSED)
    )
    with told(reliability):
        found = salvaged(path)
        # The subtree hashes are rebuilt from the records: everything published is provable.
        assert (found.checkpoint, found.unreadable) == (base.latest, set())
        assert found.provable == set(range(base.latest))
        check_sound(path, base, found)


def test_torn_checkpoint_page(base: Base, tmp_path: Path, reliability: Tally) -> None:
    size, trees = btrees(base.path)
    pages = [p for p in trees["checkpoints"] if p.leaf]
    assert len(pages) > 1, "the base ledger's checkpoints should span pages"
    path = damaged_copy(base, tmp_path, torn(pages[-1].number, size, half="first"), "cps")
    refusals(
        path, expect="SQLite's integrity check found", count=reliability("corruption", REFUSED)
    )
    with told(reliability):
        found = salvaged(path)
        # The newest checkpoints are gone: the newest one still readable is the last good one.
        readable = [s for s in base.notes if s not in set(pages[-1].rowids)]
        assert found.checkpoint == max(readable) < base.latest
        assert found.provable == set(range(found.checkpoint))
        check_sound(path, base, found)
    with told(reliability):
        # A checkpoint the auditor kept proves everything it covers.
        kept = tmp_path / "kept.txt"
        kept.write_text(base.notes[base.latest])
        found = salvaged(path, "--from", str(kept))
        assert (found.checkpoint, found.provable) == (base.latest, set(range(base.latest)))
        check_sound(path, base, found, kept=base.notes[base.latest])


def test_torn_meta_page_needs_the_pinned_key(
    base: Base, tmp_path: Path, reliability: Tally
) -> None:
    size, trees = btrees(base.path)
    (page,) = trees["meta"]
    path = damaged_copy(base, tmp_path, torn(page.number, size), "meta")
    refusals(
        path, expect="SQLite's integrity check found", count=reliability("corruption", REFUSED)
    )
    with told(reliability):
        found = salvaged(path)
        assert found.checkpoint is None and not found.provable
        assert "--vkey" in found.report["error"]
        found = salvaged(path, "--vkey", base.vkey)
        assert (found.checkpoint, found.provable) == (base.latest, set(range(base.latest)))
        check_sound(path, base, found)


def test_flipped_page_header(base: Base, tmp_path: Path, reliability: Tally) -> None:
    size, trees = btrees(base.path)
    page = [p for p in trees["records"] if p.leaf][7]
    path = damaged_copy(base, tmp_path, flipped(page.number, size, Random(7)), "flip")
    refusals(path, expect="is damaged", count=reliability("corruption", REFUSED))
    with told(reliability):
        found = salvaged(path)
        assert found.unreadable <= set(page.rowids)
        assert found.checkpoint == base.latest
        cut_off = partners(found.unreadable)
        assert found.provable == set(range(base.latest)) - cut_off
        check_sound(path, base, found)


def test_truncated_file(base: Base, tmp_path: Path, reliability: Tally) -> None:
    size, trees = btrees(base.path)
    keep = base.path.stat().st_size // size * 2 // 3
    path = damaged_copy(base, tmp_path, cut(keep, size), "cut")
    refusals(
        path, expect=f"the file holds {keep * size} bytes", count=reliability("corruption", REFUSED)
    )
    with told(reliability):
        found = salvaged(path)
        # Exactly the records on leaf pages past the cut are lost: those below a lost
        # interior page are read from their pages.
        # Records never integrated whose pages are lost leave no trace: the ledger knows the
        # integrated count, not them.
        lost = {seq for p in trees["records"] if p.leaf and p.number > keep for seq in p.rowids}
        assert found.records == max(RECORDS, max(found.unreadable | found.provable) + 1)
        assert lost and found.unreadable == lost & set(range(found.records))
        # The last good checkpoint covers at least every record before the first one lost.
        floor = max(s for s in base.notes if s <= min(lost))
        assert found.checkpoint is not None and found.checkpoint >= floor
        assert found.provable <= set(range(found.checkpoint)) - lost
        assert len(found.provable) >= floor
        check_sound(path, base, found)


def test_file_cut_to_nothing_or_to_its_first_page(
    base: Base, tmp_path: Path, reliability: Tally
) -> None:
    size, _ = btrees(base.path)
    for keep, expect in ((0, "it is cut short: 0 bytes"), (1, f"the file holds {size} bytes")):
        path = damaged_copy(base, tmp_path, cut(keep, size), f"cut-{keep}")
        refusals(path, expect=expect, count=reliability("corruption", REFUSED))
        with told(reliability):
            done = affidavit(path, "verify")
            # Nothing of a ledger is readable: an unreadable input, exit 2, file named.
            assert done.returncode == 2, done
            line = one_line(done.stderr)
            assert line.startswith("error: ") and str(path) in line, line


def test_overwritten_signature(base: Base, tmp_path: Path, reliability: Tally) -> None:
    path = damaged_copy(base, tmp_path, bad_signature, "header")
    refusals(
        path,
        expect="its header is damaged: the first 16 bytes are b'not an sqlite db'",
        count=reliability("corruption", REFUSED),
    )
    with told(reliability):
        found = salvaged(path)
        # Only the signature was hit: everything published is still provable.
        assert (found.checkpoint, found.unreadable) == (base.latest, set())
        assert found.provable == set(range(base.latest))
        assert any("signature restored" in d for d in found.damage)
        check_sound(path, base, found)


def test_zeroed_wal(wal_base: Base, tmp_path: Path, reliability: Tally) -> None:
    path = damaged_copy(wal_base, tmp_path, zeroed_wal, "wal")
    refusals(path, expect="has no WAL header", count=reliability("corruption", REFUSED))
    with told(reliability):
        found = salvaged(path)
        # What the main file held before the WAL: its newest checkpoint, and all it covers.
        in_file = RECORDS - 2 * EVERY
        assert (found.checkpoint, found.records) == (in_file, in_file)
        assert found.provable == set(range(in_file))
        assert any("write-ahead log" in d for d in found.damage)
        check_sound(path, wal_base, found)


def test_deleted_wal_is_caught_by_a_kept_checkpoint(wal_base: Base, tmp_path: Path) -> None:
    """The file alone cannot know what its lost WAL held; a checkpoint kept elsewhere can."""
    path = damaged_copy(wal_base, tmp_path, deleted_wal, "nowal")
    kept = tmp_path / "kept.txt"
    kept.write_text(wal_base.notes[wal_base.latest])
    done = affidavit(path, "verify", "--from", str(kept))
    assert done.returncode == 1, done
    assert "the ledger was truncated" in done.stderr
    assert f"size {wal_base.latest}" in done.stderr


def test_seal_finds_deep_damage_then_every_hook_spools(base: Base, tmp_path: Path) -> None:
    """A torn page no write touches: neither the hook nor a seal reads the whole file, but
    `status --check` does, leaves the damage noted beside the ledger, and from then on every
    hook spools. Once the file is restored, a check finds it whole and clears the note, and
    capture resumes, the spooled events recorded as delayed captures."""
    size, trees = btrees(base.path)
    page = [p for p in trees["records"] if p.leaf][3]
    path = damaged_copy(base, tmp_path, torn(page.number, size), "deep")
    done = affidavit(path, "status", "--check")
    assert done.returncode == 1 and "is damaged" in done.stderr
    note = Path(f"{path}.damaged")
    assert note.exists() and str(path) in note.read_text()
    before = fingerprint(path)
    for n in range(3):
        event = {**EVENT, "tool_use_id": f"toolu_deep_{n}"}
        done = affidavit(path, "hook", stdin=json.dumps(event).encode())
        assert done.returncode == 0 and "is damaged" in done.stderr, done
    assert fingerprint(path) == before
    assert len(list(Path(f"{path}.spool").glob("*.json"))) == 3
    # `log` writes only its index, without the full check: the note stops it too.
    done = affidavit(path, "log", "--format", "jsonl")
    assert done.returncode == 2 and "is damaged" in done.stderr
    # Restored from a backup: a seal still refuses while the note lies there; a check finds
    # the file whole and clears the note.
    shutil.copyfile(base.path, path)
    assert affidavit(path, "seal").returncode == 2
    done = affidavit(path, "status", "--check")
    assert done.returncode == 0, done.stderr
    assert not note.exists()
    assert affidavit(path, "seal").returncode == 0
    after = {**EVENT, "tool_use_id": "toolu_after"}
    done = affidavit(path, "hook", stdin=json.dumps(after).encode())
    assert (done.returncode, done.stderr) == (0, "")
    with Ledger.open(path, readonly=True) as ledger:
        kinds = [json.loads(row[1])["kind"] for row in ledger.rows(RECORDS + UNPUBLISHED)]
    assert sorted(kinds) == ["capture.error"] * 3 + ["file.read"] * 4


# -- random damage (--runslow) ---------------------------------------------------------------


@pytest.mark.slow
def test_random_torn_pages_and_flips(base: Base, tmp_path: Path, reliability: Tally) -> None:
    """Any one page of the records, subtree or checkpoint b-tree, leaf or interior: a torn
    half or flipped header bytes. Only the rows on that page can be lost; a lost subtree or
    interior page costs nothing (hashes are rebuilt, rows read from their pages)."""
    seed = int(os.environ.get("AFFIDAVIT_CORRUPTION_SEED") or os.urandom(4).hex(), 16)
    rng = Random(seed)
    size, trees = btrees(base.path)
    candidates = [(name, p) for name in ("records", "nodes", "checkpoints") for p in trees[name]]
    for i in range(RANDOM_CASES):
        name, page = rng.choice(candidates)
        how = rng.choice(["first", "second", "flip"])
        if how == "flip":
            damage = flipped(page.number, size, rng)
        else:
            damage = torn(page.number, size, half=how)
        path = damaged_copy(base, tmp_path, damage, f"random-{i}")
        what = (
            f"AFFIDAVIT_CORRUPTION_SEED={seed:x}, case {i}: {how} on page {page.number} of {name}"
        )
        if sqlite_finds_nothing(path):
            continue  # the flips hit bytes SQLite does not use: no damage to find
        try:
            refusals(
                path,
                expect="is damaged",
                count=reliability("corruption", REFUSED, "random pages under --runslow"),
            )
            with told(reliability):
                found = salvaged(path, "--vkey", base.vkey)
                check_sound(path, base, found)
                lost_here = set(page.rowids) if name == "records" else set()
                assert found.unreadable <= lost_here
                if name == "checkpoints":
                    assert found.checkpoint is not None
                    assert found.provable == set(range(found.checkpoint))
                else:
                    assert found.checkpoint == base.latest
                    cut_off = partners(found.unreadable)
                    assert found.provable == set(range(base.latest)) - cut_off
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from e


def sqlite_finds_nothing(path: Path) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return bool(conn.execute("PRAGMA quick_check").fetchall() == [("ok",)])
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()

"""Tampering, end to end: generated mutations of a ledger on disk, an archive, an exported
evidence pack and a saved checkpoint, each checked by the command an auditor runs.

One scenario (a hooked session with file contents, generated records, an erasure, three
checkpoints) gives four targets. Mutations are enumerated, not hand-picked:

* ledger: every cell of every table x (a bit flipped at sampled byte positions, zeroed,
  cut, extended, NULL, +1/-1 for integers), and rows deleted, swapped, duplicated into the
  middle, renumbered, forged back from an erasure; checked with ``verify --from <kept>``;
* archive: every file x (bit flips, cut, extended, emptied, deleted, renamed, replaced by a
  symlink) plus files and folders added; checked with ``archive verify``;
* evidence pack: every member x (bit flips, cut, extended, emptied, deleted, renamed,
  duplicated) plus a member added, each both alone and with ``manifest.json`` rewritten to
  match, as an attacker would; checked with ``verify-pack --key``;
* saved checkpoint: every byte x bit flips; checked with ``verify --from <mutated>``.

A mutation is caught when the command exits 1 or 2 with an error naming the place. What
the design does not cover (derived tables the tree does not commit to, unsigned notes such
as a pack's README) is counted apart and listed; everything else must be caught.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sqlite3
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from reliability import Count
from reliability import Reliability as Tally

from affidavit.capture import hook
from affidavit.cli import run
from affidavit.compliance import archive as archiving
from affidavit.evidence import build_pack
from affidavit.ledger import Ledger
from affidavit.note import Signer
from affidavit.query import Filters, refresh
from affidavit.record import Record
from ledger_helpers import cli_env, key_of, new_ledger

AREA = "tampering"

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
Statements = list[tuple[str, tuple[Any, ...]]]

# -- the scenario -------------------------------------------------------------------------------


@dataclass
class Scenario:
    root: Path
    ledger: Path
    kept: Path  # the latest checkpoint, as an auditor saved it
    archive: Path
    pack: Path
    vkey: str


def hook_event(ledger: Path, event: dict[str, Any]) -> None:
    """The hook's entry point, in-process, on one event."""
    stdin, err = sys.stdin, io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(json.dumps(event).encode()))
    try:
        with contextlib.redirect_stderr(err):
            code = hook.run_hook(["--ledger", str(ledger), "--seal-interval", "3600"])
    finally:
        sys.stdin = stdin
    assert (code, err.getvalue()) == (0, "")


def tool(name: str, tool_name: str, use_id: str, work: Path, **fields: Any) -> dict[str, Any]:
    return {
        "hook_event_name": name,
        "session_id": "sess-1",
        "cwd": str(work),
        "tool_name": tool_name,
        "tool_use_id": use_id,
        **fields,
    }


def hooked_session(ledger: Path, work: Path) -> None:
    """Write a file, read it, remove it with a shell command, leave one call pending: every
    capture table (blobs, file_state, tool_uses, pending, conventions) gets rows."""
    note = work / "note.txt"
    write = {"file_path": str(note), "content": "hello\n"}
    rm = {"command": "rm note.txt"}
    steps: list[tuple[dict[str, Any], Callable[[], object] | None]] = [
        ({"hook_event_name": "SessionStart", "session_id": "sess-1", "cwd": str(work)}, None),
        ({"hook_event_name": "UserPromptSubmit", "session_id": "sess-1", "prompt": "go"}, None),
        (tool("PreToolUse", "Write", "toolu_w", work, tool_input=write), None),
        (
            tool("PostToolUse", "Write", "toolu_w", work, tool_input=write,
                 tool_response={"type": "create", "filePath": str(note)}),
            lambda: note.write_text("hello\n"),
        ),
        (tool("PostToolUse", "Read", "toolu_r", work, tool_input={"file_path": str(note)}), None),
        (tool("PreToolUse", "Bash", "toolu_b", work, tool_input=rm), None),
        (
            tool("PostToolUse", "Bash", "toolu_b", work, tool_input=rm,
                 tool_response={"stdout": ""}),
            note.unlink,
        ),
        (tool("PreToolUse", "Bash", "toolu_pending", work, tool_input=rm), None),
    ]  # fmt: skip
    for event, before in steps:
        if before is not None:
            before()
        hook_event(ledger, event)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("tamper")
    work = root / "work"
    work.mkdir()
    (work / "CLAUDE.md").write_text("Be careful.\n")
    path = root / "ledger.sqlite"
    new_ledger(root).close()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in cli_env(root / "home").items():
            if name.startswith(("HOME", "XDG_")):
                mp.setenv(name, value)
        for name in ("AFFIDAVIT_CONFIG", "AFFIDAVIT_LEDGER", "CLAUDE_CONFIG_DIR"):
            mp.delenv(name, raising=False)
        mp.setattr(hook, "start_seal", lambda ledger: None)
        hooked_session(path, work)
    ledger = Ledger.open(path, key_path=key_of(path))
    first = ledger.seal()
    ledger.append(
        Record.create("file.update", "test.tamper", {"n": i, "file": {"path": f"/w/{i}"}},
                      time=T0 + timedelta(minutes=i))
        for i in range(5)
    )  # fmt: skip
    ledger.erase([ledger.store.size() - 2], "a data subject's request")
    ledger.seal()
    ledger.append([Record.create("command.exec", "test.tamper", {"n": 9}, time=T0)])
    refresh(ledger.store)
    signer = Signer.from_private_key_string(key_of(path).read_text().strip())
    archive = root / "archive"
    archiving.write_archive(ledger, archive, signer=signer, now=T0)  # seals the last record
    latest = ledger.latest_checkpoint()
    assert latest is not None and latest[0] == ledger.store.size()
    kept = root / "kept.txt"
    kept.write_text(latest[1])
    pack = root / "pack.zip"
    build_pack(ledger, pack, filters=Filters(), now=T0, with_content=True,
               window_complete=True, kept_checkpoints=[first])  # fmt: skip
    vkey = ledger.verifier.vkey()
    ledger.close()
    yield Scenario(root, path, kept, archive, pack, vkey)


def cli(*args: str) -> tuple[int, str, str]:
    """The real command line, in-process: (exit code, stdout, stderr). An exception that
    escapes it (a crash, not a verdict) comes back as exit code -1 with its name."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args))
    except Exception as e:
        return -1, "", f"CRASH {type(e).__name__}: {e}"
    return code, out.getvalue(), err.getvalue()


@dataclass
class Outcome:
    """Every mutation tried on one target, and what verification said of each, counted in
    the Reliability table the moment it is known (so a failing run still shows it)."""

    target: str
    count: Count
    caught: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    by_design: list[str] = field(default_factory=list)  # not covered, and not caught
    by_design_caught: int = 0

    @classmethod
    def of(cls, reliability: Tally, target: str) -> Outcome:
        return cls(target, reliability(AREA, f"{target}: mutations caught and named"))

    def record(self, name: str, covered: bool, code: int, named: bool, said: str = "") -> None:
        detected = code in (1, 2) and named
        if code == -1 or (covered and not detected):
            self.missed.append(f"{name} -> {code}: {said.strip()[:160]}")
            self.count.fail(self.missed[-1])
        elif covered:
            self.caught.append(name)
            self.count.held_if(True)
        elif detected:
            self.by_design_caught += 1
        else:
            self.by_design.append(name)
        uncovered = len(self.by_design) + self.by_design_caught
        if uncovered:
            self.count.note = (
                f"{uncovered} more mutations of data not covered by design, "
                f"{self.by_design_caught} of them caught anyway"
            )

    def report(self) -> None:
        tried = len(self.caught) + len(self.missed)
        print(f"\n{self.target}: {len(self.caught)} of {tried} caught; {self.count.note}")
        for name in self.by_design:
            print(f"  not covered by design: {name}")
        for name in self.missed:
            print(f"  UNCAUGHT: {name}")
        assert tried >= 20
        assert self.missed == [], self.missed


def positions(size: int, runslow: bool, wanted: int = 3) -> list[int]:
    """Byte positions to flip: first, middle, last (with --runslow every one, up to 256)."""
    if size <= 0:
        return []
    if runslow:
        step = max(1, size // 256)
        return list(range(0, size, step))
    return sorted({0, size // 2, size - 1})[:wanted]


def flip(data: bytes, at: int, bit: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :]


def byte_mutations(data: bytes, runslow: bool) -> Iterator[tuple[str, bytes]]:
    """(name, mutated bytes): bit flips, zeroed, cut, extended, emptied."""
    for at in positions(len(data), runslow):
        yield f"bit flipped at byte {at}", flip(data, at)
    if data:
        yield "zeroed", bytes(len(data))
        yield "last byte cut", data[:-1]
        yield "emptied", b""
    yield "byte appended", data + b"\n"


# -- the ledger ---------------------------------------------------------------------------------

COVERED_TABLES = {
    "records": ("seq", "leaf", "leaf_hash", "salt", "payload"),
    "nodes": ("level", "idx", "hash"),
    "checkpoints": ("size", "note"),
    "meta": (),  # by key, below
}
COVERED_META = ("origin", "vkey", "integrated", "schema")
KEYS = {
    "records": ("seq",),
    "nodes": ("level", "idx"),
    "checkpoints": ("size",),
    "meta": ("key",),
    "blobs": ("sha256",),
    "tool_uses": ("rowid",),
    "pending": ("tool_use_id",),
    "actions": ("seq",),
    "file_state": ("path",),
    "function_rules": ("rowid",),
}
WHY_NOT = {
    "actions": "the query index, rebuilt from records and payloads",
    "tool_uses": "the capture's deduplication index",
    "pending": "what a PreToolUse saw, until its PostToolUse",
    "file_state": "the capture's stat cache",
    "function_rules": "the folder rules of affidavit.toml, copied for the index's function column",
    "blobs": "file contents, checked against their hash when diff, rollback or archive reads them",
    "checkpoints.published": "the local time a checkpoint was stored; the note itself is signed",
    "meta": "caches and local notes (created, seal_spawned, conventions, policy, actor)",
}


def cell_value_mutations(value: object, runslow: bool) -> Iterator[tuple[str, object]]:
    if value is None:
        return
    if isinstance(value, int):
        yield "+1", value + 1
        yield "-1", value - 1
        yield "negated", -value - 1
        return
    text = isinstance(value, str)
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]
    for name, mutated in byte_mutations(data, runslow):
        if text:
            try:
                yield name, mutated.decode("utf-8")
            except UnicodeDecodeError:
                yield name + " (not UTF-8)", RawText(mutated)
        else:
            yield name, mutated
    yield "NULL", None


@dataclass(frozen=True)
class RawText:
    """Bytes written as TEXT whatever they hold, as a hex editor would leave them."""

    data: bytes


def rows_of(conn: sqlite3.Connection, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    keys = KEYS[table]
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    select = ", ".join(["rowid", *columns]) if keys == ("rowid",) else ", ".join(columns)
    cursor = conn.execute(f"SELECT {select} FROM {table} ORDER BY {', '.join(keys)}")
    names = [d[0] for d in cursor.description]
    return names, cursor.fetchall()


def covered_cell(table: str, column: str, row: dict[str, Any]) -> bool:
    if table == "meta":
        return row["key"] in COVERED_META
    return column in COVERED_TABLES.get(table, ())


def set_cell(table: str, keys: dict[str, Any], column: str, value: Any) -> Statements:
    where = " AND ".join(f"{k} = ?" for k in keys)
    if isinstance(value, RawText):
        sql = f"UPDATE {table} SET {column} = CAST(? AS TEXT) WHERE {where}"
        return [(sql, (value.data, *keys.values()))]
    return [(f"UPDATE {table} SET {column} = ? WHERE {where}", (value, *keys.values()))]


def swapped(table: str, key: str, a: int, b: int) -> Statements:
    """Two rows exchanged under their keys (every other column moves)."""
    sql = f"UPDATE {table} SET {key} = ? WHERE {key} = ?"
    return [(sql, (-1, a)), (sql, (a, b)), (sql, (b, -1))]


def row_mutations(conn: sqlite3.Connection) -> Iterator[tuple[str, bool, Statements]]:
    """(name, covered, SQL): whole rows deleted, swapped, duplicated, renumbered, forged."""
    size = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    for seq in sorted({0, 1, size // 2, size - 1}):
        yield f"records: row {seq} deleted", True, [("DELETE FROM records WHERE seq = ?", (seq,))]
        move = ("UPDATE records SET seq = ? WHERE seq = ?", (size + 5, seq))
        yield f"records: row {seq} renumbered past the end", True, [move]
        if seq + 1 < size:
            yield (
                f"records: rows {seq} and {seq + 1} swapped",
                True,
                swapped("records", "seq", seq, seq + 1),
            )
            duplicate = [
                ("UPDATE records SET seq = -seq - 1 WHERE seq > ?", (seq,)),
                ("UPDATE records SET seq = -seq WHERE seq < 0", ()),
                ("INSERT INTO records SELECT seq + 1, leaf, leaf_hash, salt, payload "
                 "FROM records WHERE seq = ?", (seq,)),
            ]  # fmt: skip
            yield f"records: row {seq} duplicated after itself", True, duplicate
    for (seq,) in conn.execute("SELECT seq FROM records WHERE payload IS NULL").fetchall():
        forge = ("UPDATE records SET salt = ?, payload = ? WHERE seq = ?", (bytes(16), b"{}", seq))
        yield f"records: erased row {seq} given a forged payload back", True, [forge]
    nodes = conn.execute("SELECT level, idx FROM nodes ORDER BY level, idx").fetchall()
    for level, idx in nodes[:: max(1, len(nodes) // 4)]:
        drop = ("DELETE FROM nodes WHERE level = ? AND idx = ?", (level, idx))
        yield f"nodes: ({level}, {idx}) deleted", True, [drop]
    extra = ("INSERT INTO nodes VALUES (1, 1000, ?)", (bytes(32),))
    yield "nodes: one added beyond the tree", True, [extra]
    sizes = [s for (s,) in conn.execute("SELECT size FROM checkpoints ORDER BY size")]
    for s in sizes:
        # An older checkpoint is redundant: every later one proves consistency from it, and
        # an auditor's copy of it still verifies with `verify --from`. The latest is not.
        drop = ("DELETE FROM checkpoints WHERE size = ?", (s,))
        yield f"checkpoints: the one of size {s} deleted", s == sizes[-1], [drop]
    yield (
        "checkpoints: two notes swapped",
        True,
        swapped("checkpoints", "size", sizes[0], sizes[-1]),
    )
    copy = ("INSERT INTO checkpoints SELECT size + 1, note, published FROM checkpoints "
            "WHERE size = ?", (sizes[0],))  # fmt: skip
    yield "checkpoints: a note copied under another size", True, [copy]
    yield "meta: the verifier key deleted", True, [("DELETE FROM meta WHERE key = 'vkey'", ())]


NAMES_A_PLACE = ("record ", "subtree", "checkpoint", "ledger", "key", "origin", "integrated")


def test_ledger_mutations_are_caught_by_verify_from(
    scenario: Scenario, tmp_path: Path, runslow: bool, reliability: Tally
) -> None:
    pristine = scenario.ledger.read_bytes()
    assert (
        not Path(f"{scenario.ledger}-wal").exists()
        or not Path(f"{scenario.ledger}-wal").stat().st_size
    )
    scratch = tmp_path / "ledger.sqlite"
    outcome = Outcome.of(reliability, "ledger")

    def attempt(name: str, covered: bool, statements: Statements) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
        scratch.write_bytes(pristine)
        conn = sqlite3.connect(scratch, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute("BEGIN")
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            return  # the schema itself refuses it (NOT NULL, a duplicate key): not a mutation
        finally:
            conn.close()
        code, _, err = cli("--ledger", str(scratch), "verify", "--from", str(scenario.kept))
        line = err.strip()
        named = "\n" not in line and any(p in line for p in NAMES_A_PLACE)
        outcome.record(name, covered, code, named, err)

    conn = sqlite3.connect(f"file:{scenario.ledger}?mode=ro", uri=True)
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert set(tables) == set(KEYS), tables
    cells = []
    for table in tables:
        names, rows = rows_of(conn, table)
        if table not in COVERED_TABLES and not runslow:
            rows = rows[:1] + rows[-1:]
        for row in rows:
            values = dict(zip(names, row, strict=True))
            keys = {k: values[k] for k in KEYS[table]}
            for column in names:
                if column == "rowid":
                    continue
                cells.append((table, column, values, keys))
    rows_changed = list(row_mutations(conn))
    conn.close()
    for table, column, values, keys in cells:
        for how, new in cell_value_mutations(values[column], runslow):
            where = ", ".join(f"{k}={str(v)[:16]}" for k, v in keys.items())
            name = f"{table}.{column} ({where}): {how}"
            covered = covered_cell(table, column, values)
            attempt(name, covered, set_cell(table, keys, column, new))
    for name, covered, statements in rows_changed:
        attempt(name, covered, statements)
    outcome.report()


# -- the archive --------------------------------------------------------------------------------


def archive_mutations(
    archive: Path, runslow: bool
) -> Iterator[tuple[str, str, Callable[[Path], None]]]:
    """(name, the file it should name, apply to a copy)."""
    files = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
    for rel in files:
        data = (archive / rel).read_bytes()
        for how, mutated in byte_mutations(data, runslow):
            yield f"{rel}: {how}", rel, lambda d, r=rel, m=mutated: (d / r).write_bytes(m)
        yield f"{rel}: deleted", rel, lambda d, r=rel: (d / r).unlink()
        yield f"{rel}: renamed", rel, lambda d, r=rel: (d / r).rename(d / (r + ".bak"))
        yield f"{rel}: replaced by a symlink to its copy", rel, lambda d, r=rel: relink(d / r)
    for folder in ("", *archiving.FOLDERS):
        extra = f"{folder}/extra.txt" if folder else "extra.txt"
        yield f"{extra}: added", extra, lambda d, e=extra: (d / e).write_bytes(b"x")
    yield "unlisted/: folder added", "unlisted", lambda d: (d / "unlisted").mkdir()


def relink(path: Path) -> None:
    copy = path.with_name(path.name + ".real")
    path.rename(copy)
    path.symlink_to(copy.name)


def writable(tree: Path) -> None:
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_archive_mutations_are_caught_by_archive_verify(
    scenario: Scenario, tmp_path: Path, runslow: bool, reliability: Tally
) -> None:
    outcome = Outcome.of(reliability, "archive")
    for i, (name, place, apply) in enumerate(archive_mutations(scenario.archive, runslow)):
        copy = tmp_path / f"a{i}"
        shutil.copytree(scenario.archive, copy, symlinks=True)
        writable(copy)
        apply(copy)
        code, _, err = cli("--ledger", str(scenario.ledger), "archive", "verify", str(copy))
        line = err.strip()
        top = place.split("/")[0]
        named = "\n" not in line and (place in line or top in line or archiving.MANIFEST in line)
        outcome.record(name, True, code, named, err)
        shutil.rmtree(copy)
    outcome.report()


# -- the evidence pack --------------------------------------------------------------------------

PACK_NOT_COVERED = {
    "README.md": "the pack's explanation for people; not evidence",
}
SELECTION_INFORMATIONAL = ("created", "unpublished_left_out")  # the clock; beyond the checkpoint


def members_of(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as z:
        return {n: z.read(n) for n in z.namelist()}


def write_pack(path: Path, members: list[tuple[str, bytes]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a duplicated member is one of the mutations
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members:
                z.writestr(name, data)


def rewrite_manifest(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    files = {n: hashlib.sha256(d).hexdigest() for n, d in members if n != "manifest.json"}
    manifest = json.dumps(
        {"files": dict(sorted(files.items())), "format": "affidavit-evidence/1"},
        indent=1,
        sort_keys=True,
        ensure_ascii=False,
    )
    return [(n, manifest.encode() + b"\n" if n == "manifest.json" else d) for n, d in members]


def selection_field_at(data: bytes, at: int) -> str | None:
    """The top-level field of selection.json whose line holds byte ``at``."""
    start = data.rfind(b"\n", 0, at) + 1
    for line_start in range(start, -1, -1):
        if line_start == 0 or data[line_start - 1 : line_start] == b"\n":
            line = data[line_start : data.find(b"\n", line_start)]
            if line.startswith(b' "'):
                return line[2 : line.index(b'"', 2)].decode()
            if line_start == 0:
                return None
    return None


def pack_mutations(
    members: dict[str, bytes], runslow: bool
) -> Iterator[tuple[str, str, list[tuple[str, bytes]], bool]]:
    """(name, member it touches, members after, whether the design covers it)."""
    items = list(members.items())
    for i, (member, data) in enumerate(items):
        changed: list[tuple[str, bytes, bool]] = []
        for at in positions(len(data), runslow):
            covered = True
            if member == "selection.json":
                covered = selection_field_at(data, at) not in SELECTION_INFORMATIONAL
            changed.append((f"bit flipped at byte {at}", flip(data, at), covered))
        for how, mutated in byte_mutations(data, False):
            if not how.startswith("bit flipped"):
                changed.append((how, mutated, True))
        for how, mutated, covered in changed:
            after = [*items[:i], (member, mutated), *items[i + 1 :]]
            yield f"{member}: {how}", member, after, covered
        rest = [*items[:i], *items[i + 1 :]]
        yield f"{member}: deleted", member, rest, True
        yield f"{member}: renamed", member, [*rest, (member + ".bak", data)], True
        yield f"{member}: duplicated", member, [*items, (member, data)], True
    yield "extra.txt: added", "extra.txt", [*items, ("extra.txt", b"x")], True
    yield (
        "content/<sha256>: added",
        "content/",
        [*items, ("content/" + hashlib.sha256(b"x").hexdigest(), b"x")],
        True,
    )


def test_pack_mutations_are_caught_by_verify_pack(
    scenario: Scenario, tmp_path: Path, runslow: bool, reliability: Tally
) -> None:
    members = members_of(scenario.pack)
    assert {"window.jsonl", "consistency.jsonl", "erasures.jsonl"} <= set(members)
    assert any(n.startswith("content/") for n in members)
    alone, rewritten = (
        Outcome.of(reliability, "evidence pack (one member changed)"),
        Outcome.of(reliability, "evidence pack (member changed, manifest.json rewritten to match)"),
    )
    path = tmp_path / "pack.zip"
    for name, member, after, covered in pack_mutations(members, runslow):
        for outcome, fix in ((alone, False), (rewritten, True)):
            if fix and member == "manifest.json":
                continue
            write_pack(path, rewrite_manifest(after) if fix else after)
            code, out, err = cli("verify-pack", str(path), "--key", scenario.vkey)
            report = out + err
            named = member.rstrip("/") in report or "record " in report or "refused" in report
            by_design = fix and (member in PACK_NOT_COVERED or not covered)
            outcome.record(name, not by_design, code, named, report)
    alone.report()
    rewritten.report()


# -- a saved checkpoint -------------------------------------------------------------------------


def test_every_bit_flip_of_a_saved_checkpoint_fails_verify_from(
    scenario: Scenario, tmp_path: Path, runslow: bool, reliability: Tally
) -> None:
    note = scenario.kept.read_bytes()
    outcome = Outcome.of(reliability, "saved checkpoint")
    path = tmp_path / "kept.txt"
    bits = range(8) if runslow else (0, 5)
    for at in range(len(note)):
        for bit in bits:
            path.write_bytes(flip(note, at, bit))
            code, _, err = cli("--ledger", str(scenario.ledger), "verify", "--from", str(path))
            line = err.strip()
            named = "\n" not in line and (str(path) in line or "kept" in line)
            outcome.record(f"byte {at}, bit {bit}", True, code, named, err)
    outcome.report()

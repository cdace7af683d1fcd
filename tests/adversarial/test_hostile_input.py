"""Hostile input: every parser meets generated input, and the worst cases by name.

The parsing cores are called in-process with Hypothesis (:mod:`strategies`): hook events
through the real hook (mapping, redaction, writer, spool), transcripts and Cowork session
records through the importer, ``affidavit append`` lines, ``affidavit.toml``, signed
checkpoint notes and evidence packs. "No crash" means only an ``AffidavitError`` (or a
clean result) ever comes out, and every error is one line that names its place. The named
cases (1 GB on the hook's stdin, 10^6 nested arrays, NUL bytes, undecodable and Windows
paths, ``..``, symlinks out of the workspace, zip bombs whose headers lie) run as the real
command in a subprocess where the exit code, the stderr line or the child's memory matter.

Example counts are modest by default and large with ``--runslow``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import strategies as hs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability import Reliability as Tally

from affidavit import config
from affidavit.capture import direct, events, hook, snapshots, transcripts, writer
from affidavit.capture import rollback as undo
from affidavit.cli.commands import _read_lines
from affidavit.errors import AffidavitError, InputError, VerificationError
from affidavit.evidence import archive as archiving
from affidavit.evidence import build_pack, check_pack
from affidavit.evidence.layout import PackReader, PackRefusedError
from affidavit.evidence.records import parse_item
from affidavit.ledger import Ledger
from affidavit.note import Checkpoint, SignatureLine, Signer, open_checkpoint
from affidavit.query import Filters
from affidavit.record import Envelope, Record
from affidavit.store.sqlite import SqliteStore
from ledger_helpers import ORIGIN, affidavit, cli_env, key_of, new_ledger

AREA = "hostile input"

ACTOR = {"user": "fuzz", "host": "fuzz-host"}
T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
NESTED = hs.nested(10**6).encode()
"""10^6 nested arrays: 2 MB that overflow every recursive parser."""


def examples(runslow: bool, default: int, slow: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=slow if runslow else default,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message.strip()


# -- the hook, in-process ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """HOME and XDG folders under a temp folder; no detached seal from in-process hooks."""
    root = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in cli_env(root).items():
            if name.startswith(("HOME", "XDG_")):
                mp.setenv(name, value)
        for name in ("AFFIDAVIT_CONFIG", "AFFIDAVIT_LEDGER", "CLAUDE_CONFIG_DIR"):
            mp.delenv(name, raising=False)
        mp.setattr(direct, "start_seal", lambda ledger: None)  # direct mode starts seals
        yield root


def run_hook(ledger: Path, raw: bytes, *args: str) -> tuple[int, str]:
    """The hook's entry point with ``raw`` on stdin; (exit code, stderr)."""
    stdin, err = sys.stdin, io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(raw))
    try:
        with contextlib.redirect_stderr(err):
            code = hook.run_hook(
                ["--ledger", str(ledger), "--seal-interval", "3600", "--manifest-cap", "64", *args]
            )
    finally:
        sys.stdin = stdin
    return code, err.getvalue()


def kinds_from(ledger: Path, start: int) -> list[str]:
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        rows = conn.execute("SELECT leaf FROM records WHERE seq >= ? ORDER BY seq", (start,))
        return [json.loads(leaf)["kind"] for (leaf,) in rows]


def size_of(ledger: Path) -> int:
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


def spooled(ledger: Path) -> list[str]:
    spool = Path(f"{ledger}.spool")
    return sorted(os.listdir(spool)) if spool.is_dir() else []


def workspace_with_files(root: Path) -> Path:
    work = root / "work"
    (work / "sub").mkdir(parents=True)
    (work / "a").write_text("alpha\n")
    (work / "b.txt").write_bytes(b"\x00\xff binary\n")
    (work / "sub" / "c.md").write_text("# c\n")
    return work


def test_map_event_never_raises_and_writes_or_refuses_cleanly(
    reliability: Tally, tmp_path_factory: pytest.TempPathFactory, runslow: bool
) -> None:
    """events.map_event is total; the writer takes its drafts or raises InputError, and the
    storable copy the hook falls back on is always accepted."""
    root = tmp_path_factory.mktemp("map")
    new_ledger(root).close()
    store = SqliteStore.open(root / "ledger.sqlite")
    counts = {"refused": 0}
    count = reliability(AREA, "hook events: map + write (in-process)")

    @examples(runslow, 300, 5000)
    @given(hs.hook_events(str(root)))
    def check(event: dict[str, Any]) -> None:
        with count.trial():  # each example counted as it passes or fails
            drafts = events.map_event(event, actor=ACTOR, observed={"before_known": False})
            assert len(drafts) == 1 and isinstance(drafts[0][1], dict)
            store.begin()
            try:
                writer.append_drafts(store, drafts, source=events.SOURCE_HOOK, time=T0)
            except InputError as e:
                counts["refused"] += 1
                assert one_line(str(e))
                fixed = [(kind, events.storable(payload)) for kind, payload in drafts]
                writer.append_drafts(store, fixed, source=events.SOURCE_HOOK, time=T0)
            finally:
                store.rollback()

    try:
        check()
    finally:
        store.close()
    assert counts["refused"] > 0, "the strategy never drew an unstorable value"


def test_the_hook_records_any_stdin_and_never_spools(
    reliability: Tally, tmp_path_factory: pytest.TempPathFactory, home: Path, runslow: bool
) -> None:
    """Whatever arrives on stdin: exit 0, nothing on stderr, at least one record, and no
    event left in the spool (a spooled event that can never be stored would hold up every
    later one)."""
    root = tmp_path_factory.mktemp("hook")
    work = workspace_with_files(root)
    ledger = root / "ledger.sqlite"
    new_ledger(root).close()
    count = reliability(AREA, "hook stdin (in-process hook, spool stays empty)")

    @examples(runslow, 200, 3000)
    @given(hs.hook_stdin(str(work)))
    def check(raw: bytes) -> None:
        with count.trial():  # each example counted as it passes or fails
            before = size_of(ledger)
            code, err = run_hook(ledger, raw)
            assert (code, err) == (0, "")
            assert spooled(ledger) == []
            new = kinds_from(ledger, before)
            assert new, "the event left no record"
            event, _ = hook.decode(raw)
            if event is not None:
                assert set(new) - {"capture.error", "convention.snapshot"}, new

    check()
    with Ledger.open(ledger, key_path=key_of(ledger)) as opened:
        opened.seal()
        assert opened.verify().records == size_of(ledger)


def test_an_unstorable_event_no_longer_blocks_the_ones_after_it(tmp_path: Path, home: Path) -> None:
    """Regression: a lone surrogate (JavaScript cut a string mid-pair), NaN or a huge
    integer used to fail the write, get spooled, fail again on every replay and take every
    later event down with it."""
    new_ledger(tmp_path).close()
    ledger = tmp_path / "ledger.sqlite"
    cases = [
        b'{"hook_event_name": "UserPromptSubmit", "session_id": "s", "prompt": "cut \\ud83d"}',
        b'{"hook_event_name": "Notification", "level": NaN, "big": 123456789012345678901234}',
        b'{"hook_event_name": "Stop", "ratio": 1e400, "\\udcff": -Infinity}',
    ]
    for raw in cases:
        assert run_hook(ledger, raw) == (0, "")
        assert spooled(ledger) == []
    follow = b'{"hook_event_name": "UserPromptSubmit", "session_id": "s", "prompt": "next"}'
    assert run_hook(ledger, follow) == (0, "")
    with Ledger.open(ledger, readonly=True) as opened:
        records = [opened.record(seq) for seq in range(opened.store.size())]
    prompts = [r.payload["prompt"]["text"] for r in records if r.payload and "prompt" in r.payload]
    assert prompts == ["cut \\ud83d", "next"]
    raws = [r.payload["raw_rest"] for r in records if r.payload and "raw_rest" in r.payload]
    assert raws[1]["level"] == "nan" and raws[1]["big"] == "123456789012345678901234"
    assert raws[2]["\\udcff"] == "-inf" and raws[2]["ratio"] == "inf"
    assert "capture.error" not in [r.envelope.kind for r in records]


def test_a_file_name_that_is_not_utf8_is_recorded_by_a_shell_command(
    tmp_path: Path, home: Path
) -> None:
    """A shell command creates a file whose name is not UTF-8: the file.create record keeps
    the name, its undecodable byte written as an escape, instead of losing the event."""
    new_ledger(tmp_path).close()
    ledger = tmp_path / "ledger.sqlite"
    work = workspace_with_files(tmp_path)
    base = {"session_id": "s", "tool_name": "Bash", "tool_use_id": "toolu_nonutf8"}
    base |= {"cwd": str(work), "tool_input": {"command": "touch $'bad\\xff.txt'"}}
    pre = base | {"hook_event_name": "PreToolUse"}
    assert run_hook(ledger, json.dumps(pre).encode()) == (0, "")
    os.close(os.open(os.fsencode(work) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY, 0o644))
    post = base | {"hook_event_name": "PostToolUse", "tool_response": {"stdout": ""}}
    assert run_hook(ledger, json.dumps(post).encode()) == (0, "")
    assert spooled(ledger) == []
    with Ledger.open(ledger, readonly=True) as opened:
        records = [opened.record(seq) for seq in range(opened.store.size())]
    [created] = [r for r in records if r.envelope.kind == "file.create"]
    assert created.payload is not None
    assert created.payload["file"]["path"] == f"{work}/bad\\udcff.txt"


# -- transcripts and Cowork session records ----------------------------------------------------


def test_transcripts_and_cowork_records_never_crash_the_import(
    reliability: Tally, tmp_path_factory: pytest.TempPathFactory, home: Path, runslow: bool
) -> None:
    root = tmp_path_factory.mktemp("import")
    ledger = new_ledger(root)
    count = reliability(AREA, "transcripts + Cowork session records (import)")

    @examples(runslow, 150, 3000)
    @given(hs.transcript_bytes(), hs.cowork_session_bytes(), hs.transcript_bytes())
    def check(transcript: bytes, session: bytes, audit: bytes) -> None:
        with count.trial():  # each example counted as it passes or fails
            folder = Path(tempfile.mkdtemp(dir=root))
            cowork = folder / "local-agent-mode-sessions" / "acct" / "org"
            (cowork / "local_1").mkdir(parents=True)
            files = [
                folder / "t.jsonl",
                cowork / "local_1.json",
                cowork / "local_1" / "audit.jsonl",
            ]
            for path, data in zip(files, (transcript, session, audit), strict=True):
                path.write_bytes(data)
            result = transcripts.import_paths(ledger.store, [folder], imported_by=ACTOR)
            assert result.files_read == 3
            for message in result.errors:
                place, _, reason = message.partition(": ")
                path, _, line = place.rpartition(":")
                assert path in {str(f) for f in files} and line.isdigit() and reason, message
                assert one_line(message), message

    check()
    ledger.seal()
    assert ledger.verify().records == ledger.store.size()
    ledger.close()


# -- affidavit append, affidavit.toml ----------------------------------------------------------


def test_append_lines_give_records_or_an_error_naming_the_line(
    reliability: Tally, runslow: bool
) -> None:
    count = reliability(AREA, "affidavit append JSON Lines")

    @examples(runslow, 300, 5000)
    @given(hs.append_bytes())
    def check(data: bytes) -> None:
        with count.trial():  # each example counted as it passes or fails
            lines = data.split(b"\n")
            try:
                records = list(_read_lines(io.BytesIO(data), "fuzz.jsonl", lambda: T0))
            except InputError as e:
                message = str(e)
                place = message.split(": ", 1)[0]
                assert place.startswith("fuzz.jsonl:") and one_line(message), message
                assert 1 <= int(place.split(":")[1]) <= len(lines)
                return
            assert len(records) <= len(lines)
            for record in records:
                record.verify_commitment()

    check()


def test_config_files_parse_or_name_file_line_and_field(reliability: Tally, runslow: bool) -> None:
    count = reliability(AREA, "affidavit.toml")

    @examples(runslow, 300, 5000)
    @given(hs.config_text())
    def check(text: str) -> None:
        with count.trial():  # each example counted as it passes or fails
            try:
                parsed = config.parse(text, Path("affidavit.toml"))
            except InputError as e:
                message = str(e)
                assert message.startswith("affidavit.toml") and one_line(message), message
                return
            assert parsed.minimum_retention_days >= config.MIN_RETENTION_DAYS

    check()


# -- signed checkpoints -------------------------------------------------------------------------

LOG = "example.com/hostile-log"
SIGNER = Signer.from_seed(LOG, bytes(range(32)))
SAME_NAME = Signer.from_seed(LOG, bytes(range(1, 33)))  # same name, another key (key id)
IMPOSTOR = Signer.from_seed("example.com/impostor", bytes(range(2, 34)))
ROOT = hashlib.sha256(b"root").digest()
SIZES = ["5", "9" * 19, "9223372036854775808", "9" * 4000, "-1", "05", "1e3", "\u0665", "+5"]
SIGNATURE_KINDS = ("log", "log", "log-bad", "same-name", "impostor", "garbage")


def signature_line(signer: Signer, text: str) -> str:
    """``signer``'s line over ``text``, whatever the text holds (sign_note refuses some)."""
    sig = signer.sign(text.encode("utf-8", "surrogatepass"))
    return SignatureLine(signer.name, signer.key_id, sig).line().rstrip("\n")


@st.composite
def checkpoint_notes(draw: st.DrawFn) -> tuple[str, str, bool]:
    """(note, its signed text, whether it must open): wrong origins, huge sizes, extra and
    repeated signatures, malformed lines, more than 100 lines."""
    origin = draw(st.sampled_from([LOG, LOG, "example.com/other", LOG + "x", ""]))
    size = draw(st.sampled_from(SIZES))
    root = draw(
        st.sampled_from(
            [
                base64.b64encode(ROOT).decode(),
                base64.b64encode(ROOT[:31]).decode(),
                base64.b64encode(ROOT).decode().rstrip("=") + "-",
            ]
        )
    )
    extensions = draw(st.lists(st.sampled_from(["ext", "\u2014 sig-like", "\t"]), max_size=2))
    text = "\n".join([origin, size, root, *extensions]) + "\n"
    wanted = draw(st.lists(st.sampled_from(SIGNATURE_KINDS), min_size=1, max_size=4))
    lines: list[str] = []
    for kind in wanted:
        if kind == "log":
            lines.append(signature_line(SIGNER, text))
        elif kind == "log-bad":
            sig = base64.b64encode(SIGNER.key_id + draw(st.binary(min_size=64, max_size=64)))
            lines.append(f"\u2014 {LOG} {sig.decode()}")
        elif kind in ("same-name", "impostor"):
            lines.append(signature_line(SAME_NAME if kind == "same-name" else IMPOSTOR, text))
        else:
            lines.append("x" + draw(hs.hostile_text(12)))
    if draw(st.integers(0, 9)) == 0:
        lines += [signature_line(IMPOSTOR, text)] * 100
    note = text + "\n" + "\n".join(lines) + "\n"
    try:
        body = Checkpoint.parse_body(text)
        well_formed = body.origin == LOG
    except InputError:
        well_formed = False
    must_open = (
        well_formed
        and wanted.count("log") == 1
        and "log-bad" not in wanted
        and "garbage" not in wanted
        and len(lines) <= 100
    )
    return note, text, must_open


def test_checkpoint_notes_open_only_when_they_should(reliability: Tally, runslow: bool) -> None:
    count = reliability(AREA, "signed checkpoint notes")

    @examples(runslow, 300, 5000)
    @given(checkpoint_notes(), st.booleans())
    def check(case: tuple[str, str, bool], damage: bool) -> None:
        with count.trial():  # each example counted as it passes or fails
            note, text, must_open = case
            data = note.encode("utf-8", "surrogatepass")
            if damage:
                data = data.replace(b"\n", b"\r\n", 1)
            try:
                cp = open_checkpoint(data, SIGNER.verifier())
            except (InputError, VerificationError) as e:
                assert not must_open or damage, e
                assert one_line(str(e)), str(e)
                return
            assert must_open and not damage
            assert cp.origin == LOG and cp.body() == text

    check()


# -- evidence packs ---------------------------------------------------------------------------


def _write_zip(path: Path, members: list[tuple[str, bytes, int]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point
        with zipfile.ZipFile(path, "w") as z:
            for name, data, method in members:
                info = zipfile.ZipInfo(name, date_time=(2026, 11, 26, 10, 0, 0))
                info.compress_type = method
                z.writestr(info, data)


@pytest.fixture(scope="module")
def pack_members(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """A good pack's members: records with content, an erasure, the window, a consistency
    proof (every optional member present, so removing any one of them matters)."""
    root = tmp_path_factory.mktemp("pack")
    ledger = new_ledger(root)
    blob = b"before\n"
    sha = hashlib.sha256(blob).hexdigest()
    snapshots.put_blob(ledger.store.connection, sha, blob)
    file = {"path": "/w/a.txt", "before_sha256": sha}
    ledger.append(
        [
            Record.create("file.update", "fuzz", {"file": file, "n": i}, time=T0 + timedelta(i))
            for i in range(5)
        ]
    )
    kept = ledger.seal()
    ledger.erase([1], "a request")
    ledger.seal()
    out = root / "pack.zip"
    build_pack(
        ledger,
        out,
        filters=Filters(),
        now=T0,
        with_content=True,
        window_complete=True,
        kept_checkpoints=[kept],
    )
    ledger.close()
    with zipfile.ZipFile(out) as z:
        members = [(n, z.read(n)) for n in z.namelist()]
    assert check_pack(out).ok
    return members


HOSTILE_NAMES = [
    "../evil",
    "a/../../evil",
    "/abs/evil",
    "C:\\evil",
    "C:evil",
    "ok/./x",
    "content/" + "0" * 64,
    "content/../README.md",
    "records.jsonl/",
    "./manifest.json",
    "ü.json",
    "window.jsonl\u202e",
    "",
]


@st.composite
def pack_mutations(draw: st.DrawFn, members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    out = list(members)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "rename", "delete", "add", "duplicate"]))
        at = draw(st.integers(0, max(0, len(out) - 1)))
        if not out:
            op = "add"
        if op == "replace":
            data = draw(
                st.one_of(
                    st.binary(max_size=64),
                    st.just(NESTED),
                    st.just(b'{"seq": 0, "leaf": ' + NESTED + b"}\n"),
                    hs.json_values().map(hs.dumps),
                    hs.damaged(out[at][1]),
                )
            )
            out[at] = (out[at][0], data)
        elif op == "rename":
            out[at] = (draw(st.sampled_from(HOSTILE_NAMES)), out[at][1])
        elif op == "delete":
            del out[at]
        elif op == "add":
            out.append((draw(st.sampled_from(HOSTILE_NAMES)), draw(st.binary(max_size=32))))
        else:
            out.append(out[at])
    return out


def test_evidence_packs_verify_or_fail_cleanly_and_write_nothing(
    reliability: Tally,
    tmp_path_factory: pytest.TempPathFactory,
    pack_members: list[tuple[str, bytes]],
    runslow: bool,
) -> None:
    root = tmp_path_factory.mktemp("packs")
    count = reliability(AREA, "evidence packs (members replaced, renamed, removed, added)")

    @examples(runslow, 200, 2500)
    @given(
        pack_mutations(pack_members), st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
    )
    def check(members: list[tuple[str, bytes]], method: int) -> None:
        with count.trial():  # each example counted as it passes or fails
            folder = Path(tempfile.mkdtemp(dir=root))
            path = folder / "pack.zip"
            _write_zip(path, [(n, d, method) for n, d in members])
            try:
                report = check_pack(path)
            except AffidavitError as e:
                assert isinstance(e, PackRefusedError) and one_line(str(e)), e
            else:
                assert report.ok == (sorted(members) == sorted(pack_members)), report.problems
            assert sorted(os.listdir(folder)) == ["pack.zip"]
            shutil.rmtree(folder)

    check()


def liar_zip(name: str, declared: int, inflated: int) -> bytes:
    """One deflated member whose headers say ``declared`` bytes and which inflates to
    ``inflated`` zeros (APPNOTE 4.3): a bomb that the size and ratio checks cannot see."""
    zeros = bytes(16 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    stream = piece * max(1, inflated // len(zeros)) + deflate.flush()
    raw = name.encode()
    sizes = (0, len(stream), declared, len(raw))  # crc, compressed, declared size, name
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, *sizes, 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, *sizes,
                          0, 0, 0, 0, 0, 0)  # fmt: skip
    where = len(local) + len(raw) + len(stream)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(raw), where, 0)
    return local + raw + stream + central + raw + end


def test_a_zip_bomb_whose_headers_lie_costs_no_memory(reliability: Tally, tmp_path: Path) -> None:
    """1 GiB of zeros declared as 1000 bytes (under every limit): reading it used to inflate
    it in one call, 2 GiB of memory for a 1 MB file. Now it is damaged, in bounded memory."""
    with reliability(
        AREA, "zip bomb whose headers lie (1 GiB in 1 MB)"
    ).trial():  # held only if everything below holds
        path = tmp_path / "liar.zip"
        path.write_bytes(liar_zip("records.jsonl", 1000, 1 << 30))
        assert path.stat().st_size < 2 << 20
        tracemalloc.start()
        try:
            with PackReader(path) as pack:
                assert pack.names == ["records.jsonl"]
            report = check_pack(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert not report.ok
        assert any(p.where == "records.jsonl" and "damaged" in p.error for p in report.problems)
        assert peak < 32 << 20, f"peak {peak >> 20} MiB"
        done = subprocess.run(
            [sys.executable, "-m", "affidavit", "verify-pack", str(path)],
            capture_output=True,
            env=cli_env(tmp_path / "home"),
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20)),
            timeout=300,
            check=False,
        )
        assert done.returncode == 1 and b"records.jsonl: is damaged" in done.stdout + done.stderr
        assert set(os.listdir(tmp_path)) <= {"home", "liar.zip"}


# -- 10^6 nested arrays, everywhere ------------------------------------------------------------


def test_nested_arrays_are_errors_in_every_parser_in_bounded_memory(
    reliability: Tally, tmp_path: Path
) -> None:
    """Each parser that reads JSON or TOML refuses 10^6 nested arrays with an error naming
    the place, and holds no more than a few times the input while doing it."""
    new_ledger(tmp_path).close()
    count = reliability(AREA, "10^6 nested arrays (7 parsers)")

    def refused(name: str, call: Callable[[], object], expect: Callable[[str], bool]) -> None:
        with count.trial(name):
            tracemalloc.start()
            try:
                call()
            except InputError as e:
                said = str(e)
            else:
                said = "accepted"
            finally:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            assert peak < 64 << 20, f"{name}: peak {peak >> 20} MiB"
            assert expect(said) and one_line(said), (name, said)

    refused(
        "append",
        lambda: list(_read_lines(io.BytesIO(NESTED), "deep.jsonl", lambda: T0)),
        lambda said: said.startswith("deep.jsonl:1: "),
    )
    refused(
        "config",
        lambda: config.parse("a = " + NESTED.decode(), Path("deep.toml")),
        lambda said: said.startswith("deep.toml: "),
    )
    deep = "nests too deeply"
    refused("leaf", lambda: Envelope.from_leaf(NESTED), lambda said: deep in said)
    refused("pack line", lambda: parse_item(NESTED, None), lambda said: deep in said)
    with count.trial("hook"):
        assert hook.decode(NESTED) == (None, "hook input nests too deeply")
    # The importer reports the line and goes on.
    path = tmp_path / "deep.jsonl"
    path.write_bytes(NESTED + b"\n" + b'{"type": "summary"}\n')
    session = tmp_path / "local_deep.json"
    session.write_bytes(NESTED)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        result = transcripts.import_paths(ledger.store, [path, session], imported_by=ACTOR)
    assert len(result.errors) == 2 and all(one_line(e) for e in result.errors)
    count.held_if(result.errors[0] == f"{path}:1: JSON nests too deeply", "transcript")
    count.held_if(result.errors[1].startswith(f"{session}:1: not JSON text"), "Cowork session")
    assert count.failed == 0, count.failures


# -- the command line: exit codes and one stderr line ------------------------------------------


@pytest.fixture
def ready(tmp_path: Path) -> Path:
    """A sealed ledger with one file record, and its kept checkpoint beside it."""
    path = tmp_path / "ledger.sqlite"
    ledger = new_ledger(tmp_path)
    ledger.append([Record.create("file.update", "fuzz", {"file": {"path": "/w/a"}}, time=T0)])
    (tmp_path / "kept.txt").write_text(ledger.seal())
    ledger.close()
    return path


def huge_size_note(ledger: Path) -> bytes:
    """A checkpoint signed by the ledger's own key whose size has 10^5 digits."""
    text = f"{ORIGIN}\n{'9' * 10**5}\n{base64.b64encode(ROOT).decode()}\n"
    signer = Signer.from_private_key_string(key_of(ledger).read_text().strip())
    return (text + "\n" + signature_line(signer, text) + "\n").encode()


CLI_CASES: dict[str, tuple[list[str], bytes | Callable[[Path], bytes], str]] = {
    # name: (arguments, the file's bytes or how to make them, what the stderr line names)
    "append nested": (["append", "{file}"], NESTED + b"\n", "{file}:1: JSON nests too deeply"),
    "append invalid UTF-8": (["append", "{file}"], b'{"kind": "\xff"}\n', "{file}:1: not UTF-8"),
    "append NUL": (["append", "{file}"], b'{"kind": "file.read"\x00}\n', "{file}:1: not JSON"),
    "verify --from invalid UTF-8": (
        ["verify", "--from", "{file}"],
        b"example.com/x\n\xff\n",
        "{file}:2: not UTF-8",
    ),
    "verify --from nested": (
        ["verify", "--from", "{file}"],
        NESTED,
        "{file}: note does not end with a newline",
    ),
    "verify --from huge size": (
        ["verify", "--from", "{file}"],
        huge_size_note,
        "{file}: checkpoint line 2: tree size '99999",
    ),
    "verify-pack --from invalid UTF-8": (
        ["verify-pack", "{other}", "--from", "{file}"],
        b"\n\n\xfe",
        "{file}:3: not UTF-8",
    ),
    "config check invalid UTF-8": (
        ["config", "check", "--config", "{file}"],
        b'[org]\nname = "\xc3"\n',
        "{file}:2: not UTF-8",
    ),
    "config check nested": (
        ["config", "check", "--config", "{file}"],
        b"a = " + NESTED,
        "{file}: not valid TOML: it nests too deeply",
    ),
    "config check wrong type": (
        ["config", "check", "--config", "{file}"],
        b"[retention]\n\nminimum_days = true\n",
        "{file}:3: field retention.minimum_days",
    ),
    "verify-pack ../ member name": (
        ["verify-pack", "{file}"],
        lambda _: liar_zip("../../manifest.json", 10, 16 << 20),
        "refused: member name '../../manifest.json' could escape",
    ),
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_input_errors_exit_2_with_one_line_naming_the_place(
    reliability: Tally, ready: Path, tmp_path: Path, case: str
) -> None:
    with reliability(AREA, f"CLI: {case}").trial():  # held only if everything below holds
        args, data, expected = CLI_CASES[case]
        file = tmp_path / "input.bin"
        file.write_bytes(data(ready) if callable(data) else data)
        names = {"file": str(file), "other": str(tmp_path / "kept.txt")}
        done = affidavit(ready, *[a.format(**names) for a in args])
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        [line] = done.stderr.splitlines()
        assert expected.format(**names) in line


def test_kept_checkpoints_with_extra_repeated_or_foreign_signatures(
    reliability: Tally, ready: Path, tmp_path: Path
) -> None:
    """verify --from: extra signatures by other keys are ignored (witnesses), the ledger's key
    signing twice or a foreign origin fail (1), naming the place in one line."""
    kept = (tmp_path / "kept.txt").read_text()
    text, sig = kept.split("\n\n")
    own = Signer.from_private_key_string(key_of(ready).read_text().strip())
    cases = {
        "extra": (kept + signature_line(IMPOSTOR, text + "\n") + "\n", 0, "OK"),
        "same name, other key": (kept + signature_line(SAME_NAME, text + "\n") + "\n", 0, "OK"),
        "twice": (kept + sig, 1, "signs the note twice"),
        "wrong origin": (
            f"other.example/log\n{text.split(chr(10), 1)[1]}\n\n"
            + signature_line(own, "other.example/log\n" + text.split("\n", 1)[1] + "\n")
            + "\n",
            1,
            "not signed by this ledger's key",
        ),
    }
    for name, (note, code, expected) in cases.items():
        with reliability(AREA, f"CLI: verify --from a checkpoint with {name}").trial():
            path = tmp_path / f"{name}.txt"
            path.write_text(note)
            done = affidavit(ready, "verify", "--from", str(path))
            assert done.returncode == code, (name, done.stderr)
            output = done.stdout if code == 0 else done.stderr
            assert expected in output.splitlines()[0], (name, output)
            if code:
                assert len(done.stderr.splitlines()) == 1


# -- the hook's stdin: 1 GB --------------------------------------------------------------------


def vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def test_a_gigabyte_on_stdin(reliability: Tally, tmp_path: Path, runslow: bool) -> None:
    """1 GiB streamed into the real hook (never held by the test): exit 0, the first 32 MiB
    kept as a capture.error, under a 256 MiB address-space limit."""
    total = (4 if runslow else 1) << 30
    what = f"hook stdin of {total >> 30} GiB (RLIMIT_AS 256 MiB)"
    with reliability(AREA, what).trial():  # held only if everything below holds
        ledger = tmp_path / "ledger.sqlite"
        new_ledger(tmp_path).close()
        limit = 256 << 20
        child = subprocess.Popen(
            [sys.executable, "-m", "affidavit", "hook", "--ledger", str(ledger)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(tmp_path / "home"),
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
        )
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        chunk = b'{"hook_event_name": "Stop", "x": "' + b"a" * ((1 << 20) - 34)
        peak = 0
        sent = 0
        with child.stdin:
            while sent < total:
                child.stdin.write(chunk)
                sent += len(chunk)
                chunk = b"a" * (1 << 20)
                if sent % (64 << 20) < (1 << 20):
                    peak = max(peak, vm_hwm_kib(child.pid))
        code = child.wait(timeout=600)
        with child.stdout, child.stderr:
            out, err = child.stdout.read(), child.stderr.read()
        assert (code, out, err) == (0, b"", b"")
        assert peak * 1024 < 160 << 20, f"VmHWM {peak} KiB"
        with Ledger.open(ledger, readonly=True) as opened:
            [record] = [opened.record(s) for s in range(opened.store.size())]
        assert record.envelope.kind == "capture.error" and record.payload is not None
        assert record.payload["input"]["bytes"] == hook.MAX_STDIN + 1
        assert "larger than" in record.payload["error"]["message"]
        assert spooled(ledger) == []


# -- paths: NUL, Windows, '..', symlinks out of the workspace ----------------------------------

ONE, TWO, SECRET = b"one\n", b"two\n", b"the outside file, not the agent's\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_record(ledger: Ledger, kind: str, file: dict[str, Any], cwd: Path | None = None) -> int:
    for data in (ONE, TWO):
        snapshots.put_blob(ledger.store.connection, sha(data), data)
    payload = {"file": file} | ({"agent": {"cwd": str(cwd)}} if cwd else {})
    [seq] = ledger.append([Record.create(kind, "fuzz", payload, time=T0)])
    return seq


def listing(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


@pytest.mark.parametrize(
    "path",
    [
        "C:\\Users\\alice\\a.txt",
        "relative/a.txt",
        "../../outside.txt",
        "..\\outside.txt",
        "/w/nul\x00byte.txt",
    ],
)
@pytest.mark.parametrize("kind", ["file.delete", "file.update", "file.create"])
def test_rollback_refuses_paths_that_name_no_file_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, kind: str
) -> None:
    """A record naming another system's path, a relative one or one with a NUL byte could
    only be restored relative to wherever the rollback runs: refused, nothing written."""
    cwd = tmp_path / "cwd"
    (cwd / "relative").mkdir(parents=True)
    (cwd / "relative" / "a.txt").write_bytes(TWO)
    monkeypatch.chdir(cwd)
    before = listing(tmp_path)
    ledger = new_ledger(tmp_path)
    file = {"path": path, "before_sha256": sha(ONE)}
    if kind != "file.delete":
        file["after_sha256"] = sha(TWO)
    seq = file_record(ledger, kind, file)
    for force in (False, True):
        with pytest.raises(InputError, match="not an absolute path"):
            undo.rollback(ledger, seq, force=force)
    ledger.close()
    assert {k: v for k, v in listing(tmp_path).items() if "ledger" not in k} == before


def test_rollback_refuses_fields_of_the_wrong_type(tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path)
    for file in ({"path": "/w/a", "after_sha256": 5}, {"path": "/w/a", "old_path": ["x"]}):
        seq = file_record(ledger, "file.update", file)
        with pytest.raises(InputError, match="is not text"):
            undo.rollback(ledger, seq, force=True)
    seq = file_record(ledger, "file.update", [])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="names no file path"):
        undo.rollback(ledger, seq, force=True)
    ledger.close()


def links_out(folder: Path, outside: Path) -> int:
    return sum(
        1
        for p in folder.rglob("*")
        if p.is_symlink() and os.path.realpath(p).startswith(str(outside))
    )


SYMLINK_CASES = [
    # (kind, what the file at the path becomes, outside file's content or None)
    ("file.update", "link-to-outside", TWO),
    ("file.update", "link-to-outside", SECRET),
    ("file.update", "dangling-link", None),
    ("file.update", "link-to-dir", None),
    ("file.delete", "dangling-link", None),
    ("file.delete", "link-to-outside", SECRET),
    ("file.create", "link-to-outside", TWO),
    ("file.create", "link-to-outside", SECRET),
    ("file.rename", "link-to-outside", ONE),
    ("file.rename", "old-path-link", SECRET),
    ("file.rename", "old-path-dangling", None),
    ("file.restore", "link-to-outside", TWO),
    # A folder on the way replaced by a symlink out of the workspace: refused, even forced.
    ("file.update", "folder-link", TWO),
    ("file.delete", "folder-link", None),
    ("file.create", "folder-link", TWO),
    ("file.rename", "folder-link", ONE),
]


@pytest.mark.parametrize(("kind", "plant", "outside_content"), SYMLINK_CASES)
def test_rollback_never_writes_through_a_symlink_out_of_the_workspace(
    reliability: Tally, tmp_path: Path, kind: str, plant: str, outside_content: bytes | None
) -> None:
    """A symlink inside the workspace pointing outside (or dangling there), at the path or as
    a folder on the way: with or without --force, the rollback replaces the link or refuses;
    the outside stays byte for byte."""
    with reliability(
        AREA, f"rollback over a symlink out of the workspace: {kind}, {plant}"
    ).trial():  # held only if everything below holds
        work, outside = tmp_path / "work", tmp_path / "outside"
        work.mkdir()
        outside.mkdir()
        folder = work / "sub" if plant == "folder-link" else work
        target, old = folder / "a.txt", folder / "old.txt"
        away = outside / "a.txt" if plant == "folder-link" else outside / "target.txt"
        if outside_content is not None:
            away.write_bytes(outside_content)
        (outside / "dir").mkdir()
        ledger = new_ledger(tmp_path / "ledger")
        file: dict[str, Any] = {"path": str(target), "before_sha256": sha(ONE)}
        if kind in ("file.update", "file.create", "file.restore"):
            file["after_sha256"] = sha(TWO)
        if kind == "file.rename":
            file |= {"old_path": str(old), "after_sha256": sha(ONE)}
        seq = file_record(ledger, kind, file, cwd=work)
        if plant == "folder-link":
            folder.symlink_to(outside, target_is_directory=True)
            if kind == "file.rename":
                away.write_bytes(ONE)
        elif plant == "link-to-outside":
            target.symlink_to(away)
        elif plant == "dangling-link":
            target.symlink_to(outside / "new.txt")
        elif plant == "link-to-dir":
            target.symlink_to(outside / "dir", target_is_directory=True)
        else:
            target.write_bytes(ONE)
            old.symlink_to(away if plant == "old-path-link" else outside / "new.txt")
        before = listing(outside)
        planted = links_out(work, outside)
        outcomes = []
        for force in (False, True):
            try:
                undo.rollback(ledger, seq, force=force)
                outcomes.append("restored")
            except (InputError, IsADirectoryError) as e:
                outcomes.append(type(e).__name__)
            assert listing(outside) == before, (force, outcomes)
        ledger.close()
        if plant == "folder-link":
            assert outcomes == ["InputError", "InputError"]
        else:
            assert "restored" in outcomes or (kind, plant) == ("file.update", "link-to-dir"), (
                outcomes
            )
        # A rename's undo moves what is at the path, link or not; nothing makes a new link.
        assert links_out(work, outside) <= planted, outcomes


def test_archive_beside_symlinks_writes_only_inside_its_folder(
    reliability: Tally, tmp_path: Path
) -> None:
    """Symlinks out of the folder, planted under every name the archive writer uses and
    under generated ones, never receive a byte; a symlink at the target is refused."""
    with reliability(
        AREA, "archive beside symlinks out of its folder"
    ).trial():  # held only if everything below holds
        ledger = new_ledger(tmp_path / "ledger")
        ledger.append([Record.create("file.read", "fuzz", {"n": i}, time=T0) for i in range(3)])
        snapshots.put_blob(ledger.store.connection, sha(ONE), ONE)
        outside = tmp_path / "outside"
        outside.mkdir()
        parent = tmp_path / "archives"
        parent.mkdir()
        names = [*archiving.FOLDERS, archiving.MANIFEST, "arch.partial", ".arch", "..arch"]
        for name in names:
            (parent / name).symlink_to(outside / name)
        (parent / "to-outside").symlink_to(outside, target_is_directory=True)
        signer = Signer.from_private_key_string(key_of(Path(ledger.store.path)).read_text().strip())
        for target in (parent / "to-outside", parent / "records"):
            with pytest.raises(InputError, match="already exists"):
                archiving.write_archive(ledger, target, signer=signer, now=T0)
        report = archiving.write_archive(ledger, parent / "arch", signer=signer, now=T0)
        assert report.records == 3 and report.blobs == 1
        assert list(outside.iterdir()) == []
        for path in (parent / "arch").rglob("*"):
            assert not path.is_symlink()
            assert os.path.realpath(path).startswith(str(parent / "arch"))
        archiving.verify_archive(parent / "arch", verifier=ledger.verifier, ledger=ledger)
        ledger.close()

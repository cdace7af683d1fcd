"""Evidence packs: ``affidavit evidence`` builds them, ``affidavit verify-pack`` and the
stand-alone recipe in the pack's README check them.

The ledger under test is built by replaying the real Claude Code hook payloads of the
RonKat2008 fixtures through ``affidavit hook`` (paths moved into a temporary work folder,
so the files they write exist and their contents are kept), then adding generated records,
an erasure and a record imported late with an early time. Every tampering is generated from
a good pack: each file removed, a byte flipped in each file, and field-level edits whose
manifest entry is recomputed, as an attacker would, so that only the cryptography can
catch them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from affidavit.cli import run
from affidavit.evidence import RECIPE, check_pack
from affidavit.ledger import Ledger
from affidavit.note import Signer
from affidavit.record import Record
from conftest import shared_path

ORIGIN = "test.example/evidence"
HOOKS = ("fixtures", "RonKat2008__agent-verdict", "tests", "fixtures", "hooks")
FIXTURE_CWD = "/private/var/folders/p2/xpfv5y4n1q9gmxzf52f5q3l40000gn/T/tmp.gOyhlOEkeJ"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SINCE = "2026-10-01T12:00:00Z"
ABSENT = hashlib.sha256(b"never kept").hexdigest()
# (fixture, what the agent did to note.txt before the hook fired)
SESSION: list[tuple[str, bytes | None]] = [
    ("session_start.json", None),
    ("user_prompt_submit.json", None),
    ("pre_tool_use_write.json", None),
    ("post_tool_use_write.json", b"hi"),
    ("pre_tool_use_edit.json", None),
    ("post_tool_use_edit.json", b"hello"),
    ("pre_tool_use_read.json", None),
    ("post_tool_use_read.json", None),
    ("pre_tool_use_bash.json", None),
    ("post_tool_use_bash.json", None),
    ("post_tool_use_failure_bash.json", None),
    ("pre_tool_use_agent.json", None),
    ("post_tool_use_agent.json", None),
    ("subagent_stop.json", None),
    ("stop.json", None),
]

Members = dict[str, bytes]


# -- the ledger ------------------------------------------------------------------------------


def hook(ledger: Path, raw: bytes, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFFIDAVIT_", "CLAUDE_"))}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", str(ledger)],
        input=raw,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b""), done.stderr.decode()


def generated(count: int, start: int) -> list[Record]:
    """Records one minute apart: kinds, actors and folders in a known rotation."""
    kinds = ["file.update", "command.exec", "file.create", "prompt.submit"]
    return [
        Record.create(
            kinds[i % 4],
            "test.suite",
            {
                "actor": {"user": f"u{i % 3}"},
                "agent": {"product": "claude-code", "tool": "Edit"},
                "file": {"path": f"/work/{'finance' if i % 2 else 'hr'}/doc-{i}.md"},
            },
            time=T0 + timedelta(minutes=start + i),
        )
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ledger file: a hooked session, generated records, one erasure, sealed twice.

    The first checkpoint is kept as ``early.txt`` beside it, for ``--from``.
    """
    root = tmp_path_factory.mktemp("evidence")
    work = root / "work"
    work.mkdir()
    path = root / "ledger.sqlite"
    Ledger.create(path, origin=ORIGIN, key_path=root / "k").close()
    for name, content in SESSION:
        raw = (
            shared_path(*HOOKS, name).read_bytes().replace(FIXTURE_CWD.encode(), str(work).encode())
        )
        if content is not None:
            (work / "note.txt").write_bytes(content)
        hook(path, raw, root / "home")
    with Ledger.open(path, key_path=root / "k") as ledger:
        ledger.append(generated(60, 0))
        (root / "early.txt").write_text(ledger.seal(), "utf-8")
        ledger.append(generated(140, 60))
        # Imported late, timed early: a window must not rely on time following seq.
        ledger.append(generated(1, -30))
        ledger.erase([ledger.store.size() - 3], reason="GDPR request 42")
        ledger.seal()
        # A file whose content the log did not keep (over its size cap, say).
        ledger.append(
            [
                Record.create(
                    "file.update",
                    "test.suite",
                    {"file": {"path": "/work/finance/big.bin", "after_sha256": ABSENT}},
                    time=T0 + timedelta(minutes=300),
                )
            ]
        )
        ledger.seal()
        ledger.append(generated(5, 400))  # sequenced, not published
    return path


@pytest.fixture
def ledger(built: Path, tmp_path: Path) -> Path:
    """A private copy of the ledger (building a pack refreshes its query index)."""
    copy = tmp_path / "ledger.sqlite"
    shutil.copyfile(built, copy)
    shutil.copy2(built.parent / "k", tmp_path / "k")  # keeps mode 0600
    shutil.copyfile(built.parent / "early.txt", tmp_path / "early.txt")
    return copy


def cli(
    ledger: Path | None, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run([*(["--ledger", str(ledger)] if ledger else []), *args])
    out, err = capsys.readouterr()
    return code, out, err


def vkey_of(ledger: Path) -> str:
    with Ledger.open(ledger, readonly=True) as opened:
        return opened.verifier.vkey()


def build(
    ledger: Path, capsys: pytest.CaptureFixture[str], *args: str, name: str = "pack.zip"
) -> Path:
    out = ledger.parent / name
    code, _, err = cli(ledger, "evidence", "--out", str(out), *args, capsys=capsys)
    assert code == 0, err
    return out


def verify(
    pack: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any]]:
    code, out, _ = cli(None, "verify-pack", str(pack), "--json", *args, capsys=capsys)
    report: dict[str, Any] = json.loads(out)
    return code, report


# -- zip surgery -----------------------------------------------------------------------------


def members(pack: Path) -> Members:
    with zipfile.ZipFile(pack) as z:
        return {name: z.read(name) for name in z.namelist()}


def write_zip(path: Path, files: Members) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def rehash(files: Members) -> Members:
    """Recompute the manifest, as an attacker who edits the pack would."""
    listed = {n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n != "manifest.json"}
    manifest = {"files": dict(sorted(listed.items())), "format": "affidavit-evidence/1"}
    text = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    return {**files, "manifest.json": text.encode()}


def lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def unlines(items: list[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(i, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for i in items
    )


def edit_record(files: Members, index: int, change: Callable[[dict[str, Any]], None]) -> Members:
    items = lines(files["records.jsonl"])
    change(items[index])
    return {**files, "records.jsonl": unlines(items)}


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def flip_b64(text: str) -> str:
    """Change one character of a base64 string, keeping it canonical base64."""
    i = 2
    return text[:i] + ("B" if text[i] != "B" else "C") + text[i + 1 :]


def recipe(tmp_path: Path, pack: Path, *key: str) -> subprocess.CompletedProcess[str]:
    readme = members(pack)["README.md"].decode()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "verify_pack.py"
    script.write_text(code, "utf-8")
    return subprocess.run(
        [sys.executable, str(script), str(pack), *key],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- a good pack -----------------------------------------------------------------------------


@pytest.fixture
def full_pack(ledger: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Every published record, with content, window and a consistency proof."""
    early = str(ledger.parent / "early.txt")
    return build(ledger, capsys, "--with-content", "--window-complete", "--from", early)


def test_good_pack_verifies_with_cli_and_recipe(
    ledger: Path, full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = vkey_of(ledger)
    code, report = verify(full_pack, capsys, "--key", key)
    assert code == 0, report["problems"]
    assert report["ok"] and report["key"] == {"vkey": key, "pinned": True}
    with Ledger.open(ledger, readonly=True) as opened:
        latest = opened.latest_checkpoint()
        size = opened.store.size()
    assert latest is not None
    published = latest[0]
    assert size == published + 5, "five records stay unpublished"
    assert [r["seq"] for r in report["records"]] == list(range(published))
    assert all(r["ok"] and r["error"] is None for r in report["records"])
    assert sum(r["erased"] for r in report["records"]) == 1
    assert report["erasures"] == 1
    assert report["window"]["envelopes"] == published
    assert report["window"]["withheld"] == []
    assert report["consistency_from"] == [
        int(Path(ledger.parent / "early.txt").read_text().split("\n")[1])
    ]

    done = recipe(tmp_path, full_pack, key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"OK: {published} records proven against {ORIGIN}")
    assert recipe(tmp_path, full_pack).returncode == 0  # vkey.txt trusted


def test_pack_layout(ledger: Path, full_pack: Path) -> None:
    files = members(full_pack)
    hello = hashlib.sha256(b"hello").hexdigest()
    hi = hashlib.sha256(b"hi").hexdigest()
    assert files[f"content/{hi}"] == b"hi" and files[f"content/{hello}"] == b"hello"
    assert set(files) >= {
        "README.md",
        "manifest.json",
        "selection.json",
        "checkpoint.txt",
        "vkey.txt",
        "records.jsonl",
        "erasures.jsonl",
        "window.jsonl",
        "consistency.jsonl",
    }
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "affidavit-evidence/1"
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest
    with Ledger.open(ledger, readonly=True) as opened:
        latest = opened.latest_checkpoint()
        assert latest is not None
        assert files["checkpoint.txt"].decode() == latest[1]
        assert files["vkey.txt"].decode() == opened.verifier.vkey() + "\n"
        for item in lines(files["records.jsonl"]):
            assert list(item) == ["seq", "leaf", "salt", "payload_json", "proof"]
            record = opened.record(item["seq"])
            assert base64.b64decode(item["leaf"]) == record.leaf
            assert item["salt"] == (record.salt and base64.b64encode(record.salt).decode())
            assert item["payload_json"] == (record.payload_json and record.payload_json.decode())
            proof = opened.prove_inclusion(item["seq"])
            assert item["proof"] == [base64.b64encode(h).decode() for h in proof.proof]
    assert RECIPE in files["README.md"].decode()
    selection = json.loads(files["selection.json"])
    assert selection["unpublished_left_out"] == 5
    assert selection["window_complete"] and selection["with_content"]


def test_hook_records_are_in_the_pack(full_pack: Path) -> None:
    kinds = {
        json.loads(base64.b64decode(r["leaf"]))["kind"]
        for r in lines(members(full_pack)["records.jsonl"])
    }
    assert {
        "session.start",
        "prompt.submit",
        "file.create",
        "file.update",
        "file.read",
        "command.exec",
        "agent.spawn",
    } <= kinds


def test_evidence_json_and_unpublished_warning(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ledger.parent / "p.zip"
    code, stdout, err = cli(ledger, "evidence", "--out", str(out), "--json", capsys=capsys)
    assert code == 0, err
    result = json.loads(stdout)
    assert result["unpublished"] == 5
    assert "not covered by a signed checkpoint" in err and "affidavit seal" in err
    with Ledger.open(ledger, readonly=True) as opened:
        assert result["records"] + 5 == result["tree_size"] + 5 == opened.store.size()
    assert result["window"] is None and result["content_files"] == 0


def test_refuses_to_overwrite_without_force(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = ledger.parent / "pack.zip"
    out.write_bytes(b"precious")
    code, _, err = cli(ledger, "evidence", "--out", str(out), capsys=capsys)
    assert code == 2 and "--force" in err
    assert out.read_bytes() == b"precious"
    code, _, err = cli(ledger, "evidence", "--out", str(out), "--force", capsys=capsys)
    assert code == 0, err
    assert zipfile.is_zipfile(out)
    assert [p.name for p in ledger.parent.iterdir() if p.name.startswith(".pack.zip")] == []


def test_needs_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "new.sqlite"
    Ledger.create(path, origin=ORIGIN, key_path=tmp_path / "k").close()
    code, _, err = cli(path, "evidence", "--out", str(tmp_path / "p.zip"), capsys=capsys)
    assert code == 2 and "affidavit seal" in err
    assert not (tmp_path / "p.zip").exists()


def test_empty_selection_is_a_valid_pack(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = build(ledger, capsys, "--kind", "review.signoff", "--window-complete")
    code, report = verify(pack, capsys)
    assert code == 0 and report["records"] == [] and report["window"]["in_window"] == 0
    assert recipe(tmp_path, pack).returncode == 0


# -- tampering -------------------------------------------------------------------------------


def test_every_file_removed_is_named(
    full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = members(full_pack)
    for name in files:
        bad = write_zip(tmp_path / "bad.zip", {n: d for n, d in files.items() if n != name})
        report = check_pack(bad)
        assert not report.ok, name
        assert any(name in line for line in report.failures()), (name, report.failures())
    # and through the CLI, for one of them
    bad = write_zip(tmp_path / "bad.zip", {n: d for n, d in files.items() if n != "vkey.txt"})
    code, report_json = verify(bad, capsys)
    assert code == 1 and any(p["where"] == "vkey.txt" for p in report_json["problems"])


def test_a_byte_flipped_in_any_file_is_named(full_pack: Path, tmp_path: Path) -> None:
    files = members(full_pack)
    for name, data in files.items():
        for at in sorted({0, len(data) // 3, len(data) // 2, len(data) - 2}):
            bad = write_zip(tmp_path / "bad.zip", {**files, name: flip(data, at)})
            report = check_pack(bad)
            assert not report.ok, (name, at)
            # A flip in the manifest may land in another file's entry: then that file is named.
            named = "manifest.json" if name == "manifest.json" else f"{name}:"
            assert any(named in line for line in report.failures()), (name, report.failures())


def test_every_byte_of_the_manifest_is_covered(full_pack: Path, tmp_path: Path) -> None:
    files = members(full_pack)
    manifest = files["manifest.json"]
    for at in range(0, len(manifest), 13):
        report = check_pack(
            write_zip(tmp_path / "bad.zip", {**files, "manifest.json": flip(manifest, at)})
        )
        assert not report.ok, at
    spaced = manifest.replace(b'"format"', b' "format"')
    assert not check_pack(write_zip(tmp_path / "bad.zip", {**files, "manifest.json": spaced})).ok


def _set(field: str, value: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def change(item: dict[str, Any]) -> None:
        item[field] = value(item[field])

    return change


def _payload_field(item: dict[str, Any]) -> None:
    payload = json.loads(item["payload_json"])
    payload["actor"]["user"] = "someone-else"
    item["payload_json"] = json.dumps(payload, sort_keys=True, separators=(",", ":"))


def _first_hook_edit(files: Members) -> int:
    for i, item in enumerate(lines(files["records.jsonl"])):
        if item["payload_json"] and '"file.update"' in base64.b64decode(item["leaf"]).decode():
            return i
    raise AssertionError("no file.update record")


# (name, mutation of a good pack's members, what the report must name, recipe must fail)
TAMPERS: list[tuple[str, Callable[[Members], Members], str, bool]] = [
    ("payload field", lambda f: edit_record(f, 5, _payload_field), "record 5", True),
    ("salt", lambda f: edit_record(f, 6, _set("salt", flip_b64)), "record 6", True),
    (
        "proof hash",
        lambda f: edit_record(f, 7, _set("proof", lambda p: [flip_b64(p[0]), *p[1:]])),
        "record 7",
        True,
    ),
    ("leaf", lambda f: edit_record(f, 8, _set("leaf", flip_b64)), "record 8", True),
    ("seq", lambda f: edit_record(f, 9, _set("seq", lambda s: s + 100_000)), "records.jsonl", True),
    (
        "checkpoint root",
        lambda f: {
            **f,
            "checkpoint.txt": f["checkpoint.txt"].replace(
                f["checkpoint.txt"].split(b"\n")[2],
                flip_b64(f["checkpoint.txt"].split(b"\n")[2].decode()).encode(),
            ),
        },
        "checkpoint.txt",
        True,
    ),
    (
        "checkpoint size",
        lambda f: {
            **f,
            "checkpoint.txt": f["checkpoint.txt"].replace(
                b"\n" + f["checkpoint.txt"].split(b"\n")[1] + b"\n", b"\n7\n", 1
            ),
        },
        "checkpoint.txt",
        True,
    ),
    (
        "removed record line",
        lambda f: {
            **f,
            "records.jsonl": b"".join(f["records.jsonl"].splitlines(keepends=True)[1:]),
        },
        "records.jsonl",
        False,
    ),
    (
        "swapped pair",
        lambda f: {
            **f,
            "records.jsonl": b"".join(
                (lambda ls: [ls[1], ls[0], *ls[2:]])(f["records.jsonl"].splitlines(keepends=True))
            ),
        },
        "records.jsonl",
        False,
    ),
    (
        "content file",
        lambda f: {**f, **{n: d + b"!" for n, d in f.items() if n.startswith("content/")}},
        "content/",
        True,
    ),
    (
        "content file removed",
        lambda f: {n: d for n, d in f.items() if not n.startswith("content/")},
        "content/",
        False,  # the recipe checks content files, not which records name them
    ),
    (
        "window line removed",
        lambda f: {**f, "window.jsonl": b"".join(f["window.jsonl"].splitlines(keepends=True)[:-1])},
        "window.jsonl",
        True,
    ),
    (
        "window lines swapped",
        lambda f: {
            **f,
            "window.jsonl": b"".join(
                (lambda ls: [ls[1], ls[0], *ls[2:]])(f["window.jsonl"].splitlines(keepends=True))
            ),
        },
        "window.jsonl",
        True,
    ),
    (
        "payload nulled as if erased",
        lambda f: edit_record(f, 10, lambda i: i.update(salt=None, payload_json=None)),
        "record 10",
        False,
    ),
    (
        "consistency proof",
        lambda f: {
            **f,
            "consistency.jsonl": unlines(
                [
                    {**c, "proof": [flip_b64(c["proof"][0]), *c["proof"][1:]]}
                    for c in lines(f["consistency.jsonl"])
                ]
            ),
        },
        "consistency.jsonl",
        False,
    ),
]


@pytest.mark.parametrize("rehashed", [False, True], ids=["naive", "manifest-rehashed"])
@pytest.mark.parametrize(
    ("name", "mutate", "named", "recipe_fails"), TAMPERS, ids=[t[0] for t in TAMPERS]
)
def test_tampering_is_caught_and_named(
    full_pack: Path,
    ledger: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    mutate: Callable[[Members], Members],
    named: str,
    recipe_fails: bool,
    rehashed: bool,
) -> None:
    files = mutate(members(full_pack))
    bad = write_zip(tmp_path / "bad.zip", rehash(files) if rehashed else files)
    code, report = verify(bad, capsys, "--key", vkey_of(ledger))
    assert code == 1, name
    failures = [f"{p['where']}: {p['error']}" for p in report["problems"]]
    failures += [f"record {r['seq']}: {r['error']}" for r in report["records"] if not r["ok"]]
    assert any(line.startswith(named) for line in failures), failures
    if rehashed and recipe_fails:
        assert recipe(tmp_path, bad).returncode != 0, name
    if not rehashed:
        assert recipe(tmp_path, bad).returncode != 0, name


def test_an_added_file_is_named(
    full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = members(full_pack)
    for extra, data in (("notes.txt", b"trust me"), ("content/" + "0" * 64, b"x")):
        for files_ in ({**files, extra: data}, rehash({**files, extra: data})):
            code, report = verify(write_zip(tmp_path / "bad.zip", files_), capsys)
            assert code == 1
            assert any(p["where"] == extra for p in report["problems"]), report["problems"]
    assert recipe(
        tmp_path, write_zip(tmp_path / "bad.zip", {**files, "notes.txt": b"x"})
    ).returncode


def test_the_text_report_names_the_record(
    full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_zip(
        tmp_path / "bad.zip", rehash(edit_record(members(full_pack), 3, _payload_field))
    )
    code, out, err = cli(None, "verify-pack", str(bad), capsys=capsys)
    assert code == 1
    assert (
        "FAILED record 3: its payload_json or salt does not match the envelope's commitment" in out
    )
    assert "FAILED: evidence pack" in err and "record 3" in err


def test_damaged_zip_bytes(
    full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = full_pack.read_bytes()
    with zipfile.ZipFile(full_pack) as z:
        info = z.getinfo("records.jsonl")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    bad = tmp_path / "bad.zip"
    bad.write_bytes(flip(raw, start))
    code, report = verify(bad, capsys)
    assert code == 1
    assert any(p["where"] == "records.jsonl" for p in report["problems"]), report["problems"]


# -- the window ------------------------------------------------------------------------------


def test_window_catches_a_record_left_out(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With envelope-only filters, a selected record removed from records.jsonl (counts and
    manifest fixed up) is caught by the window, which still holds its envelope."""
    pack = build(ledger, capsys, "--since", SINCE, "--kind", "file", "--window-complete")
    assert verify(pack, capsys)[0] == 0
    files = members(pack)
    items = lines(files["records.jsonl"])
    gone = items.pop(4)
    selection = json.loads(files["selection.json"])
    selection["records"] -= 1
    files = rehash(
        {
            **files,
            "records.jsonl": unlines(items),
            "selection.json": (json.dumps(selection, indent=1, sort_keys=True) + "\n").encode(),
        }
    )
    code, report = verify(write_zip(tmp_path / "bad.zip", files), capsys)
    assert code == 1
    assert {
        "where": f"record {gone['seq']}",
        "error": "is in the window and matches every filter "
        "but is not in records.jsonl: it was left out",
    } in report["problems"]
    # Without the window the same removal would go unseen: that is what the window is for.
    del files["window.jsonl"]
    selection["window_complete"] = False
    files["selection.json"] = (json.dumps(selection, indent=1, sort_keys=True) + "\n").encode()
    assert verify(write_zip(tmp_path / "bad.zip", rehash(files)), capsys)[0] == 0


def test_window_covers_records_imported_late(
    ledger: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record appended last carries an early time: it is in the window all the same."""
    pack = build(ledger, capsys, "--until", SINCE, "--window-complete")
    code, report = verify(pack, capsys)
    assert code == 0, report["problems"]
    records = report["records"]
    seqs = [r["seq"] for r in records]
    late = records[-1]
    assert late["time"] == min(r["time"] for r in records) < SINCE
    assert late["seq"] - seqs[-2] > 10, "records far later in seq are not in the window"
    assert report["window"]["in_window"] == len(seqs)


def test_window_with_payload_filters_lists_what_was_withheld(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = build(ledger, capsys, "--actor", "u1", "--kind", "file", "--window-complete")
    code, report = verify(pack, capsys)
    assert code == 0
    window = report["window"]
    assert not window["envelope_filters_only"]
    assert window["in_window"] == len(report["records"]) + len(window["withheld"])
    assert window["withheld"], "records of other actors are withheld"
    code, out, _ = cli(None, "verify-pack", str(pack), capsys=capsys)
    assert code == 0 and "withheld as not matching the payload filters" in out
    assert recipe(tmp_path, pack).returncode == 0


# -- erasure, keys, consistency --------------------------------------------------------------


def test_erased_record_is_proven_and_marked(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Erasure blanks the personal columns of the actions index, so a payload filter (say
    # --actor) no longer picks an erased record; a kind filter does.
    pack = build(ledger, capsys, "--kind", "file")
    code, report = verify(pack, capsys)
    assert code == 0 and report["erasures"] == 1
    erased = [r for r in report["records"] if r["erased"]]
    assert len(erased) == 1 and erased[0]["ok"] and erased[0]["kind"].startswith("file.")
    assert recipe(tmp_path, pack).returncode == 0
    files = members(pack)
    del files["erasures.jsonl"]
    code, report = verify(write_zip(tmp_path / "bad.zip", rehash(files)), capsys)
    assert code == 1
    assert any("withheld, not erased" in (r["error"] or "") for r in report["records"])


def test_key_pinning(ledger: Path, full_pack: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(None, "verify-pack", str(full_pack), capsys=capsys)
    assert code == 0 and "key not pinned" in err
    other = Signer.generate(ORIGIN).verifier().vkey()
    code, report = verify(full_pack, capsys, "--key", other)
    assert code == 1
    wheres = {p["where"] for p in report["problems"]}
    assert {"vkey.txt", "checkpoint.txt"} <= wheres
    code, _, err = cli(None, "verify-pack", str(full_pack), "--key", "not-a-key", capsys=capsys)
    assert code == 2


def test_from_a_kept_checkpoint(
    ledger: Path, full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    early = str(ledger.parent / "early.txt")
    code, report = verify(full_pack, capsys, "--from", early)
    assert code == 0 and report["from_size"] > 0
    # Without the proof or the window, the pack cannot answer: fail closed, say what to do.
    plain = build(ledger, capsys, name="plain.zip")
    code, report = verify(plain, capsys, "--from", early)
    assert code == 1
    assert any("affidavit evidence --from" in p["error"] for p in report["problems"])
    # The window alone is enough: the early root is rebuilt from the leaves.
    windowed = build(ledger, capsys, "--window-complete", name="windowed.zip")
    assert verify(windowed, capsys, "--from", early)[0] == 0


def test_from_detects_a_rewritten_history(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of the ledger that went another way, signed with the same key: its checkpoint
    is not consistent with the pack's."""
    fork = tmp_path / "fork.sqlite"
    shutil.copyfile(ledger, fork)
    with Ledger.open(fork, key_path=tmp_path / "k") as forked:
        forked.append(generated(3, 900))
        (tmp_path / "fork.txt").write_text(forked.seal(), "utf-8")
    # The fork is now ahead: against it, the ledger looks truncated.
    code, _, err = cli(
        ledger,
        "evidence",
        "--out",
        str(tmp_path / "x.zip"),
        "--from",
        str(tmp_path / "fork.txt"),
        capsys=capsys,
    )
    assert code == 1 and "truncated" in err
    with Ledger.open(ledger, key_path=tmp_path / "k") as opened:
        opened.append(generated(20, 950))
        opened.seal()
    pack = build(ledger, capsys, "--window-complete")
    code, report = verify(pack, capsys, "--from", str(tmp_path / "fork.txt"))
    assert code == 1
    assert any(p["where"] == "your checkpoint" for p in report["problems"]), report["problems"]
    code, _, err = cli(
        ledger,
        "evidence",
        "--out",
        str(tmp_path / "x.zip"),
        "--from",
        str(tmp_path / "fork.txt"),
        capsys=capsys,
    )
    assert code == 1 and "not consistent" in err and not (tmp_path / "x.zip").exists()


# -- unsafe archives -------------------------------------------------------------------------


def _listing(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


def _evil_anywhere(root: Path) -> list[Path]:
    """Files named like the member the pack tried to plant, at or below ``root``.

    Other tests' folders under the same base can still change while this one runs
    (a spool drained late, a WAL checkpoint), so the base is searched by name rather
    than compared whole."""
    return [p for p in root.rglob("*evil*") if p.is_file()]


@pytest.mark.parametrize("evil", ["../evil", "/tmp/evil-abs", "a/../../evil", "C:\\evil", "ok/./x"])
def test_names_that_escape_are_refused(
    full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], evil: str
) -> None:
    bad = write_zip(tmp_path / "bad.zip", {**members(full_pack), evil: b"pwned"})
    before = _listing(tmp_path)
    code, out, err = cli(None, "verify-pack", str(bad), capsys=capsys)
    assert code == 2 and "refused" in err and out == ""
    assert _listing(tmp_path) == before
    assert _evil_anywhere(tmp_path.parent) == []
    assert not any(Path(tempfile.gettempdir()).glob("evil*"))
    assert not Path("/tmp/evil-abs").exists()


def deflated_zip(name: str, stream: bytes, size: int, crc: int) -> bytes:
    """A one-member ZIP file around an already deflated ``stream`` (APPNOTE 4.3)."""
    raw = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(stream), size, len(raw), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII",
        *(0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(stream), size, len(raw)),
        *(0, 0, 0, 0, 0, 0),
    )
    end = struct.pack(
        "<IHHHHIIH",
        0x06054B50,
        0,
        0,
        1,
        1,
        len(central) + len(raw),
        len(local) + len(raw) + len(stream),
        0,
    )
    return local + raw + stream + central + raw + end


def test_zip_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """1 GiB of zeros in about 1 MiB: refused from its header, before any inflating."""
    zeros = bytes(16 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)  # resets: repeatable
    crc = 0
    for _ in range(64):
        crc = zlib.crc32(zeros, crc)
    stream = piece * 64 + deflate.flush()
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(deflated_zip("records.jsonl", stream, 64 * len(zeros), crc))
    with zipfile.ZipFile(bomb) as z, z.open("records.jsonl") as member:
        assert z.getinfo("records.jsonl").file_size == 1 << 30
        assert member.read(1 << 20) == bytes(1 << 20), "a real deflated member of zeros"
    assert bomb.stat().st_size < 2 << 20
    before = _listing(tmp_path)
    code, _, err = cli(None, "verify-pack", str(bomb), capsys=capsys)
    assert code == 2 and "zip bomb" in err
    assert _listing(tmp_path) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip at all", "not a readable ZIP file"),
        (None, "not an evidence pack"),
    ],
)
def test_not_a_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "x.zip"
    if content is None:
        write_zip(path, {"hello.txt": b"hi"})
    else:
        path.write_bytes(content)
    code, _, err = cli(None, "verify-pack", str(path), capsys=capsys)
    assert code == 2 and message in err


def test_duplicate_member_is_refused(
    full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = members(full_pack)
    bad = tmp_path / "dup.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("records.jsonl", b"")
    bad.write_bytes(buffer.getvalue())
    code, _, err = cli(None, "verify-pack", str(bad), capsys=capsys)
    assert code == 2 and "twice" in err


def test_help_texts(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("evidence", "verify-pack"):
        code, out, _ = cli(None, command, "--help", capsys=capsys)
        assert code == 0 and "Usage:" in out
    code, out, _ = cli(None, "evidence", "--help", capsys=capsys)
    for option in (
        "--with-content",
        "--window-complete",
        "--from",
        "--force",
        "--actor",
        "--since",
    ):
        assert option in out


def test_content_the_log_did_not_keep_is_listed_missing(
    full_pack: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = verify(full_pack, capsys)
    assert code == 0
    assert report["content"] == {"files": 2, "missing": [ABSENT]}
    selection = json.loads(members(full_pack)["selection.json"])
    assert selection["content_missing"] == [ABSENT]


def test_an_erasure_not_yet_published_stops_the_build(
    ledger: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger.open(ledger, key_path=tmp_path / "k") as opened:
        opened.erase([3], reason="test")  # published record, erasure not yet sealed
    code, _, err = cli(ledger, "evidence", "--out", str(tmp_path / "p.zip"), capsys=capsys)
    assert code == 2 and "affidavit seal" in err and "record 3" in err
    assert not (tmp_path / "p.zip").exists()


def test_an_emptied_records_file_is_caught(
    full_pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = rehash({**members(full_pack), "records.jsonl": b""})
    code, report = verify(write_zip(tmp_path / "bad.zip", files), capsys)
    assert code == 1
    assert any(p["where"] == "records.jsonl" for p in report["problems"]), report["problems"]

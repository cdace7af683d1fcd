"""Tests for the `affidavit` command: every command's happy path, bad input, exit codes.

Most run in-process through ``affidavit.cli.run``; stdin and terminal behaviour run the real
command in a subprocess. Every test passes ``--ledger`` under ``tmp_path`` and points HOME
and the XDG folders at ``tmp_path``, so no test can touch a real user's ledger.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from affidavit import merkle
from affidavit.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run
from affidavit.ledger import Ledger
from affidavit.note import Signer, Verifier, open_checkpoint
from ledger_helpers import ORIGIN, affidavit, key_of

Cli = Callable[..., tuple[int, str, str]]

GOOD = '{"kind": "file.update", "source": "my-tool", "payload": {"path": "a.txt", "n": %d}}\n'


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AFFIDAVIT_LEDGER", "AFFIDAVIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home"))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def cli(path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(["--ledger", str(path), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


@pytest.fixture
def ready(cli: Cli, tmp_path: Path) -> Cli:
    """A ledger with records 0..5 sealed in two checkpoints (sizes 3 and 6)."""
    assert cli("init", "--origin", ORIGIN)[0] == EXIT_OK
    for start in (0, 3):
        lines = tmp_path / f"batch-{start}.jsonl"
        lines.write_text("".join(GOOD % n for n in range(start, start + 3)), encoding="utf-8")
        assert cli("append", str(lines))[0] == EXIT_OK
        assert cli("seal")[0] == EXIT_OK
    return cli


def size_of(path: Path) -> int:
    with Ledger.open(path, readonly=True) as ledger:
        return ledger.store.size()


def vkey_of(path: Path) -> str:
    with Ledger.open(path, readonly=True) as ledger:
        return ledger.verifier.vkey()


# -- init and key ---------------------------------------------------------------------------


def test_init_prints_the_verifier_key(cli: Cli, path: Path) -> None:
    code, out, err = cli("init", "--origin", ORIGIN)
    assert code == EXIT_OK
    vkey = out.strip()
    assert out == vkey + "\n"
    assert Verifier.from_vkey(vkey).name == ORIGIN
    assert vkey == vkey_of(path)
    assert str(path) in err and str(key_of(path)) in err
    assert key_of(path).stat().st_mode & 0o777 == 0o600


def test_init_json_and_default_origin(cli: Cli, path: Path) -> None:
    code, out, _ = cli("init", "--json")
    assert code == EXIT_OK
    info = json.loads(out)
    assert set(info) == {"ledger", "key", "origin", "vkey"}
    assert info["ledger"] == str(path) and info["key"] == str(key_of(path))
    assert re.fullmatch(r"affidavit/[A-Za-z0-9.-]+/[0-9a-f]{8}", info["origin"])
    assert Verifier.from_vkey(info["vkey"]).name == info["origin"]


def test_init_refuses_to_overwrite(cli: Cli, path: Path) -> None:
    assert cli("init", "--origin", ORIGIN)[0] == EXIT_OK
    before = (path.read_bytes(), key_of(path).read_bytes())
    code, out, err = cli("init", "--origin", ORIGIN)
    assert code == EXIT_USAGE
    assert out == "" and "already exists" in err
    assert (path.read_bytes(), key_of(path).read_bytes()) == before


def test_key_prints_the_verifier_key(ready: Cli, path: Path) -> None:
    code, out, _ = ready("key")
    assert code == EXIT_OK and out == vkey_of(path) + "\n"


def test_commands_on_a_missing_ledger_exit_2(cli: Cli) -> None:
    for command in (["status"], ["verify"], ["key"], ["seal"], ["show", "--all"]):
        code, _, err = cli(*command)
        assert code == EXIT_USAGE, command
        assert "no ledger at" in err and "affidavit init" in err


# -- append ---------------------------------------------------------------------------------


def test_append_from_a_file(cli: Cli, tmp_path: Path, path: Path) -> None:
    cli("init", "--origin", ORIGIN)
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        GOOD % 0
        + "\n   \n"
        + '{"kind": "file.read", "source": "t", "time": "2026-01-02T03:04:05+01:00",'
        ' "payload": {"é": "\U0001f600"}}\r\n',
        encoding="utf-8",
    )
    code, out, err = cli("append", str(lines))
    assert code == EXIT_OK
    assert out == "0\n1\n"
    assert "appended 2 record(s): 0..1" in err
    with Ledger.open(path, readonly=True) as ledger:
        second = ledger.record(1)
    assert second.envelope.time == "2026-01-02T02:04:05.000000Z"
    assert second.payload == {"é": "\U0001f600"}
    code, out, _ = cli("append", "--json", str(lines))
    assert code == EXIT_OK and json.loads(out) == {"seqs": [2, 3]}


def test_append_from_stdin(path: Path) -> None:
    assert affidavit(path, "init", "--origin", ORIGIN).returncode == 0
    result = affidavit(path, "append", stdin=(GOOD % 1 + GOOD % 2).encode())
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0\n1\n"
    result = affidavit(path, "append", "-", stdin=(GOOD % 3).encode())
    assert result.returncode == 0 and result.stdout == "2\n"
    assert size_of(path) == 3


def test_append_a_huge_valid_line(cli: Cli, tmp_path: Path, path: Path) -> None:
    cli("init", "--origin", ORIGIN)
    lines = tmp_path / "big.jsonl"
    big = "x" * 2_000_000
    lines.write_text(json.dumps({"kind": "file.read", "source": "t", "payload": {"b": big}}))
    assert cli("append", str(lines))[0] == EXIT_OK
    with Ledger.open(path, readonly=True) as ledger:
        assert ledger.record(0).payload == {"b": big}


BAD_LINES: list[tuple[str, bytes, str]] = [
    ("truncated JSON", b'{"kind": "file.read", "source": "t", "payload": {', "not JSON"),
    ("array", b"[1, 2]", "expected a JSON object, got list"),
    ("string", b'"file.read"', "expected a JSON object, got str"),
    ("null", b"null", "expected a JSON object, got NoneType"),
    ("missing payload", b'{"kind": "file.read", "source": "t"}', "missing field 'payload'"),
    ("missing kind", b'{"source": "t", "payload": {}}', "missing field 'kind'"),
    ("unknown field", b'{"kind": "file.read", "source": "t", "payload": {}, "x": 1}', "x"),
    ("payload list", b'{"kind": "file.read", "source": "t", "payload": []}', "'payload'"),
    ("kind number", b'{"kind": 7, "source": "t", "payload": {}}', "'kind' must be a string"),
    ("source null", b'{"kind": "file.read", "source": null, "payload": {}}', "'source'"),
    ("time number", b'{"kind": "file.read", "source": "t", "time": 5, "payload": {}}', "RFC"),
    (
        "naive time",
        b'{"kind": "file.read", "source": "t", "time": "2026-01-01T00:00:00", "payload": {}}',
        "no offset",
    ),
    ("unknown kind", b'{"kind": "file.explode", "source": "t", "payload": {}}', "unknown"),
    (
        "homoglyph kind",
        '{"kind": "file.re\u0430d", "source": "t", "payload": {}}'.encode(),
        "unknown record kind",
    ),
    ("bad source", b'{"kind": "file.read", "source": "My Tool", "payload": {}}', "source"),
    ("not UTF-8", b'{"kind": "file.read", "source": "t", "payload": {"x": "\xff"}}', "UTF-8"),
    ("binary", bytes(range(256)).replace(b"\n", b""), "UTF-8"),
    ("NUL byte", b'{"kind": "file.read", "source": "t", "payload": {}}\x00', "not JSON"),
    (
        "lone surrogate",
        b'{"kind": "file.read", "source": "t", "payload": {"x": "\\ud800"}}',
        "Unicode",
    ),
    (
        "lone surrogate key",
        b'{"kind": "file.read", "source": "t", "payload": {"\\udfff": 1}}',
        "Unicode",
    ),
    ("NaN", b'{"kind": "file.read", "source": "t", "payload": {"x": NaN}}', "canonical"),
    (
        "infinite float",
        b'{"kind": "file.read", "source": "t", "payload": {"x": 2e400}}',
        "canonical",
    ),
    (
        "huge int",
        b'{"kind": "file.read", "source": "t", "payload": {"x": 9007199254740993}}',
        "safe integer",
    ),
    (
        "5000 digits",
        b'{"kind": "file.read", "source": "t", "payload": {"x": ' + b"7" * 5000 + b"}}",
        "not JSON",
    ),
    (
        "forged erasure",
        b'{"kind": "erasure", "source": "affidavit", "payload": {"seqs": [0], "reason": "x"}}',
        "affidavit erase",
    ),
    (
        "huge truncated line",
        b'{"kind": "file.read", "source": "t", "payload": {"x": "' + b"y" * 3_000_000,
        "not JSON",
    ),
]


@pytest.mark.parametrize(
    ("line", "message"), [c[1:] for c in BAD_LINES], ids=[c[0] for c in BAD_LINES]
)
def test_append_bad_line_exits_2_naming_file_and_line(
    cli: Cli, tmp_path: Path, path: Path, line: bytes, message: str
) -> None:
    cli("init", "--origin", ORIGIN)
    lines = tmp_path / "in.jsonl"
    lines.write_bytes((GOOD % 0 + "\n" + GOOD % 1).encode() + line + b"\n" + (GOOD % 2).encode())
    code, out, err = cli("append", str(lines))
    assert code == EXIT_USAGE
    assert out == ""
    first = err.strip().splitlines()
    assert len(first) == 1, err  # one line, not a traceback
    assert first[0].startswith(f"error: {lines}:4: "), err
    assert message in err
    assert size_of(path) == 0


def test_append_a_byte_order_mark_is_named_at_line_1(cli: Cli, tmp_path: Path, path: Path) -> None:
    cli("init", "--origin", ORIGIN)
    lines = tmp_path / "bom.jsonl"
    lines.write_bytes(b"\xef\xbb\xbf" + (GOOD % 0).encode())
    code, _, err = cli("append", str(lines))
    assert code == EXIT_USAGE and f"{lines}:1:" in err
    assert size_of(path) == 0


def test_append_bad_line_on_stdin_names_stdin(path: Path) -> None:
    affidavit(path, "init", "--origin", ORIGIN)
    result = affidavit(path, "append", stdin=(GOOD % 0).encode() + b"{oops\n")
    assert result.returncode == EXIT_USAGE
    assert "<stdin>:2:" in result.stderr
    assert size_of(path) == 0


def test_append_a_missing_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    cli("init", "--origin", ORIGIN)
    code, _, err = cli("append", str(tmp_path / "nope.jsonl"))
    assert code == EXIT_USAGE and "nope.jsonl" in err


# -- seal, checkpoint -----------------------------------------------------------------------


def test_seal_prints_the_signed_note(cli: Cli, tmp_path: Path, path: Path) -> None:
    cli("init", "--origin", ORIGIN)
    (tmp_path / "in.jsonl").write_text(GOOD % 0 + GOOD % 1)
    cli("append", str(tmp_path / "in.jsonl"))
    code, out, err = cli("seal")
    assert code == EXIT_OK
    cp = open_checkpoint(out, Verifier.from_vkey(vkey_of(path)))
    assert (cp.origin, cp.size) == (ORIGIN, 2)
    assert "published checkpoint of size 2" in err
    code, out2, _ = cli("seal", "--json")
    assert code == EXIT_OK and json.loads(out2) == {"size": 2, "checkpoint": out}


def test_checkpoint_prints_and_saves_the_latest(ready: Cli, tmp_path: Path) -> None:
    code, note, _ = ready("checkpoint")
    assert code == EXIT_OK and note.startswith(f"{ORIGIN}\n6\n")
    out = tmp_path / "kept.txt"
    code, stdout, err = ready("checkpoint", "--out", str(out))
    assert code == EXIT_OK and stdout == "" and "size 6" in err
    assert out.read_text(encoding="utf-8") == note


def test_checkpoint_out_refuses_to_overwrite_without_force(ready: Cli, tmp_path: Path) -> None:
    out = tmp_path / "kept.txt"
    out.write_text("precious\n")
    code, _, err = ready("checkpoint", "--out", str(out))
    assert code == EXIT_USAGE and "--force" in err
    assert out.read_text() == "precious\n"
    assert ready("checkpoint", "--out", str(out), "--force")[0] == EXIT_OK
    assert out.read_text().startswith(f"{ORIGIN}\n6\n")
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_checkpoint_before_any_seal_exits_2(cli: Cli) -> None:
    cli("init", "--origin", ORIGIN)
    code, _, err = cli("checkpoint")
    assert code == EXIT_USAGE and "affidavit seal" in err


# -- show -----------------------------------------------------------------------------------

ROW_FIELDS = {"seq", "envelope", "leaf", "leaf_hash", "payload", "salt"}


def shown(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_show_one_a_range_and_all(ready: Cli) -> None:
    code, out, _ = ready("show", "4")
    assert code == EXIT_OK
    (row,) = shown(out)
    assert set(row) == ROW_FIELDS
    leaf = base64.b64decode(row["leaf"])
    assert row["seq"] == 4
    assert json.loads(leaf) == row["envelope"]
    assert base64.b64decode(row["leaf_hash"]) == merkle.leaf_hash(leaf)
    assert row["payload"] == {"path": "a.txt", "n": 4}
    assert len(base64.b64decode(row["salt"])) == 16
    assert [r["seq"] for r in shown(ready("show", "1..3")[1])] == [1, 2, 3]
    assert [r["seq"] for r in shown(ready("show", "--all")[1])] == list(range(6))
    assert shown(ready("show", "--all", "--json")[1]) == shown(ready("show", "--all")[1])


@pytest.mark.parametrize("args", [[], ["1", "--all"], ["x"], ["1..y"], ["9"], ["7..9"]])
def test_show_bad_arguments_exit_2(ready: Cli, args: list[str]) -> None:
    code, out, _ = ready("show", *args)
    assert code == EXIT_USAGE and out == ""


def test_show_after_erase_has_null_payload_and_salt(ready: Cli) -> None:
    code, _, err = ready("erase", "2", "4", "--reason", "GDPR", "--yes")
    assert code == EXIT_OK and "record 6" in err
    rows = shown(ready("show", "--all")[1])
    assert [(r["payload"], r["salt"]) for r in rows if r["seq"] in (2, 4)] == [(None, None)] * 2
    assert all(r["payload"] is not None for r in rows if r["seq"] not in (2, 4))
    assert rows[6]["envelope"]["kind"] == "erasure"
    assert rows[6]["payload"] == {"seqs": [2, 4], "reason": "GDPR"}


# -- prove ----------------------------------------------------------------------------------


def test_prove_inclusion_json(ready: Cli, path: Path) -> None:
    code, out, _ = ready("prove", "4", "--json")
    assert code == EXIT_OK
    p = json.loads(out)
    assert set(p) == {"index", "tree_size", "leaf_hash", "proof", "checkpoint"}
    assert (p["index"], p["tree_size"]) == (4, 6)
    cp = open_checkpoint(p["checkpoint"], Verifier.from_vkey(vkey_of(path)))
    proof = [base64.b64decode(x) for x in p["proof"]]
    merkle.verify_inclusion(base64.b64decode(p["leaf_hash"]), 4, 6, proof, cp.root)
    row = shown(ready("show", "4")[1])[0]
    assert p["leaf_hash"] == row["leaf_hash"]


def test_prove_consistency_json(ready: Cli, path: Path) -> None:
    code, out, _ = ready("prove", "--consistency", "3", "6", "--json")
    assert code == EXIT_OK
    c = json.loads(out)
    assert set(c) == {"size1", "size2", "proof", "checkpoint"}
    assert (c["size1"], c["size2"]) == (3, 6)
    verifier = Verifier.from_vkey(vkey_of(path))
    old = open_checkpoint(checkpoint_at(path, 3), verifier)
    new = open_checkpoint(c["checkpoint"], verifier)
    proof = [base64.b64decode(x) for x in c["proof"]]
    merkle.verify_consistency(3, 6, proof, old.root, new.root)


def checkpoint_at(path: Path, size: int) -> str:
    with Ledger.open(path, readonly=True) as ledger:
        return next(note for s, note, _ in ledger.store.checkpoints() if s == size)


def test_prove_plain_text(ready: Cli) -> None:
    code, out, _ = ready("prove", "0")
    assert code == EXIT_OK
    assert out.startswith("index: 0\ntree_size: 6\nleaf_hash: ")
    assert "\nproof:\n  " in out and f"\ncheckpoint:\n  {ORIGIN}\n  6\n" in out


@pytest.mark.parametrize(
    "args", [[], ["1", "--consistency", "1", "2"], ["6"], ["--consistency", "7", "6"], ["-1"]]
)
def test_prove_bad_arguments_exit_2(ready: Cli, args: list[str]) -> None:
    assert ready("prove", *args)[0] == EXIT_USAGE


# -- verify ---------------------------------------------------------------------------------


def test_verify_ok(ready: Cli) -> None:
    code, out, _ = ready("verify")
    assert code == EXIT_OK
    assert out.startswith("OK: 6 records (0 erased), ")
    assert "2 checkpoints; tree size 6" in out


def test_verify_json(ready: Cli, path: Path) -> None:
    code, out, _ = ready("verify", "--json")
    assert code == EXIT_OK
    report = json.loads(out)
    assert report == {
        "ok": True,
        "records": 6,
        "erased": 0,
        "subtrees": 4,
        "checkpoints": 2,
        "tree_size": 6,
        "root": base64.b64encode(
            open_checkpoint(checkpoint_at(path, 6), Verifier.from_vkey(vkey_of(path))).root
        ).decode(),
        "from_size": None,
        "views": {"actions": 6, "tool_uses": 0, "file_state": 0, "blobs": 0},
    }


def test_verify_from_a_kept_checkpoint(ready: Cli, tmp_path: Path, path: Path) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text(checkpoint_at(path, 3), encoding="utf-8")
    code, out, _ = ready("verify", "--from", str(kept))
    assert code == EXIT_OK
    assert "only grew since your checkpoint of size 3" in out
    code, out, _ = ready("verify", "--from", str(kept), "--json")
    assert code == EXIT_OK and json.loads(out)["from_size"] == 3


def test_verify_with_a_pinned_key(ready: Cli, path: Path) -> None:
    assert ready("verify", "--vkey", vkey_of(path))[0] == EXIT_OK
    stranger = Signer.generate(ORIGIN).verifier().vkey()
    code, out, err = ready("verify", "--vkey", stranger, "--json")
    assert code == EXIT_FAILED
    assert json.loads(out)["where"] == "verifier key"
    assert err.startswith("FAILED: ") and stranger in err


def test_verify_with_a_malformed_vkey_exits_2(ready: Cli, path: Path) -> None:
    # The key id no longer matches the name: malformed input, not a failed check.
    wrong_name = vkey_of(path).replace(ORIGIN, "example.com/x")
    code, _, err = ready("verify", "--vkey", wrong_name)
    assert code == EXIT_USAGE and "key id" in err


def test_verify_from_a_checkpoint_of_another_log_exits_1(
    ready: Cli, tmp_path: Path, path: Path
) -> None:
    other = tmp_path / "other.sqlite"
    assert run(["--ledger", str(other), "init", "--origin", ORIGIN]) == EXIT_OK
    assert run(["--ledger", str(other), "seal"]) == EXIT_OK
    kept = tmp_path / "foreign.txt"
    kept.write_text(checkpoint_at(other, 0), encoding="utf-8")
    code, _, err = ready("verify", "--from", str(kept))
    assert code == EXIT_FAILED and "not signed by this ledger's key" in err


def test_verify_from_garbage_exits_2(ready: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("not a note")
    code, out, err = ready("verify", "--from", str(junk))
    assert code == EXIT_USAGE and out == ""
    assert err.startswith("error: ") and "newline" in err


# -- erase and status -----------------------------------------------------------------------


def test_erase_without_yes_from_a_pipe_is_refused(ready: Cli, path: Path) -> None:
    result = affidavit(path, "erase", "1", "--reason", "test")
    assert result.returncode == EXIT_USAGE
    assert "--yes" in result.stderr
    assert size_of(path) == 6
    assert shown(ready("show", "1")[1])[0]["payload"] is not None


def test_erase_json_and_verify_counts_it(ready: Cli) -> None:
    code, out, _ = ready("erase", "1", "3", "1", "--reason", "request 7", "--yes", "--json")
    assert code == EXIT_OK
    assert json.loads(out) == {"erased": [1, 3], "erasure_seq": 6}
    code, out, _ = ready("verify", "--json")
    assert code == EXIT_OK and json.loads(out)["erased"] == 2


@pytest.mark.parametrize("args", [["99"], ["6"], []])
def test_erase_refusals_exit_2(ready: Cli, args: list[str]) -> None:
    if args == ["6"]:
        assert ready("erase", "0", "--reason", "first", "--yes")[0] == EXIT_OK
    before = ready("show", "--all")[1]
    code, _, err = ready("erase", *args, "--reason", "again", "--yes")
    assert code == EXIT_USAGE and err
    assert ready("show", "--all")[1] == before


def test_status_json(ready: Cli, path: Path, tmp_path: Path) -> None:
    (tmp_path / "more.jsonl").write_text(GOOD % 6)
    ready("append", str(tmp_path / "more.jsonl"))
    code, out, _ = ready("status", "--json")
    assert code == EXIT_OK
    st = json.loads(out)
    assert set(st) == {
        "ledger",
        "origin",
        "vkey",
        "size",
        "integrated",
        "published",
        "unpublished",
        "last_published_at",
        "erased",
        "last_checkpoint",
    }
    assert (st["size"], st["integrated"], st["published"], st["erased"]) == (7, 6, 6, 0)
    assert (st["ledger"], st["origin"], st["vkey"]) == (str(path), ORIGIN, vkey_of(path))
    assert st["last_checkpoint"] == checkpoint_at(path, 6)
    code, out, err = ready("status")
    assert code == EXIT_OK and "size:" in out and "1 record(s) not yet published" in err


# -- usage and help -------------------------------------------------------------------------


def test_unknown_command_and_option_exit_2(cli: Cli) -> None:
    assert cli("frobnicate")[0] == EXIT_USAGE
    assert cli("status", "--frobnicate")[0] == EXIT_USAGE


def commands(cli: Cli) -> list[str]:
    code, out, _ = cli("--help")
    assert code == EXIT_OK
    listing = out.split("Commands:\n", 1)[1]
    return re.findall(r"^  (\S+)  ", listing, flags=re.MULTILINE)


def test_every_command_has_help(cli: Cli) -> None:
    names = commands(cli)
    assert {"init", "append", "seal", "checkpoint", "key", "show", "prove", "verify"} <= set(names)
    assert {"erase", "status"} <= set(names)
    for name in names:
        code, out, _ = cli(name, "--help")
        assert code == EXIT_OK, name
        assert out.startswith(f"Usage: affidavit {name}"), name
        description = out.split("\n\n", 2)[1].strip()
        assert len(description) > 20, (name, description)

"""Secrets at rest: the spool holds what the ledger would, redacted; files 0600, folders 0700.

The hook spools an event when the ledger cannot take it (no ledger yet, a lock held too long,
a full disk). These tests run the real hook in a real process and read the spool's bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

from ledger_helpers import new_ledger
from test_hook import QUIET, read_records, run_hook, send, tool_event

# An AWS-style access key id and secret, made up here (not the documentation's example
# pair, which the redactor rightly treats as a placeholder).
KEY_ID = "AKIA" + hashlib.sha256(b"spool test id").hexdigest()[:16].upper()
SECRET = hashlib.sha256(b"spool test secret").hexdigest()[:40]
COMMAND = f"aws configure set aws_access_key_id {KEY_ID} && export AWS_SECRET_ACCESS_KEY={SECRET}"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _secret_event(cwd: Path) -> dict[str, object]:
    return tool_event("PreToolUse", "Bash", {"command": COMMAND}, "toolu_aws", cwd)


def _planted(data: bytes) -> list[str]:
    """Which of the planted secrets, or a recognisable piece of one, ``data`` holds, in
    clear or in base64 (at any of the three alignments)."""
    pieces = {"key id": KEY_ID[4:], "secret": SECRET, "secret head": SECRET[:16]}
    found = []
    for name, piece in pieces.items():
        forms = [piece.encode()]
        for skip in range(3):
            encoded = base64.b64encode(b"\0" * skip + piece.encode())
            forms.append(encoded[4 * ((skip + 2) // 3) + 4 : -4])  # the part only it decides
        if any(form in data for form in forms):
            found.append(name)
    return found


def _spool_without_a_ledger(tmp_path: Path) -> tuple[Path, Path]:
    ledger = tmp_path / "later" / "ledger.sqlite"
    ws = tmp_path / "ws"
    ws.mkdir()
    event = json.dumps(_secret_event(ws)).encode()
    done = run_hook(ledger, event, *QUIET, home=tmp_path / "home")
    assert done.returncode == 0 and b"no ledger" in done.stderr
    return ledger, ledger.parent / "ledger.sqlite.spool"


def test_the_spool_holds_no_planted_secret(tmp_path: Path) -> None:
    _, spool = _spool_without_a_ledger(tmp_path)
    files = list(spool.iterdir())
    assert len(files) == 1
    data = files[0].read_bytes()
    assert b"[REDACTED:aws-access-key]" in data  # the event is there, redacted
    assert _planted(data) == []


def test_spool_files_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    ledger, spool = _spool_without_a_ledger(tmp_path)
    assert _mode(spool) == 0o700
    [entry] = spool.iterdir()
    assert _mode(entry) == 0o600
    errors = ledger.parent / "ledger.sqlite.errors.log"
    assert _mode(errors) == 0o600


def test_a_spooled_event_replays_as_the_ledger_would_have_held_it(tmp_path: Path) -> None:
    """The records replayed from the spool equal those of the same event sent directly,
    redaction counts included; and the spool is gone once drained."""
    ledger, spool = _spool_without_a_ledger(tmp_path)
    new_ledger(ledger.parent).close()
    send(ledger, tool_event("PostToolUse", "Read", {}, "toolu_other", None), *QUIET)
    replayed = read_records(ledger)
    error, intent = replayed[0], replayed[1]
    assert error.kind == "capture.error" and "delayed capture" in error.payload["error"]["message"]
    assert intent.kind == "tool.intent"
    assert not list(spool.iterdir())

    direct = tmp_path / "direct"
    direct.mkdir()
    new_ledger(direct).close()
    send(direct / "ledger.sqlite", _secret_event(tmp_path / "ws"), *QUIET)
    [same] = [r for r in read_records(direct / "ledger.sqlite") if r.kind == "tool.intent"]
    assert intent.payload == same.payload
    assert intent.payload["redactions"] >= 2
    stored = b"".join(p.read_bytes() for p in ledger.parent.iterdir() if p.is_file())
    assert _planted(stored) == []


def test_the_ledger_and_its_wal_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    ledger = tmp_path / "data" / "ledger.sqlite"
    new_ledger(ledger.parent).close()
    assert _mode(ledger.parent) == 0o700
    send(ledger, _secret_event(tmp_path), *QUIET)
    kept = [p for p in ledger.parent.iterdir() if p.name.startswith("ledger.sqlite")]
    assert {p.name for p in kept} >= {"ledger.sqlite", "ledger.sqlite.key"}
    for path in kept:
        if path.is_file():
            assert _mode(path) == 0o600, path.name

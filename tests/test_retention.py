"""Retention: ``affidavit retention`` shows what the policy keeps; ``--apply`` erases payloads
past their limit, never under a legal hold, never an erasure record, never younger than the
minimum, and leaves a ledger that verifies.

Records are made with explicit old times (``Record.create(time=...)``) in folders with
different rules, relative to the real clock, since the command judges ages against now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from affidavit.cli import EXIT_OK, EXIT_USAGE, run
from affidavit.config import Config, Folder, parse
from affidavit.errors import InputError
from affidavit.evidence import retention
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record
from ledger_helpers import affidavit, key_of

ORIGIN = "test.example/retention"
NOW = datetime.now(UTC)
AGES = (1000, 300, 150, 10)
POLICY = """
[retention]
minimum_days = 90
maximum_days = 365
[retention.functions]
finance = 400

[[folders]]
path = "/srv/finance"
function = "finance"

[[folders]]
path = "/srv/legal"
legal_hold = true

[[folders]]
path = "/srv/hr"
retention_days = 200
"""
# (folder, ages that are past the limit): finance 400 (function), legal held, hr 200
# (folder), elsewhere and no path at all 365 (maximum).
EXPECTED = {"/srv/finance": [1000], "/srv/legal": [], "/srv/hr": [1000, 300], None: [1000]}


def record(path: str | None, age: int, kind: str = Kind.FILE_UPDATE) -> Record:
    payload: dict[str, Any] = {"actor": {"user": "ana"}}
    if path:
        payload["file"] = {"path": path}
    else:
        payload["command"] = {"text": "ls"}
    return Record.create(kind, "test.suite", payload, time=NOW - timedelta(days=age))


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, dict[int, tuple[str | None, int]]]:
    """The ledger (sealed), the policy file, and what each seq is: (folder, age)."""
    path = tmp_path / "ledger.sqlite"
    config = tmp_path / "affidavit.toml"
    config.write_text(POLICY, "utf-8")
    made: dict[int, tuple[str | None, int]] = {}
    old_clock = lambda: NOW - timedelta(days=2000)  # noqa: E731 - an erasure record made long ago
    with Ledger.create(path, origin=ORIGIN, key_path=key_of(path), clock=old_clock) as ledger:
        folders = [("/srv/finance", "/srv/finance/q3.xlsx"), ("/srv/legal", "/srv/legal/case.md")]
        folders += [("/srv/hr", "/srv/hr/review.md"), (None, "/tmp/scratch.txt"), (None, None)]
        for folder, file in folders:
            for age in AGES:
                (seq,) = ledger.append([record(file, age)])
                made[seq] = (folder, age)
        (victim,) = ledger.append([record("/srv/finance/gone.txt", 1500)])
        erasure = ledger.erase([victim], "GDPR request 3")
        made[erasure] = ("erasure", 2000)
        ledger.seal()
    return path, config, made


def cli(ledger: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["--ledger", str(ledger), *args])
    out, err = capsys.readouterr()
    return code, out, err


def expected_seqs(made: dict[int, tuple[str | None, int]]) -> list[int]:
    return sorted(s for s, (folder, age) in made.items() if age in EXPECTED.get(folder, []))


def payloads(ledger: Path) -> dict[int, bool]:
    with Ledger.open(ledger, readonly=True) as opened:
        return {seq: body is not None for seq, _, _, _, body in opened.rows()}


def test_dry_run_shows_the_policy_and_erases_nothing(
    setup: tuple[Path, Path, dict[int, tuple[str | None, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, config, made = setup
    before = payloads(path)
    code, out, err = cli(path, "retention", "--config", str(config), "--json", capsys=capsys)
    assert code == EXIT_OK, err
    report = json.loads(out)
    assert payloads(path) == before
    assert (report["minimum_days"], report["maximum_days"]) == (90, 365)
    assert report["applied"] is False and report["erased"] == []
    assert report["eligible"] == len(expected_seqs(made)) == 5
    assert report["erasure_records"] == 1
    rows = {r["folder"]: r for r in report["rows"]}
    assert rows["/srv/finance"] == {
        "folder": "/srv/finance",
        "function": "finance",
        "days": 400,
        "rule": "function",
        "kept": 3,
        "eligible": 1,
        "held": 0,
    }
    assert report["erased_before"] == 1  # the GDPR erasure
    assert (rows["/srv/legal"]["held"], rows["/srv/legal"]["eligible"]) == (4, 0)
    assert (rows["/srv/hr"]["days"], rows["/srv/hr"]["rule"]) == (200, "folder")
    assert (rows["/srv/hr"]["eligible"], rows["/srv/hr"]["kept"]) == (2, 2)
    assert (rows[None]["days"], rows[None]["eligible"], rows[None]["kept"]) == (365, 2, 6)
    code, out, err = cli(path, "retention", "--config", str(config), capsys=capsys)
    assert code == EXIT_OK
    assert "legal hold" in out and "400d (function)" in out and "run with --apply" in err


def test_apply_erases_past_the_limit_and_the_ledger_verifies(
    setup: tuple[Path, Path, dict[int, tuple[str | None, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, config, made = setup
    args = ("retention", "--config", str(config), "--apply", "--yes", "--json")
    code, out, err = cli(path, *args, capsys=capsys)
    assert code == EXIT_OK, err
    report = json.loads(out)
    want = expected_seqs(made)
    assert report["erased"] == want
    present = payloads(path)
    assert [s for s in want if present[s]] == []
    held = [s for s, (folder, _) in made.items() if folder in ("/srv/legal", "erasure")]
    assert all(present[s] for s in held)  # legal hold and erasure records untouched
    young = [s for s, (_, age) in made.items() if age < 200]
    assert all(present[s] for s in young)
    with Ledger.open(path, readonly=True) as opened:
        checked = opened.verify()
        assert checked.erased == len(want) + 1  # and the GDPR erasure from before
        (erasure_seq,) = report["erasure_seqs"]
        erasure = opened.record(erasure_seq)
        assert erasure.envelope.kind == Kind.ERASURE
        assert (erasure.payload or {})["seqs"] == want
    code, out, err = cli(path, *args, capsys=capsys)
    assert code == EXIT_OK and json.loads(out)["erased"] == []


def test_apply_prints_what_it_erased(
    setup: tuple[Path, Path, dict[int, tuple[str | None, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, config, made = setup
    code, out, err = cli(
        path, "retention", "--config", str(config), "--apply", "--yes", capsys=capsys
    )
    assert code == EXIT_OK, err
    assert f"erased 5 payload(s): records {retention.ranges(expected_seqs(made))}" in out
    assert "erasure recorded as record(s)" in err


def test_apply_needs_yes_off_a_terminal(
    setup: tuple[Path, Path, dict[int, tuple[str | None, int]]],
) -> None:
    path, config, _ = setup
    before = payloads(path)
    done = affidavit(path, "retention", "--config", str(config), "--apply")
    assert done.returncode == EXIT_USAGE
    assert "--yes" in done.stderr
    assert payloads(path) == before


def test_max_days_override_never_goes_below_the_minimum(
    setup: tuple[Path, Path, dict[int, tuple[str | None, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, config, _ = setup
    before = payloads(path)
    for days in ("89", "30"):
        args = ("retention", "--config", str(config), "--max-days", days, "--apply", "--yes")
        code, _, err = cli(path, *args, capsys=capsys)
        assert code == EXIT_USAGE and "below the 90-day minimum" in err
    assert payloads(path) == before
    code, out, _ = cli(
        path, "retention", "--config", str(config), "--max-days", "100", "--json", capsys=capsys
    )
    rows = {r["folder"]: r for r in json.loads(out)["rows"]}
    assert (rows[None]["days"], rows[None]["rule"], rows[None]["eligible"]) == (
        100,
        "--max-days",
        6,
    )
    assert rows["/srv/finance"]["days"] == 400  # a function's own limit still wins


def test_a_limit_below_the_minimum_is_refused(
    setup: tuple[Path, Path, dict[int, tuple[str | None, int]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The config accepts a folder limit of 200 days; a 365-day minimum makes it unsafe."""
    path, config, _ = setup
    config.write_text(POLICY.replace("minimum_days = 90", "minimum_days = 365"), "utf-8")
    before = payloads(path)
    for extra in ((), ("--apply", "--yes")):
        code, _, err = cli(path, "retention", "--config", str(config), *extra, capsys=capsys)
        assert code == EXIT_USAGE
        assert "/srv/hr retention_days is 200 days, below the 365-day minimum" in err
    assert payloads(path) == before


def test_ninety_days_of_history_always_kept(tmp_path: Path) -> None:
    """Even a Config built in code (bypassing the file's checks) cannot go under 90 days."""
    path = tmp_path / "ledger.sqlite"
    with Ledger.create(path, origin=ORIGIN, key_path=key_of(path)) as ledger:
        ledger.append([record("/srv/x/a", age) for age in (89, 91, 200)])
        for cfg in (
            Config(maximum_retention_days=30),
            Config(minimum_retention_days=10, maximum_retention_days=60),
            Config(folders=(Folder("/srv/x", retention_days=45),), maximum_retention_days=365),
        ):
            with pytest.raises(InputError, match="below the 90-day minimum"):
                retention.plan(ledger, cfg, now=NOW)
        plan = retention.plan(ledger, Config(maximum_retention_days=90), now=NOW)
        assert plan.eligible == (1, 2)
        assert retention.plan(ledger, Config(), now=NOW).eligible == ()  # no maximum: keep


def test_policy_file_limits_parse_as_the_plan_reads_them() -> None:
    cfg = parse(POLICY)
    keep = (cfg.maximum_retention_days, "maximum_days")
    assert retention.scope_of("/srv/legal/a/b.md", cfg, keep).held
    assert retention.scope_of("/srv/hr/x", cfg, keep).days == 200
    assert retention.scope_of("/srv/finance/x", cfg, keep).rule == "function"
    assert retention.scope_of(None, cfg, keep).days == 365
    assert retention.ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"

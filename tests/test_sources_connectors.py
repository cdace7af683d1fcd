"""Connector-side logs: Salesforce and Microsoft 365 exports imported, matched to MCP calls.

The export files are made here in the documented formats (Setup Audit Trail CSV, Event Log
File CSV, unified audit log CSV and JSON; tests/assets/sources/README.md names the page each
follows); the agent's calls are tool.call records as the hook writes them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record
from affidavit.sources import connector_log
from affidavit.sources.cloud import records
from ledger_helpers import affidavit, new_ledger

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T + timedelta(days=1)
DANA = "dana@example.com"
AUDIT_HEADER = ["Date", "User", "Source Namespace Prefix", "Action", "Section", "Delegate User"]
ELF_HEADER = [
    "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "USER_NAME",
    "METHOD_NAME", "ENTITY_NAME", "URI", "TIMESTAMP_DERIVED",
]  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = new_ledger(tmp_path)
    try:
        yield led
    finally:
        led.close()


def _call(ledger: Ledger, tool: str, moment: datetime, email: str | None = DANA) -> int:
    payload = {
        "actor": {"user": "dana", **({"email": email} if email else {})},
        "agent": {"product": "claude-code", "tool": tool, "session_id": "s1"},
        "tool": {"name": tool, "input": {"id": "001"}},
        "outcome": "ok",
    }
    return ledger.append([Record.create(Kind.TOOL_CALL, "claude-code.hook", payload, time=moment)])[
        0
    ]


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _us(moment: datetime) -> str:
    return moment.strftime("%-m/%-d/%Y %-I:%M:%S %p") + " UTC"


def _elf_row(moment: datetime, request: str, user: str) -> list[str]:
    return [
        "API", moment.strftime("%Y%m%d%H%M%S.000"), request, "00D000000000001", "005000000000001",
        user, "update", "Account", "/services/data/v62.0/sobjects/Account/001",
        moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    ]  # fmt: skip


def test_salesforce_logs_import_once_and_unmatched_calls_are_reported(
    ledger: Ledger, tmp_path: Path
) -> None:
    seen = _call(ledger, "mcp__salesforce__update_record", T)
    setup = _call(ledger, "mcp__salesforce__create_field", T + timedelta(minutes=10))
    missing = _call(ledger, "mcp__salesforce__update_record", T + timedelta(hours=2))
    early = _call(ledger, "mcp__salesforce__query", T - timedelta(days=2))
    _call(ledger, "mcp__drive__search", T)  # another server: not matched here
    audit = _csv(tmp_path / "SetupAuditTrail.csv", AUDIT_HEADER, [
        [_us(T + timedelta(minutes=11)), DANA, "", "Created custom field Risk__c", "Customize", ""],
    ])  # fmt: skip
    elf = _csv(tmp_path / "API.csv", ELF_HEADER, [
        _elf_row(T + timedelta(seconds=40), "4exLFFQ", DANA),
        _elf_row(T + timedelta(hours=3), "4exLFFR", "sam@example.com"),
    ])  # fmt: skip
    assert connector_log.import_log(ledger, "salesforce-audit", audit, now=NOW).imported == 1
    assert connector_log.import_log(ledger, "salesforce-event", elf, now=NOW).imported == 2
    size = ledger.store.size()
    again = connector_log.import_log(ledger, "salesforce-event", elf, now=NOW)
    assert again.imported == 0 and ledger.store.size() == size  # idempotent
    report = connector_log.match(ledger, "salesforce", "salesforce")
    assert sorted(c.seq for c, _ in report.matched) == [seen, setup]
    assert [c.seq for c in report.unmatched] == [missing]  # sam's entry is not dana's call
    assert [c.seq for c in report.uncovered] == [early]
    window = connector_log.WINDOW
    seq = connector_log.record_match(
        ledger, report, server="salesforce", connector="salesforce", window=window, now=NOW
    )
    ((found, body),) = records(ledger, Kind.CONNECTOR_MATCH, "affidavit.connectors")
    assert found == seq and body["match"]["counts"] == {
        "matched": 2,
        "unmatched": 1,
        "uncovered": 1,
    }
    assert sorted(m["call"] for m in body["match"]["matched"]) == [seen, setup]
    assert body["match"]["unmatched"] == [
        {
            "call": missing,
            "time": "2026-11-02T11:00:00.000000Z",
            "tool": "mcp__salesforce__update_record",
            "user": DANA,
        }
    ]
    assert body["match"]["uncovered"] == [early] and body["match"]["window_s"] == 300
    (entry,) = [
        p for _, p in records(ledger, Kind.CONNECTOR_SALESFORCE_AUDIT, "affidavit.connectors")
    ]
    assert entry["entry"]["action"] == "Created custom field Risk__c"
    assert entry["actor"] == {"email": DANA}


def test_unified_audit_csv_and_json_are_one_log(ledger: Ledger, tmp_path: Path) -> None:
    call = _call(ledger, "mcp__microsoft365__send_mail", T)
    audit = {
        "Id": "5a7c3f2e-0000-4000-8000-000000000001", "CreationTime": "2026-11-02T09:00:30",
        "Operation": "Send", "UserId": DANA, "Workload": "Exchange", "RecordType": 2,
    }  # fmt: skip
    exported = _csv(tmp_path / "audit.csv", ["RecordId", "CreationDate", "RecordType", "Operation",
                    "UserId", "AuditData"], [[audit["Id"], "2026-11-02T09:00:30.0000000Z",
                    "ExchangeItem", "Send", DANA, json.dumps(audit)]])  # fmt: skip
    as_json = tmp_path / "audit.json"
    as_json.write_text(json.dumps([{"AuditData": json.dumps(audit)}]))
    first = connector_log.import_log(ledger, "unified-audit", exported, now=NOW)
    second = connector_log.import_log(ledger, "unified-audit", as_json, now=NOW)
    assert (first.imported, second.imported) == (1, 0)  # the same entry by its Id
    report = connector_log.match(ledger, "microsoft365", "microsoft365")
    assert [c.seq for c, _ in report.matched] == [call]


def test_an_export_after_a_hole_records_the_gap(ledger: Ledger, tmp_path: Path) -> None:
    a = _csv(tmp_path / "a.csv", ELF_HEADER, [_elf_row(T, "r1", DANA)])
    b = _csv(tmp_path / "b.csv", ELF_HEADER, [_elf_row(T + timedelta(hours=5), "r2", DANA)])
    connector_log.import_log(ledger, "salesforce-event", a, now=NOW)
    report = connector_log.import_log(ledger, "salesforce-event", b, now=NOW)
    assert report.gap is not None and "2026-11-02T09:00:00" in report.gap
    (gap,) = [p for _, p in records(ledger, Kind.CAPTURE_GAP, "affidavit.connectors")]
    assert gap["gap"]["to"] == "2026-11-02T14:00:00.000000Z"


def test_a_declared_window_reports_the_calls_after_the_last_entry(
    ledger: Ledger, tmp_path: Path
) -> None:
    seen = _call(ledger, "mcp__salesforce__update_record", T)
    later = _call(ledger, "mcp__salesforce__update_record", T + timedelta(hours=2))
    elf = _csv(tmp_path / "API.csv", ELF_HEADER, [_elf_row(T + timedelta(seconds=40), "q1", DANA)])
    # Undeclared, the export covers its one entry: the later call is merely uncovered.
    connector_log.import_log(ledger, "salesforce-event", elf, now=NOW)
    report = connector_log.match(ledger, "salesforce", "salesforce")
    assert [c.seq for c in report.uncovered] == [later] and not report.unmatched
    # Declared as the Event Log File's whole day, it shows the log has no entry for it.
    day = (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))
    done = connector_log.import_log(ledger, "salesforce-event", elf, now=NOW, window=day)
    assert done.imported == 0 and done.seqs  # no entry twice, but the window is recorded
    size = ledger.store.size()
    again = connector_log.import_log(ledger, "salesforce-event", elf, now=NOW, window=day)
    assert not again.seqs and ledger.store.size() == size  # idempotent
    report = connector_log.match(ledger, "salesforce", "salesforce")
    assert [c.seq for c, _ in report.matched] == [seen]
    assert [c.seq for c in report.unmatched] == [later] and not report.uncovered


def test_declared_windows_that_abut_record_no_gap_and_an_empty_export_counts(
    ledger: Ledger, tmp_path: Path
) -> None:
    call = _call(ledger, "mcp__microsoft365__send_mail", T + timedelta(days=1, hours=3))
    first = tmp_path / "day1.json"
    audit = {"Id": "m1", "CreationTime": "2026-11-02T10:00:00", "Operation": "Send"}
    first.write_text(json.dumps([audit]))
    empty = tmp_path / "day2.json"
    empty.write_text("[]")
    with pytest.raises(InputError, match="no entries to import"):
        connector_log.import_log(ledger, "unified-audit", empty, now=NOW)
    day1 = (T - timedelta(hours=9), T + timedelta(hours=15))
    day2 = (day1[1], day1[1] + timedelta(days=1))
    connector_log.import_log(ledger, "unified-audit", first, now=NOW, window=day1)
    second = connector_log.import_log(ledger, "unified-audit", empty, now=NOW, window=day2)
    assert second.gap is None and second.entries == 0 and second.seqs
    assert not list(records(ledger, Kind.CAPTURE_GAP, "affidavit.connectors"))
    report = connector_log.match(ledger, "microsoft365", "microsoft365")
    assert [c.seq for c in report.unmatched] == [call]  # the day's log has no entry for it


def test_an_entry_outside_the_declared_window_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    elf = _csv(tmp_path / "API.csv", ELF_HEADER, [
        _elf_row(T, "w1", DANA), _elf_row(T + timedelta(days=1, hours=1), "w2", DANA),
    ])  # fmt: skip
    size = ledger.store.size()
    day = (T - timedelta(hours=9), T + timedelta(hours=15))
    with pytest.raises(InputError) as err:
        connector_log.import_log(ledger, "salesforce-event", elf, now=NOW, window=day)
    assert str(err.value).startswith(f"{elf}:3: the entry at 2026-11-03T10:00:00")
    assert "outside the declared window" in str(err.value)
    assert ledger.store.size() == size


def _truncated(path: Path) -> tuple[Path, int]:
    full = _csv(path, AUDIT_HEADER, [[_us(T), DANA, "", "Reset password", "Users", ""]] * 3)
    full.write_bytes(full.read_bytes()[:-25])
    return full, 4


def _wrong_columns(path: Path) -> tuple[Path, int]:
    header = ["Date", "User", "Section"]
    return _csv(path, header, [[_us(T), DANA, "Users"]]), 2


def _huge_row(path: Path) -> tuple[Path, int]:
    rows = [[_us(T), DANA, "", "ok", "Users", ""], [_us(T), DANA, "", "x" * (2 << 20), "U", ""]]
    return _csv(path, AUDIT_HEADER, rows), 3


def _short_row(path: Path) -> tuple[Path, int]:
    path.write_text(",".join(AUDIT_HEADER) + "\r\n" + f"{_us(T)},{DANA},,ok\r\n")
    return path, 2


def _zone_missing(path: Path) -> tuple[Path, int]:
    return _csv(path, AUDIT_HEADER, [["11/2/2026 9:00:00 AM PST", DANA, "", "ok", "U", ""]]), 2


@pytest.mark.parametrize("make", [_truncated, _wrong_columns, _huge_row, _short_row, _zone_missing])
def test_bad_exports_name_file_and_line_and_import_nothing(
    ledger: Ledger, tmp_path: Path, make: object
) -> None:
    assert callable(make)
    path, line = make(tmp_path / "SetupAuditTrail.csv")
    size = ledger.store.size()
    with pytest.raises(InputError) as err:
        connector_log.import_log(ledger, "salesforce-audit", path, now=NOW)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert "\n" not in str(err.value)
    assert ledger.store.size() == size


UNIFIED_HEADER = ["CreationDate", "UserIds", "Operations", "AuditData"]


def _unified_row(ident: str, extra: str = "") -> list[str]:
    audit = {"Id": ident, "CreationTime": "2026-11-02T09:00:00", "Operation": "Send", "X": extra}
    return ["2026-11-02T09:00:00.0000000Z", DANA, "Send", json.dumps(audit)]


def _event_wrong_columns(path: Path) -> tuple[Path, str]:
    header = [c for c in ELF_HEADER if c != "TIMESTAMP_DERIVED"]
    return _csv(path, header, [_elf_row(T, "c1", DANA)[:-1]]), f"{path}:2: no column"


def _event_truncated(path: Path) -> tuple[Path, str]:
    full = _csv(path, ELF_HEADER, [_elf_row(T, "c1", DANA), _elf_row(T, "c2", DANA)])
    full.write_bytes(full.read_bytes()[:-12])
    return full, f"{path}:3: "


def _unified_wrong_columns(path: Path) -> tuple[Path, str]:
    rows = [_unified_row("u1")[:3]]
    return _csv(path, UNIFIED_HEADER[:3], rows), f"{path}:2: no column AuditData"


def _unified_huge_row(path: Path) -> tuple[Path, str]:
    rows = [_unified_row("u1"), _unified_row("u2", "x" * (2 << 20))]
    return _csv(path, UNIFIED_HEADER, rows), f"{path}:3: a field over 1048576 bytes"


def _unified_truncated_array(path: Path) -> tuple[Path, str]:
    audit = {"Id": "u1", "CreationTime": "2026-11-02T09:00:00", "Operation": "Send"}
    path.write_text(json.dumps([audit, audit], indent=1)[:-20])  # cut inside line 10
    return path, f"{path}:10: not JSON"


def _unified_huge_entry(path: Path) -> tuple[Path, str]:
    small = {"Id": "u1", "CreationTime": "2026-11-02T09:00:00", "Operation": "Send"}
    path.write_text(json.dumps([small, {**small, "Id": "u2", "X": "x" * (2 << 20)}]))
    return path, f"{path}: entry 2: entry over"


@pytest.mark.parametrize(
    ("fmt", "make"),
    [
        ("salesforce-event", _event_wrong_columns),
        ("salesforce-event", _event_truncated),
        ("unified-audit", _unified_wrong_columns),
        ("unified-audit", _unified_huge_row),
        ("unified-audit", _unified_truncated_array),
        ("unified-audit", _unified_huge_entry),
    ],
)
def test_bad_event_log_and_unified_exports_name_file_and_line(
    ledger: Ledger, tmp_path: Path, fmt: str, make: object
) -> None:
    assert callable(make)
    path, where = make(tmp_path / "export.csv")
    size = ledger.store.size()
    with pytest.raises(InputError) as err:
        connector_log.import_log(ledger, fmt, path, now=NOW)
    assert str(err.value).startswith(where) and "\n" not in str(err.value)
    assert ledger.store.size() == size


def test_truncated_json_lines_names_the_line(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    good = json.dumps({"Id": "1", "CreationTime": "2026-11-02T09:00:00Z", "Operation": "Send"})
    path.write_text(good + "\n" + good[:20] + "\n")
    with pytest.raises(InputError, match=r"audit\.jsonl:2: not JSON"):
        connector_log.import_log(ledger, "unified-audit", path, now=NOW)


def test_cli_import_and_match(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with new_ledger(tmp_path) as led:
        _call(led, "mcp__salesforce__update_record", T)
        lonely = _call(led, "mcp__salesforce__update_record", T + timedelta(hours=1))
    elf = _csv(tmp_path / "API.csv", ELF_HEADER, [
        _elf_row(T + timedelta(seconds=5), "a1", DANA),
        _elf_row(T + timedelta(hours=2), "a2", DANA),
    ])  # fmt: skip
    done = affidavit(path, "sources", "import", "salesforce-event", str(elf))
    assert done.returncode == 0, done.stderr
    assert "2 entries, 2 new" in done.stderr
    found = affidavit(path, "sources", "match", "salesforce", "--log", "salesforce")
    assert found.returncode == 1
    assert found.stdout.split("\t")[0] == str(lonely)
    recorded = int(found.stderr.rsplit("connector.match record ", 1)[1].split()[0])
    with Ledger.open(path, readonly=True) as led:
        payload = led.record(recorded).payload
        assert led.record(recorded).envelope.kind == Kind.CONNECTOR_MATCH
        sealed = led.latest_checkpoint()
    assert sealed is not None and sealed[0] == recorded + 1  # sealed with the result in it
    assert payload is not None
    assert [u["call"] for u in payload["match"]["unmatched"]] == [lonely]
    checked = affidavit(path, "verify")
    assert checked.returncode == 0, checked.stderr
    elf.write_text(elf.read_text()[:-30])
    good = _csv(tmp_path / "Login.csv", ELF_HEADER, [_elf_row(T + timedelta(hours=4), "b1", DANA)])
    with Ledger.open(path, readonly=True) as led:
        size = led.store.size()
    # The good file first: every file is checked before any is imported, so none is.
    bad = affidavit(path, "sources", "import", "salesforce-event", str(good), str(elf))
    assert bad.returncode == 2 and bad.stderr.startswith(f"error: {elf}:3: ")
    assert bad.stderr.count("\n") == 1
    with Ledger.open(path, readonly=True) as led:
        assert led.store.size() == size
    half = affidavit(
        path, "sources", "import", "salesforce-event", str(good), "--from", "2026-11-02T00:00:00Z"
    )
    assert half.returncode == 2 and "--from and --to together" in half.stderr
    day = ["--from", "2026-11-02T00:00:00Z", "--to", "2026-11-03T00:00:00Z"]
    ok = affidavit(path, "sources", "import", "salesforce-event", str(good), *day)
    assert ok.returncode == 0, ok.stderr


def test_user_pairs_match_a_login_or_an_id_to_the_source_s_name(
    ledger: Ledger, tmp_path: Path
) -> None:
    by_login = _call(ledger, "mcp__salesforce__update_record", T, email=None)  # OS login only
    by_mail = _call(ledger, "mcp__salesforce__update_record", T + timedelta(hours=1))
    not_hers = _call(ledger, "mcp__salesforce__update_record", T + timedelta(hours=2), email=None)
    elf = _csv(tmp_path / "API.csv", ELF_HEADER, [
        _elf_row(T + timedelta(seconds=30), "r1", DANA),
        _elf_row(T + timedelta(hours=1, seconds=30), "r2", ""),  # USER_ID only
        _elf_row(T + timedelta(hours=2, seconds=30), "r3", "sam@example.com"),
    ])  # fmt: skip
    connector_log.import_log(ledger, "salesforce-event", elf, now=NOW)
    plain = connector_log.match(ledger, "salesforce", "salesforce")
    # A login never equals an e-mail, an e-mail never a user id: all three look missing.
    assert [c.seq for c in plain.unmatched] == [by_login, by_mail, not_hers]
    users = {"Dana": DANA.upper(), DANA: "005000000000001"}
    paired = connector_log.match(ledger, "salesforce", "salesforce", users=users)
    assert [c.seq for c, _ in paired.matched] == [by_login, by_mail]
    assert [c.seq for c in paired.unmatched] == [not_hers]  # sam's entry stays sam's
    connector_log.record_match(
        ledger, paired, server="salesforce", connector="salesforce",
        window=connector_log.WINDOW, now=NOW, users=users,
    )  # fmt: skip
    ((_, body),) = records(ledger, Kind.CONNECTOR_MATCH, "affidavit.connectors")
    assert body["match"]["users"] == {"dana": DANA, DANA: "005000000000001"}


def test_cli_user_pairs_are_checked_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with new_ledger(tmp_path) as led:
        _call(led, "mcp__salesforce__update_record", T, email=None)
    elf = _csv(tmp_path / "API.csv", ELF_HEADER, [_elf_row(T, "a1", DANA)])
    assert affidavit(path, "sources", "import", "salesforce-event", str(elf)).returncode == 0
    missing = affidavit(path, "sources", "match", "salesforce", "--log", "salesforce")
    assert missing.returncode == 1
    for bad in ("dana", "=dana@example.com", "dana= "):
        refused = affidavit(
            path, "sources", "match", "salesforce", "--log", "salesforce", "--user", bad
        )
        assert refused.returncode == 2 and "--user" in refused.stderr and bad in refused.stderr
    found = affidavit(
        path, "sources", "match", "salesforce", "--log", "salesforce", "--user", f"dana={DANA}"
    )
    assert found.returncode == 0, found.stderr
    assert "1 call(s) matched" in found.stderr
    recorded = int(found.stderr.rsplit("connector.match record ", 1)[1].split()[0])
    with Ledger.open(path, readonly=True) as led:
        payload = led.record(recorded).payload
    assert payload is not None and payload["match"]["users"] == {"dana": DANA}


def test_cli_choice_names_are_the_cores() -> None:
    from affidavit.sources import FORMAT_NAMES, PROVIDER_NAMES
    from affidavit.sources.connectors import FORMATS
    from affidavit.sources.providers import PROVIDERS

    assert set(FORMAT_NAMES) == set(FORMATS) and set(PROVIDER_NAMES) == set(PROVIDERS)

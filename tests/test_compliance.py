"""Posture, checklist, minimum, attestations, drills and reviews, scored from real evidence.

The ledger is the real RonKat2008/agent-verdict hook session replayed through ``affidavit
hook``, plus the evidence a complete deployment adds (an attestation, a rollback drill, an
archive snapshot, a review sign-off). The sample profiles are ``assets/config/*.toml``:
``enterprise.toml`` and two copies that each change one fact. The flip tests change one
fact at a time and assert that exactly the rows it should change, change.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from affidavit import config
from affidavit.capture import rollback as undo
from affidavit.cli import run
from affidavit.compliance import attest as attesting
from affidavit.compliance import drill as drilling
from affidavit.compliance import facts as vendor
from affidavit.compliance import findings as finding_store
from affidavit.compliance import review as reviewing
from affidavit.compliance.checklist import GREEN, MET, RED, YELLOW, score_checklist
from affidavit.compliance.gather import Evidence, Finding, gather
from affidavit.compliance.minimum import score_minimum
from affidavit.compliance.regimes import (
    CONDITIONAL,
    NOT_YET,
    REGIMES,
    WORKABLE,
    score_posture,
)
from affidavit.config import Config
from affidavit.errors import InputError, VerificationError
from affidavit.ledger import Ledger
from affidavit.note import Signer
from affidavit.record import Kind, Record, format_time
from affidavit.signing import ledger_signer, sign_payload, verify_payload
from compliance_helpers import CONFIGS, NOON, TODAY, profile, replay_hooks, sign_off_month
from ledger_helpers import ORIGIN, key_of

FOLDER = "/private/var/folders/p2/xpfv5y4n1q9gmxzf52f5q3l40000gn/T/tmp.gOyhlOEkeJ"
Status = dict[tuple[str, str], str]


# -- building ledgers -----------------------------------------------------------------------


def copy_ledger(source: Path, folder: Path) -> Path:
    """A consistent copy (SQLite backup: the hook's detached seal may still be writing)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "ledger.sqlite"
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    key_of(target).write_bytes(key_of(source).read_bytes())
    key_of(target).chmod(0o600)
    return target


def opened(path: Path) -> Ledger:
    return Ledger.open(path, key_path=key_of(path))


@pytest.fixture(scope="module")
def session_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real hook fixtures, one ``affidavit hook`` process per event, in order."""
    return replay_hooks(tmp_path_factory.mktemp("session"))


def record_archive(ledger: Ledger, when: datetime) -> int:
    """An archive snapshot as `affidavit archive` records it (the contract in gather.py)."""
    body = {
        "archive": {
            "at": format_time(when),
            "location": "s3://example-audit/ledger-2026-11.sqlite",
            "tree_size": ledger.store.size(),
        }
    }
    signed = sign_payload(body, ledger_signer(ledger))
    return ledger.append([Record.create(Kind.ATTESTATION, "affidavit.archive", signed, time=when)])[
        0
    ]


def complete(ledger: Ledger, *, drill_at: datetime = NOON - timedelta(days=5)) -> None:
    """What a complete deployment has recorded by TODAY, besides the agent's own work."""
    signer = ledger_signer(ledger)
    attesting.attest(
        ledger,
        signer,
        "incident_response",
        by="Sam Security",
        note="paged the on-call from the runbook; answered in 4 minutes",
        days=90,
        now=NOON - timedelta(days=1),
    )
    attesting.attest(
        ledger,
        signer,
        "version_history",
        by="Bob IT",
        note="OneDrive version history on for every granted folder; retention 180 days",
        days=90,
        now=NOON - timedelta(days=1),
    )
    drilling.run_drill(ledger, signer, now=drill_at)
    record_archive(ledger, NOON - timedelta(days=3))
    sign_off_month(ledger, signer)


@pytest.fixture(scope="module")
def complete_ledger(session_ledger: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = copy_ledger(session_ledger, tmp_path_factory.mktemp("complete"))
    with opened(path) as ledger:
        complete(ledger)
    return path


@pytest.fixture
def ledger(complete_ledger: Path, tmp_path: Path) -> Iterator[Ledger]:
    with opened(copy_ledger(complete_ledger, tmp_path)) as lg:
        yield lg


def statuses(ledger: Ledger, cfg: Config, today: date = TODAY) -> Status:
    evidence = gather(ledger, cfg)
    return score(cfg, evidence, today)


def score(cfg: Config, evidence: Evidence, today: date = TODAY) -> Status:
    items = score_checklist(cfg, evidence, today)
    out = {("checklist", i.id): i.status for i in items}
    out |= {("minimum", i.id): i.status for i in score_minimum(cfg, evidence, today)}
    out |= {("posture", r.regime): r.status for r in score_posture(cfg, evidence, items, today)}
    return out


def changed(before: Status, after: Status) -> dict[tuple[str, str], tuple[str, str]]:
    assert before.keys() == after.keys()
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def card_finding(ledger: Ledger, *, in_payload: bool = False) -> int:
    """A card number as `affidavit scan` records it: in a granted file, or in a record."""
    finding: dict[str, object] = {
        "type": "data",
        "data_class": "card",
        "rule": "luhn",
        "masked": "4111 **** **** 1111",
        "hmac": "9b1f" * 16,
        "confidence": "high",
        "where": "record 2 prompt.text" if in_payload else f"{FOLDER}/note.txt:1",
        "source": "record" if in_payload else "file",
        "folder": FOLDER,
    }
    payload: dict[str, object] = {"finding": finding, "actor": {"user": "scanner"}}
    if in_payload:
        finding["seq"] = 2
    else:
        payload["file"] = {"path": f"{FOLDER}/note.txt"}
    rec = Record.create(Kind.POLICY_FINDING, "affidavit", payload, time=NOON)
    return ledger.append([rec])[0]


# -- the complete profile: every score explained ----------------------------------------------


def test_the_session_ledger_holds_the_real_fixture_session(session_ledger: Path) -> None:
    with opened(session_ledger) as lg:
        records = [lg.record(s) for s in range(lg.store.size())]
    kinds = [r.envelope.kind for r in records]
    files = {(r.envelope.kind, (r.payload or {}).get("file", {}).get("path")) for r in records}
    assert kinds[0] == "session.start" and kinds[-1] == "session.end"
    assert ("file.update", f"{FOLDER}/note.txt") in files


def test_a_complete_profile_is_green_and_every_score_names_its_evidence(ledger: Ledger) -> None:
    cfg = profile("enterprise")
    evidence = gather(ledger, cfg)
    items = score_checklist(cfg, evidence, TODAY)
    minimum = score_minimum(cfg, evidence, TODAY)
    posture = score_posture(cfg, evidence, items, TODAY)
    assert {i.id: i.status for i in items} == dict.fromkeys(
        (
            "plan_dpa",
            "training_opt_out",
            "folder_policy",
            "connectors",
            "memory_hygiene",
            "backup_rollback",
            "joiner_mover_leaver",
            "incident_response",
        ),
        GREEN,
    )
    assert {i.status for i in minimum} == {MET}
    assert [r.regime for r in posture] == list(REGIMES)
    assert {r.regime: r.status for r in posture if r.status != WORKABLE} == {"FedRAMP": NOT_YET}
    for item in (*items, *minimum):
        assert item.reason and item.evidence and item.change, item
    for row in posture:
        assert row.reason and row.change and not row.stale
        assert all(c.evidence for c in row.conditions), row
    by_id = {i.id: i for i in items}
    assert evidence.drill is not None and evidence.archive is not None
    assert any(f"drill seq {evidence.drill.seq}" in e for e in by_id["backup_rollback"].evidence)
    assert any("attestation seq" in e for e in by_id["incident_response"].evidence)
    assert "org.dpa_signed = 2026-03-01" in by_id["plan_dpa"].evidence
    assert any(FOLDER in e for e in by_id["folder_policy"].evidence)
    assert not evidence.unsigned


# -- one fact at a time -----------------------------------------------------------------------


def test_removing_the_dpa_date_flips_gdpr_uk_gdpr_and_the_plan_item(ledger: Ledger) -> None:
    assert changed(
        statuses(ledger, profile("enterprise")), statuses(ledger, profile("missing-dpa"))
    ) == {
        ("checklist", "plan_dpa"): (GREEN, RED),
        ("posture", "GDPR"): (WORKABLE, CONDITIONAL),
        ("posture", "UK GDPR"): (WORKABLE, CONDITIONAL),
    }


def test_the_team_plan_flips_gdpr_uk_gdpr_and_hipaa(ledger: Ledger) -> None:
    assert changed(statuses(ledger, profile("enterprise")), statuses(ledger, profile("team"))) == {
        ("posture", "GDPR"): (WORKABLE, CONDITIONAL),
        ("posture", "UK GDPR"): (WORKABLE, CONDITIONAL),
        ("posture", "HIPAA"): (WORKABLE, CONDITIONAL),
    }


@pytest.mark.parametrize("in_payload", [False, True], ids=["granted-folder", "recorded-payload"])
def test_a_card_number_turns_pci_red_and_nothing_else(ledger: Ledger, in_payload: bool) -> None:
    cfg = profile("enterprise")
    before = statuses(ledger, cfg)
    seq = card_finding(ledger, in_payload=in_payload)
    after = statuses(ledger, cfg)
    assert changed(before, after) == {("posture", "PCI-DSS"): (WORKABLE, NOT_YET)}
    evidence = gather(ledger, cfg)
    pci = next(
        r
        for r in score_posture(cfg, evidence, score_checklist(cfg, evidence, TODAY), TODAY)
        if r.regime == "PCI-DSS"
    )
    assert pci.blocked_by_ledger and f"(seq {seq}) data/card" in " ".join(pci.evidence)
    (finding,) = evidence.open_findings
    finding_store.resolve(
        ledger.store,
        finding.id,
        reason="test number from a vendor sample; file deleted",
        by="Ann CISO",
        actor={},
        time=NOON,
    )
    assert statuses(ledger, cfg) == before


def test_a_card_number_found_by_the_real_scan_turns_pci_red_only(
    ledger: Ledger, tmp_path: Path
) -> None:
    pytest.importorskip("affidavit.cli.scan", reason="affidavit scan is not in this tree")
    granted = tmp_path / "finance"
    granted.mkdir()
    toml = (CONFIGS / "enterprise.toml").read_text("utf-8")
    cfg_path = tmp_path / "affidavit.toml"
    cfg_path.write_text(toml.replace("/srv/work/finance", str(granted)), "utf-8")
    cfg = config.load(cfg_path)
    before = statuses(ledger, cfg)
    (granted / "customers.csv").write_text("name,card\nbob,5425233430109903\n", "utf-8")
    path = Path(ledger.store.path)
    code = run(
        [
            "--ledger",
            str(path),
            "scan",
            str(granted),
            "--no-records",
            "--config",
            str(cfg_path),
            "--format",
            "json",
        ]
    )
    assert code == 1
    assert changed(before, statuses(ledger, cfg)) == {("posture", "PCI-DSS"): (WORKABLE, NOT_YET)}


def test_a_drill_older_than_90_days_turns_only_the_backup_item_yellow(
    session_ledger: Path, complete_ledger: Path, tmp_path: Path
) -> None:
    cfg = profile("enterprise")
    with opened(copy_ledger(complete_ledger, tmp_path / "fresh")) as lg:
        before = statuses(lg, cfg)
    with opened(copy_ledger(session_ledger, tmp_path / "old")) as lg:
        complete(lg, drill_at=NOON - timedelta(days=91))
        after = statuses(lg, cfg)
        item = next(
            i for i in score_checklist(cfg, gather(lg, cfg), TODAY) if i.id == "backup_rollback"
        )
    assert changed(before, after) == {("checklist", "backup_rollback"): (GREEN, YELLOW)}
    assert "91 days old" in item.reason


def test_the_same_drill_judged_91_days_later_is_stale(ledger: Ledger) -> None:
    cfg = profile("enterprise")
    evidence = gather(ledger, cfg)
    archive, drill = evidence.archive, evidence.drill
    assert archive is not None and drill is not None
    drilled = drill.time.date()

    def backup(day: date) -> tuple[str, str]:
        # An archive made that very day, so that only the drill's age counts.
        archived = replace(archive, time=datetime.combine(day, time(), UTC))
        item = next(
            i
            for i in score_checklist(cfg, replace(evidence, archive=archived), day)
            if i.id == "backup_rollback"
        )
        return item.status, item.reason

    assert backup(drilled + timedelta(days=90))[0] == GREEN
    status, reason = backup(drilled + timedelta(days=91))
    assert status == YELLOW and reason == "the last drill is 91 days old (over 90)"


def test_phi_outside_the_regulated_workspace_blocks_hipaa_only() -> None:
    cfg = profile("enterprise")
    base = Evidence()

    def phi(folder: str) -> Finding:
        return Finding(
            "f1", 7, "2026-11-20T00:00:00Z", "data", "mrn", "phi", f"{folder}/a.csv", folder, None
        )

    inside = score(cfg, replace(base, findings=(phi("/srv/work/clinical"),)))
    outside = score(cfg, replace(base, findings=(phi("/srv/work/finance"),)))
    assert changed(score(cfg, base), inside) == {}
    assert changed(score(cfg, base), outside) == {("posture", "HIPAA"): (WORKABLE, NOT_YET)}


def test_an_open_folder_policy_finding_turns_the_folder_items_yellow() -> None:
    cfg = profile("enterprise")
    outside = Finding(
        "f2",
        9,
        "2026-11-20T00:00:00Z",
        "policy",
        "outside_granted",
        None,
        "/home/ann/.ssh/id_rsa",
        None,
        None,
    )
    assert changed(score(cfg, Evidence()), score(cfg, Evidence(findings=(outside,)))) == {
        ("checklist", "folder_policy"): (GREEN, YELLOW),
        ("minimum", "folder_policy"): (MET, "not met"),
    }


def test_an_mcp_server_missing_from_the_inventory_makes_connectors_red() -> None:
    cfg = profile("enterprise")
    seen = Evidence(mcp_servers={"github": (12, 3), "google-drive": (14, 1)})
    item = next(i for i in score_checklist(cfg, seen, TODAY) if i.id == "connectors")
    assert item.status == RED and "'github' seen from seq 12" in item.reason
    assert "google-drive" not in item.reason


# -- attestations -----------------------------------------------------------------------------


def test_an_attestation_counts_until_it_expires(ledger: Ledger) -> None:
    cfg = profile("enterprise")
    attesting.attest(
        ledger,
        ledger_signer(ledger),
        "incident_response",
        by="Sam Security",
        note="drill page answered",
        days=10,
        now=NOON,
    )
    evidence = gather(ledger, cfg)

    def incident(day: date) -> tuple[str, str]:
        item = next(i for i in score_checklist(cfg, evidence, day) if i.id == "incident_response")
        return item.status, " ".join(item.evidence)

    assert incident(TODAY + timedelta(days=10))[0] == GREEN
    status, shown = incident(TODAY + timedelta(days=11))
    assert status == YELLOW and "lapsed" in shown


def test_an_attestation_is_signed_by_the_ledger_key(ledger: Ledger) -> None:
    seq = attesting.attest(
        ledger,
        ledger_signer(ledger),
        "memory_hygiene",
        by="Kim",
        note="memory reviewed",
        days=30,
        now=NOON,
    )
    payload = ledger.record(seq).payload
    assert payload is not None and payload["attestation"]["expires"] == "2026-12-26"
    verify_payload(payload, ledger.verifier)
    payload["attestation"]["by"] = "Someone Else"
    with pytest.raises(VerificationError):
        verify_payload(payload, ledger.verifier)


def test_unsigned_and_forged_attestations_are_ignored(ledger: Ledger) -> None:
    cfg = profile("enterprise")
    body = {
        "attestation": {
            "item": "training_opt_out",
            "by": "Mallory",
            "note": "trust me",
            "at": format_time(NOON),
            "expires": "2027-12-31",
        }
    }
    forged = sign_payload(body, Signer.generate(ORIGIN))
    seqs = ledger.append(
        [
            Record.create(Kind.ATTESTATION, "affidavit.attest", body, time=NOON),
            Record.create(Kind.ATTESTATION, "affidavit.attest", forged, time=NOON),
        ]
    )
    evidence = gather(ledger, cfg)
    assert set(seqs) <= set(evidence.unsigned)
    assert "training_opt_out" not in evidence.attestations


@pytest.mark.parametrize("item", ["folder_policy", "connectors", "governance_review", "nope"])
def test_items_the_ledger_scores_cannot_be_attested(item: str) -> None:
    with pytest.raises(InputError):
        attesting.check_item(item)


# -- the drill --------------------------------------------------------------------------------


def test_the_drill_restores_the_bytes_of_a_scratch_copy(ledger: Ledger) -> None:
    result = drilling.run_drill(ledger, ledger_signer(ledger), now=NOON)
    assert result.ok, result.detail
    assert result.update_seq is not None and result.restore_seq is not None
    update = ledger.record(result.update_seq)
    restore = ledger.record(result.restore_seq)
    drill = ledger.record(result.seq).payload
    assert (update.envelope.kind, update.envelope.source) == ("file.update", "affidavit.drill")
    assert restore.envelope.kind == "file.restore"
    assert drill is not None and drill["drill"]["ok"] is True
    assert drill["drill"]["restored_sha256"] == drill["drill"]["original_sha256"]
    verify_payload(drill, ledger.verifier)
    scratch = Path((update.payload or {})["file"]["path"]).parent
    assert scratch.name.startswith("affidavit-drill-") and not scratch.exists()


def test_a_failed_drill_is_recorded_and_turns_the_backup_item_red(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kw: object) -> int:
        raise InputError("the content store lost the bytes")

    monkeypatch.setattr(undo, "rollback", broken)
    result = drilling.run_drill(ledger, ledger_signer(ledger), now=NOON)
    assert not result.ok and "lost the bytes" in result.detail
    cfg = profile("enterprise")
    item = next(
        i for i in score_checklist(cfg, gather(ledger, cfg), TODAY) if i.id == "backup_rollback"
    )
    assert item.status == RED and f"seq {result.seq}" in item.reason


# -- posture staleness ------------------------------------------------------------------------


def test_the_posture_goes_stale_31_days_after_the_regime_facts() -> None:
    cfg = profile("enterprise")
    as_of = vendor.load().as_of
    for day, stale in ((as_of + timedelta(days=31), False), (as_of + timedelta(days=32), True)):
        rows = score_posture(cfg, Evidence(), score_checklist(cfg, Evidence(), day), day)
        assert {r.stale for r in rows} == {stale}
        for r in rows:
            (fresh,) = [c for c in r.conditions if c.text.startswith("vendor facts re-checked")]
            assert fresh.met is not stale and "affidavit facts verify --by NAME" in fresh.fix


# -- reviews ----------------------------------------------------------------------------------


def test_the_review_report_covers_the_session_and_the_changes(ledger: Ledger) -> None:
    cfg = profile("enterprise")
    first = min(ledger.record(s).envelope.time for s in range(3))
    period = reviewing.Period.parse(first[:7], TODAY)
    report = reviewing.build_report(ledger, cfg, period, TODAY)
    assert report.verified.ok, report.verified.detail
    activity = dict(report.activity["function"])
    assert activity["engineering"] >= 4  # the Read, Write and Edit of note.txt, and intents
    assert "claude-code" in dict(report.activity["agent"])
    rows = reviewing.report_rows(report)
    assert {r[0] for r in rows} >= {"period", "verify", "by function", "checklist", "posture"}
    # The next month: a card number was found since the sign-off.
    card_finding(ledger)
    later = reviewing.Period.of(period.end)
    report2 = reviewing.build_report(ledger, cfg, later, later.start)
    assert report2.previous is not None and report2.previous.period >= "2026-11"
    assert ("posture", "PCI-DSS", WORKABLE, NOT_YET) in report2.changes


def test_a_sign_off_is_signed_and_a_missed_month_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    cfg = profile("enterprise")
    with Ledger.create(path, origin=ORIGIN, key_path=key_of(path)) as lg:
        for day in (date(2026, 9, 10), date(2026, 10, 5), date(2026, 11, 20)):
            when = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            lg.append([Record.create(Kind.SESSION_START, "test.suite", {}, time=when)])
        signer = ledger_signer(lg)
        seqs = []
        for name, when in (("2026-09", datetime(2026, 9, 30, tzinfo=UTC)), ("2026-11", NOON)):
            report = reviewing.build_report(lg, cfg, reviewing.Period.parse(name, TODAY), TODAY)
            seqs.append(
                reviewing.sign_off(
                    lg,
                    signer,
                    report,
                    attendees=["Ann CISO", " "],
                    decisions=["carry on"],
                    now=when,
                )
            )
        with pytest.raises(InputError):
            reviewing.sign_off(lg, signer, report, attendees=[" "], decisions=[], now=NOON)
        payload = lg.record(seqs[1]).payload
        assert payload is not None and payload["review"]["attendees"] == ["Ann CISO"]
        assert payload["review"]["checklist"]["plan_dpa"] == GREEN
        verify_payload(payload, lg.verifier)
        payload["review"]["attendees"].append("Ghost")
        with pytest.raises(VerificationError):
            verify_payload(payload, lg.verifier)
        evidence = gather(lg, cfg)
    months = {m.period: m.status for m in reviewing.months(evidence, date(2026, 12, 2))}
    assert months == {"2026-09": "held", "2026-10": "missed", "2026-11": "held", "2026-12": "due"}
    minimum = {i.id: i.status for i in score_minimum(cfg, evidence, TODAY)}
    assert minimum["governance_review"] == MET
    late = {i.id: i.status for i in score_minimum(cfg, evidence, TODAY + timedelta(days=32))}
    assert late["governance_review"] == "not met"


# -- the commands -----------------------------------------------------------------------------


def cli(ledger: Path, *args: str) -> int:
    return run(["--ledger", str(ledger), *args])


@pytest.fixture
def ledger_file(session_ledger: Path, tmp_path: Path) -> Path:
    """The session alone: every record is from today, so no review month can be missed."""
    return copy_ledger(session_ledger, tmp_path)


def test_checklist_command_exits_1_on_a_red_item(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(
        ledger_file, "checklist", "--config", str(CONFIGS / "missing-dpa.toml"), "--format", "json"
    )
    out, err = capsys.readouterr()
    rows = {(r["section"], r["id"]): r for r in json.loads(out)}
    assert code == 1 and "plan_dpa" in err
    assert rows["checklist", "plan_dpa"]["status"] == RED
    assert "org.dpa_signed" in rows["checklist", "plan_dpa"]["reason"]
    assert len(rows) == 12


def test_posture_command_exits_1_only_for_findings(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enterprise = str(CONFIGS / "enterprise.toml")
    assert cli(ledger_file, "posture", "--config", enterprise, "--format", "csv") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "regime,status,reason,conditions,change,as_of,stale"
    assert len(out.strip().splitlines()) == 1 + len(REGIMES) and "FedRAMP,not yet" in out
    with opened(ledger_file) as lg:
        card_finding(lg)
    assert cli(ledger_file, "posture", "--config", enterprise, "--format", "jsonl") == 1
    out, err = capsys.readouterr()
    rows = {r["regime"]: r for r in map(json.loads, out.splitlines())}
    assert rows["PCI-DSS"]["status"] == NOT_YET and "PCI-DSS" in err
    assert any(not c["met"] for c in rows["PCI-DSS"]["conditions"])


def test_attest_drill_and_review_commands(
    ledger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli(
            ledger_file,
            "attest",
            "acceptable_use",
            "--by",
            "Ann",
            "--note",
            "v3 published",
            "--days",
            "30",
            "--json",
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["item"] == "acceptable_use"
    assert cli(ledger_file, "attest", "folder_policy", "--by", "Ann", "--note", "x") == 2
    assert cli(ledger_file, "drill", "--json") == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert cli(ledger_file, "review", "--decision", "no attendees") == 2
    enterprise = str(CONFIGS / "enterprise.toml")
    assert (
        cli(
            ledger_file,
            "review",
            "--config",
            enterprise,
            "--attendee",
            "Ann CISO",
            "--decision",
            "archive weekly",
            "--format",
            "jsonl",
        )
        == 0
    )
    out, err = capsys.readouterr()
    sections = {json.loads(line)["section"] for line in out.splitlines()}
    assert {"verify", "checklist", "posture", "change"} <= sections and "signed off" in err
    assert cli(ledger_file, "review", "list", "--config", enterprise, "--format", "json") == 0
    months = json.loads(capsys.readouterr().out)
    this_month = datetime.now(UTC).strftime("%Y-%m")
    assert {m["period"]: m["status"] for m in months}[this_month] == "held"


@pytest.mark.parametrize("command", ["posture", "checklist", "attest", "drill", "review"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([command, "--help"]) == 0
    assert "Exit" in capsys.readouterr().out or command == "attest"

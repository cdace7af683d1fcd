"""Issue 10: unknown is never green, every finding counts, imports never lengthen coverage.

The property test starts from a profile and evidence under which every checklist item is
green, every minimum item met and every regime but FedRAMP workable, then removes pieces of
evidence (any subset, drawn by Hypothesis) and checks that nothing resting on a removed
piece stays green or workable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit import config
from affidavit.capture.events import SOURCE_TRANSCRIPT
from affidavit.cli import run
from affidavit.compliance import facts as vendor
from affidavit.compliance import review as reviewing
from affidavit.compliance.checklist import GREEN, history_kept, score_checklist
from affidavit.compliance.gather import (
    Archive,
    Attestation,
    Drill,
    Evidence,
    Review,
    gather,
)
from affidavit.compliance.minimum import score_minimum
from affidavit.compliance.regimes import NOT_YET, WORKABLE, score_posture
from affidavit.config import Config
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record
from compliance_helpers import NOON, TODAY, replay_hooks
from conftest import ASSETS
from ledger_helpers import ORIGIN, key_of

SHEET = vendor.load()
COMPLETE = config.load(ASSETS / "config" / "enterprise.toml")


def att(item: str, days_ago: int = 1) -> Attestation:
    return Attestation(
        7, item, "Sam", "checked", NOON - timedelta(days=days_ago), TODAY + timedelta(days=60)
    )


EVIDENCE = Evidence(
    records=500,
    first_time=NOON - timedelta(days=400),
    first_live=NOON - timedelta(days=200),
    attestations={"incident_response": att("incident_response")},
    drill=Drill(3, NOON - timedelta(days=5), True, "restored"),
    archive=Archive(4, NOON - timedelta(days=3), "s3://audit"),
    reviews=(Review(5, NOON - timedelta(days=2), "2026-11", ("Ann",), ("go",)),),
    file_versions=40,
    versions_kept=40,
)

Removal = Callable[[Config, Evidence], tuple[Config, Evidence]]
# Each piece of evidence, how to remove it, and what must then not be green / workable.
REMOVALS: dict[str, tuple[Removal, set[str]]] = {
    "plan": (
        lambda c, e: (replace(c, plan=None), e),
        {"plan_dpa", "GDPR", "UK GDPR", "HIPAA", "CCPA/CPRA"},
    ),
    "dpa": (lambda c, e: (replace(c, dpa_signed=None), e), {"plan_dpa", "GDPR", "UK GDPR"}),
    "baa": (lambda c, e: (replace(c, baa_signed=None), e), {"HIPAA"}),
    "dpo": (lambda c, e: (replace(c, dpo_name=None, dpo_signed=None), e), {"GDPR", "UK GDPR"}),
    "training": (
        lambda c, e: (replace(c, training_opt_out=None), e),
        {"training_opt_out", "CCPA/CPRA"},
    ),
    "training_checked": (
        lambda c, e: (replace(c, training_opt_out_verified=None), e),
        {"training_opt_out", "CCPA/CPRA"},
    ),
    "folders": (
        lambda c, e: (replace(c, folders=()), e),
        {"folder_policy", "minimum:folder_policy", "PCI-DSS", "HIPAA", "SOC 2 Type II"},
    ),
    "connectors": (
        lambda c, e: (replace(c, connectors=(), connectors_declared=False), e),
        {"connectors", "SOC 2 Type II", "ISO 27001"},
    ),
    "memory": (
        lambda c, e: (
            replace(c, documents={k: v for k, v in c.documents.items() if k != "memory_hygiene"}),
            e,
        ),
        {"memory_hygiene", "ISO 27001"},
    ),
    "jml": (
        lambda c, e: (
            replace(
                c, documents={k: v for k, v in c.documents.items() if k != "joiner_mover_leaver"}
            ),
            e,
        ),
        {"joiner_mover_leaver", "SOC 2 Type II", "ISO 27001"},
    ),
    "aup": (
        lambda c, e: (
            replace(c, documents={k: v for k, v in c.documents.items() if k != "acceptable_use"}),
            e,
        ),
        {"minimum:acceptable_use"},
    ),
    "incident": (
        # Declared but unconfirmed is yellow; SOC 2 and ISO list yellow items, red blocks.
        lambda c, e: (c, replace(e, attestations={})),
        {"incident_response"},
    ),
    "drill": (lambda c, e: (c, replace(e, drill=None)), {"backup_rollback"}),
    "archive": (lambda c, e: (c, replace(e, archive=None)), {"backup_rollback"}),
    "live_history": (
        lambda c, e: (c, replace(e, first_live=NOON - timedelta(days=10))),
        {"backup_rollback", "minimum:version_history"},
    ),
    "versions": (
        lambda c, e: (c, replace(e, versions_kept=0)),
        {"backup_rollback", "minimum:version_history"},
    ),
    "review": (lambda c, e: (c, replace(e, reviews=())), {"minimum:governance_review"}),
    "facts_checked": (
        lambda c, e: (c, replace(e, facts_checks=())),
        set(),  # the shipped date alone is 25 days old on TODAY: still current
    ),
}


def scores(cfg: Config, evidence: Evidence, today: date = TODAY) -> dict[str, str]:
    items = score_checklist(cfg, evidence, today)
    out = {i.id: i.status for i in items}
    out |= {f"minimum:{i.id}": i.status for i in score_minimum(cfg, evidence, today)}
    rows = score_posture(cfg, evidence, items, today, facts=SHEET)
    return out | {r.regime: r.status for r in rows}


def good(status: str) -> bool:
    return status in (GREEN, "met", WORKABLE)


def test_the_complete_evidence_is_all_green() -> None:
    got = scores(COMPLETE, EVIDENCE)
    assert {k for k, v in got.items() if not good(v)} == {"FedRAMP"}, got


@given(st.sets(st.sampled_from(sorted(REMOVALS)), min_size=1))
def test_removing_evidence_never_leaves_what_rests_on_it_green(removed: set[str]) -> None:
    cfg, evidence = COMPLETE, EVIDENCE
    for name in removed:
        cfg, evidence = REMOVALS[name][0](cfg, evidence)
    got = scores(cfg, evidence)
    for name in removed:
        for key in REMOVALS[name][1]:
            assert not good(got[key]), (removed, key, got[key])


def test_stale_vendor_facts_leave_no_regime_workable() -> None:
    later = SHEET.as_of + timedelta(days=vendor.STALE_DAYS + 1)
    got = scores(COMPLETE, replace(EVIDENCE, first_live=NOON - timedelta(days=400)), later)
    assert not any(got[r] == WORKABLE for r in ("GDPR", "SOC 2 Type II", "PCI-DSS", "HIPAA"))
    check = vendor.FactsCheck(9, datetime.combine(later, datetime.min.time(), UTC), "Ann", "")
    checked = replace(EVIDENCE, facts_checks=(replace(check, sha256=SHEET.sha256),))
    assert scores(COMPLETE, checked, later)["GDPR"] == WORKABLE
    # A check of another facts file does not count for this one.
    other = replace(EVIDENCE, facts_checks=(replace(check, sha256="0" * 64),))
    assert scores(COMPLETE, other, later)["GDPR"] != WORKABLE


def test_nothing_is_green_on_the_starter_and_no_evidence() -> None:
    starter = config.parse(config.STARTER)
    got = scores(starter, Evidence())
    assert not any(good(v) for v in got.values()), got
    # With the ledger's own evidence, only what the ledger itself shows can be green.
    got = scores(starter, EVIDENCE)
    shown_by_ledger = {"backup_rollback", "minimum:version_history", "minimum:governance_review"}
    assert {k for k, v in got.items() if good(v)} <= shown_by_ledger, got


# -- against real ledgers ---------------------------------------------------------------------

HOOKS = ("session_start", "user_prompt_submit", "pre_tool_use_write", "post_tool_use_write")


def replayed(folder: Path) -> Path:
    """The real RonKat2008 hook payloads, one `affidavit hook` process per event."""
    return replay_hooks(folder, HOOKS)


def test_a_fresh_starter_and_a_replayed_session_show_no_green(tmp_path: Path) -> None:
    path = replayed(tmp_path)
    starter = config.parse(config.STARTER)
    with Ledger.open(path, key_path=key_of(path)) as lg:
        evidence = gather(lg, starter)
    today = datetime.now(UTC).date()
    got = scores(starter, evidence, today)
    assert not any(good(v) for v in got.values()), got


def test_one_hook_card_finding_turns_pci_not_yet(tmp_path: Path) -> None:
    """The finding exactly as the hook's forbidden_data rule writes it (type policy)."""
    path = tmp_path / "l.sqlite"
    with Ledger.create(path, origin=ORIGIN, key_path=key_of(path)) as lg:
        finding = {
            "id": "a1b2c3d4e5f6",
            "type": "policy",
            "rule": "forbidden_data",
            "path": "/srv/work/finance/cards.csv",
            "folder": "/srv/work/finance",
            "detail": "Write /srv/work/finance/cards.csv holds card data",
            "enforced": False,
            "data_class": "card",
            "masked": ["4111 **** **** 1111"],
            "matches": 1,
        }
        payload = {"finding": finding, "actor": {"user": "u"}, "agent": {"product": "cowork"}}
        lg.append([Record.create(Kind.POLICY_FINDING, "claude-code.hook", payload, time=NOON)])
        evidence = gather(lg, COMPLETE)
    (found,) = evidence.open_findings
    assert found.data_class == "card" and found.type == "policy"
    base = replace(EVIDENCE, findings=())
    assert scores(COMPLETE, base)["PCI-DSS"] == WORKABLE
    assert scores(COMPLETE, replace(base, findings=evidence.findings))["PCI-DSS"] == NOT_YET
    phi = replace(evidence.findings[0], data_class="phi", path="/srv/other/x.txt", folder=None)
    assert scores(COMPLETE, replace(base, findings=(phi,)))["HIPAA"] == NOT_YET


def test_importing_two_years_of_transcripts_changes_no_coverage_and_no_review_month(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.create(path, origin=ORIGIN, key_path=key_of(path)) as lg:
        lg.append([Record.create(Kind.SESSION_START, "claude-code.hook", {}, time=NOON)])
        before = gather(lg, COMPLETE)
        old = [
            Record.create(
                Kind.PROMPT_SUBMIT,
                SOURCE_TRANSCRIPT,
                {"prompt": {"text": "hi"}},
                time=NOON - timedelta(days=d),
            )
            for d in range(30, 730, 30)
        ]
        lg.append(old)
        after = gather(lg, COMPLETE)
    assert after.first_time is not None and after.first_time < NOON - timedelta(days=700)
    assert after.first_live == before.first_live == NOON
    assert history_kept(COMPLETE, after, TODAY) == history_kept(COMPLETE, before, TODAY)
    assert not history_kept(COMPLETE, after, TODAY)[0]
    assert reviewing.months(after, TODAY) == reviewing.months(before, TODAY)
    assert [m.period for m in reviewing.months(after, TODAY)] == ["2026-11"]
    start = reviewing.months(after, TODAY, start=date(2026, 9, 1))
    assert [m.status for m in start] == ["missed", "missed", "due"]


def test_facts_show_and_verify_record_a_signed_recheck(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.create(path, origin=ORIGIN, key_path=key_of(path)).close()
    cfg = tmp_path / "a.toml"
    cfg.write_text(config.STARTER, "utf-8")
    base = ["--ledger", str(path)]
    assert run([*base, "facts", "show", "--config", str(cfg), "--format", "csv"]) == 0
    shown = capsys.readouterr()
    assert "fedramp" in shown.out and "false" in shown.out.lower()
    assert "last checked" in shown.err
    assert run([*base, "facts", "verify", "--by", "Ann CISO", "--config", str(cfg)]) == 0
    assert "re-checked by Ann CISO" in capsys.readouterr().err
    with Ledger.open(path, key_path=key_of(path)) as lg:
        record = lg.record(lg.store.size() - 1)
        evidence = gather(lg, config.load(cfg))
    assert record.envelope.source == vendor.SOURCE
    assert record.payload is not None and record.payload["facts"]["sha256"] == SHEET.sha256
    (check,) = evidence.facts_checks
    assert check.by == "Ann CISO"
    today = datetime.now(UTC).date()
    assert vendor.last_checked(SHEET, evidence.facts_checks)[0] == max(today, SHEET.as_of)
    assert run([*base, "facts", "show", "--config", str(cfg), "--format", "csv"]) == 0
    assert "current: last checked" in capsys.readouterr().err


def test_an_admin_facts_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    mine = tmp_path / "vendor-facts.toml"
    text = vendor.load().facts  # the shipped keys, with FedRAMP now offered
    lines = ["as_of = 2026-11-20", 'source = "our own check"']
    for key, fact in text.items():
        holds = "true" if key == "fedramp" else str(fact.holds).lower()
        lines += [f"[facts.{key}]", f'statement = "{fact.statement}"', f"holds = {holds}"]
    mine.write_text("\n".join(lines) + "\n", "utf-8")
    cfg = tmp_path / "a.toml"
    cfg.write_text('[vendor]\nfacts_file = "vendor-facts.toml"\n', "utf-8")
    loaded = config.load(cfg)
    assert loaded.vendor_facts == mine
    sheet = vendor.load(loaded.vendor_facts)
    assert sheet.facts["fedramp"].holds and sheet.as_of == date(2026, 11, 20)
    complete = replace(COMPLETE, vendor_facts=mine)
    assert scores(complete, EVIDENCE)["FedRAMP"] == NOT_YET  # scores() pins the shipped sheet
    rows = score_posture(complete, EVIDENCE, score_checklist(complete, EVIDENCE, TODAY), TODAY)
    assert {r.regime: r.status for r in rows}["FedRAMP"] == WORKABLE
    mine.write_text("as_of = 2026-11-20\n[facts.fedramp]\nholds = true\n", "utf-8")
    with pytest.raises(Exception, match=r"vendor-facts.toml: field facts.soc2_type2.statement"):
        vendor.load(mine)

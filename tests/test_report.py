"""The security review pack: HTML, PDF, Markdown, OSCAL and OCSF from one real ledger.

The ledger is the real RonKat2008/agent-verdict hook session replayed through ``affidavit
hook``, plus file actions spread over several weeks (so the charts have weeks to show), the
evidence a complete deployment records (an attestation, a rollback drill, an archive
snapshot, a review sign-off) and one card-number finding. The profiles are
``assets/config/*.toml``; ``missing-dpa.toml`` changes one fact. The OSCAL output is
validated against NIST's own published schema, read in place from
``../shared/vectors/oscal/`` (its README there says where it comes from), and loaded with
compliance-trestle's OSCAL models, so a clone without ``../shared/`` still checks it
against code that is not ours.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pypdf
import pytest
import regex

from affidavit.cli import run
from affidavit.compliance import attest as attesting
from affidavit.compliance import drill as drilling
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record, format_time
from affidavit.report.charts import weekly_chart
from affidavit.report.html import render_html
from affidavit.report.markdown import render_markdown
from affidavit.report.model import Report, build_report, monday
from affidavit.report.oscal import (
    OCSF_VERSION,
    OSCAL_VERSION,
    ocsf_compliance_findings,
    oscal_assessment_results,
)
from affidavit.report.pack import write_pack
from affidavit.report.pdf import render_pdf
from affidavit.report.wording import summary
from affidavit.signing import ledger_signer, sign_payload
from compliance_helpers import CONFIGS, NOON, TODAY, profile, replay_hooks, sign_off_month
from conftest import shared_path
from ledger_helpers import ORIGIN, key_of

# WeasyPrint warns when Debian's libharfbuzz-subset0 is missing (it is optional today and
# not on a new machine of this kind); the PDF is the same without it.
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset:DeprecationWarning")

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
SCHEMA_SHA256 = "d8faf5a7510d66c911c5f88e6875d52e7e8223fb58b2283f1f095366369296f9"
# Weekly file actions added to the ledger: (function folder, days before TODAY, count).
SPREAD = (("finance", 50, 3), ("finance", 22, 2), ("clinical", 22, 4), ("finance", 1, 1))


def spread_records() -> list[Record]:
    return [
        Record.create(
            Kind.FILE_UPDATE,
            "test.suite",
            {"file": {"path": f"/srv/work/{folder}/plan-{i}.md"}, "agent": {"product": "cowork"}},
            time=NOON - timedelta(days=days, minutes=i),
        )
        for folder, days, count in SPREAD
        for i in range(count)
    ]


def complete(ledger: Ledger) -> None:
    """What a complete deployment has recorded by TODAY, and one open card finding."""
    signer = ledger_signer(ledger)
    attesting.attest(
        ledger,
        signer,
        "incident_response",
        by="Sam Security",
        note="paged the on-call from the runbook",
        days=90,
        now=NOON - timedelta(days=1),
    )
    drilling.run_drill(ledger, signer, now=NOON - timedelta(days=5))
    archive = {"archive": {"at": format_time(NOON), "location": "s3://audit/ledger.sqlite"}}
    ledger.append(
        [
            Record.create(
                Kind.ATTESTATION,
                "affidavit.archive",
                sign_payload(archive, signer),
                time=NOON - timedelta(days=3),
            )
        ]
    )
    sign_off_month(ledger, signer)
    finding = {
        "type": "data",
        "data_class": "card",
        "masked": "4111 **** **** 1111",
        "where": "/srv/work/finance/cards.csv:2",
        "folder": "/srv/work/finance",
    }
    payload = {"finding": finding, "file": {"path": "/srv/work/finance/cards.csv"}}
    ledger.append([Record.create(Kind.POLICY_FINDING, "affidavit", payload, time=NOON)])
    ledger.seal()


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = replay_hooks(tmp_path_factory.mktemp("report"))
    with Ledger.open(path, key_path=key_of(path)) as ledger:
        ledger.append(spread_records())
        complete(ledger)
    return path


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    with Ledger.open(ledger_path, key_path=key_of(ledger_path)) as lg:
        yield lg


def report_for(ledger: Ledger, name: str = "enterprise") -> Report:
    return build_report(ledger, profile(name), TODAY, now=NOW)


@pytest.fixture(scope="module")
def report(ledger_path: Path) -> Report:
    with Ledger.open(ledger_path, key_path=key_of(ledger_path)) as lg:
        return report_for(lg)


@pytest.fixture(scope="module")
def pdf_text(report: Report, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[str]]:
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    render_pdf(render_html(report), path)
    data = path.read_bytes()
    return data, [page.extract_text() for page in pypdf.PdfReader(path).pages]


def schema_path() -> Path:
    """NIST's OSCAL 1.2.1 assessment-results schema, beside the checkout (never copied in)."""
    return shared_path("vectors", "oscal", "oscal_assessment-results_schema.json")


def oscal_errors(document: dict[str, Any]) -> list[str]:
    """NIST's schema, with ``pattern`` evaluated by ``regex`` (it knows ``\\p{L}``)."""
    schema = json.loads(schema_path().read_bytes())

    def pattern(
        validator: Any, patrn: str, instance: object, schema: object
    ) -> Iterator[jsonschema.ValidationError]:
        if isinstance(instance, str) and not regex.search(patrn, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    cls = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": pattern})
    validator = cls(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


def ocsf_by_control(report: Report) -> dict[str, dict[str, Any]]:
    return {e["compliance"]["control"]: e for e in ocsf_compliance_findings(report)}


# -- what the pack says -----------------------------------------------------------------------


def test_the_report_reads_the_real_session_and_the_spread(report: Report) -> None:
    assert report.verified.ok, report.verified.detail
    assert report.checkpoint is not None and report.checkpoint.size == report.records
    assert report.weeks[-1] == monday(TODAY) and len(report.weeks) == 8
    functions = {s.name: s for s in report.by_function}
    assert functions["finance"].total == 6 and functions["clinical"].total == 4
    assert sum(functions["finance"].weekly) == 6
    assert functions["finance"].weekly[report.weeks.index(monday(TODAY - timedelta(22)))] == 2
    assert "engineering" in functions  # the fixture session's folder is declared as such
    assert not any("affidavit-drill" in s.name for s in report.by_folder)
    assert {m.period: m.status for m in report.months}["2026-11"] == "held"
    (card,) = [f for f in report.findings if f.data_class == "card"]
    assert card.open


def test_html_shows_every_section_with_its_status(report: Report) -> None:
    page = render_html(report)
    for row in report.posture:
        assert re.search(
            rf"<b>{re.escape(row.regime)}</b></td><td><span class=\"badge \w+\">"
            rf"{row.status}</span>",
            page,
        ), row.regime
    for item in (*report.checklist, *report.minimum):
        assert f"<b>{item.title}</b>" in page and f">{item.status}</span>" in page
    assert "PCI-DSS" in page and ">not yet</span>" in page
    (card,) = [f for f in report.findings if f.data_class == "card"]
    assert f"<code>{card.id}</code>" in page and "data/card" in page
    assert report.checkpoint is not None
    assert report.checkpoint.root in page and f"{ORIGIN}\n{report.checkpoint.size}\n" in page
    assert "Ann CISO, Bob IT" in page and "keep FedRAMP workloads off the agents" in page
    assert page.count("<svg") == 2 and "<rect" in page


def test_html_is_self_contained(report: Report) -> None:
    page = render_html(report)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert "url(" not in page and "@import" not in page
    # Document references stay plain text in the body.
    assert "https://intranet.example/policies/ai-aup" in page


def test_markdown_has_the_same_rows(report: Report) -> None:
    text = render_markdown(report)
    for row in report.posture:
        assert f"| {row.regime} | {row.status} |" in text
    for item in (*report.checklist, *report.minimum):
        assert f"| {item.title} | {item.status} |" in text
    assert report.checkpoint is not None and report.checkpoint.note.strip() in text
    assert "| finance | 6 |" in text


def test_pdf_renders_every_section(pdf_text: tuple[bytes, list[str]], report: Report) -> None:
    data, pages = pdf_text
    assert data.startswith(b"%PDF-")
    assert 4 <= len(pages) <= 10
    text = " ".join(" ".join(pages).split())
    for row in report.posture:
        assert row.regime in text
    for heading in (
        "Regime posture",
        "Deployment checklist",
        "Mid-market minimum",
        "Activity",
        "Findings",
        "Governance review history",
        "Ledger verification",
    ):
        assert heading in text
    assert "workable" in text and "not yet" in text and f"page 1 of {len(pages)}" in text


def test_laying_out_the_pdf_fetches_nothing(tmp_path: Path) -> None:
    for url in ("http://example.com/logo.png", "file:///etc/hostname"):
        with pytest.raises(InputError, match="outside resource"):
            render_pdf(f'<p>x</p><img src="{url}">', tmp_path / "x.pdf")


def test_the_pdf_needs_the_report_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    with pytest.raises(InputError, match=r"affidavit\[report\]"):
        render_pdf("<p>x</p>", tmp_path / "x.pdf")


# -- OSCAL and OCSF ---------------------------------------------------------------------------


def test_the_schema_is_nists_unchanged() -> None:
    data = schema_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    schema = json.loads(data)
    assert schema["$id"] == f"http://csrc.nist.gov/ns/oscal/{OSCAL_VERSION}/oscal-ar-schema.json"


def test_oscal_validates_against_the_nist_schema(report: Report) -> None:
    document = oscal_assessment_results(report)
    assert oscal_errors(document) == []
    ar = document["assessment-results"]
    assert ar["metadata"]["oscal-version"] == OSCAL_VERSION
    (result,) = ar["results"]
    expected = len(report.posture) + len(report.checklist) + len(report.minimum) + 1
    assert len(result["findings"]) == expected
    targets = {f["target"]["target-id"]: f["target"]["status"] for f in result["findings"]}
    assert targets["affidavit-posture-pci-dss"] == {"state": "not-satisfied", "reason": "fail"}
    assert targets["affidavit-checklist-plan_dpa"] == {"state": "satisfied", "reason": "pass"}
    assert targets["affidavit-ledger-verification"]["state"] == "satisfied"
    observations = {o["uuid"]: o for o in result["observations"]}
    for f in result["findings"]:
        for rel in f["related-observations"]:
            assert rel["observation-uuid"] in observations
    evidence = json.dumps(result["observations"])
    assert re.search(r"drill seq \d+", evidence) and "review.signoff seq" in evidence
    (resource,) = [r for r in ar["back-matter"]["resources"] if "base64" in r]
    assert report.checkpoint is not None
    assert base64.b64decode(resource["base64"]["value"]).decode() == report.checkpoint.note
    assert ar["import-ap"]["href"].lstrip("#") in {
        r["uuid"] for r in ar["back-matter"]["resources"]
    }
    assert oscal_assessment_results(report) == document  # the same report, the same document


def test_oscal_loads_with_the_trestle_models(report: Report, tmp_path: Path) -> None:
    """NIST OSCAL models we did not write (compliance-trestle) accept the written file."""
    from trestle.oscal.assessment_results import AssessmentResults

    write_pack(report, tmp_path / "pack", pdf=False)
    path = tmp_path / "pack" / "oscal-assessment-results.json"
    loaded = AssessmentResults.oscal_read(path)
    assert loaded is not None
    assert loaded.metadata.oscal_version.root.root == OSCAL_VERSION
    (result,) = loaded.results
    assert result.findings is not None and len(result.findings) == len(
        oscal_assessment_results(report)["assessment-results"]["results"][0]["findings"]
    )
    # The models are strict enough to refuse a broken document.
    broken = json.loads(path.read_text("utf-8"))
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "ok"
    path.write_text(json.dumps(broken), "utf-8")
    with pytest.raises(Exception, match="state"):
        AssessmentResults.oscal_read(path)


def test_the_schema_check_bites(report: Report) -> None:
    document = oscal_assessment_results(report)
    result = document["assessment-results"]["results"][0]
    result["findings"][0]["target"]["status"]["state"] = "workable"
    result["observations"][0]["methods"] = []
    del document["assessment-results"]["import-ap"]
    errors = oscal_errors(document)
    assert len(errors) >= 3 and any("import-ap" in e for e in errors)
    result["findings"][0]["target"]["status"]["state"] = "satisfied"
    result["findings"][0]["target"]["target-id"] = "9 not a token"
    assert any("does not match" in e for e in oscal_errors(document))


def test_ocsf_compliance_findings_carry_the_required_fields(report: Report) -> None:
    events = list(ocsf_compliance_findings(report))
    assert len(events) == len(report.posture) + len(report.checklist) + len(report.minimum) + 1
    for e in events:
        assert (e["class_uid"], e["category_uid"], e["activity_id"]) == (2003, 2, 1)
        assert e["type_uid"] == 200301 and e["class_name"] == "Compliance Finding"
        assert e["severity_id"] in {1, 2, 3, 4, 5} and isinstance(e["time"], int)
        assert e["time"] == int(NOW.timestamp() * 1000)
        assert e["metadata"]["version"] == OCSF_VERSION
        assert e["metadata"]["product"]["name"] == "Affidavit"
        info = e["finding_info"]
        assert info["uid"] and info["title"] and info["types"]
        c = e["compliance"]
        assert c["standards"] and c["requirements"] and c["control"]
        assert (c["status_id"], c["status"]) in {(1, "Pass"), (2, "Warning"), (3, "Fail")}
        assert e["remediation"]["desc"]
        json.dumps(e)
    by = ocsf_by_control(report)
    pci = by["affidavit-posture-pci-dss"]
    assert (pci["compliance"]["status_id"], pci["severity_id"]) == (3, 4)
    assert by["affidavit-posture-fedramp"]["severity_id"] == 2
    assert by["affidavit-ledger-verification"]["compliance"]["status_id"] == 1
    uids = {
        f["uuid"]
        for f in oscal_assessment_results(report)["assessment-results"]["results"][0]["findings"]
    }
    assert {e["finding_info"]["uid"] for e in events} == uids


# -- one fact changes every output ------------------------------------------------------------


def test_removing_the_dpa_changes_the_same_rows_everywhere(
    ledger: Ledger, report: Report, tmp_path: Path
) -> None:
    changed = report_for(ledger, "missing-dpa")
    before = {r.regime: r.status for r in report.posture} | {
        i.id: i.status for i in report.checklist
    }
    after = {r.regime: r.status for r in changed.posture} | {
        i.id: i.status for i in changed.checklist
    }
    assert {k for k in before if before[k] != after[k]} == {"GDPR", "UK GDPR", "plan_dpa"}

    for r, gdpr, plan in ((report, "workable", "green"), (changed, "conditional", "red")):
        page = render_html(r)
        assert re.search(rf"<b>GDPR</b></td><td><span class=\"badge \w+\">{gdpr}<", page)
        assert re.search(rf"Plan tier and DPA</b>.*?>{plan}</span>", page, re.DOTALL)
        text = render_markdown(r)
        assert f"| GDPR | {gdpr} |" in text and f"| UK GDPR | {gdpr} |" in text
        assert f"| Plan tier and DPA | {plan} |" in text
        findings = oscal_assessment_results(r)["assessment-results"]["results"][0]["findings"]
        states = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in findings}
        want = "satisfied" if gdpr == "workable" else "not-satisfied"
        assert states["affidavit-posture-gdpr"] == states["affidavit-posture-uk-gdpr"] == want
        assert oscal_errors(oscal_assessment_results(r)) == []
        by = ocsf_by_control(r)
        assert by["affidavit-posture-gdpr"]["compliance"]["status_id"] == (
            1 if gdpr == "workable" else 2
        )
        assert by["affidavit-checklist-plan_dpa"]["compliance"]["status_id"] == (
            1 if plan == "green" else 3
        )
    pdf = tmp_path / "changed.pdf"
    render_pdf(render_html(changed), pdf)
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages).split())
    assert "conditional" in text and "org.dpa_signed = (not set)" in text


# -- charts and the pack on disk --------------------------------------------------------------


def test_the_chart_draws_one_bar_per_week_with_actions() -> None:
    from affidavit.report.model import Series

    weeks = tuple(monday(TODAY) - timedelta(weeks=3 - i) for i in range(4))
    svg = weekly_chart(
        weeks, (Series("finance", (2, 0, 5, 1), 8), Series("hr", (0, 0, 0, 3), 3)), "x"
    )
    assert svg.count("<rect") == 4 and ">5</text>" in svg and ">8</text>" in svg
    assert "No file action" in weekly_chart(weeks, (), "folder")


def test_write_pack_writes_every_file_or_none(report: Report, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    files = write_pack(report, out, pdf=False)
    assert sorted(f.name for f in files) == sorted(
        [
            "report.html",
            "report.md",
            "worklist.md",
            "oscal-assessment-results.json",
            "ocsf-compliance-findings.jsonl",
        ]
    )
    lines = (out / "ocsf-compliance-findings.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(x)["class_uid"] for x in lines] == [2003] * len(lines)
    with pytest.raises(InputError, match="not an empty folder"):
        write_pack(report, out, pdf=False)
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]  # no temporary folder left behind
    write_pack(report, out, pdf=False, force=True)


def test_cli_report_writes_the_pack(
    ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "review"
    args = ["--ledger", str(ledger_path), "report", "--config", str(CONFIGS / "enterprise.toml")]
    assert run([*args, "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verified"] is True and len(summary["files"]) == 6
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert run([*args, "--out", str(out), "--no-pdf"]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert run([*args, "--out", str(out), "--no-pdf", "--force"]) == 0
    assert not (out / "report.pdf").exists()


# -- issue 10: a pack a client's reviewer can trust --------------------------------------------


def copied(source: Path, folder: Path) -> Path:
    """A consistent copy of a ledger and its key (SQLite's backup API)."""
    import sqlite3

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


def test_report_seals_first_and_cites_the_checkpoint_covering_its_own_sign_off(
    ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copied(ledger_path, tmp_path / "l")
    with Ledger.open(path, key_path=key_of(path)) as lg:
        lg.append([Record.create(Kind.SESSION_START, "test.suite", {}, time=NOON)])  # unsealed
    out = tmp_path / "pack"
    args = ["--ledger", str(path), "report", "--config", str(CONFIGS / "enterprise.toml")]
    assert run([*args, "--out", str(out), "--no-pdf", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with Ledger.open(path, key_path=key_of(path)) as lg:
        size = lg.store.size()
        latest = lg.latest_checkpoint()
        own = lg.record(size - 1)
    assert own.envelope.source == "affidavit.report"  # the report's own sign-off, signed
    assert own.payload is not None and "signature" in own.payload
    assert latest is not None and latest[0] == size == summary["checkpoint_size"]
    text = (out / "report.md").read_text("utf-8")
    assert f"tree size {size} (covers all {size} records)" in text
    assert f"({size} records)" in text
    assert latest[1].rstrip("\n") in text


def test_the_client_pack_gives_no_admin_instructions_and_the_worklist_does(
    report: Report, tmp_path: Path
) -> None:
    write_pack(report, tmp_path / "pack", pdf=False)
    client = (tmp_path / "pack" / "report.md").read_text("utf-8")
    page = (tmp_path / "pack" / "report.html").read_text("utf-8")
    worklist = (tmp_path / "pack" / "worklist.md").read_text("utf-8")
    for text in (client, page):
        assert "What would change it" not in text and "To change" not in text
        assert "affidavit attest" not in text and "= { ref, reviewed }" not in text
    not_green = [r for r in report.posture if r.status != "workable"]
    assert not_green  # PCI-DSS (the open card finding) and FedRAMP
    for row in not_green:
        assert f"| posture | {row.regime} | {row.status} | {row.change} |" in worklist
    assert "affidavit findings resolve" in worklist


def commands_in(text: str) -> list[list[str]]:
    """Every ``affidavit ...`` command quoted in a text (backticks or <code>)."""
    found = re.findall(r"(?:`|<code>)(affidavit [^`<]+)(?:`|</code>)", text)
    return [c.split()[1:] for c in found]


def check_command(words: list[str]) -> None:
    """The command path exists and each --option it names is in that command's --help."""
    from affidavit.cli import load

    group = load()
    ctx_words = [w for w in words if not w.startswith("-")]
    command: Any = group
    for w in ctx_words:
        sub = getattr(command, "commands", {}).get(w)
        if sub is None:
            break
        command = sub
    assert command is not group, words
    names = {o for p in command.params for o in getattr(p, "opts", [])}
    for w in words:
        if w.startswith("--"):
            assert w.split("=")[0] in names, (words, w)


def test_every_command_the_pack_prints_exists(report: Report, tmp_path: Path) -> None:
    write_pack(report, tmp_path / "pack", pdf=False)
    seen = []
    for name in ("report.md", "report.html", "worklist.md"):
        for words in commands_in((tmp_path / "pack" / name).read_text("utf-8")):
            check_command(words)
            seen.append(" ".join(words))
    assert any(s.startswith("verify --from") for s in seen)
    assert "--from-checkpoint" not in " ".join(seen)
    with pytest.raises(AssertionError):
        check_command(["verify", "--from-checkpoint", "x"])  # the check bites


def test_capture_gaps_and_the_file_appendix_are_in_the_pack(
    ledger_path: Path, tmp_path: Path
) -> None:
    path = copied(ledger_path, tmp_path / "l")
    with Ledger.open(path, key_path=key_of(path)) as lg:
        gap = {"error": {"message": "hook payload was not JSON", "stage": "parse"}}
        (seq,) = lg.append([Record.create(Kind.CAPTURE_ERROR, "claude-code.hook", gap, time=NOON)])
        built = report_for(lg)
    text = render_markdown(built)
    assert f"| capture.error | {seq} |" in text and "hook payload was not JSON" in text
    assert ("Capture gaps", "1 recorded") in summary(built)
    appendix = text.split("## Appendix: who did what to which file, when", 1)[1]
    assert "### Function: finance (6 actions)" in appendix
    assert "### Folder: /srv/work/finance (6 actions)" in appendix
    assert "/srv/work/finance/plan-0.md" in appendix and "| cowork |" in appendix
    page = render_html(built)
    assert "Appendix: who did what to which file, when" in page and "plan-0.md" in page


def test_the_pdf_checkpoint_is_verbatim_and_unwrapped(
    pdf_text: tuple[bytes, list[str]], report: Report
) -> None:
    _, pages = pdf_text
    assert report.checkpoint is not None
    lines = {line.strip() for page in pages for line in page.splitlines()}
    for line in report.checkpoint.note.rstrip("\n").splitlines():
        if line:
            assert line in lines, line  # each line whole, on one line: copyable
    assert "--from-checkpoint" not in " ".join(pages)

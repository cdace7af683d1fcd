"""The compliance dashboard's checklist and regimes, scored per device from the records the
endpoints shipped to a real collector (uvicorn, PostgreSQL), with the organisation's
affidavit.toml given to the console; unknown is never green.

Two laptops: ``ready`` recorded signed attestations, a real rollback drill, an archive
snapshot and a vendor-facts check; ``bare`` recorded only work, including a call to an MCP
server the inventory lacks, an open folder-policy finding, and an attestation signed with a
key that is not its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from affidavit import shipping
from affidavit.compliance import facts
from affidavit.compliance.attest import attest
from affidavit.compliance.drill import run_drill
from affidavit.ledger import Ledger
from affidavit.note import Signer
from affidavit.record import Kind, Record
from affidavit.signing import sign_payload
from collector_helpers import ORIGIN, Collector
from console_helpers import Client
from ledger_helpers import new_ledger
from pg_helpers import Schemas

READY, BARE = "laptop.example.com/ready", "laptop.example.com/bare"
NOW = datetime.now(UTC).replace(microsecond=0)


def _policy(path: Path) -> Path:
    day = (NOW - timedelta(days=20)).date().isoformat()
    path.write_text(
        f"""[org]
plan = "enterprise"
dpa_signed = {day}
baa_signed = {day}
training_opt_out = true
training_opt_out_verified = {day}
dpo_signoff = {{ name = "Dana Officer", date = {day} }}

[[folders]]
path = "/srv/work"
function = "engineering"
forbidden_data = ["card"]

[[connectors]]
name = "Google Drive"
scopes = ["drive.readonly"]
owner = "IT"
reviewed = {day}

[documents]
memory_hygiene = {{ ref = "https://intranet.example/memory", reviewed = {day} }}
joiner_mover_leaver = {{ ref = "https://intranet.example/jml", reviewed = {day} }}

[incident_response]
name = "Security on-call"
channel = "#security-incidents"
"""
    )
    return path


def _work(tool: str, hours: int) -> Record:
    return Record.create(
        Kind.TOOL_CALL,
        "claude-code",
        {"actor": {"user": "bob"}, "agent": {"session_id": "s-bob", "tool": tool}},
        time=NOW - timedelta(hours=hours),
    )


def _ready(ledger: Ledger) -> None:
    signer = ledger.require_signer()
    ledger.append([_work("Read", 30)])
    day = NOW - timedelta(days=1)
    attest(ledger, signer, "incident_response", by="Ann CISO", note="paged on-call, answered",
           days=90, now=day)  # fmt: skip
    attest(ledger, signer, "version_history", by="Bob IT", note="OneDrive keeps 180 days",
           days=90, now=day)  # fmt: skip
    assert run_drill(ledger, signer, now=day).ok
    archive = {"archive": {"at": "x", "location": "s3://audit/2026"}, "actor": {}}
    ledger.append(
        [Record.create(Kind.ATTESTATION, "affidavit", sign_payload(archive, signer), time=day)]
    )
    facts.verify(ledger, signer, facts.load(), by="Ann CISO", note="re-read", now=day)


def _bare(ledger: Ledger) -> None:
    forged = Signer.generate(BARE)  # not the key the laptop enrolled with
    ledger.append([_work("mcp__github__create_issue", 5), _work("Edit", 4)])
    finding = {"id": "f-bare-1", "type": "policy", "rule": "deny", "path": "/srv/work/hr/x.csv"}
    ledger.append(
        [
            Record.create(
                Kind.POLICY_FINDING,
                "affidavit",
                {"finding": finding},
                time=NOW - timedelta(hours=3),
            )
        ]
    )
    attest(ledger, forged, "incident_response", by="Mallory", note="trust me", days=90,
           now=NOW - timedelta(hours=2))  # fmt: skip


@pytest.fixture(scope="module")
def org(pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    home = tmp_path_factory.mktemp("console-posture")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving(env={"AFFIDAVIT_CONSOLE_POLICY": str(_policy(home / "affidavit.toml"))}):
        for origin, make in ((READY, _ready), (BARE, _bare)):
            folder = home / origin.rsplit("/", 1)[1]
            folder.mkdir()
            token = c.token("device", folder.name)
            with new_ledger(folder, origin=origin) as ledger:
                make(ledger)
                ledger.seal()
                shipping.enrol(ledger, folder / "ledger.sqlite", c.url, token)
                shipping.ship(ledger, folder / "ledger.sqlite", token)
        c.cli("seal")
        yield c


@pytest.fixture(scope="module")
def page(org: Collector) -> Iterator[str]:
    client = Client(org)
    assert client.sign_in(org.token("admin", "posture-admin")).status_code == 303
    text = client.http.get("/console/compliance").text
    import os

    if os.environ.get("DUMP_PAGE"):
        Path(os.environ["DUMP_PAGE"]).write_text(text)
    yield text
    client.http.close()


def _row(page: str, table: str, title: str) -> str:
    body = page.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
    found = re.search(rf'<th scope="row">{re.escape(title)}</th>(.*?)</tr>', body, re.S)
    assert found, f"no row {title!r} in {table}"
    return found[1]


def _status(row: str) -> str:
    found = re.search(r'<td class="status [a-z-]+">([a-z ]+)</td>', row)
    assert found
    return found[1]


def test_the_checklist_has_eight_items_and_the_regimes_eight(page: str) -> None:
    for table in ("checklist", "regimes"):
        body = page.split(f'<table id="{table}">', 1)[1].split("</table>", 1)[0]
        assert body.count('<th scope="row">') == 8, table


def test_a_device_with_evidence_meets_what_it_backs_and_the_org_shows_the_worst(
    page: str,
) -> None:
    # Backup: the ready laptop's drill, archive and history attestation meet it; the bare one
    # recorded no drill: missing evidence, never met, and the organisation is as its worst.
    backup = _row(page, "checklist", "Backup and rollback procedures tested")
    assert _status(backup) == "missing evidence"
    assert f"<strong>{BARE}</strong>" in backup and "no rollback drill recorded" in backup
    assert f"<strong>{READY}</strong>" not in backup
    # Incident response: attested on the ready laptop (met); the bare laptop's attestation
    # is signed with another key, so it does not count (declared, not confirmed: partly met).
    incident = _row(page, "checklist", "Incident-response contact")
    assert _status(incident) == "partly met"
    assert f"<strong>{BARE}</strong>" in incident and READY not in incident
    # Connectors: the bare laptop called an MCP server the inventory lacks, linked.
    connectors = _row(page, "checklist", "Connector inventory and OAuth scopes")
    assert _status(connectors) == "not met" and "&#39;github&#39;" in connectors
    assert re.search(
        r'<a href="/console/record/\d+">record \d+</a> \(\d{4}-\d\d-\d\d\)', connectors
    )
    # Folder policy: the bare laptop's open finding.
    folders = _row(page, "checklist", "Workspace folder policy")
    assert _status(folders) == "partly met" and "f-bare-1" in folders
    # What the policy declares with its dates holds for every device.
    assert _status(_row(page, "checklist", "Plan tier and DPA")) == "met"


def test_evidence_links_lead_to_the_signed_records(org: Collector, page: str) -> None:
    ready = page.split(f"<strong>{READY}</strong> · ", 1)[1].split("</details>", 1)[0]
    incident = ready.split("Incident-response contact", 1)[1].split("</tr>", 1)[0]
    assert '<td class="status met">met</td>' in incident
    assert "attestation seq" in incident and "by Ann CISO" in incident
    org_seq = int(re.search(r'href="/console/record/(\d+)"', incident)[1])  # type: ignore[index]
    ((kind,),) = org.sql("SELECT kind FROM entries WHERE org_seq = %s", org_seq)
    assert kind == "attestation"
    backup = ready.split("Backup and rollback procedures tested", 1)[1].split("</tr>", 1)[0]
    assert '<td class="status met">met</td>' in backup
    assert "drill seq" in backup and "archive seq" in backup
    assert "does not hold the endpoint&#39;s snapshot store" in backup
    bare = page.split(f"<strong>{BARE}</strong> · ", 1)[1].split("</details>", 1)[0]
    summary = bare.split("</summary>", 1)[0]
    assert "1 record(s) of a signed kind without the device's signature, ignored" in summary
    assert 'href="/console/record/' in summary


def test_the_regimes_follow_the_devices(page: str) -> None:
    assert _status(_row(page, "regimes", "FedRAMP")) == "not yet"
    soc2 = _row(page, "regimes", "SOC 2 Type II")
    assert _status(soc2) in ("conditional", "not yet") and f"<strong>{BARE}</strong>" in soc2
    # GDPR rests on the declared facts and the vendor facts the ready laptop re-checked;
    # the bare laptop never re-checked them, so it stays conditional there.
    gdpr = _row(page, "regimes", "GDPR")
    assert READY not in gdpr.split(f"<strong>{BARE}</strong>")[0]


def test_a_finding_resolved_in_the_console_no_longer_counts(org: Collector, page: str) -> None:
    assert _status(_row(page, "checklist", "Workspace folder policy")) == "partly met"
    admin = Client(org)
    try:
        assert admin.sign_in(org.token("admin", "resolver")).status_code == 303
        csrf = admin.csrf("/console/compliance")
        r = admin.http.post(
            "/console/findings/resolve",
            data={"csrf": csrf, "finding": "f-bare-1", "reason": "the file was moved back"},
        )
        assert r.status_code == 303
        after = admin.http.get("/console/compliance").text
    finally:
        admin.http.close()
    assert _status(_row(after, "checklist", "Workspace folder policy")) == "met"

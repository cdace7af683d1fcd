"""The console in a real browser: Playwright driving Debian's Chromium against a real
collector (uvicorn, PostgreSQL) and a real OpenID Connect provider on loopback.

Signs in through the provider's redirect flow, filters the timeline to one folder and person,
opens a record and reads the verdict the page computed with WebCrypto, tampers with the row
in PostgreSQL and reads "not verified", records a governance review, downloads the view as
CSV and as an evidence pack that ``affidavit verify-pack`` proves, and checks the manners
(keyboard, no JavaScript, tablet width, nothing fetched from elsewhere). Screenshots go to
the test's tmp folder, and the README's three to ``docs/screenshots/`` when
``AFFIDAVIT_SCREENSHOTS=1``.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector_helpers import ORIGIN, Collector
from console_helpers import seed
from ledger_helpers import affidavit
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running
from pg_helpers import Schemas

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def _chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"needs Debian's Chromium at {CHROMIUM} (scripts/test.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " and CI=true requires it")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def world(
    pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Collector, Provider, Any, Path]]:
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("console-browser")
    shots = tmp_path_factory.mktemp("screenshots")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    policy = home / "affidavit.toml"
    policy.write_text(
        '[[folders]]\npath = "finance"\nfunction = "Finance"\n\n'
        '[[folders]]\npath = "hr"\nfunction = "People"\n'
    )
    with running() as provider:
        env = {
            "AFFIDAVIT_CONSOLE_POLICY": str(policy),
            "AFFIDAVIT_CONSOLE_OIDC_ISSUER": provider.issuer,
            "AFFIDAVIT_CONSOLE_OIDC_CLIENT_ID": CLIENT_ID,
            "AFFIDAVIT_CONSOLE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "AFFIDAVIT_CONSOLE_ROLES": "admin@example.com=admin, auditor@example.com=auditor",
        }
        with c.serving(env=env):
            provider.redirects.add(c.url + "/console/oidc/callback")
            seed(c, home)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
                try:
                    yield c, provider, browser, shots
                finally:
                    browser.close()


README_SHOTS = ("timeline", "record", "compliance")


def shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=False)
    if os.environ.get("AFFIDAVIT_SCREENSHOTS") == "1" and name in README_SHOTS:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shots / f"{name}.png", DOCS / f"{name}.png")


def oidc_sign_in(page: Any, c: Collector, email: str, start: str = "/console/timeline") -> None:
    page.goto(c.url + start)
    assert "/console/signin" in page.url
    page.get_by_role("link", name="Sign in with your organisation's identity provider").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(c.url + start + "*")


def test_the_auditors_session_end_to_end(world: tuple[Collector, Provider, Any, Path]) -> None:
    c, provider, browser, shots = world
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url))

    # Sign in through the provider's redirect flow; the page asked for comes back.
    oidc_sign_in(page, c, "admin@example.com")
    assert provider.tokens_issued >= 1
    assert page.get_by_text("admin@example.com · admin").is_visible()

    # Filter to one folder and one person: the URL carries the view.
    page.get_by_label("Person").fill("alice@example.com")
    page.get_by_label("Folder or glob").fill("finance")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**person=alice%40example.com**")
    assert "folder=finance" in page.url
    rows = page.locator("#records tbody tr")
    assert rows.count() == 2
    paths = sorted(rows.nth(i).locator("td").nth(5).inner_text() for i in range(2))
    assert paths == ["finance/notes-alice.md", "finance/q1.xlsx"]
    shot(page, shots, "timeline")

    # The CSV download is the same view.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV of this view").click()
    saved = Path(download.value.path())
    with saved.open(newline="", encoding="utf-8") as f:
        got = sorted(r["path"] for r in csv.DictReader(f))
    assert got == paths

    # So is the evidence pack, and `affidavit verify-pack` proves it against the org key.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download evidence pack of this view").click()
    pack = shots / "view-pack.zip"
    shutil.copyfile(download.value.path(), pack)
    vkey = c.cli("key").stdout.splitlines()[1]
    checked = affidavit(pack.parent / "no.sqlite", "verify-pack", str(pack), "--key", vkey)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK: 2 of 2 records proven")

    # Open a record: the page verifies the proof itself.
    page.locator("#records tbody tr", has_text="finance/q1.xlsx").get_by_role(
        "link", name="Record"
    ).click()
    verdict = page.locator("#verdict")
    page.wait_for_function("document.getElementById('verdict').dataset.verdict !== undefined")
    assert verdict.get_attribute("data-verdict") == "ok", page.locator("#steps").inner_text()
    assert verdict.inner_text().startswith("Verified")
    steps = page.locator("#steps li")
    assert steps.count() == 5
    signature = page.locator("#steps li", has_text="checkpoint is signed").count()
    skipped = page.locator("#steps li.skip", has_text="Ed25519").count()
    assert signature + skipped == 1  # Ed25519 checked where this Chromium supports it
    shot(page, shots, "record")
    record_url = page.url

    # Change the stored payload behind the collector's back: the page says "not verified".
    org_seq = int(record_url.rsplit("/", 1)[-1])
    ((origin, seq),) = c.sql("SELECT origin, seq FROM entries WHERE org_seq = %s", org_seq)
    c.sql(
        "UPDATE entries SET payload = convert_to(replace(convert_from(payload, 'UTF8'), "
        "'alice', 'mallory'), 'UTF8') WHERE origin = %s AND seq = %s RETURNING seq",
        origin,
        seq,
    )
    try:
        page.reload()
        page.wait_for_function("document.getElementById('verdict').dataset.verdict !== undefined")
        assert verdict.get_attribute("data-verdict") == "bad"
        assert verdict.inner_text().startswith("Not verified")
        assert page.locator("#steps li.bad", has_text="payload matches the commitment").count() == 1
        shot(page, shots, "record-tampered")
    finally:
        c.sql(
            "UPDATE entries SET payload = convert_to(replace(convert_from(payload, 'UTF8'), "
            "'mallory', 'alice'), 'UTF8') WHERE origin = %s AND seq = %s RETURNING seq",
            origin,
            seq,
        )

    # Record the monthly governance review: a signed record, listed in the history.
    page.get_by_role("link", name="Compliance").click()
    page.get_by_label("Attendees, one per line").fill("A. Auditor\nB. Admin")
    page.get_by_label("Decisions, one per line").fill("Keep hr/ denied to the agent")
    page.get_by_role("button", name="Sign off the review").click()
    assert page.get_by_role("status").inner_text().startswith("Review signed as org record")
    month = page.locator("tr", has=page.locator("td.status.held"))
    assert "A. Auditor, B. Admin" in month.first.inner_text()

    # The checklist and the regimes, scored from the laptops' records and the folder rules:
    # nothing here backs the plan, the drill or the incident contact, and none shows as met.
    checklist = page.locator("#checklist tbody tr")
    assert checklist.count() == 8 and page.locator("#regimes tbody tr").count() == 8
    plan = page.locator("#checklist tbody tr", has_text="Plan tier and DPA")
    assert plan.locator("td.status").inner_text() == "missing evidence"
    assert "laptop.example.com/0" in plan.inner_text()
    folders = page.locator("#checklist tbody tr", has_text="Workspace folder policy")
    assert folders.locator("td.status").inner_text() == "partly met"  # the open hr finding
    assert page.locator("#checklist td.status.met").count() == 0
    assert page.locator("#regimes td.status.workable").count() == 0
    device = page.locator("details.device", has_text="laptop.example.com/0")
    device.locator("summary").click()
    assert device.locator("td.status.missing-evidence").first.is_visible()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, shots, "compliance")

    # The sign-off is an org record like any other: its own page proves it.
    page.locator("td a", has_text="record").last.click()
    for _ in range(40):  # the collector publishes a checkpoint within a second or two
        if page.locator("#verdict").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    page.wait_for_function("document.getElementById('verdict').dataset.verdict !== undefined")
    assert page.locator("#verdict").get_attribute("data-verdict") == "ok"
    assert page.locator("#steps li").count() == 3  # its commitment, the audit path, the signature
    assert "review.signoff" in page.locator("main").inner_text()

    # Nothing came from anywhere but the collector and the identity provider.
    assert fetched and all(u.startswith((c.url, provider.issuer)) for u in fetched), fetched
    context.close()


def test_keyboard_tablet_and_no_javascript(world: tuple[Collector, Provider, Any, Path]) -> None:
    c, _, browser, shots = world
    tablet = browser.new_context(viewport={"width": 820, "height": 1180})
    page = tablet.new_page()
    oidc_sign_in(page, c, "auditor@example.com")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    culprits = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
        " > window.innerWidth).map(e => e.tagName + '.' + e.className).slice(0, 8)"
    )
    assert wide <= 0, f"the page is {wide}px wider than a tablet: {culprits}"
    shot(page, shots, "timeline-tablet")
    # Business functions come from the folder rules the console was given.
    page.goto(c.url + "/console/timeline?function=People")
    assert set(page.locator("#records tbody tr td:nth-child(6)").all_inner_texts()) == {
        "hr/staff.csv"
    }
    assert page.locator("#records tbody tr").count() == 2
    assert "By business function" in page.locator("aside").inner_text()
    # An auditor sees no admin action.
    page.goto(c.url + "/console/compliance")
    assert page.get_by_role("button", name="Sign off the review").count() == 0
    tablet.close()

    plain = browser.new_context(java_script_enabled=False)
    page = plain.new_page()
    oidc_sign_in(page, c, "auditor@example.com")
    # Every record the organisation holds: the ten shipped, and what the collector appended
    # itself (the review signed off above).
    held = c.sql(
        f'SELECT (SELECT count(*) FROM "{c.schema}".entries WHERE org_seq IS NOT NULL) '
        f'+ (SELECT count(*) FROM "{c.schema}".direct)'
    )[0][0]
    assert held > 10
    assert page.locator("#records tbody tr").count() == held
    page.locator("#records tbody tr").first.get_by_role("link", name="Record").click()
    assert "needs JavaScript" in page.locator("main").inner_text()
    assert "Checkpoint" in page.locator("main").inner_text()
    plain.close()


def test_a_person_the_organisation_did_not_list_is_refused(
    world: tuple[Collector, Provider, Any, Path],
) -> None:
    c, _, browser, _ = world
    context = browser.new_context()
    page = context.new_page()
    page.goto(c.url + "/console/timeline")
    page.get_by_role("link", name="Sign in with your organisation's identity provider").click()
    page.get_by_label("Email").fill("stranger@example.com")
    page.get_by_role("button", name="Continue").click()
    assert "has no console role" in page.locator("main").inner_text()
    page.goto(c.url + "/console/timeline")
    assert "/console/signin" in page.url
    context.close()


def test_a_forged_or_replayed_provider_answer_is_refused(
    world: tuple[Collector, Provider, Any, Path],
) -> None:
    import httpx

    c, provider, _, _ = world
    issued = provider.tokens_issued
    with httpx.Client(base_url=c.url, follow_redirects=False) as http:
        # No sign-in was started from this session: the state cannot match.
        r = http.get("/console/oidc/callback", params={"code": "forged", "state": "forged"})
        assert r.status_code == 401 and "refused" in r.text
        # A sign-in started, answered with another state and an unknown code.
        start = http.get("/console/oidc/login")
        assert start.status_code == 302 and start.headers["location"].startswith(provider.issuer)
        r = http.get("/console/oidc/callback", params={"code": "forged", "state": "other"})
        assert r.status_code == 401
        assert http.get("/console/timeline").status_code == 303
    assert provider.tokens_issued == issued

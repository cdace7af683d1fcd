"""The console over HTTP against a real collector (uvicorn, PostgreSQL): sign-in and roles,
CSRF, escaping, the timeline's filters and CSV, the file page, the record page's proof data,
and the admin actions writing signed records. The browser runs in test_console_browser.py."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from affidavit.note import Verifier
from affidavit.record import Envelope
from affidavit.signing import verify_payload
from collector_helpers import ORIGIN, Collector
from console_helpers import HOSTILE, HOSTILE_PATH, Client, seed
from pg_helpers import Schemas

PAGES = [
    "/console/timeline",
    "/console/compliance",
    "/console/file?path=hr/staff.csv",
    "/console/record/0",
]


@pytest.fixture(scope="module")
def org(pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    home = tmp_path_factory.mktemp("console")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving():
        seed(c, home)
        yield c


@pytest.fixture(scope="module")
def clients(org: Collector) -> Iterator[Callable[[], Client]]:
    """New cookie jars on the console, all closed at the end."""
    made: list[Client] = []

    def new() -> Client:
        made.append(Client(org))
        return made[-1]

    yield new
    for client in made:
        client.http.close()


@pytest.fixture(scope="module")
def auditor(org: Collector, clients: Callable[[], Client]) -> Client:
    client = clients()
    assert client.sign_in(org.token("auditor", "auditor-1")).status_code == 303
    return client


@pytest.fixture(scope="module")
def admin(org: Collector, clients: Callable[[], Client]) -> Client:
    client = clients()
    assert client.sign_in(org.token("admin", "admin-1")).status_code == 303
    return client


@pytest.mark.parametrize("page", PAGES)
def test_every_page_without_a_session_redirects_to_sign_in(
    clients: Callable[[], Client], page: str
) -> None:
    r = clients().http.get(page)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/signin?next=%2Fconsole%2F")


def test_token_sign_in_sets_a_signed_httponly_samesite_cookie(
    org: Collector, clients: Callable[[], Client]
) -> None:
    client = clients()
    r = client.sign_in(org.token("auditor", "cookie-check"))
    assert r.status_code == 303 and r.headers["location"] == "/console/timeline"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    assert client.http.get("/console/timeline").status_code == 200
    # The cookie is signed: changing one character of it ends the session.
    value = client.http.cookies["affidavit_console"]
    client.http.cookies.set(
        "affidavit_console", value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    )
    assert client.http.get("/console/timeline").status_code == 303


def test_wrong_and_device_tokens_do_not_open_the_console(
    org: Collector, clients: Callable[[], Client]
) -> None:
    device = org.token("device", "not-a-reader")
    r = clients().sign_in(device)
    assert r.status_code == 403 and "cannot open the console" in r.text
    r = clients().sign_in("afv_1_" + "x" * 43)
    assert r.status_code == 401 and "Not signed in" in r.text


def test_posts_without_the_csrf_token_are_refused(
    org: Collector, admin: Client, clients: Callable[[], Client]
) -> None:
    for path, data in [
        ("/console/reviews", {"period": "2026-11", "attendees": "A"}),
        ("/console/findings/resolve", {"finding": "f-hr-1", "reason": "x"}),
        ("/console/signout", {}),
    ]:
        for token in (None, "forged"):
            body = data if token is None else {**data, "csrf": token}
            r = admin.http.post(path, data=body)
            assert r.status_code == 403 and "CSRF" in r.text, (path, token)
    # Nothing was written, and the session still works.
    assert admin.http.get("/console/compliance").status_code == 200
    assert org.sql(
        f'SELECT count(*) FROM "{org.schema}_org".records WHERE position(%s in leaf) > 0',
        b"review.signoff",
    ) == [(0,)]
    r = clients().http.post("/console/signin", data={"token": "afv_1_" + "x" * 43})
    assert r.status_code == 403


def test_an_auditor_cannot_reach_admin_actions(org: Collector, auditor: Client) -> None:
    csrf = auditor.csrf("/console/compliance")
    for path, data in [
        ("/console/reviews", {"period": "2026-11", "attendees": "A"}),
        ("/console/findings/resolve", {"finding": "f-hr-1", "reason": "x"}),
    ]:
        r = auditor.http.post(path, data={**data, "csrf": csrf})
        assert r.status_code == 403 and "auditor may not" in r.text
    page = auditor.http.get("/console/compliance").text
    assert "Sign off the review" not in page and "Resolve</button>" not in page
    file_page = auditor.http.get("/console/file", params={"path": "hr/staff.csv"}).text
    assert "affidavit rollback" not in file_page


def test_html_in_payloads_renders_as_text(auditor: Client) -> None:
    page = auditor.http.get("/console/timeline").text
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in page
    file_page = auditor.http.get("/console/file", params={"path": HOSTILE_PATH}).text
    assert HOSTILE not in file_page and "&lt;script&gt;" in file_page
    seq = re.search(r'/console/record/(\d+)" aria-label="Record \d+">\d+</a></td>\s*</tr>', page)
    assert seq
    record = auditor.http.get(f"/console/record/{_org_seq_of(auditor, HOSTILE_PATH)}")
    assert record.status_code == 200
    assert "<script>alert" not in record.text
    assert record.headers["content-security-policy"].startswith(
        "default-src 'self'; script-src 'self'"
    )


def _org_seq_of(client: Client, path: str) -> int:
    r = client.http.get("/console/timeline.csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    return int(next(row["org_seq"] for row in rows if row["path"] == path))


def test_timeline_filters_match_the_records_api(org: Collector, auditor: Client) -> None:
    token = org.token("auditor", "api-reader")
    for view, api in [
        (
            {"person": "alice@example.com", "folder": "finance"},
            {"actor": "alice@example.com", "path": "finance"},
        ),
        ({"kind": "command"}, {"kind": "command"}),
        (
            {"device": "laptop.example.com/1", "tool": "Edit"},
            {"device": "laptop.example.com/1", "tool": "Edit"},
        ),
        (
            {"since": "2026-11-26T12:30", "until": "2026-11-26T14:00:00Z"},
            {"since": "2026-11-26T12:30:00.000000Z", "until": "2026-11-26T14:00:00.000000Z"},
        ),
    ]:
        r = auditor.http.get("/console/timeline.csv", params=view)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        shown = {(row["origin"], int(row["seq"])) for row in csv.DictReader(io.StringIO(r.text))}
        expected = {
            (x["origin"], x["seq"])
            for x in map(
                json.loads, org.get("/api/v1/records", token, params=api).text.splitlines()
            )
        }
        assert shown == expected and shown, view
        html = auditor.http.get("/console/timeline", params=view).text
        assert html.count('aria-label="Record ') == len(shown)


def test_timeline_pages_newest_first_and_counts_folders(auditor: Client) -> None:
    page = auditor.http.get("/console/timeline").text
    seqs = [int(n) for n in re.findall(r'aria-label="Record (\d+)"', page)]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 10
    assert " UTC</time>" in page
    assert re.search(r"finance</a></td><td class=\"num\">4</td>", page.replace("\n", ""))


def test_a_bad_filter_is_a_clear_error_not_a_crash(auditor: Client) -> None:
    for params, words in [
        ({"since": "last tuesday"}, "not an ISO 8601 time"),
        ({"before": "x"}, "before: an org seq"),
        ({"person": "x" * 600}, "at most 500"),
        ({"function": "finance"}, "no folder rules"),
    ]:
        r = auditor.http.get("/console/timeline", params=params)
        assert r.status_code == 400 and words in r.text, params
    assert auditor.http.get("/console/record/99999").status_code == 400
    assert auditor.http.get("/console/file", params={"path": ""}).status_code == 400


def test_file_page_shows_history_across_people_and_the_change(
    auditor: Client, admin: Client
) -> None:
    page = auditor.http.get("/console/file", params={"path": "finance/q1.xlsx"}).text
    assert page.count('<article class="card change">') == 2
    assert "alice@example.com" in page and "bob@example.com" in page
    assert (
        '<td class="code">total = 100</td>' in page and '<td class="code">total = 250</td>' in page
    )
    assert (
        "affidavit rollback"
        in admin.http.get("/console/file", params={"path": "finance/q1.xlsx"}).text
    )


def test_record_page_hands_the_browser_what_the_log_holds(org: Collector, auditor: Client) -> None:
    page = auditor.http.get("/console/record/0").text
    data = json.loads(re.search(r'id="proof-data">(.*?)</script>', page, re.S)[1])  # type: ignore[index]
    import base64

    org_leaf = base64.b64decode(data["org"]["leaf"])
    assert Envelope.from_leaf(org_leaf).kind == "org.entry"
    assert data["checkpoint"].startswith(ORIGIN + "\n")
    assert data["vkey"] == org.cli("key").stdout.splitlines()[1]  # from the key file
    assert data["endpoint"]["leaf"] and "/console/static/verify.js" in page


def test_admin_signs_a_review_and_resolves_a_finding(org: Collector, admin: Client) -> None:
    csrf = admin.csrf("/console/compliance")
    assert "f-hr-1" in admin.http.get("/console/compliance").text
    r = admin.http.post(
        "/console/findings/resolve",
        data={"csrf": csrf, "finding": "f-hr-1", "reason": "moved the file back"},
    )
    assert r.status_code == 303
    assert "No open finding." in admin.http.get("/console/compliance").text
    again = admin.http.post(
        "/console/findings/resolve", data={"csrf": csrf, "finding": "f-hr-1", "reason": "twice"}
    )
    assert again.status_code == 400 and "no open finding" in again.text
    r = admin.http.post(
        "/console/reviews",
        data={
            "csrf": csrf,
            "period": "2026-11",
            "attendees": "A. Auditor\nB. Admin",
            "decisions": "keep hr denied",
        },
    )
    assert r.status_code == 303
    seq = int(r.headers["location"].rsplit("+", 1)[-1])
    ((payload,),) = org.sql(f'SELECT payload FROM "{org.schema}_org".records WHERE seq = %s', seq)
    body = json.loads(bytes(payload))
    assert body["review"]["attendees"] == ["A. Auditor", "B. Admin"]
    assert body["actor"]["user"] == "admin-1"
    verify_payload(body, Verifier.from_vkey(org.cli("key").stdout.splitlines()[1]))
    page = admin.http.get("/console/compliance").text
    assert re.search(r"2026-11</td><td class=\"status held\">held", page)
    bad = admin.http.post(
        "/console/reviews", data={"csrf": csrf, "period": "2026-13", "attendees": "A"}
    )
    assert bad.status_code == 400 and "YYYY-MM" in bad.text


def test_without_evidence_or_policy_no_item_is_met_and_no_regime_workable(
    auditor: Client,
) -> None:
    # This collector was given no affidavit.toml and the laptops recorded no attestation,
    # drill or archive: unknown is shown as missing evidence, never as met.
    page = auditor.http.get("/console/compliance").text
    assert "the console was given no <code>affidavit.toml</code>" in page
    checklist = page.split('<table id="checklist">', 1)[1].split("</table>", 1)[0]
    statuses = re.findall(r'<td class="status [a-z-]+">([a-z ]+)</td>', checklist)
    assert len(statuses) == 8 and set(statuses) <= {"missing evidence", "not met"}
    assert statuses.count("missing evidence") >= 6
    regimes = page.split('<table id="regimes">', 1)[1].split("</table>", 1)[0]
    found = re.findall(r'<td class="status [a-z-]+">([a-z ]+)</td>', regimes)
    assert len(found) == 8 and "workable" not in found
    devices = page.split('id="devices-h"', 1)[1]
    assert devices.count('<details class="card device">') == 2
    assert '<td class="status met">' not in devices


def test_signing_out_ends_the_session(org: Collector, clients: Callable[[], Client]) -> None:
    client = clients()
    client.sign_in(org.token("auditor", "leaving"))
    csrf = client.csrf("/console/timeline")
    assert client.http.post("/console/signout", data={"csrf": csrf}).status_code == 303
    assert client.http.get("/console/timeline").status_code == 303


def test_sign_in_never_redirects_off_the_console(
    org: Collector, clients: Callable[[], Client]
) -> None:
    client = clients()
    client.http.get("/console/signin", params={"next": "https://evil.example/"})
    r = client.sign_in(org.token("auditor", "next-check"))
    assert r.headers["location"] == "/console/timeline"


def test_a_person_filter_still_finds_a_payload_written_with_json_escapes(
    org: Collector, auditor: Client
) -> None:
    # The SQL skips payloads by their bytes before parsing them; a payload that spells the
    # email with a JSON escape must still be found (the collector stores what was shipped).
    where = "origin = 'laptop.example.com/0' AND seq = 0"
    ((before,),) = org.sql(f"SELECT payload FROM entries WHERE {where}")
    escaped = bytes(before).replace(b'"alice@example.com"', b'"\\u0061lice@example.com"')
    assert escaped != bytes(before) and json.loads(escaped) == json.loads(bytes(before))
    org.sql(f"UPDATE entries SET payload = %s WHERE {where} RETURNING seq", escaped)
    try:
        r = auditor.http.get("/console/timeline.csv", params={"person": "alice@example.com"})
        found = {(row["origin"], row["seq"]) for row in csv.DictReader(io.StringIO(r.text))}
        assert ("laptop.example.com/0", "0") in found and len(found) == 4
    finally:
        org.sql(f"UPDATE entries SET payload = %s WHERE {where} RETURNING seq", bytes(before))


def test_a_malformed_console_setting_stops_the_collector_at_start(
    pg_schemas: Schemas, tmp_path: Path
) -> None:
    c = Collector(pg_schemas, tmp_path)
    c.cli("init", "--origin", ORIGIN)
    with (
        pytest.raises(AssertionError, match=r"AFFIDAVIT_CONSOLE_ROLES: 'x@example\.com=root'"),
        c.serving(env={"AFFIDAVIT_CONSOLE_ROLES": "x@example.com=root"}),
    ):
        pass

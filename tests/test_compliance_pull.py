"""The collector's Compliance API pull, against a real collector and PostgreSQL, with the API
served on loopback in its documented shapes (tests/compliance_api_server.py; the pages are
named in tests/assets/compliance/README.md): pagination, 429 with Retry-After, a refused key,
malformed pages, the schedule run by the collector's own workers, and the reconciliation of
listed sessions with the hook records laptops shipped."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from affidavit import shipping
from affidavit.record import Kind, Record, format_time
from affidavit.server.compliance_feed import MAX_ITEM, list_since
from affidavit.sources.http import Client, SourceError
from collector_helpers import ORIGIN, Collector
from compliance_api_server import FakeCompliance, serve
from ledger_helpers import new_ledger
from pg_helpers import Schemas

KEY = "sk-ant-api01-compliance-test-key"
NOW = datetime.now(UTC).replace(microsecond=0)
T = NOW - timedelta(hours=3)
DANA, ERIN = "dana@example.com", "erin@example.com"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _activity(n: int, moment: datetime, email: str = DANA) -> dict[str, Any]:
    return {
        "id": f"activity_{n:04d}",
        "created_at": _stamp(moment),
        "organization_id": "org_01Test",
        "organization_uuid": "abcdef01-2345-6789-abcd-ef0123456789",
        "actor": {"type": "user_actor", "email_address": email, "user_id": "user_01Dana"},
        "type": "claude_chat_created" if n % 2 else "cowork_settings_updated",
        "some_new_field": {"kept": True},
    }


def _session(ident: str, moment: datetime, product: str, email: str | None) -> dict[str, Any]:
    return {
        "type": "compliance_local_session",
        "id": ident,
        "created_at": _stamp(moment),
        "organization_uuid": "abcdef01-2345-6789-abcd-ef0123456789",
        "product_surface": product,
        "user": None if email is None else {"id": "user_01", "email_address": email},
    }


def _fake() -> FakeCompliance:
    fake = FakeCompliance(KEY)
    fake.items["activities"] = [_activity(n, T + timedelta(minutes=30 * n)) for n in range(5)]
    fake.items["local"] = [
        _session("clls_captured", T + timedelta(minutes=1), "cowork", DANA),
        _session("clls_missed", T + timedelta(hours=2), "cowork", ERIN),
        _session("clls_nobody", T + timedelta(minutes=5), "claude_code", None),
        _session("clls_recent", NOW - timedelta(minutes=1), "cowork", ERIN),
    ]
    fake.items["remote"] = [
        {**_session("cse_remote", T, "cowork_remote", DANA), "type": "compliance_remote_session"}
    ]
    return fake


@pytest.fixture(scope="module")
def org(pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """A collector holding one laptop's hook records: dana's Cowork session at T."""
    home = tmp_path_factory.mktemp("compliance")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving():
        device = c.token("device", "laptop-1")
        with new_ledger(home, origin="laptop.example.com/1") as ledger:
            ledger.append(
                Record.create(
                    kind,
                    "claude-code.hook",
                    {
                        "actor": {"user": "dana", "email": DANA},
                        "agent": {"product": "cowork", "session_id": "9f1c-uuid"},
                    },
                    time=T + timedelta(seconds=s),
                )
                for s, kind in ((0, Kind.SESSION_START), (20, Kind.PROMPT_SUBMIT))
            )
            ledger.seal()
            shipping.enrol(ledger, home / "ledger.sqlite", c.url, device)
            shipping.ship(ledger, home / "ledger.sqlite", device)
    yield c


def _key_file(folder: Path, mode: int = 0o600, key: str = KEY) -> Path:
    path = folder / f"compliance-{mode:o}.key"
    path.write_text(key + "\n")
    path.chmod(mode)
    return path


def _org_records(c: Collector, kind: str) -> list[dict[str, Any]]:
    rows = c.sql(
        f'SELECT leaf, payload FROM "{c.schema}_org".records ORDER BY seq',
    )
    out = []
    for leaf, payload in rows:
        if json.loads(bytes(leaf))["kind"] == kind:
            out.append(json.loads(bytes(payload)))
    return out


def test_pull_pages_throttles_records_once_and_reconciles(org: Collector, tmp_path: Path) -> None:
    c = org
    fake = _fake()
    fake.throttle = 1  # the first request is answered 429, Retry-After: 0
    loose = _key_file(tmp_path, 0o644)
    with serve(fake) as api:
        refused = c.cli("sources", "add", "anthropic-compliance", "acme", "--key-file",
                        str(loose), "--api-url", api, check=False)  # fmt: skip
        assert refused.returncode == 2 and f"chmod 600 {loose}" in refused.stderr
        assert refused.stderr.count("\n") == 1 and KEY not in refused.stderr
        key = _key_file(tmp_path)
        c.cli("sources", "add", "anthropic-compliance", "acme", "--key-file", str(key),
              "--api-url", api)  # fmt: skip
        first = c.cli("sources", "pull", "--json")
        (report,) = json.loads(first.stdout)
        assert report["fetched"] == {"activities": 5, "local": 4, "remote": 1}
        assert report["new"] == report["fetched"]
        assert (report["captured"], report["gaps"], report["unattributed"]) == (1, 1, 1)
        assert report["waited"] == [0.0] and report["stopped"] == {}
        paths = [p for p, _ in fake.log]
        assert any("after_id=activity_0003" in p for p in paths)  # newest first, then older
        assert any("/sessions/local?" in p and "page=2" in p for p in paths)
        assert {k for _, k in fake.log} == {KEY}

        fake.log.clear()
        again = json.loads(c.cli("sources", "pull", "--json").stdout)[0]
        assert again["new"] == {"activities": 0, "local": 0, "remote": 0}
        assert again["gaps"] == 0  # the missed session was judged once
        assert all("created_at%5Bgte%5D=" in p for p, _ in fake.log)  # resumed from the cursor
        fake.items["activities"].append(_activity(9, NOW - timedelta(minutes=2)))
        # Listable only now, though older than the newest activity already pulled (the feed
        # lists activities "within 1 minute"): the pull looks back 5 minutes for such.
        fake.items["activities"].append(_activity(8, T + timedelta(hours=2, minutes=-3)))
        third = json.loads(c.cli("sources", "pull", "--json").stdout)[0]
        assert third["new"]["activities"] == 2

    activities = _org_records(c, "compliance.activity")
    assert sorted(a["compliance"]["id"] for a in activities) == sorted(
        [f"activity_{n:04d}" for n in range(5)] + ["activity_0008", "activity_0009"]
    )
    assert activities[0]["activity"]["some_new_field"] == {"kept": True}  # unknown fields kept
    assert activities[0]["actor"] == {"email": DANA}
    sessions = _org_records(c, "compliance.session")
    assert {s["agent"]["session_id"] for s in sessions} == {
        "clls_captured", "clls_missed", "clls_nobody", "clls_recent", "cse_remote",
    }  # fmt: skip
    (gap,) = [g for g in _org_records(c, "capture.gap") if g["gap"].get("source") == "acme"]
    assert gap["gap"]["session"] == "clls_missed" and gap["actor"] == {"email": ERIN}
    assert "no hook record of that person" in gap["gap"]["reason"]
    pulls = _org_records(c, "compliance.pull")
    assert len(pulls) == 3 and pulls[-1]["pull"]["cursors"]["activities"] == format_time(
        NOW - timedelta(minutes=2)
    )
    assert c.sql(
        f'SELECT count(*) FROM "{c.schema}_org".records WHERE position(%s in payload) > 0',
        KEY.encode(),
    ) == [(0,)]
    listed = c.cli("sources", "list")
    assert listed.stdout.startswith(f"acme\tanthropic-compliance\tkey {key}\t")
    c.cli("seal")
    assert c.cli("verify").stdout.startswith("OK: ")


def test_refusals_are_recorded_and_the_cursor_stays(org: Collector, tmp_path: Path) -> None:
    c = org
    fake = _fake()
    fake.admin_key = True  # an Admin API key: the Activity Feed only
    with serve(fake) as api:
        c.cli("sources", "add", "anthropic-compliance", "admin", "--key-file",
              str(_key_file(tmp_path)), "--api-url", api)  # fmt: skip
        done = c.cli("sources", "pull", "admin", check=False)
        assert (
            done.returncode == 2 and "HTTP 403 Admin API keys cannot read sessions" in done.stderr
        )
        assert done.stderr.count("error:") == 1
        fake.admin_key = False
        fake.broken = "local"
        fake.throttle, fake.retry_after = 1, "9999"
        stopped = c.cli("sources", "pull", "admin", "--json", check=False)
        assert stopped.returncode == 2 and "retry after 9999 s" in stopped.stderr
        report = json.loads(stopped.stdout)[0]
        assert "activities" in report["stopped"] and "local" not in report["new"]
        assert "local page 1: no data list" in report["stopped"]["local"]
        assert report["new"] == {"remote": 1}  # the families that answered are recorded
        resumed = json.loads(c.cli("sources", "pull", "admin", "--json").stdout)[0]
        assert resumed["new"] == {"activities": 0, "local": 4, "remote": 0}
        key = _key_file(tmp_path, key="sk-ant-api01-revoked")
        revoked = c.cli("sources", "pull", "admin", check=False)
    assert revoked.returncode == 2 and "HTTP 401" in revoked.stderr and str(key) in revoked.stderr
    assert "sk-ant-api01-revoked" not in revoked.stderr
    rows = c.sql("SELECT last_pull FROM compliance_sources WHERE name = 'admin'")
    assert json.loads(rows[0][0])["stopped"]
    c.cli("sources", "remove", "admin")
    assert c.cli("sources", "pull", "admin", check=False).returncode == 2


def test_the_collector_workers_pull_on_schedule_once_per_turn(
    org: Collector, tmp_path: Path
) -> None:
    c = org
    fake = _fake()
    with serve(fake) as api:
        c.cli("sources", "add", "anthropic-compliance", "scheduled", "--key-file",
              str(_key_file(tmp_path)), "--api-url", api, "--every-minutes", "60")  # fmt: skip
        with c.serving(workers=2, env={"AFFIDAVIT_SERVER_PULL_EVERY": "0.2"}):
            deadline = time.monotonic() + 60
            while not _last_pull(c, "scheduled") and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _last_pull(c, "scheduled"), c.log.read_text()
            turns = len(fake.log)
            time.sleep(1.5)  # several more ticks of both workers: the next pull is an hour away
            assert len(fake.log) == turns
    mine = [p for p in _org_records(c, "compliance.pull") if p["pull"]["source"] == "scheduled"]
    assert len(mine) == 1 and mine[0]["pull"]["new"]["activities"] == 5


def _last_pull(c: Collector, name: str) -> bool:
    rows = c.sql("SELECT last_pull FROM compliance_sources WHERE name = %s", name)
    return bool(rows and rows[0][0])


# -- the feed's parser, without a database ----------------------------------------------------


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("text", "activities page 1 item 1: not an object"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "item 1: no id"),
        ({"id": "a", "created_at": "yesterday"}, r"item 1 \(a\): created_at 'yesterday'"),
        ({"id": "a", "created_at": 7}, "is not a time"),
        ({"id": "a" * 500, "created_at": "2026-01-01T00:00:00Z"}, "no id"),
    ],
)
def test_malformed_items_are_named(item: object, message: str) -> None:
    fake = FakeCompliance(KEY)
    fake.items["activities"] = [item]  # type: ignore[list-item]
    with serve(fake) as api:
        client = Client("acme", api, KEY, "the key file", key_header="x-api-key")
        with pytest.raises(SourceError, match=message) as e:
            list_since(client, "activities", None)
    assert "\n" not in str(e.value) and KEY not in str(e.value)


def test_huge_and_odd_items_keep_an_outline() -> None:
    fake = FakeCompliance(KEY)
    big = _activity(1, T) | {"blob": "x" * (MAX_ITEM + 1)}
    odd = _activity(2, T) | {"note": "\u202e\u0000 e\u0301 \U0001f600"}
    fake.items["activities"] = [big, odd]
    with serve(fake) as api:
        items = list_since(
            Client("acme", api, KEY, "k", key_header="x-api-key"), "activities", None
        )
    by_id = {i.id: i for i in items}
    assert by_id["activity_0001"].raw["truncated"].startswith("over")
    assert "blob" not in by_id["activity_0001"].raw
    assert by_id["activity_0002"].raw["note"] == odd["note"]


def test_a_repeating_cursor_stops_the_listing() -> None:
    fake = FakeCompliance(KEY, page_size=1, stuck=True)
    fake.items["activities"] = [_activity(1, T), _activity(2, T + timedelta(minutes=1))]
    with serve(fake) as api:
        client = Client("acme", api, KEY, "k", key_header="x-api-key")
        with pytest.raises(SourceError, match="cursor is missing or repeats"):
            list_since(client, "activities", None)


def test_unknown_sources_and_missing_keys_are_one_line(org: Collector, tmp_path: Path) -> None:
    assert org.cli("sources", "pull", "nope", check=False).stderr.startswith("error: no source")
    none = org.cli("sources", "add", "anthropic-compliance", "x", check=False)
    assert none.returncode == 2 and "one of --key-file" in none.stderr
    key = str(_key_file(tmp_path))
    local = org.cli("sources", "add", "anthropic-compliance", "x", "--key-file", key,
                    "--api-url", "file:///etc", check=False)  # fmt: skip
    assert local.returncode == 2 and "is not http(s)://" in local.stderr
    assert "x\t" not in org.cli("sources", "list").stdout  # nothing stored

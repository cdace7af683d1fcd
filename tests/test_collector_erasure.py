"""Erasure on the collector (``affidavit server erase``): a real collector (uvicorn) on the
real PostgreSQL, an endpoint ledger shipped through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector_helpers import Collector
from ledger_helpers import grow, new_ledger

LAPTOP = "laptop.example.com/erase-1"


@pytest.fixture
def shipped(collector: Collector, tmp_path: Path) -> Collector:
    folder = tmp_path / "laptop"
    folder.mkdir()
    with new_ledger(folder, origin=LAPTOP) as ledger:
        grow(ledger, [6])
    path = folder / "ledger.sqlite"
    token = collector.token("device", "laptop")
    collector.enrol_and_ship(path, token)
    collector.cli("seal")
    return collector


def payloads(c: Collector) -> dict[int, bytes | None]:
    rows = c.sql("SELECT seq, payload FROM entries WHERE origin = %s ORDER BY seq", LAPTOP)
    return {int(s): None if p is None else bytes(p) for s, p in rows}


def test_an_erased_payload_is_gone_and_the_collector_still_verifies(shipped: Collector) -> None:
    c = shipped
    before = payloads(c)
    secret = json.loads(before[2] or b"{}")["actor"]  # what record 2 says, and no other
    assert sum(secret.encode() in (p or b"") for p in before.values()) == 1

    done = c.cli("erase", LAPTOP, "2", "--reason", "GDPR Art. 17 request 41", "--by", "admin-1",
                 "--json")  # fmt: skip
    erasure = json.loads(done.stdout)["erasure"]
    after = payloads(c)
    assert after[2] is None and {k: v for k, v in after.items() if k != 2} == {
        k: v for k, v in before.items() if k != 2
    }
    assert c.sql("SELECT salt FROM entries WHERE origin = %s AND seq = 2", LAPTOP) == [(None,)]
    found = c.sql(
        "SELECT count(*) FROM entries WHERE position(%s::bytea in coalesce(payload, '')) > 0",
        secret.encode(),
    )
    assert found == [(0,)]

    org = f'"{c.schema}_org"'
    (row,) = c.sql(f"SELECT leaf, payload FROM {org}.records WHERE seq = %s", erasure)
    assert b'"kind":"collector.erasure"' in bytes(row[0])
    said = json.loads(bytes(row[1]))
    assert (said["origin"], said["seq"], said["by"]) == (LAPTOP, 2, "admin-1")
    assert said["reason"] == "GDPR Art. 17 request 41"
    c.cli("seal")
    assert "OK: 6 records of 1 endpoint logs" in c.cli("verify").stdout

    again = c.cli("erase", LAPTOP, "2", "--reason", "again", "--by", "admin-1", check=False)
    assert again.returncode == 2 and "has no payload here already" in again.stderr
    missing = c.cli("erase", LAPTOP, "99", "--reason", "x", "--by", "admin-1", check=False)
    assert missing.returncode == 2 and "holds no record 99" in missing.stderr
    blank = c.cli("erase", LAPTOP, "3", "--reason", " ", "--by", "admin-1", check=False)
    assert blank.returncode == 2 and payloads(c)[3] == before[3]


def test_a_payload_nulled_without_an_erasure_fails_verify(shipped: Collector) -> None:
    c = shipped
    c.cli("erase", LAPTOP, "1", "--reason", "request 7", "--by", "admin-1")
    c.sql("UPDATE entries SET payload = NULL, salt = NULL WHERE seq = 4 RETURNING 1")
    failed = c.cli("verify", check=False)
    assert failed.returncode == 1
    assert "record 4's payload is gone but no erasure names it" in failed.stderr, failed.stderr

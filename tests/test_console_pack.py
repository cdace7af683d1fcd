"""The console's evidence pack of a timeline view: a pack over the org log, downloaded from a
real collector (uvicorn, PostgreSQL), checked by ``affidavit verify-pack`` and by the
pack's own stand-alone recipe; and every kind of tampering with it named by the member.

The organisation: the two laptops of ``console_helpers`` and a third whose record 2 was
erased on the laptop before it shipped, and whose record 1 an admin erased on the collector.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector_helpers import ORIGIN, Collector
from console_helpers import Client, seed
from ledger_helpers import affidavit, grow, new_ledger
from pg_helpers import Schemas
from test_evidence import lines, members, recipe, rehash, unlines, write_zip

ERASED = "laptop.example.com/erased"


@pytest.fixture(scope="module")
def org(pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    home = tmp_path_factory.mktemp("console-pack")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving():
        seed(c, home)
        folder = home / "laptop-erased"
        folder.mkdir()
        with new_ledger(folder, origin=ERASED) as ledger:
            grow(ledger, [5])
            ledger.erase([2], "request 7")
            ledger.seal()
        token = c.token("device", "laptop-erased")
        c.enrol_and_ship(folder / "ledger.sqlite", token)
        c.cli("seal")
        c.cli("erase", ERASED, "1", "--reason", "GDPR request 41", "--by", "admin-1")
        c.cli("seal")
        yield c


@pytest.fixture(scope="module")
def auditor(org: Collector) -> Iterator[Client]:
    client = Client(org)
    assert client.sign_in(org.token("auditor", "auditor-pack")).status_code == 303
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def vkey(org: Collector) -> str:
    return org.cli("key").stdout.splitlines()[1]


def download(client: Client, out: Path, **view: str) -> Path:
    r = client.http.get("/console/timeline.zip", params=view)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/zip"
    out.write_bytes(r.content)
    return out


def verify(pack: Path, vkey: str) -> tuple[int, dict[str, Any]]:
    done = affidavit(pack.parent / "no-ledger.sqlite", "verify-pack", str(pack), "--key", vkey,
                     "--json")  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def failures(report: dict[str, Any]) -> list[str]:
    problems = [f"{p['where']}: {p['error']}" for p in report["problems"]]
    return problems + [f"record {r['seq']}: {r['error']}" for r in report["records"] if not r["ok"]]


def test_a_view_downloads_as_a_pack_that_verifies(
    auditor: Client, vkey: str, tmp_path: Path
) -> None:
    view = {"person": "alice@example.com", "folder": "finance"}
    pack = download(auditor, tmp_path / "view.zip", **view)
    code, report = verify(pack, vkey)
    assert code == 0 and report["ok"], failures(report)
    assert report["checkpoint"]["origin"] == ORIGIN and report["key"]["pinned"]
    shown = auditor.http.get("/console/timeline.csv", params=view).text
    org_seqs = sorted(int(r["org_seq"]) for r in csv.DictReader(io.StringIO(shown)))
    assert [r["seq"] for r in report["records"]] == org_seqs and len(org_seqs) == 2
    assert {r["kind"] for r in report["records"]} == {"file.update", "file.create"}
    assert report["endpoint_records"] == 2
    files = members(pack)
    selection = json.loads(files["selection.json"])
    assert selection["log"] == "org" and selection["endpoint_records"] == 2
    assert selection["filters"] == {"actor": "alice@example.com", "path": "finance"}
    paths = {json.loads(e["payload_json"])["file"]["path"] for e in lines(files["endpoints.jsonl"])}
    assert paths == {"finance/q1.xlsx", "finance/notes-alice.md"}
    assert "endpoints.jsonl" in files["README.md"].decode()
    # The pack's own recipe, which trusts nothing of Affidavit's, agrees.
    checked = recipe(tmp_path, pack, vkey)
    assert checked.returncode == 0 and checked.stdout.startswith("OK: 2 records"), checked


def test_every_record_with_erasures_on_both_sides_verifies(
    org: Collector, auditor: Client, vkey: str, tmp_path: Path
) -> None:
    pack = download(auditor, tmp_path / "all.zip")
    code, report = verify(pack, vkey)
    assert code == 0 and report["ok"], failures(report)
    files = members(pack)
    erased = [e for e in lines(files["endpoints.jsonl"]) if e["payload_json"] is None]
    assert sorted((e["origin"], e["seq"]) for e in erased) == [(ERASED, 1), (ERASED, 2)]
    kinds = {
        json.loads(base64.b64decode(e["leaf"]))["kind"] for e in lines(files["erasures.jsonl"])
    }
    assert kinds == {"collector.erasure", "org.entry"}  # the collector's and the laptop's own
    held = org.sql(
        "SELECT (SELECT count(*) FROM entries WHERE org_seq IS NOT NULL) "
        "+ (SELECT count(*) FROM direct)"
    )[0][0]
    selection = json.loads(files["selection.json"])
    assert selection["records"] + selection["unpublished_left_out"] == held
    assert recipe(tmp_path, pack, vkey).returncode == 0


@pytest.fixture(scope="module")
def good(auditor: Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return members(download(auditor, tmp_path_factory.mktemp("good") / "good.zip"))


def _endpoint(files: dict[str, bytes], index: int, change: Any) -> dict[str, bytes]:
    items = lines(files["endpoints.jsonl"])
    change(items[index])
    return rehash({**files, "endpoints.jsonl": unlines(items)})


def _payload(item: dict[str, Any]) -> None:
    item["payload_json"] = item["payload_json"].replace("alice", "mallory").replace("bob", "eve")


def _leaf(item: dict[str, Any]) -> None:
    envelope = json.loads(base64.b64decode(item["leaf"]))
    envelope["time"] = envelope["time"].replace("2026", "2025")
    item["leaf"] = base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()


def _renamed(item: dict[str, Any]) -> None:
    item["seq"] += 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_payload, "does not match its envelope's commitment"),
        (_leaf, "does not hash to the leaf hash the org log holds"),
        (_renamed, "not record"),
    ],
    ids=["payload", "envelope", "another-record"],
)
def test_a_changed_endpoint_record_fails_naming_its_line(
    good: dict[str, bytes], vkey: str, tmp_path: Path, change: Any, words: str
) -> None:
    index = next(i for i, e in enumerate(lines(good["endpoints.jsonl"])) if e["payload_json"])
    org_seq = lines(good["endpoints.jsonl"])[index]["org_seq"]
    pack = write_zip(tmp_path / "tampered.zip", _endpoint(good, index, change))
    code, report = verify(pack, vkey)
    assert code == 1
    (bad,) = [r for r in report["records"] if not r["ok"]]
    assert bad["seq"] == org_seq
    assert bad["error"].startswith(f"endpoints.jsonl line {index + 1}: ") and words in bad["error"]
    assert recipe(tmp_path, pack, vkey).returncode != 0


def test_a_removed_or_added_endpoint_line_and_a_changed_org_record_fail(
    good: dict[str, bytes], vkey: str, tmp_path: Path
) -> None:
    entries = lines(good["endpoints.jsonl"])
    # One endpoint record dropped (counts and manifest recomputed, as an attacker would).
    fewer = {**good, "endpoints.jsonl": unlines(entries[1:])}
    selection = json.loads(good["selection.json"])
    selection["endpoint_records"] -= 1
    fewer["selection.json"] = (json.dumps(selection, indent=1, sort_keys=True) + "\n").encode()
    code, report = verify(write_zip(tmp_path / "fewer.zip", rehash(fewer)), vkey)
    assert code == 1
    assert any(
        "which endpoints.jsonl does not hold" in f
        and f.startswith(f"record {entries[0]['org_seq']}")
        for f in failures(report)
    ), failures(report)
    # A line naming an org record the pack does not hold.
    extra = dict(entries[0], org_seq=10**6)
    code, report = verify(
        write_zip(
            tmp_path / "extra.zip", rehash({**good, "endpoints.jsonl": unlines([*entries, extra])})
        ),
        vkey,
    )
    assert code == 1 and any(f.startswith("endpoints.jsonl line ") for f in failures(report))
    # The org.entry itself changed to name another leaf: its proof fails, in records.jsonl.
    records = lines(good["records.jsonl"])
    leaf = json.loads(base64.b64decode(records[0]["leaf"]))
    leaf["time"] = "2020-01-01T00:00:00.000000Z"
    records[0]["leaf"] = base64.b64encode(json.dumps(leaf, separators=(",", ":")).encode()).decode()
    edited = {**good, "records.jsonl": unlines(records)}
    code, report = verify(write_zip(tmp_path / "org.zip", edited), vkey)
    assert code == 1
    found = failures(report)
    assert any(f.startswith("records.jsonl: does not match its SHA-256") for f in found), found
    assert any("inclusion proof does not lead" in f for f in found), found


def test_an_erased_payload_without_its_erasure_is_withheld(
    good: dict[str, bytes], vkey: str, tmp_path: Path
) -> None:
    selection = json.loads(good["selection.json"])
    selection["erasures"] = 0
    files = {k: v for k, v in good.items() if k != "erasures.jsonl"}
    files["selection.json"] = (json.dumps(selection, indent=1, sort_keys=True) + "\n").encode()
    code, report = verify(write_zip(tmp_path / "withheld.zip", rehash(files)), vkey)
    assert code == 1
    withheld = [f for f in failures(report) if "withheld, not erased" in f]
    assert len(withheld) == 2, failures(report)


def test_a_badly_filtered_view_is_a_clear_error(auditor: Client) -> None:
    r = auditor.http.get("/console/timeline.zip", params={"since": "last tuesday"})
    assert r.status_code == 400 and "not an ISO 8601 time" in r.text


def test_the_pack_needs_a_session(org: Collector) -> None:
    with Client(org).http as http:
        r = http.get("/console/timeline.zip")
    assert r.status_code == 303 and "/console/signin" in r.headers["location"]


def test_a_record_of_another_device_slipped_into_a_device_view_fails(
    auditor: Client, good: dict[str, bytes], vkey: str, tmp_path: Path
) -> None:
    one = members(download(auditor, tmp_path / "one.zip", device="laptop.example.com/1"))
    assert json.loads(one["selection.json"])["filters"] == {"device": "laptop.example.com/1"}
    assert verify(write_zip(tmp_path / "one.zip", one), vkey)[0] == 0
    # A proven record of laptop 0, with its endpoint record, from the pack of every record.
    other = next(e for e in lines(good["endpoints.jsonl"]) if e["origin"].endswith("/0"))
    record = next(r for r in lines(good["records.jsonl"]) if r["seq"] == other["org_seq"])
    records = sorted([*lines(one["records.jsonl"]), record], key=lambda r: r["seq"])
    endpoints = sorted([*lines(one["endpoints.jsonl"]), other], key=lambda e: e["org_seq"])
    selection = json.loads(one["selection.json"])
    selection["records"] += 1
    selection["endpoint_records"] += 1
    files = {
        **one,
        "records.jsonl": unlines(records),
        "endpoints.jsonl": unlines(endpoints),
        "selection.json": (json.dumps(selection, indent=1, sort_keys=True) + "\n").encode(),
    }
    code, report = verify(write_zip(tmp_path / "slipped.zip", rehash(files)), vkey)
    assert code == 1
    assert failures(report) == [
        f"record {other['org_seq']}: it is of 'laptop.example.com/0', outside the pack's "
        "device filter"
    ]


def test_a_row_changed_in_postgresql_fails_the_export_naming_it(
    org: Collector, auditor: Client
) -> None:
    # The export makes verify-pack's checks before it hands anything over: a changed payload
    # or envelope is an error naming the record, not a pack that fails at the auditor's.
    where = "origin = 'laptop.example.com/1' AND seq = 0"
    ((payload, leaf),) = org.sql(f"SELECT payload, leaf FROM entries WHERE {where}")
    view = {"device": "laptop.example.com/1"}
    for column, changed in (
        ("payload", bytes(payload).replace(b"bob", b"eve")),
        ("leaf", bytes(leaf).replace(b"2026-", b"2025-")),
    ):
        org.sql(f"UPDATE entries SET {column} = %s WHERE {where} RETURNING seq", changed)
        try:
            r = auditor.http.get("/console/timeline.zip", params=view)
        finally:
            original = payload if column == "payload" else leaf
            org.sql(f"UPDATE entries SET {column} = %s WHERE {where} RETURNING seq", original)
        assert r.status_code == 400, column
        assert "record 0 of laptop.example.com/1" in r.text and "no pack written" in r.text
    assert auditor.http.get("/console/timeline.zip", params=view).status_code == 200


def test_the_pack_carries_the_witnesses_cosignatures(pg_schemas: Schemas, tmp_path: Path) -> None:
    from affidavit.cosignature import Cosigner, verify_cosignature

    homes = [tmp_path / name for name in ("org", "witness")]
    for home in homes:
        home.mkdir()
    c, other = Collector(pg_schemas, homes[0]), Collector(pg_schemas, homes[1])
    c.cli("init", "--origin", ORIGIN)
    other.cli("init", "--origin", "witness.example.net/w1")
    with other.serving(), c.serving():
        witness_vkey = other.cli("key").stdout.split()[0]
        org_vkey = c.cli("key").stdout.split()[1]
        other.cli("logs", "add", org_vkey)
        c.cli("witnesses", "add", other.url, "--vkey", witness_vkey)
        seed(c, homes[0])
        client = Client(c)
        try:
            assert client.sign_in(c.token("auditor", "witnessed")).status_code == 303
            pack = download(client, tmp_path / "witnessed.zip")
        finally:
            client.http.close()
    note = members(pack)["checkpoint.txt"].decode()
    body = note[: note.index("\n\n") + 1]
    witness = Cosigner.from_vkey(witness_vkey)
    (line,) = [x for x in note.splitlines() if x.startswith(f"\u2014 {witness.name} ")]
    assert verify_cosignature(line, body, witness) > 0
    code, report = verify(pack, org_vkey)
    assert code == 0 and report["ok"], failures(report)


# -- the same pack from the CLI: affidavit evidence --server URL (no --device) ---------------


def cli_pack(org: Collector, token: str, out: Path, *args: str) -> Any:
    return affidavit(out.parent / "no-ledger.sqlite", "evidence", "--server", org.url,
                     "--token", token, "--out", str(out), *args)  # fmt: skip


def test_the_cli_saves_the_org_pack_of_its_filters_and_verifies_it(
    org: Collector, auditor: Client, vkey: str, tmp_path: Path
) -> None:
    token = org.token("auditor", "auditor-cli-pack")
    out = tmp_path / "org.zip"
    done = cli_pack(org, token, out, "--actor", "alice@example.com", "--path", "finance", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[0])
    assert (summary["records"], summary["endpoint_records"]) == (2, 2)
    assert "verify-pack passed" in done.stderr or "verify-pack passed" in done.stdout
    code, report = verify(out, vkey)
    assert code == 0 and report["ok"], failures(report)
    # The same records as the console's pack of the same view.
    console = download(auditor, tmp_path / "view.zip", person="alice@example.com", folder="finance")
    assert members(out)["records.jsonl"] == members(console)["records.jsonl"]
    # Without filters: every device's records, each endpoint record with its own origin.
    every = cli_pack(org, token, tmp_path / "every.zip")
    assert every.returncode == 0, every.stderr
    code, report = verify(tmp_path / "every.zip", vkey)
    assert code == 0 and report["ok"], failures(report)
    endpoints = lines(members(tmp_path / "every.zip")["endpoints.jsonl"])
    assert {e["origin"] for e in endpoints} >= {"laptop.example.com/1", ERASED}


def test_the_cli_org_pack_refusals(org: Collector, tmp_path: Path) -> None:
    token = org.token("auditor", "auditor-cli-refusals")
    out = tmp_path / "x.zip"
    for flag in ("--with-content", "--window-complete"):
        done = cli_pack(org, token, out, flag)
        assert done.returncode == 2 and "--device" in done.stderr, done.stderr
    device = cli_pack(org, org.token("device", "not-an-auditor"), out)
    assert device.returncode != 0 and "403" in device.stderr, device.stderr
    assert not out.exists()
    out.write_bytes(b"kept")
    again = cli_pack(org, token, out)
    assert again.returncode == 2 and "--force" in again.stderr and out.read_bytes() == b"kept"
    # A row changed in PostgreSQL: the collector builds no pack, and the CLI writes none.
    where = "origin = 'laptop.example.com/1' AND seq = 0"
    ((payload,),) = org.sql(f"SELECT payload FROM entries WHERE {where}")
    changed = bytes(payload).replace(b"bob", b"eve")
    org.sql(f"UPDATE entries SET payload = %s WHERE {where} RETURNING seq", changed)
    try:
        bad = cli_pack(org, token, tmp_path / "bad.zip", "--device", "laptop.example.com/1")
        bad_org = cli_pack(org, token, tmp_path / "bad-org.zip")
    finally:
        org.sql(f"UPDATE entries SET payload = %s WHERE {where} RETURNING seq", payload)
    assert bad.returncode != 0 and not (tmp_path / "bad.zip").exists()
    assert bad_org.returncode != 0 and "record 0 of laptop.example.com/1" in bad_org.stderr
    assert not (tmp_path / "bad-org.zip").exists()

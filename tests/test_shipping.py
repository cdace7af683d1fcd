"""Enrolment, shipping and the collector as a witness: real endpoint ledgers (the CLI in a
subprocess), a real collector (uvicorn) and the real PostgreSQL."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from affidavit.cosignature import Cosigner, verify_cosignature
from affidavit.ledger import Ledger
from affidavit.note import open_checkpoint
from collector_helpers import ORIGIN, Collector
from ledger_helpers import affidavit, grow, key_of, make_records, new_ledger
from pg_helpers import Schemas

LAPTOP = "laptop.example.com/ledger-1"


def laptop(folder: Path, batches: list[int], origin: str = LAPTOP) -> Path:
    folder.mkdir(exist_ok=True)
    with new_ledger(folder, origin=origin) as ledger:
        grow(ledger, batches)
    return folder / "ledger.sqlite"


def ok(result: object) -> str:
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    return str(result.stdout)  # type: ignore[attr-defined]


def held(c: Collector, origin: str = LAPTOP) -> list[int]:
    return [
        int(s) for (s,) in c.sql("SELECT seq FROM entries WHERE origin = %s ORDER BY seq", origin)
    ]


def test_enrol_ship_status_verify(collector: Collector, tmp_path: Path) -> None:
    token = collector.token("device", "laptop-1")
    path = laptop(tmp_path / "l1", [5, 3])
    pinned = ok(affidavit(path, "enrol", collector.url, "--token", token)).strip()
    assert pinned == collector.cli("key").stdout.splitlines()[0]
    status = json.loads(ok(affidavit(path, "status", "--json")))
    assert status["unshipped"] == 8

    shipped = json.loads(ok(affidavit(path, "ship", "--token", token, "--json")))
    assert shipped == {"sent": 8, "acked": 8, "unshipped": 0}
    assert held(collector) == list(range(8))
    assert json.loads(ok(affidavit(path, "status", "--json")))["unshipped"] == 0

    # The collector's cosignature is kept beside the ledger and checked by verify.
    state = json.loads(path.with_name("ledger.sqlite.collector.json").read_text())
    (kept,) = state["cosignatures"]
    cp = open_checkpoint(kept["checkpoint"], Ledger.open(path, readonly=True).verifier)
    assert verify_cosignature(kept["cosignature"], cp.body(), Cosigner.from_vkey(pinned)) > 0
    verified = ok(affidavit(path, "verify"))
    assert f"witnessed by {ORIGIN}/witness at 20" in verified and "size 8" in verified
    report = json.loads(ok(affidavit(path, "verify", "--json")))
    assert report["witnessed"]["by"] == f"{ORIGIN}/witness" and report["witnessed"]["size"] == 8


def test_only_new_records_go_and_nothing_twice(collector: Collector, tmp_path: Path) -> None:
    token = collector.token("device", "laptop-1")
    path = laptop(tmp_path / "l1", [4])
    ok(affidavit(path, "enrol", collector.url, "--token", token))
    ok(affidavit(path, "ship", "--token", token))
    with Ledger.open(path, key_path=key_of(path)) as ledger:
        grow(ledger, [2, 3])
        ledger.append(make_records(1, start=9))  # sequenced, not published: not shipped
    again = json.loads(ok(affidavit(path, "ship", "--token", token, "--json")))
    assert again == {"sent": 5, "acked": 9, "unshipped": 1}
    assert json.loads(ok(affidavit(path, "ship", "--token", token, "--json")))["sent"] == 0
    assert held(collector) == list(range(9))


def test_a_retried_batch_is_stored_once(collector: Collector, tmp_path: Path) -> None:
    token = collector.token("device", "laptop-1")
    path = laptop(tmp_path / "l1", [6])
    ok(affidavit(path, "enrol", collector.url, "--token", token))
    with Ledger.open(path, readonly=True) as ledger:
        note = ledger.publish() if False else ledger.latest_checkpoint()[1]  # type: ignore[index]
        body = {
            "origin": LAPTOP,
            "checkpoint": note,
            "proof": [],
            "records": [
                {"seq": s, "leaf": b64(leaf), "salt": b64(salt), "payload": b64(payload)}
                for s, leaf, _, salt, payload in ledger.rows()
            ],
        }
    first = collector.post("/api/v1/ship", token, body)
    second = collector.post("/api/v1/ship", token, body)
    assert first.status_code == second.status_code == 200, first.text
    assert (first.json()["stored"], second.json()["stored"]) == (6, 0)
    assert first.json()["cosignature"] == second.json()["cosignature"]
    assert held(collector) == list(range(6))


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def test_shipping_resumes_after_the_collector_was_away(
    collector: Collector, tmp_path: Path
) -> None:
    token = collector.token("device", "laptop-1")
    path = laptop(tmp_path / "l1", [3])
    ok(affidavit(path, "enrol", collector.url, "--token", token))
    ok(affidavit(path, "ship", "--token", token))
    url = collector.url
    collector.stop()
    with Ledger.open(path, key_path=key_of(path)) as ledger:
        grow(ledger, [4])
    away = affidavit(path, "ship", "--token", token)
    assert away.returncode == 2 and f"cannot reach the collector at {url}" in away.stderr
    assert json.loads(ok(affidavit(path, "status", "--json")))["unshipped"] == 4
    with collector.serving():
        state_file = path.with_name("ledger.sqlite.collector.json")
        state = json.loads(state_file.read_text())
        state["url"] = collector.url  # the restarted server listens on a new free port
        state_file.write_text(json.dumps(state))
        assert json.loads(ok(affidavit(path, "ship", "--token", token, "--json")))["sent"] == 4
    assert held(collector) == list(range(7))


def test_a_batch_that_does_not_match_its_checkpoint_changes_nothing(
    collector: Collector, tmp_path: Path
) -> None:
    token = collector.token("device", "laptop-1")
    path = laptop(tmp_path / "l1", [4])
    ok(affidavit(path, "enrol", collector.url, "--token", token))
    with Ledger.open(path, readonly=True) as ledger:
        rows = list(ledger.rows())
        note = ledger.latest_checkpoint()[1]  # type: ignore[index]
    swapped = [rows[1], rows[0], *rows[2:]]
    records = [
        {"seq": i, "leaf": b64(r[1]), "salt": b64(r[3]), "payload": b64(r[4])}
        for i, r in enumerate(swapped)
    ]
    body = {"origin": LAPTOP, "checkpoint": note, "proof": [], "records": records}
    refused = collector.post("/api/v1/ship", token, body)
    assert refused.status_code == 422 and "root" in refused.json()["error"]
    forged = dict(body, checkpoint=note.replace("\n4\n", "\n5\n"))
    assert collector.post("/api/v1/ship", token, forged).status_code == 422
    assert held(collector) == []


def test_another_device_token_cannot_ship_for_this_ledger(
    collector: Collector, tmp_path: Path
) -> None:
    mine, theirs = collector.token("device", "laptop-1"), collector.token("device", "laptop-2")
    path = laptop(tmp_path / "l1", [2])
    ok(affidavit(path, "enrol", collector.url, "--token", mine))
    refused = affidavit(path, "ship", "--token", theirs)
    assert refused.returncode == 2 and theirs not in refused.stderr
    assert "409: laptop.example.com/ledger-1 is already enrolled with another" in refused.stderr
    with Ledger.open(path, readonly=True) as ledger:  # straight at the ship API: the same
        note = ledger.latest_checkpoint()[1]  # type: ignore[index]
    body = {"origin": LAPTOP, "checkpoint": note, "proof": [], "records": []}
    assert collector.post("/api/v1/ship", theirs, body).status_code == 403
    assert held(collector) == []


def test_a_rewritten_ledger_is_refused_and_raises_a_witness_conflict(
    collector: Collector, tmp_path: Path
) -> None:
    token = collector.token("device", "laptop-1")
    path = laptop(tmp_path / "l1", [5])
    ok(affidavit(path, "enrol", collector.url, "--token", token))
    ok(affidavit(path, "ship", "--token", token))
    cosigned = json.loads(path.with_name("ledger.sqlite.collector.json").read_text())
    # A local admin rewrites history with the same key: a new ledger, other records.
    forged_dir = tmp_path / "forged"
    forged_dir.mkdir()
    shutil.copy2(key_of(path), forged_dir / "ledger.sqlite.key")
    forged = forged_dir / "ledger.sqlite"
    with Ledger.create(forged, origin=LAPTOP, signer=_signer(key_of(path))) as ledger:
        ledger.append(make_records(3, start=100))
        ledger.seal()
        ledger.append(make_records(4, start=200))
        ledger.seal()
    shutil.copy2(path.with_name("ledger.sqlite.collector.json"), forged_dir)
    refused = affidavit(forged, "ship", "--token", token)
    assert refused.returncode == 1, refused.stderr
    assert "witness.conflict" in refused.stderr and "does not extend size 5" in refused.stderr
    assert held(collector) == list(range(5))  # nothing of the forgery was stored

    sealed = collector.cli("seal", "--json")
    assert sealed.returncode == 0
    import psycopg

    org = f'"{collector.schema}_org"'
    with psycopg.connect(collector.db, autocommit=True) as conn:
        rows = conn.execute(f"SELECT leaf, payload FROM {org}.records ORDER BY seq").fetchall()
    conflicts = [json.loads(p) for leaf, p in rows if b'"witness.conflict"' in leaf]
    (evidence,) = conflicts
    assert evidence["origin"] == LAPTOP
    assert evidence["cosigned"] == cosigned["cosignatures"][-1]["checkpoint"]
    assert evidence["refused"].startswith(f"{LAPTOP}\n7\n")


def _signer(key: Path) -> object:
    from affidavit.keys import FileSigner

    return FileSigner(key)


# -- the security model's "cannot"s (README, Running a collector) ---------------------------


def shipped_laptop(collector: Collector, tmp_path: Path) -> tuple[Path, str]:
    token = collector.token("device", "laptop-1")
    path = laptop(tmp_path / "l1", [6])
    ok(affidavit(path, "enrol", collector.url, "--token", token))
    ok(affidavit(path, "ship", "--token", token))
    return path, token


def test_a_forged_cosignature_fails_verify(collector: Collector, tmp_path: Path) -> None:
    path, _ = shipped_laptop(collector, tmp_path)
    state_file = path.with_name("ledger.sqlite.collector.json")
    state = json.loads(state_file.read_text())
    line = state["cosignatures"][-1]["cosignature"]
    state["cosignatures"][-1]["cosignature"] = (
        line[:-8] + ("A" if line[-8] != "A" else "B") + line[-7:]
    )
    state_file.write_text(json.dumps(state))
    failed = affidavit(path, "verify")
    assert failed.returncode == 1 and "cosignature by" in failed.stderr


def test_a_collector_presenting_another_witness_key_is_refused(
    collector: Collector, tmp_path: Path
) -> None:
    from affidavit.note import Signer

    path, token = shipped_laptop(collector, tmp_path)
    state_file = path.with_name("ledger.sqlite.collector.json")
    state = json.loads(state_file.read_text())
    other = Signer.generate(f"{ORIGIN}/witness")
    state["witness_vkey"] = Cosigner(other.name, other.public_key).vkey()  # what was pinned
    state_file.write_text(json.dumps(state))
    with Ledger.open(path, key_path=key_of(path)) as ledger:
        grow(ledger, [2])
    refused = affidavit(path, "ship", "--token", token)
    assert refused.returncode == 1 and "another witness key" in refused.stderr
    assert held(collector) == list(range(6))


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("UPDATE entries SET payload = convert_to(replace(convert_from(payload, 'UTF8'), "
         "'user-2', 'user-9'), 'UTF8') WHERE seq = 2", "record 2"),
        ("DELETE FROM entries WHERE seq = 5", "5 records stored, 6 acknowledged"),
        ("UPDATE endpoints SET cosigned_note = replace(cosigned_note, 'x', 'y')", "endpoint"),
    ],
)  # fmt: skip
def test_server_verify_finds_an_edited_database(
    collector: Collector, tmp_path: Path, edit: str, named: str
) -> None:
    shipped_laptop(collector, tmp_path)
    collector.cli("seal")
    assert "OK: 6 records of 1 endpoint logs" in collector.cli("verify").stdout
    collector.sql(edit + " RETURNING 1")
    failed = collector.cli("verify", check=False)
    assert failed.returncode == 1 and named in failed.stderr, failed.stderr


def test_a_shipped_record_is_sequenced_in_the_org_log_as_it_is_stored(
    pg_schemas: Schemas, tmp_path: Path
) -> None:
    c = Collector(pg_schemas, tmp_path)
    c.cli("init", "--origin", ORIGIN)
    # No seal of its own during the test: whatever is in the org log, the ship put there.
    with c.serving(env={"AFFIDAVIT_SERVER_SEAL_EVERY": "3600"}):
        token = c.token("device", "laptop-1")
        path = laptop(tmp_path / "l1", [4, 3])
        ok(affidavit(path, "enrol", c.url, "--token", token))
        ok(affidavit(path, "ship", "--token", token))
        org = f'"{c.schema}_org".records'
        rows = c.sql(f"SELECT e.seq, e.leaf_hash, r.payload FROM entries e JOIN {org} r "
                     "ON r.seq = e.org_seq ORDER BY e.org_seq")  # fmt: skip
        assert [int(s) for s, _, _ in rows] == list(range(7))
        for seq, leaf_hash, payload in rows:
            ref = json.loads(payload)
            assert (ref["origin"], ref["seq"]) == (LAPTOP, seq)
            assert base64.b64decode(ref["leaf_hash"]) == leaf_hash
        assert c.sql(f"SELECT count(*) FROM {org}") == [(7,)]
        # Entries a collector before this version stored without an org seq (never
        # sequenced yet) are still taken into the log by the integrator, once each.
        c.sql(f"DELETE FROM {org} WHERE seq >= 4 RETURNING 1")
        c.sql("UPDATE entries SET org_seq = NULL WHERE seq >= 4 RETURNING 1")
        c.cli("seal")
        assert c.sql("SELECT count(*) FROM entries WHERE org_seq IS NULL") == [(0,)]
        assert c.sql(f"SELECT count(*) FROM {org}") == [(7,)]
        assert "OK: 7 records of 1 endpoint logs" in c.cli("verify").stdout

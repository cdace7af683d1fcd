"""The collector as a C2SP tlog-witness (``POST /add-checkpoint``) and as a client of external
witnesses: two real collectors (uvicorn) on the real PostgreSQL, the second witnessing the
first's org log; endpoint ledgers shipped through the CLI."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from affidavit.cosignature import Cosigner, verify_cosignature
from affidavit.ledger import Ledger
from affidavit.note import Checkpoint, Signer, sign_note
from collector_helpers import Collector
from conftest import shared_path
from ledger_helpers import affidavit, grow, key_of, new_ledger
from pg_helpers import Schemas

LOG = "log.example.com/witnessed"


def _collector(schemas: Schemas, home: Path, origin: str) -> Iterator[Collector]:
    home.mkdir()
    c = Collector(schemas, home)
    c.cli("init", "--origin", origin)
    with c.serving():
        yield c


@pytest.fixture
def org(pg_schemas: Schemas, tmp_path: Path) -> Iterator[Collector]:
    yield from _collector(pg_schemas, tmp_path / "org", "collector.example.com/org")


@pytest.fixture
def other(pg_schemas: Schemas, tmp_path: Path) -> Iterator[Collector]:
    yield from _collector(pg_schemas, tmp_path / "other", "witness.example.net/w1")


def keys(c: Collector) -> tuple[str, str]:
    witness, org_key = c.cli("key").stdout.split()
    return witness, org_key


def add_checkpoint(c: Collector, body: bytes) -> httpx.Response:
    return httpx.post(c.url + "/add-checkpoint", content=body, timeout=30)


def request(old: int, proof: tuple[bytes, ...] | list[bytes], note: str) -> bytes:
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def body_of(note: str) -> str:
    return note[: note.index("\n\n") + 1]


# -- the protocol, against a log of our own ---------------------------------------------------


@pytest.fixture
def log(tmp_path: Path, other: Collector) -> Iterator[Ledger]:
    folder = tmp_path / "log"
    folder.mkdir()
    with new_ledger(folder, origin=LOG) as ledger:
        other.cli("logs", "add", ledger.verifier.vkey())
        yield ledger


def test_add_checkpoint_follows_tlog_witness(other: Collector, log: Ledger) -> None:
    witness = Cosigner.from_vkey(keys(other)[0])
    three, seven = grow(log, [3, 4])

    first = add_checkpoint(other, request(0, [], three))
    assert first.status_code == 200, first.text
    (line,) = first.text.splitlines()
    assert first.text.endswith("\n") and line.startswith("\u2014 witness.example.net/w1/witness ")
    assert verify_cosignature(line, body_of(three), witness) > 0

    stale = add_checkpoint(other, request(0, [], seven))
    assert stale.status_code == 409 and stale.text == "3\n"
    assert stale.headers["content-type"] == "text/x.tlog.size"

    proof = log.prove_consistency(3, 7).proof
    bad = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
    assert add_checkpoint(other, request(3, bad, seven)).status_code == 422
    assert add_checkpoint(other, request(9, proof, seven)).status_code == 400
    second = add_checkpoint(other, request(3, proof, seven))
    assert second.status_code == 200, second.text
    assert verify_cosignature(second.text.strip(), body_of(seven), witness) > 0
    assert other.sql("SELECT size FROM witnessed_logs WHERE origin = %s", LOG) == [(7,)]
    again = add_checkpoint(other, request(7, [], seven))  # the same tree again: cosigned
    assert again.status_code == 200


def test_refusals_name_the_reason_and_change_nothing(
    other: Collector, log: Ledger, tmp_path: Path
) -> None:
    (three,) = grow(log, [3])
    stranger = Signer.generate("log.example.com/unknown")
    unknown = sign_note(body_of(three).replace(LOG, stranger.name), [stranger])
    assert add_checkpoint(other, request(0, [], unknown)).status_code == 404
    impostor = Signer.generate(LOG)  # the right name, another key
    forged = sign_note(body_of(three), [impostor])
    refused = add_checkpoint(other, request(0, [], forged))
    assert refused.status_code == 403, refused.text
    assert add_checkpoint(other, request(0, [b"\x00" * 32], three)).status_code == 422
    for body in (
        b"",
        b"\xff\xfe\x00binary",
        b"old 0\n" + three.encode(),  # no empty line
        b"old -1\n\n" + three.encode(),
        b"old 01\n\n" + three.encode(),
        b"new 0\n\n" + three.encode(),
        b"old 0\nnot base64!\n\n" + three.encode(),
        ("old 0\n" + "AAAA\n" * 64 + "\n").encode() + three.encode(),
        b"old 0\n\n" + three.encode()[:-20],
    ):
        answer = add_checkpoint(other, body)
        assert answer.status_code == 400, (body[:30], answer.status_code, answer.text)
        assert answer.text.count("\n") == 1  # one line saying why
    assert add_checkpoint(other, b"old 0\n\n" + b"x" * 70_000).status_code == 413
    assert other.sql("SELECT size FROM witnessed_logs") == [(0,)]


def test_a_fork_of_a_cosigned_size_is_refused_and_recorded(
    other: Collector, log: Ledger, tmp_path: Path
) -> None:
    (three,) = grow(log, [3])
    assert add_checkpoint(other, request(0, [], three)).status_code == 200
    cp = Checkpoint.parse_body(body_of(three))
    other_root = base64.b64encode(bytes(32)).decode()
    fork_body = body_of(three).replace(base64.b64encode(cp.root).decode(), other_root)
    fork = sign_note(fork_body, [_signer_of(log, tmp_path)])
    refused = add_checkpoint(other, request(3, [], fork))
    assert refused.status_code == 409 and "witness.conflict" in refused.text
    other.cli("seal")
    rows = other.sql(f'SELECT payload FROM "{other.schema}_org".records')
    (evidence,) = [json.loads(p) for (p,) in rows if p and b"refused" in p]
    assert evidence["origin"] == LOG and evidence["refused"] == fork


def _signer_of(log: Ledger, tmp_path: Path) -> Signer:
    from affidavit.keys import read_key_file

    return read_key_file(key_of(tmp_path / "log" / "ledger.sqlite"))


def test_the_spec_example_request_parses_and_its_unknown_log_is_404(other: Collector) -> None:
    from affidavit.server.witness import parse

    examples = json.loads(shared_path("vectors", "c2sp", "spec-examples.json").read_text())
    body = examples["witness_add_checkpoint_request_example"].encode()
    req = parse(body)
    assert req.old == 20852014 and len(req.proof) == 4
    assert req.note.startswith("example.com/behind-the-sofa\n20852163\n")
    assert add_checkpoint(other, body).status_code == 404


# -- an external witness of the org log -------------------------------------------------------


def ship(org: Collector, folder: Path, batches: list[int], token: str) -> None:
    path = folder / "ledger.sqlite"
    if not path.exists():
        folder.mkdir()
        new_ledger(folder, origin="laptop.example.com/w").close()
        done = affidavit(path, "enrol", org.url, "--token", token)
        assert done.returncode == 0, done.stderr
    with Ledger.open(path, key_path=key_of(path)) as ledger:
        grow(ledger, batches)
    done = affidavit(path, "ship", "--token", token)
    assert done.returncode == 0, done.stderr


def test_an_external_witness_cosigns_the_org_log(
    org: Collector, other: Collector, tmp_path: Path
) -> None:
    witness_vkey, _ = keys(other)
    _, org_vkey = keys(org)
    other.cli("logs", "add", org_vkey)
    org.cli("witnesses", "add", other.url, "--vkey", witness_vkey)
    token, auditor = org.token("device", "laptop"), org.token("auditor", "audit")
    witness = Cosigner.from_vkey(witness_vkey)

    for batches in ([4], [2, 3]):
        ship(org, tmp_path / "laptop", batches, token)
        sealed = json.loads(org.cli("seal", "--json").stdout)
        size = sealed["size"]
        (row,) = org.sql("SELECT cosignature FROM org_cosignatures WHERE size = %s", size)
        assert verify_cosignature(row[0], body_of(sealed["checkpoint"]), witness) > 0
        served = org.get("/checkpoint", auditor)
        assert served.text == sealed["checkpoint"] + row[0] + "\n"
        assert other.sql("SELECT size FROM witnessed_logs") == [(size,)]
    listed = json.loads(org.cli("witnesses", "list", "--json").stdout)
    assert listed["url"] == other.url and listed["cosigned_size"] == size


def test_an_unreachable_witness_does_not_stop_the_org_log(org: Collector, tmp_path: Path) -> None:
    from collector_helpers import free_port

    away = Signer.generate("witness.example.org/away")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    org.cli("witnesses", "add", url, "--vkey", Cosigner(away.name, away.public_key).vkey())
    ship(org, tmp_path / "laptop", [3], org.token("device", "laptop"))
    sealed = org.cli("seal", "--json")
    assert json.loads(sealed.stdout)["size"] == 3
    assert f"witness {url}: cannot reach it" in sealed.stderr
    assert org.sql("SELECT count(*) FROM org_cosignatures") == [(0,)]
    listed = json.loads(org.cli("witnesses", "list", "--json").stdout)
    assert (listed["url"], listed["cosigned_size"]) == (url, 0)
    assert (
        org.get("/checkpoint", org.token("auditor", "a")).text
        == json.loads(sealed.stdout)["checkpoint"]
    )

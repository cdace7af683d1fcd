"""Queries across the organisation: GET /api/v1/records and `affidavit log --server`, against
a real collector; each answer is compared with `affidavit log` run on every laptop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from affidavit import shipping
from affidavit.record import Kind, Record
from collector_helpers import ORIGIN, Collector
from ledger_helpers import T0, affidavit, new_ledger
from pg_helpers import Schemas

PATHS = ["finance/q1.xlsx", "finance/2026/q2.xlsx", "hr/staff.csv", "docs/readme.md"]


def records(laptop: int) -> list[Record]:
    out = []
    for i, path in enumerate(PATHS * 3):
        user = f"user{(i + laptop) % 3}"
        out.append(
            Record.create(
                Kind.FILE_UPDATE if i % 2 else Kind.FILE_CREATE,
                "claude-code",
                {
                    "actor": {"user": user, "email": f"{user}@example.com"},
                    "agent": {"product": "claude-code", "session_id": f"s{laptop}", "tool": "Edit"},
                    "file": {"path": path},
                },
                time=T0 + timedelta(hours=i),
            )
        )
    out.append(
        Record.create(Kind.COMMAND_EXEC, "claude-code", {"command": {"text": "ls"}}, time=T0)
    )
    return out


@pytest.fixture(scope="module")
def org(
    pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Collector, str, list[Path]]]:
    home = tmp_path_factory.mktemp("org")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving():
        laptops = []
        for n in range(2):
            folder = home / f"laptop-{n}"
            folder.mkdir()
            device = c.token("device", f"laptop-{n}")
            with new_ledger(folder, origin=f"laptop.example.com/{n}") as ledger:
                ledger.append(records(n))
                ledger.seal()
                shipping.enrol(ledger, folder / "ledger.sqlite", c.url, device)
                shipping.ship(ledger, folder / "ledger.sqlite", device)
            laptops.append(folder / "ledger.sqlite")
        c.cli("seal")
        yield c, c.token("auditor", "auditor-1"), laptops


def api(c: Collector, token: str, **params: object) -> list[dict[str, object]]:
    r = c.get("/api/v1/records", token, params=params)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


def local(laptops: list[Path], *args: str) -> set[tuple[str, int]]:
    found = set()
    for n, path in enumerate(laptops):
        result = affidavit(path, "log", "--format", "jsonl", *args)
        assert result.returncode == 0, result.stderr
        found |= {
            (f"laptop.example.com/{n}", json.loads(x)["seq"]) for x in result.stdout.splitlines()
        }
    return found


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--path", "finance"),
        ("--path", "finance/2026/*"),
        ("--actor", "user1@example.com"),
        ("--actor", "user2"),
        ("--kind", "file.create"),
        ("--kind", "command"),
        ("--tool", "Edit", "--session", "s1"),
        ("--since", "2026-11-26T12:00:00Z", "--until", "2026-11-26T15:00:00Z"),
    ],
)
def test_the_server_answers_as_log_does_on_every_laptop(
    org: tuple[Collector, str, list[Path]], args: tuple[str, ...]
) -> None:
    c, token, laptops = org
    result = affidavit(
        laptops[0], "log", "--server", c.url, "--token", token, "--format", "jsonl", *args
    )
    assert result.returncode == 0, result.stderr
    remote = {(r["origin"], r["seq"]) for r in map(json.loads, result.stdout.splitlines())}
    assert remote == local(laptops, *args)
    assert remote  # every filter above matches something: an empty answer proves nothing


def test_pages_by_org_seq_cover_everything_once(org: tuple[Collector, str, list[Path]]) -> None:
    c, token, _ = org
    seen: list[int] = []
    after = -1
    while True:
        r = c.get("/api/v1/records", token, params={"after": after, "limit": 5, "path": "finance"})
        assert r.status_code == 200
        seen += [json.loads(x)["org_seq"] for x in r.text.splitlines()]
        if "x-next-after" not in r.headers:
            break
        after = int(r.headers["x-next-after"])
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 2 * 6
    assert {r["org_seq"] for r in api(c, token, path="finance", limit=5000)} == set(seen)


def test_device_filter_and_refusals(org: tuple[Collector, str, list[Path]]) -> None:
    c, token, _ = org
    assert {r["origin"] for r in api(c, token, device="laptop.example.com/1")} == {
        "laptop.example.com/1"
    }
    for params, status in (
        ({"function": "finance"}, 400),
        ({"colour": "red"}, 400),
        ({"limit": 0}, 400),
    ):
        r = c.get("/api/v1/records", token, params=params)
        assert r.status_code == status and r.json()["error"]
    device = c.token("device", "laptop-9")
    assert c.get("/api/v1/records", device).status_code == 403
    bad = affidavit(Path("unused"), "log", "--server", c.url, "--token", token, "--function", "x")
    assert bad.returncode == 2 and "--path" in bad.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_from_the_collector_names_each_row_in_both_logs(
    org: tuple[Collector, str, list[Path]], fmt: str, tmp_path: Path
) -> None:
    import base64
    import csv

    from affidavit.ledger import Ledger

    c, token, laptops = org
    out = tmp_path / f"finance.{fmt}"
    done = affidavit(
        laptops[0], "export", "--server", c.url, "--token", token, "--format", fmt,
        "--out", str(out), "--path", "finance", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f)) if fmt == "csv" else [json.loads(x) for x in f]
    assert json.loads(done.stdout)["written"] == len(rows)
    assert {(r["origin"], int(r["seq"])) for r in rows} == local(laptops, "--path", "finance")
    org_seqs = dict(
        ((o, int(s)), int(n)) for o, s, n in c.sql("SELECT origin, seq, org_seq FROM entries")
    )
    hashes = {}
    for n, path in enumerate(laptops):
        with Ledger.open(path, readonly=True) as ledger:
            for seq, _, leaf_hash, _, _ in ledger.rows():
                hashes[(f"laptop.example.com/{n}", seq)] = base64.b64encode(leaf_hash).decode()
    for r in rows:
        key = (r["origin"], int(r["seq"]))
        assert int(r["org_seq"]) == org_seqs[key] and r["leaf_hash"] == hashes[key]


def test_export_from_the_collector_refuses_what_it_cannot_write(
    org: tuple[Collector, str, list[Path]], tmp_path: Path
) -> None:
    c, token, laptops = org
    out = tmp_path / "x.ocsf"
    ocsf = affidavit(laptops[0], "export", "--server", c.url, "--token", token,
                     "--format", "ocsf", "--out", str(out))  # fmt: skip
    assert ocsf.returncode == 2 and "use csv or jsonl" in ocsf.stderr and not out.exists()
    out.write_text("kept\n")
    kept = affidavit(laptops[0], "export", "--server", c.url, "--token", token,
                     "--format", "csv", "--out", str(out))  # fmt: skip
    assert kept.returncode == 2 and "--force" in kept.stderr and out.read_text() == "kept\n"

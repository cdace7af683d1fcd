"""The org log over every shipped record, and the org log as C2SP tlog-tiles: read back by
the independent `tlog-scales` client from PyPI and by a small tile reader written here from
the spec's text, against a real collector and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from tlog_scales.backend import HttpBackend
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey

from affidavit import merkle, shipping
from affidavit.ledger import Ledger
from affidavit.note import Verifier, open_checkpoint
from affidavit.server.tiles import NotFound, parse
from affidavit.store.postgres import PostgresStore, connect
from collector_helpers import ORIGIN, Collector
from conftest import shared_path
from ledger_helpers import grow, new_ledger
from pg_helpers import Schemas

# Three laptops, 301 records: one full level-0 tile (256) and a partial one, and a level-1
# partial tile of width 1.
LAPTOPS = {
    "laptop.example.com/a": [100, 50],
    "laptop.example.com/b": [90],
    "laptop.example.com/c": [61],
}


@pytest.fixture(scope="module")
def fleet(
    pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Collector, str, dict[str, Path]]]:
    home = tmp_path_factory.mktemp("fleet")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving(workers=2):
        token = c.token("auditor", "auditor-1")
        paths = {}
        for i, (origin, batches) in enumerate(LAPTOPS.items()):
            folder = home / f"laptop-{i}"
            folder.mkdir()
            device = c.token("device", f"laptop-{i}")
            with new_ledger(folder, origin=origin) as ledger:
                grow(ledger, batches)
                shipping.enrol(ledger, folder / "ledger.sqlite", c.url, device)
                shipping.ship(ledger, folder / "ledger.sqlite", device)
            paths[origin] = folder / "ledger.sqlite"
        c.cli("seal")
        yield c, token, paths


def org_vkey(c: Collector) -> str:
    return c.cli("key").stdout.splitlines()[1]


def test_the_org_log_holds_every_shipped_record_once_and_verifies(
    fleet: tuple[Collector, str, dict[str, Path]],
) -> None:
    c, _, paths = fleet
    store = PostgresStore.open(connect(c.db), f"{c.schema}_org")
    with Ledger(store) as org:
        report = org.verify(key=Verifier.from_vkey(org_vkey(c)))
        refs = [json.loads(p) for _, _, _, _, p in org.rows()]
    assert report.records == report.tree_size == 301
    assert sorted((r["origin"], r["seq"]) for r in refs) == sorted(
        (o, s) for o, b in LAPTOPS.items() for s in range(sum(b))
    )
    # Each reference names the laptop's own leaf hash: the org proof extends to the laptop's.
    for ref in refs[::37]:
        with Ledger.open(paths[ref["origin"]], readonly=True) as laptop:
            (_, leaf, leaf_hash, _, _) = laptop.store.record(ref["seq"])  # type: ignore[misc]
        assert base64.b64decode(ref["leaf_hash"]) == leaf_hash == merkle.leaf_hash(leaf)
    assert c.sql("SELECT count(*) FROM entries WHERE org_seq IS NULL") == [(0,)]


def test_tlog_scales_reads_and_verifies_the_tiles(
    fleet: tuple[Collector, str, dict[str, Path]],
) -> None:
    c, token, _ = fleet
    backend = HttpBackend(c.url)
    backend.session.headers["Authorization"] = f"Bearer {token}"
    reader = TilesReader(backend)
    cp = reader.get_checkpoint()
    cp.verify(Vkey.from_string(org_vkey(c)))
    assert (cp.origin, cp.size) == (ORIGIN, 301)
    assert reader.calculate_root_hash() == cp.root_hash
    for idx in (0, 1, 255, 256, 300):
        entry = reader.get_entry(idx)
        leaf_hash = hashlib.sha256(b"\x00" + entry).digest()
        reader.get_inclusion_proof(idx, cp.size).check(leaf_hash, cp.root_hash)
        assert b'"kind":"org.entry"' in entry


def get(c: Collector, token: str | None, path: str) -> tuple[int, bytes, dict[str, str]]:
    r = c.get(path, token)
    return r.status_code, r.content, dict(r.headers)


def test_an_independent_tile_reader_from_the_spec(
    fleet: tuple[Collector, str, dict[str, Path]],
) -> None:
    c, token, _ = fleet
    status, note, headers = get(c, token, "/checkpoint")
    assert status == 200 and headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["cache-control"] == "no-cache"
    cp = open_checkpoint(note.decode(), Verifier.from_vkey(org_vkey(c)))
    status, full, headers = get(c, token, "/tile/0/000")
    assert status == 200 and len(full) == 256 * 32 and "immutable" in headers["cache-control"]
    status, part, _ = get(c, token, "/tile/0/001.p/45")
    assert status == 200 and len(part) == 45 * 32
    # Level 1 holds the MTH of each full level-0 tile: here one, as a partial of width 1.
    status, level1, _ = get(c, token, "/tile/1/000.p/1")
    assert status == 200 and level1 == mth([full[i : i + 32] for i in range(0, len(full), 32)])
    leaves = [full[i : i + 32] for i in range(0, len(full), 32)]
    leaves += [part[i : i + 32] for i in range(0, len(part), 32)]
    assert mth(leaves) == cp.root
    # Entry bundles: uint16 big-endian lengths; each entry hashes to its level-0 hash.
    status, bundle, _ = get(c, token, "/tile/entries/001.p/45")
    entries, at = [], 0
    while at < len(bundle):
        (n,) = struct.unpack(">H", bundle[at : at + 2])
        entries.append(bundle[at + 2 : at + 2 + n])
        at += 2 + n
    assert [merkle.leaf_hash(e) for e in entries] == leaves[256:]


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 MTH over already-hashed leaves, recursively, hashlib only."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


@pytest.mark.parametrize(
    "path",
    ["/tile/0/002", "/tile/0/001", "/tile/0/001.p/46", "/tile/1/000", "/tile/entries/001.p/46",
     "/tile/0/1", "/tile/00/000", "/tile/0/000.p/0", "/tile/0/000.p/256", "/tile/64/000"],
)  # fmt: skip
def test_tiles_past_the_tree_or_malformed_are_404(
    fleet: tuple[Collector, str, dict[str, Path]], path: str
) -> None:
    c, token, _ = fleet
    assert get(c, token, path)[0] == 404


def test_tiles_need_a_token(fleet: tuple[Collector, str, dict[str, Path]]) -> None:
    c, _, _ = fleet
    assert get(c, None, "/checkpoint")[0] == get(c, None, "/tile/0/000")[0] == 401


def test_tile_paths_as_the_spec_writes_them() -> None:
    examples = json.loads(shared_path("vectors", "c2sp", "spec-examples.json").read_text())
    encoded = examples["tlog_tiles_path_examples"]["tile index 1234067"]
    assert parse(f"0/{encoded}") == (0, 1234067, 256)
    assert parse("entries/x001/x234/067.p/8") == (None, 1234067, 8)
    assert parse("2/x001/234") == (2, 1234, 256)
    for bad in ("0/1234067", "0/x1/234", "0/001/x234", "-1/000", "0/000.p/07"):
        with pytest.raises(NotFound):
            parse(bad)

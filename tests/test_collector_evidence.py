"""Evidence packs from the collector (``affidavit evidence --server URL --device ORIGIN``):
a real collector (uvicorn) on the real PostgreSQL, an endpoint ledger shipped through the
CLI, the pack checked by ``affidavit verify-pack`` exactly as a local one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from affidavit.ledger import Ledger
from collector_helpers import Collector
from ledger_helpers import affidavit, grow, new_ledger

LAPTOP = "laptop.example.com/evidence-1"


@pytest.fixture
def laptop(collector: Collector, tmp_path: Path) -> Path:
    folder = tmp_path / "laptop"
    folder.mkdir()
    with new_ledger(folder, origin=LAPTOP) as ledger:
        grow(ledger, [6, 4])
        ledger.erase([2], "request 7")  # erased on the endpoint before it was shipped
        ledger.seal()
    path = folder / "ledger.sqlite"
    token = collector.token("device", "laptop")
    collector.enrol_and_ship(path, token)
    return path


def pack(
    c: Collector, laptop: Path, token: str, out: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return affidavit(laptop, "evidence", "--server", c.url, "--device", LAPTOP, "--token", token,
                     "--out", str(out), "--json", *args)  # fmt: skip


def test_a_pack_from_the_collector_verifies_like_a_local_one(
    collector: Collector, laptop: Path, tmp_path: Path
) -> None:
    auditor = collector.token("auditor", "auditor-1")
    out = tmp_path / "from-collector.zip"
    built = pack(collector, laptop, auditor, out, "--kind", "file")
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert (summary["tree_size"], summary["records"], summary["erased"]) == (11, 10, 1)

    with Ledger.open(laptop, readonly=True) as ledger:
        vkey = ledger.verifier.vkey()
    checked = affidavit(laptop, "verify-pack", str(out), "--key", vkey, "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    local = tmp_path / "local.zip"
    same = affidavit(laptop, "evidence", "--out", str(local), "--kind", "file")
    assert same.returncode == 0, same.stderr
    assert _members(out, "records.jsonl") == _members(local, "records.jsonl")
    assert _members(out, "checkpoint.txt") == _members(local, "checkpoint.txt")


def _members(pack: Path, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(pack) as z:
        return z.read(name)


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ("UPDATE entries SET payload = convert_to(replace(convert_from(payload, 'UTF8'), "
         "'user-4', 'user-9'), 'UTF8') WHERE seq = 4", "record 4"),
        ("UPDATE entries SET payload = NULL, salt = NULL WHERE seq = 5", "record 5"),
        ("DELETE FROM entries WHERE seq = 10", "not the 11 its checkpoint covers"),
    ],
)  # fmt: skip
def test_an_edited_collector_copy_builds_no_pack(
    collector: Collector, laptop: Path, tmp_path: Path, edit: str, said: str
) -> None:
    auditor = collector.token("auditor", "auditor-1")
    collector.sql(edit + " RETURNING 1")
    out = tmp_path / "refused.zip"
    refused = pack(collector, laptop, auditor, out)
    assert refused.returncode == 1 and said in refused.stderr, refused.stderr
    assert not out.exists()


def test_refusals(collector: Collector, laptop: Path, tmp_path: Path) -> None:
    device = collector.token("device", "other")
    out = tmp_path / "x.zip"
    assert pack(collector, laptop, device, out).returncode == 2
    auditor = collector.token("auditor", "auditor-1")
    unknown = affidavit(laptop, "evidence", "--server", collector.url, "--device", "nobody/x",
                        "--token", auditor, "--out", str(out))  # fmt: skip
    assert unknown.returncode == 2 and "no endpoint log 'nobody/x'" in unknown.stderr
    # Without --device the pack is over the org log (test_console_pack), which holds no
    # content store and no one log's window or kept checkpoint.
    no_device = affidavit(laptop, "evidence", "--server", collector.url, "--token", auditor,
                          "--out", str(out), "--with-content")  # fmt: skip
    assert no_device.returncode == 2 and "--device" in no_device.stderr
    assert not out.exists()

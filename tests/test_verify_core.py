"""One verification core: the checks live once, and writes do not read the whole file.

Issue 9, findings 3 and 5: four verifiers each re-implemented row checks, the erasure rule and
the tree fold (and disagreed), the RFC 9162 prefixes were written out in five modules, and
every writing command ran SQLite's page check over the whole file first.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from affidavit import merkle
from affidavit.errors import InputError, VerificationError
from affidavit.ledger import Ledger
from affidavit.record import Record, read_leaf
from affidavit.store.sqlite import SqliteStore
from affidavit.verify.erasure import erased_by
from affidavit.verify.tree import TreeCheck, root_of
from ledger_helpers import key_of, make_records, new_ledger

SRC = Path(__file__).resolve().parents[1] / "src" / "affidavit"
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_tree_prefixes_are_written_only_in_merkle() -> None:
    # The evidence pack's README carries a standalone checker for the auditor, written out
    # on purpose so it needs nothing of ours: it is text in a string, not our code path.
    allowed = {SRC / "merkle.py", SRC / "evidence" / "readme.py"}
    prefix = re.compile(r"""b["']\\x0[01]["']\s*\+""")
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p not in allowed and prefix.search(p.read_text("utf-8"))
    ]
    assert offenders == []


def test_the_ledger_does_not_import_the_query_index() -> None:
    assert not any(m.startswith("affidavit.query") for m in _imports(SRC / "ledger.py"))


@pytest.mark.parametrize(
    ("module", "needs"),
    [
        ("ledger.py", "affidavit.verify.log"),
        ("evidence/verify.py", "affidavit.verify.erasure"),
        ("evidence/records.py", "affidavit.record"),
        ("salvage.py", "affidavit.record"),
        ("capture/writer.py", "affidavit.verify.erasure"),
    ],
)
def test_every_verifier_uses_the_core(module: str, needs: str) -> None:
    found = [p for p in SRC.rglob(module.rsplit("/", 1)[-1]) if str(p).endswith(module)]
    assert found, module
    assert needs in _imports(found[0])


def test_the_archive_verifier_uses_the_core() -> None:
    imports = _imports(SRC / "evidence" / "archive_verify.py")
    assert {"affidavit.verify.erasure", "affidavit.verify.tree"} <= imports


def test_read_leaf_checks_kind_source_and_time() -> None:
    good = Record.create("file.update", "t", {"a": 1}, time=NOW).leaf
    assert read_leaf(good)[1:3] == ("file.update", "t")
    for bad in (
        good.replace(b"file.update", b"file.nonsense"),
        good.replace(b'"t"', b'"T!"'),
        good.replace(b"2026-11-26", b"2026-13-26"),
        good.replace(b'"v":1', b'"v":2'),
        good.replace(b'{"commitment"', b'{ "commitment"'),
    ):
        with pytest.raises(InputError):
            read_leaf(bad)


def test_the_erasure_rule_is_one_function() -> None:
    body = b'{"reason":"r","seqs":[0,2]}'
    assert erased_by(3, "affidavit", body) == [0, 2]
    for seq, source, payload, why in (
        (3, "someone", body, "only `affidavit erase`"),
        (2, "affidavit", body, "not earlier"),
        (3, "affidavit", None, "without its payload"),
        (3, "affidavit", b'{"seqs":"0"}', "without a list of seqs"),
    ):
        with pytest.raises(VerificationError, match=why):
            erased_by(seq, source, payload)


def test_the_one_tree_folder_agrees_with_the_reference() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(37)]
    fold = TreeCheck(None, [1, 8, 13, 37])
    for h in leaves:
        fold.add(h)
    assert fold.root() == merkle.root(leaves) == root_of(leaves)
    for size in (1, 8, 13, 37):
        assert fold.roots[size] == merkle.root(leaves[:size])


def test_writes_do_not_read_the_whole_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 5: append and seal ran PRAGMA quick_check over every page first, so a write
    cost grew with the ledger's age. Now only verify and status --check do."""
    with new_ledger(tmp_path) as led:
        led.append(make_records(20))
        led.seal()
    calls: list[str] = []

    def counted(self: SqliteStore) -> list[str]:
        calls.append(self.path)
        return []

    monkeypatch.setattr(SqliteStore, "page_problems", counted)
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path, key_path=key_of(path)) as led:
        led.append(make_records(5, start=20))
        led.seal()
        led.erase([3], "request")
    assert calls == []  # no write asked for the whole-file check
    with Ledger.open(path, key_path=key_of(path)) as led:
        led.verify()
    assert calls == [str(path)]  # verify does


def test_append_refuses_records_out_of_time_order_only_by_kind(tmp_path: Path) -> None:
    """Back-dated records (an import) are fine; what the core refuses is a kind it does not
    know or an erasure that did not come through Ledger.erase."""
    with new_ledger(tmp_path) as led:
        old = Record.create("file.read", "t", {}, time=NOW - timedelta(days=700))
        led.append([old])
        led.seal()
        led.verify()

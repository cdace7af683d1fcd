"""Cloud-sync version history: agent edits linked to provider revisions, over real HTTP.

Each provider is served by tests/provider_server.py on loopback in the documented shapes
(tests/assets/sources/README.md names the pages): pagination, 429 with Retry-After, an
expired token, a deleted file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from affidavit.capture.content import put_blob
from affidavit.compliance.checklist import score_checklist
from affidavit.compliance.gather import Drill, gather
from affidavit.compliance.minimum import score_minimum
from affidavit.config import Config
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record
from affidavit.sources import cloud
from affidavit.sources.providers import PROVIDERS
from keyring_helpers import memory_keyring
from ledger_helpers import affidavit, new_ledger
from provider_server import Fake, loopback, serve

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T + timedelta(days=1)
TOKEN = "ya29.secret-test-token"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = new_ledger(tmp_path)
    try:
        yield led
    finally:
        led.close()


def _edit(ledger: Ledger, path: str, data: bytes, moment: datetime, keep: bool = True) -> int:
    sha = hashlib.sha256(data).hexdigest()
    if keep:
        conn = ledger.store.connection
        put_blob(conn, sha, data)
        conn.commit()
    payload = {
        "actor": {"user": "dana"},
        "agent": {"product": "claude-code", "tool": "Edit"},
        "file": {"path": path, "after_sha256": sha, "size": len(data)},
    }
    rec = Record.create(Kind.FILE_UPDATE, "claude-code.hook", payload, time=moment)
    return ledger.append([rec])[0]


def _source(tmp_path: Path, provider: str, api: str, days: int | None = 180) -> cloud.SourceConfig:
    token = tmp_path / "token.json"
    token.write_text(f'{{"access_token": "{TOKEN}", "token_type": "Bearer"}}')
    return cloud.SourceConfig("team", provider, str(tmp_path / "Sync"), "", str(token), api, days)


def _payloads(ledger: Ledger, kind: str) -> list[dict[str, Any]]:
    return [p for _, p in cloud.records(ledger, kind)]


def test_dropbox_edits_link_by_content_hash_and_repull_adds_nothing(
    ledger: Ledger, tmp_path: Path
) -> None:
    box = PROVIDERS["dropbox"]
    path = str(tmp_path / "Sync" / "reports" / "q3.txt")
    first = _edit(ledger, path, b"draft", T)
    second = _edit(ledger, path, b"final", T + timedelta(minutes=10))
    fake = Fake()
    fake.files["reports/q3.txt"] = [
        {
            "rev": "a3",
            "server_modified": _stamp(T + timedelta(minutes=10, seconds=20)),
            "size": 5,
            "content_hash": box.content_hash(b"final"),
        },
        {
            "rev": "a2",
            "server_modified": _stamp(T + timedelta(seconds=30)),
            "size": 5,
            "content_hash": box.content_hash(b"draft"),
        },
        {
            "rev": "a1",
            "server_modified": _stamp(T - timedelta(days=3)),
            "size": 3,
            "content_hash": box.content_hash(b"old"),
        },
    ]
    with serve(fake) as api:
        cfg = _source(tmp_path, "dropbox", api)
        cloud.add(ledger, cfg, now=NOW)
        report = cloud.pull(ledger, cfg, now=NOW)
        assert (report.judged, report.linked, report.gaps) == (2, 2, 0)
        links = {
            p["link"]["edit"]["seq"]: p["link"] for p in _payloads(ledger, Kind.SOURCE_REVISION)
        }
        assert links[first]["revision"]["id"] == "a2" and links[first]["match"] == "hash"
        assert links[second]["revision"]["id"] == "a3"
        # Two revisions a page: the oldest came from a second page, asked for before a2.
        assert [b.get("before_rev") for b in fake.bodies] == [None, "a2"]
        size = ledger.store.size()
        again = cloud.pull(ledger, cfg, now=NOW + timedelta(hours=1))
        assert again.judged == 0 and ledger.store.size() == size  # idempotent
    assert all(token == TOKEN for _, _, token in fake.log)


def test_dropbox_pages_back_to_an_edit_older_than_the_latest_revisions(
    ledger: Ledger, tmp_path: Path
) -> None:
    box = PROVIDERS["dropbox"]
    edit = _edit(ledger, str(tmp_path / "Sync" / "sheet.csv"), b"agent", T)
    fake = Fake()  # two a page: the agent's revision is the fifth, on the third page
    fake.files["sheet.csv"] = [
        {
            "rev": f"0{i}a",
            "server_modified": _stamp(T + timedelta(minutes=i)),
            "content_hash": box.content_hash(b"agent" if i == 1 else f"autosave {i}".encode()),
        }
        for i in range(5, 0, -1)
    ]
    fake.deleted["sheet.csv"] = _stamp(T + timedelta(hours=1))
    with serve(fake) as api:
        report = cloud.pull(ledger, _source(tmp_path, "dropbox", api), now=NOW)
    assert [b.get("before_rev") for b in fake.bodies] == [None, "04a", "02a"]
    assert (report.linked, report.gaps) == (1, 0)
    (link,) = _payloads(ledger, Kind.SOURCE_REVISION)
    assert link["link"]["edit"]["seq"] == edit and link["link"]["revision"]["id"] == "01a"


def test_a_revision_with_other_bytes_is_not_a_link(ledger: Ledger, tmp_path: Path) -> None:
    box = PROVIDERS["dropbox"]
    _edit(ledger, str(tmp_path / "Sync" / "a.txt"), b"agent wrote this", T)
    fake = Fake()
    fake.files["a.txt"] = [
        {
            "rev": "b1",
            "server_modified": _stamp(T + timedelta(seconds=5)),
            "size": 9,
            "content_hash": box.content_hash(b"something else"),
        },
    ]
    fake.deleted["a.txt"] = _stamp(T + timedelta(hours=2))
    with serve(fake) as api:
        report = cloud.pull(ledger, _source(tmp_path, "dropbox", api), now=NOW)
    assert (report.linked, report.gaps) == (0, 1)
    (gap,) = _payloads(ledger, Kind.CAPTURE_GAP)
    assert "deleted in Dropbox" in gap["gap"]["reason"]
    assert "no revision holds the bytes" in gap["gap"]["reason"]


def test_drive_pages_and_retry_after_are_followed(ledger: Ledger, tmp_path: Path) -> None:
    data = b"budget v2"
    path = str(tmp_path / "Sync" / "finance" / "budget.xlsx")
    _edit(ledger, path, data, T)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    fake = Fake(throttle=1)
    fake.files["finance/budget.xlsx"] = [
        {
            "id": f"r{i}",
            "modifiedTime": _stamp(T - timedelta(days=9 - i)),
            "md5Checksum": "0" * 32,
            "size": "9",
        }
        for i in range(4)
    ] + [
        {
            "id": "r9",
            "modifiedTime": _stamp(T + timedelta(minutes=1)),
            "md5Checksum": md5,
            "size": "9",
            "keepForever": True,
        }
    ]
    with serve(fake) as api:
        slept: list[float] = []
        report = cloud.pull(
            ledger, _source(tmp_path, "google-drive", api), now=NOW, sleep=slept.append
        )
    assert report.linked == 1 and slept == [0.0]
    assert sum("pageToken=" in path for _, path, _ in fake.log) == 2  # three pages of two
    (link,) = _payloads(ledger, Kind.SOURCE_REVISION)
    assert link["link"]["revision"] == {
        "id": "r9",
        "time": "2026-11-02T09:01:00.000000Z",
        "size": 9,
        "hash": md5,
        "keep_forever": True,
    }
    assert link["file"]["path"] == path


def test_onedrive_links_by_time_follows_next_link_and_missing_item_is_a_gap(
    ledger: Ledger, tmp_path: Path
) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "hr" / "plan.docx"), b"x", T)
    _edit(ledger, str(tmp_path / "Sync" / "hr" / "gone.docx"), b"y", T + timedelta(minutes=1))
    fake = Fake()
    fake.files["hr/plan.docx"] = [
        {"id": "3.0", "lastModifiedDateTime": _stamp(T + timedelta(minutes=2)), "size": 1},
        {"id": "2.0", "lastModifiedDateTime": _stamp(T - timedelta(days=1)), "size": 1},
        {"id": "1.0", "lastModifiedDateTime": _stamp(T - timedelta(days=2)), "size": 1},
    ]
    with serve(fake) as api:
        report = cloud.pull(ledger, _source(tmp_path, "onedrive", api), now=NOW)
    assert (report.linked, report.gaps) == (1, 1)
    assert any("$skiptoken=2" in path for _, path, _ in fake.log)
    (link,) = _payloads(ledger, Kind.SOURCE_REVISION)
    assert link["link"]["revision"]["id"] == "3.0" and link["link"]["match"] == "time"
    (gap,) = _payloads(ledger, Kind.CAPTURE_GAP)
    assert gap["gap"]["reason"].startswith("no item hr/gone.docx in OneDrive")


def test_expired_token_stops_after_recording_what_was_judged_then_resumes(
    ledger: Ledger, tmp_path: Path
) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "a.txt"), b"a", T, keep=False)
    later = _edit(
        ledger, str(tmp_path / "Sync" / "b.txt"), b"b", T + timedelta(minutes=1), keep=False
    )
    fake = Fake(expire_after=1)
    for name in ("a.txt", "b.txt"):
        fake.files[name] = [
            {"rev": f"r-{name}", "server_modified": _stamp(T + timedelta(minutes=3)), "size": 1}
        ]
    with serve(fake) as api:
        cfg = _source(tmp_path, "dropbox", api)
        first = cloud.pull(ledger, cfg, now=NOW)
        assert first.judged == 1 and first.stopped is not None
        assert "HTTP 401" in first.stopped and cfg.token in first.stopped
        assert TOKEN not in first.stopped
        fake.expire_after = None
        second = cloud.pull(ledger, cfg, now=NOW)
    assert second.judged == 1 and second.cursor == later
    seqs = [p["link"]["edit"]["seq"] for p in _payloads(ledger, Kind.SOURCE_REVISION)]
    assert sorted(seqs) == sorted(set(seqs)) and len(seqs) == 2  # each edit linked once


def test_drive_deleted_file_is_a_gap_and_one_older_than_retention_is_expired(
    ledger: Ledger, tmp_path: Path
) -> None:
    old = T - timedelta(days=45)
    _edit(ledger, str(tmp_path / "Sync" / "ops" / "gone.txt"), b"g", T, keep=False)
    _edit(ledger, str(tmp_path / "Sync" / "ops" / "purged.txt"), b"p", old, keep=False)
    fake = Fake()
    # Drive purged the revision of 45 days ago (not kept forever, retention 30 days).
    fake.files["ops/purged.txt"] = [
        {"id": "p2", "modifiedTime": _stamp(T - timedelta(days=2)), "size": "1"}
    ]
    with serve(fake) as api:
        report = cloud.pull(ledger, _source(tmp_path, "google-drive", api, days=30), now=NOW)
    assert (report.linked, report.gaps) == (0, 2)
    gaps = {p["gap"]["remote"]: p["gap"] for p in _payloads(ledger, Kind.CAPTURE_GAP)}
    assert gaps["ops/gone.txt"]["reason"].startswith("no file ops/gone.txt in Drive (deleted")
    assert gaps["ops/gone.txt"]["expired"] is False
    assert gaps["ops/purged.txt"]["expired"] is True  # older than the provider keeps history
    (pulled,) = _payloads(ledger, Kind.SOURCE_PULL)
    assert pulled["pull"]["folders"]["/ops"] == {"linked": 0, "gaps": 1, "expired": 1}


def test_graph_throttles_then_refuses_an_expired_token_naming_where_it_is(
    ledger: Ledger, tmp_path: Path
) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "a.docx"), b"a", T, keep=False)
    fake = Fake(throttle=1, expire_after=2)  # a 429, the item, then 401 for its versions
    fake.files["a.docx"] = [{"id": "1.0", "lastModifiedDateTime": _stamp(T), "size": 1}]
    with serve(fake) as api:
        slept: list[float] = []
        cfg = _source(tmp_path, "onedrive", api)
        report = cloud.pull(ledger, cfg, now=NOW, sleep=slept.append)
    assert slept == [0.0] and report.judged == 0 and report.stopped is not None
    assert "GET /v1.0/me/drive/items/" in report.stopped and "HTTP 401" in report.stopped
    assert f"put a fresh one in {cfg.token}" in report.stopped and TOKEN not in report.stopped
    assert not _payloads(ledger, Kind.SOURCE_PULL)  # nothing judged, nothing recorded


def test_a_redirect_is_not_followed_so_the_token_goes_nowhere_else(
    ledger: Ledger, tmp_path: Path
) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "a.txt"), b"a", T, keep=False)
    elsewhere = Fake()  # another host, which a redirect would hand the bearer token to
    with serve(elsewhere) as other, _redirecting(other) as api:
        report = cloud.pull(ledger, _source(tmp_path, "dropbox", api), now=NOW)
    assert report.stopped is not None and "HTTP 302, redirected; not followed" in report.stopped
    assert elsewhere.log == [] and report.judged == 0


@contextmanager
def _redirecting(target: str) -> Iterator[str]:
    """A loopback API that answers every request with a 302 to ``target``."""

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with loopback(Redirect) as base:
        yield base


def test_recent_edits_wait_for_the_next_pull(ledger: Ledger, tmp_path: Path) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "a.txt"), b"a", NOW - timedelta(minutes=5))
    with serve(Fake()) as api:
        report = cloud.pull(ledger, _source(tmp_path, "dropbox", api), now=NOW)
    assert (report.judged, report.pending) == (0, 1) and not report.seqs


def test_token_file_without_a_token_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    cfg = _source(tmp_path, "dropbox", "http://127.0.0.1:9")
    Path(cfg.token).write_text("{}")
    with pytest.raises(InputError, match="no secret in it"):
        cloud.add(ledger, cfg, now=NOW)
    Path(cfg.token).write_text(TOKEN)
    with pytest.raises(InputError, match=r"'file:///etc' is not http\(s\)://"):
        cloud.add(ledger, replace(cfg, api_url="file:///etc"), now=NOW)
    assert cloud.configs(ledger) == {}


def test_the_token_can_come_from_the_os_keyring_or_the_environment(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "a.txt"), b"a", T, keep=False)
    fake = Fake()
    fake.files["a.txt"] = [{"rev": "r1", "server_modified": _stamp(T + timedelta(minutes=1))}]
    with memory_keyring() as ring, serve(fake) as api:
        ring.set_password("affidavit-dropbox", "team", TOKEN)
        cfg = replace(_source(tmp_path, "dropbox", api), token="keyring:affidavit-dropbox:team")
        cloud.add(ledger, cfg, now=NOW)
        assert cloud.configs(ledger)["team"].token == "keyring:affidavit-dropbox:team"
        assert cloud.pull(ledger, cfg, now=NOW).linked == 1
        assert {token for _, _, token in fake.log} == {TOKEN}  # the keyring's token was sent
        missing = replace(cfg, token="keyring:affidavit-dropbox:nobody")
        with pytest.raises(InputError, match="keyring entry affidavit-dropbox:nobody: no such"):
            cloud.add(ledger, missing, now=NOW)
        monkeypatch.setenv("DROPBOX_TOKEN", "from-the-environment")
        cloud.add(ledger, replace(cfg, name="env", token="env:DROPBOX_TOKEN"), now=NOW)
        _edit(ledger, str(tmp_path / "Sync" / "a.txt"), b"b", T + timedelta(hours=1), keep=False)
        assert cloud.pull(ledger, cloud.configs(ledger)["env"], now=NOW).judged == 2
        assert fake.log[-1][2] == "from-the-environment"
    assert TOKEN.encode() not in (tmp_path / "ledger.sqlite").read_bytes()


def _history_items(ledger: Ledger, day: date | None = None) -> tuple[Any, Any]:
    day = day or NOW.date()
    # A passing drill, so the backup item's reason is about history and archive only.
    evidence = replace(gather(ledger, Config()), drill=Drill(0, NOW, True, "restored"))
    backup = next(i for i in score_checklist(Config(), evidence, day) if i.id == "backup_rollback")
    minimum = next(i for i in score_minimum(Config(), evidence, day) if i.id == "version_history")
    return backup, minimum


@pytest.mark.parametrize(("days", "short"), [(180, False), (30, True)])
def test_checklist_scores_version_history_per_provider_and_folder(
    ledger: Ledger, tmp_path: Path, days: int, short: bool
) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "legal" / "nda.txt"), b"n", T, keep=False)
    fake = Fake()
    fake.files["legal/nda.txt"] = [
        {"rev": "n1", "server_modified": _stamp(T + timedelta(minutes=1)), "size": 1}
    ]
    with serve(fake) as api:
        cloud.pull(ledger, _source(tmp_path, "dropbox", api, days=days), now=NOW)
    backup, minimum = _history_items(ledger)
    line = next(s for s in backup.evidence if s.startswith("cloud-sync history"))
    assert "dropbox team /legal" in line and f"retention {days} days" in line
    assert ("version history falls short" in backup.reason) is short
    assert (minimum.status == "met") is not short
    if short:
        assert "dropbox team /legal keeps 30 days, under 90" in minimum.reason


def test_a_pull_over_31_days_old_no_longer_shows_the_history(
    ledger: Ledger, tmp_path: Path
) -> None:
    _edit(ledger, str(tmp_path / "Sync" / "legal" / "nda.txt"), b"n", T, keep=False)
    fake = Fake()
    fake.files["legal/nda.txt"] = [{"rev": "n1", "server_modified": _stamp(T), "size": 1}]
    with serve(fake) as api:
        cloud.pull(ledger, _source(tmp_path, "dropbox", api, days=180), now=NOW)
    assert _history_items(ledger, NOW.date() + timedelta(days=31))[1].status == "met"
    backup, minimum = _history_items(ledger, NOW.date() + timedelta(days=32))
    assert minimum.status == "not met"
    assert "dropbox team /legal last pulled 32 days ago, over 31" in minimum.reason
    assert "version history falls short" in backup.reason


def test_cli_add_and_pull_never_print_the_token(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with new_ledger(tmp_path) as led:
        _edit(led, str(tmp_path / "Sync" / "a.txt"), b"a", T, keep=False)
    token = tmp_path / "token.txt"
    token.write_text(TOKEN + "\n")
    fake = Fake()
    fake.files["a.txt"] = [
        {"rev": "r1", "server_modified": _stamp(T + timedelta(minutes=1)), "size": 1}
    ]
    with serve(fake) as api:
        added = affidavit(
            path,
            "sources",
            "add",
            "dropbox",
            "team",
            "--local-root",
            str(tmp_path / "Sync"),
            "--token-file",
            str(token),
            "--api-url",
            api,
        )
        assert added.returncode == 0, added.stderr
        pulled = affidavit(path, "sources", "pull", "--json")
        assert pulled.returncode == 0, pulled.stderr
        assert '"linked": 1' in pulled.stdout
        token.write_text("expired\n")
        _edit_cli = affidavit(path, "sources", "pull")
        assert _edit_cli.returncode == 0  # nothing new to judge: no request made
        listed = affidavit(path, "sources", "list")
        assert listed.returncode == 0 and "team\tdropbox" in listed.stdout
    for out in (added, pulled, listed):
        assert TOKEN not in out.stdout + out.stderr
    assert TOKEN.encode() not in path.read_bytes()

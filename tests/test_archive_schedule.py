"""The recorder service's monthly archive: [archive] in affidavit.toml, the schedule over a
clock the test moves (months pass without waiting), each run recorded, and the service's own
writer thread running it when idle."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from affidavit.compliance.checklist import ARCHIVE_DAYS, score_checklist
from affidavit.compliance.gather import Drill, gather
from affidavit.config import Config, parse
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Kind
from affidavit.service.recorder import Recorder
from affidavit.service.schedule import ArchiveSchedule, last_archive
from affidavit.service.server import Server
from ledger_helpers import affidavit, grow, key_of, new_ledger

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = new_ledger(tmp_path)
    grow(led, [4, 2])
    try:
        yield led
    finally:
        led.close()


def _runs(ledger: Ledger) -> list[dict[str, object]]:
    out = []
    for seq in range(ledger.store.size()):
        record = ledger.record(seq)
        if record.envelope.kind == Kind.ARCHIVE_RUN and record.payload is not None:
            out.append(record.payload["run"])
    return out


def test_archives_when_due_then_monthly(ledger: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "archives"
    schedule = ArchiveSchedule(str(folder), timedelta(days=30))
    first = schedule.tick(ledger, T)  # no archive yet: due at once
    assert first is not None and last_archive(ledger) == T
    assert schedule.tick(ledger, T + timedelta(days=29, hours=23)) is None
    second = schedule.tick(ledger, T + timedelta(days=30))
    assert second is not None
    runs = _runs(ledger)
    assert [r["outcome"] for r in runs] == ["archived", "archived"]
    assert len(list(folder.iterdir())) == 2
    archived = gather(ledger, Config()).archive  # what the checklist scores
    assert archived is not None and archived.seq == runs[-1]["archive"]
    assert archived.time == T + timedelta(days=30)
    latest = sorted(folder.iterdir())[-1]
    checked = affidavit(tmp_path / "ledger.sqlite", "archive", "verify", str(latest))
    assert checked.returncode == 0, checked.stderr
    sealed = ledger.latest_checkpoint()
    assert sealed is not None and sealed[0] == ledger.store.size()  # the run record is published


def test_the_checklist_scores_the_scheduled_archive_for_31_days(
    ledger: Ledger, tmp_path: Path
) -> None:
    assert ArchiveSchedule(str(tmp_path / "archives"), timedelta(days=30)).tick(ledger, T)
    # A passing drill, so that the backup item's reason speaks of history and archive only.
    evidence = replace(gather(ledger, Config()), drill=Drill(0, T, True, "restored"))

    def backup(days: int) -> str:
        day = (T + timedelta(days=days)).date()
        (item,) = [i for i in score_checklist(Config(), evidence, day) if i.id == "backup_rollback"]
        return item.reason

    assert ARCHIVE_DAYS == 31
    assert "no archive snapshot" not in backup(31)
    assert "no archive snapshot within 31 days (last 32 days ago)" in backup(32)


def test_a_manual_archive_resets_the_schedule(ledger: Ledger, tmp_path: Path) -> None:
    done = affidavit(tmp_path / "ledger.sqlite", "archive", "--out", str(tmp_path / "by-hand"))
    assert done.returncode == 0, done.stderr
    made = last_archive(ledger)
    assert made is not None
    assert ArchiveSchedule(str(tmp_path / "a"), timedelta(days=30)).tick(ledger, made) is None


def test_a_failure_is_recorded_and_retried_after_an_hour(ledger: Ledger, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder should be")
    schedule = ArchiveSchedule(str(blocker / "archives"), timedelta(days=30))
    assert schedule.tick(ledger, T) is not None
    assert schedule.tick(ledger, T + timedelta(minutes=59)) is None
    assert schedule.tick(ledger, T + timedelta(hours=1)) is not None
    runs = _runs(ledger)
    assert [r["outcome"] for r in runs] == ["failed", "failed"]
    assert str(runs[0]["error"]).startswith(("FileExistsError", "NotADirectoryError"))
    assert last_archive(ledger) is None
    blocker.unlink()
    blocker.mkdir()
    assert schedule.tick(ledger, T + timedelta(hours=2)) is not None
    assert _runs(ledger)[-1]["outcome"] == "archived"


def test_the_service_writer_runs_it_when_idle(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with new_ledger(tmp_path) as led:
        grow(led, [3])
    folder = tmp_path / "monthly"
    schedule = ArchiveSchedule(str(folder), timedelta(days=30))

    def open_recorder() -> Recorder:
        return Recorder(Ledger.open(path, key_path=key_of(path)))

    server = Server(open_recorder, str(tmp_path / "sock"), seal_interval=0.05, archive=schedule)
    writer = threading.Thread(target=server.write_loop)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while not (folder.exists() and any(folder.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.requests.put(None)
        writer.join(timeout=30)
    with Ledger.open(path, readonly=True) as led:
        assert [r["outcome"] for r in _runs(led)] == ["archived"]


CONFIG = """\
[org]
name = "Example"

[archive]
{body}
"""


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ("every_days = 30", "archive", "needs to ="),
        ('to = "arch"\nevery_days = 0', "archive.every_days", "1 to 31 days"),
        ('to = "arch"\nevery_days = 45', "archive.every_days", "1 to 31 days"),
        ('to = "arch"\nevery_days = true', "archive.every_days", "whole number"),
        ('to = "arch"\nevery_days = "monthly"', "archive.every_days", "must be a int"),
        ('to = "arch"\nendpoint_url = "http://s3"', "archive.endpoint_url", "only for an s3://"),
        ('to = "s3://Bad_Bucket/x"', "archive.to", "S3 bucket name"),
        ('to = ""', "archive.to", "must name a folder"),
        ("to = 7", "archive.to", "must be a str"),
        ('to = "arch"\nwhen = "monday"', "archive.when", "unknown field"),
    ],
)
def test_bad_archive_settings_name_file_line_and_field(
    tmp_path: Path, body: str, field: str, message: str
) -> None:
    path = tmp_path / "affidavit.toml"
    text = CONFIG.format(body=body)
    with pytest.raises(InputError, match=message) as e:
        parse(text, path)
    key = field.split(".")[-1]
    line = next((n for n, t in enumerate(text.splitlines(), 1) if t.startswith(f"{key} ")), None)
    where = f"{path}:{line}: " if line else f"{path}"
    assert str(e.value).startswith(where) and f"field {field}:" in str(e.value)


def test_archive_settings_parse(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "affidavit.toml"
    folder = parse(CONFIG.format(body='to = "archives"\nevery_days = 31'), path)
    assert (folder.archive_to, folder.archive_every_days) == (str(path.parent / "archives"), 31)
    s3 = parse(
        CONFIG.format(body='to = "s3://audit-archive/a"\nendpoint_url = "http://127.0.0.1:9"'),
        path,
    )
    schedule = ArchiveSchedule.from_config(s3)
    assert schedule is not None and schedule.every == timedelta(days=30)
    assert (schedule.to, schedule.endpoint_url) == ("s3://audit-archive/a", "http://127.0.0.1:9")
    assert ArchiveSchedule.from_config(Config()) is None

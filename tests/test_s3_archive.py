"""S3 Object Lock archives against a real S3-compatible server on loopback (moto's server).

`scripts/test.sh` starts the server (moto's server mode, its own process on a free 127.0.0.1
port) before pytest and stops it after; run alone, this module starts one of its own. The
credentials are dummies that exist only in this test's environment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from affidavit.compliance.gather import gather
from affidavit.config import Config
from affidavit.errors import InputError, VerificationError
from affidavit.evidence import s3
from affidavit.evidence.s3_client import Location, connect
from affidavit.evidence.s3_verify import verify_stored
from affidavit.ledger import Ledger
from affidavit.signing import ledger_signer, verify_payload
from ledger_helpers import affidavit, grow, new_ledger

DUMMY = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The moto server `scripts/test.sh` started ($AFFIDAVIT_TEST_S3), or one of this
    module's own when the tests run without it."""
    started = os.environ.get("AFFIDAVIT_TEST_S3")
    if started:
        host, port_text = started.removeprefix("http://").rsplit(":", 1)
        try:
            socket.create_connection((host, int(port_text)), timeout=5).close()
        except OSError as e:
            pytest.fail(f"AFFIDAVIT_TEST_S3={started}: the S3 server is not reachable: {e}")
        yield started
        return
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("the moto S3 server exited at start")
                time.sleep(0.1)
        else:
            pytest.fail("the moto S3 server did not start listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def client(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in DUMMY.items():
        monkeypatch.setenv(name, value)
    return connect(endpoint)


def _bucket(client: Any, *, lock: bool = True, versioning: bool = False) -> str:
    name = f"affidavit-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    if versioning:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = new_ledger(tmp_path)
    grow(led, [5, 3])
    try:
        yield led
    finally:
        led.close()


def _archive(
    ledger: Ledger, client: Any, url: str, days: int = 30, until: datetime | None = None
) -> s3.S3Report:
    now = datetime.now(UTC)
    return s3.archive(
        ledger,
        Location.parse(url),
        client=client,
        signer=ledger_signer(ledger),
        now=now,
        retain_until=until or now + timedelta(days=days),
    )


def test_upload_locks_every_version_and_records_versions(ledger: Ledger, client: Any) -> None:
    bucket = _bucket(client)
    report = _archive(ledger, client, f"s3://{bucket}/ledgers/one", days=400)
    assert report.url == f"s3://{bucket}/ledgers/one/manifests/{report.archive.tree_size:012d}.txt"
    assert report.uploaded == len(report.objects) > 3
    for obj in report.objects:
        head = client.head_object(Bucket=bucket, Key=obj.key, VersionId=obj.version_id)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=399)
        assert head["ETag"] == obj.etag
    assert report.record_seq is not None
    payload = ledger.record(report.record_seq).payload
    assert payload is not None
    verify_payload(payload, ledger.verifier)
    body = payload["archive"]
    assert body["location"] == report.url and body["lock_mode"] == "COMPLIANCE"
    assert {o["version_id"] for o in body["objects"]} == {o.version_id for o in report.objects}
    # The checklist's "archive at least every 31 days" reads this record.
    evidence = gather(ledger, Config())
    assert evidence.archive is not None and evidence.archive.location == report.url


def test_second_archive_reuses_locked_objects(ledger: Ledger, client: Any) -> None:
    bucket = _bucket(client)
    # One retain-until date for both runs: a lock is reused only when it lasts at least as
    # long as the policy asks now (a run a second later asks a second more).
    until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    first = _archive(ledger, client, f"s3://{bucket}/p", until=until)
    grow(ledger, [2])
    second = _archive(ledger, client, f"s3://{bucket}/p", until=until)
    assert second.archive.tree_size > first.archive.tree_size
    assert second.reused >= 1  # earlier checkpoints are the same bytes under a long enough lock
    assert verify_stored(f"s3://{bucket}/p", client=client, verifier=ledger.verifier, ledger=ledger)


def test_locked_version_cannot_be_deleted(ledger: Ledger, client: Any) -> None:
    from botocore.exceptions import ClientError

    bucket = _bucket(client)
    report = _archive(ledger, client, f"s3://{bucket}/p")
    manifest = next(o for o in report.objects if o.name == "manifest.txt")
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=bucket, Key=manifest.key, VersionId=manifest.version_id)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    check = verify_stored(report.url, client=client, verifier=ledger.verifier, ledger=ledger)
    assert check.recorded_seq == report.record_seq


def test_overwrite_is_a_new_version_and_the_recorded_one_is_checked(
    ledger: Ledger, client: Any
) -> None:
    bucket = _bucket(client)
    report = _archive(ledger, client, f"s3://{bucket}/p")
    records = next(o for o in report.objects if o.name.startswith("records/"))
    client.put_object(Bucket=bucket, Key=records.key, Body=b"rewritten\n")
    # The ledger names the archived versions, so the rewrite does not stand in for them.
    check = verify_stored(report.url, client=client, verifier=ledger.verifier, ledger=ledger)
    assert check.recorded_seq == report.record_seq
    # Without the ledger's record the current versions are read, and the rewrite is caught.
    with pytest.raises(VerificationError, match=records.name):
        verify_stored(report.url, client=client, verifier=ledger.verifier, ledger=None)


def test_a_store_that_breaks_the_lock_fails_the_check(ledger: Ledger, client: Any) -> None:
    # moto lets a compliance-mode lock be shortened or turned into governance mode, whose
    # bypass then deletes the version, as real S3 does not: here it plays a store that breaks
    # its promise.
    bucket = _bucket(client)
    report = _archive(ledger, client, f"s3://{bucket}/p", days=90)
    records, payloads = (
        next(o for o in report.objects if o.name.startswith(prefix))
        for prefix in ("records/", "payloads/")
    )
    client.put_object_retention(
        Bucket=bucket,
        Key=records.key,
        VersionId=records.version_id,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)},
    )
    with pytest.raises(VerificationError, match=f"{records.key} .*: locked until .*, not "):
        verify_stored(report.url, client=client, verifier=ledger.verifier, ledger=ledger)
    weaker = {"Mode": "GOVERNANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(days=1)}
    client.put_object_retention(
        Bucket=bucket, Key=payloads.key, VersionId=payloads.version_id, Retention=weaker
    )
    client.delete_object(
        Bucket=bucket,
        Key=payloads.key,
        VersionId=payloads.version_id,
        BypassGovernanceRetention=True,
    )
    with pytest.raises(VerificationError, match=f"{payloads.key} .*: the archived version is gone"):
        verify_stored(report.url, client=client, verifier=ledger.verifier, ledger=ledger)


@pytest.mark.parametrize(
    ("lock", "versioning", "reason"),
    [(False, False, "versioning is not enabled"), (False, True, "Object Lock is not enabled")],
)
def test_bucket_without_object_lock_is_refused(
    ledger: Ledger, client: Any, lock: bool, versioning: bool, reason: str
) -> None:
    bucket = _bucket(client, lock=lock, versioning=versioning)
    size = ledger.store.size()
    with pytest.raises(InputError, match=reason):
        _archive(ledger, client, f"s3://{bucket}/p")
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert ledger.store.size() == size  # nothing recorded


POLICY = """\
[org]
name = "Example"

[retention]
minimum_days = 120

[retention.functions]
legal = 200

[[folders]]
path = "/srv/finance"
function = "finance"
retention_days = 400
"""


def test_the_lock_outlasts_every_limit_of_the_policy(tmp_path: Path) -> None:
    from affidavit.config import parse
    from affidavit.evidence.retention import lock_days
    from affidavit.service.schedule import ArchiveSchedule

    path = tmp_path / "affidavit.toml"
    assert lock_days(parse(POLICY, path)) == 400
    assert lock_days(parse(POLICY.replace("400", "150"), path)) == 200
    assert lock_days(Config()) == 90
    text = POLICY + '\n[archive]\nto = "s3://audit-archive/a"\n'
    schedule = ArchiveSchedule.from_config(parse(text, path))
    assert schedule is not None and schedule.lock_days == 400


def test_cli_archive_and_verify(tmp_path: Path, endpoint: str, client: Any) -> None:
    path = tmp_path / "ledger.sqlite"
    grow(new_ledger(tmp_path), [4])
    bucket = _bucket(client)
    # The client fixture set the dummy credentials in the environment the CLI inherits.
    url = f"s3://{bucket}/team"
    done = affidavit(path, "archive", "--to", url, "--endpoint-url", endpoint)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(f"{url}/manifests/")
    assert "compliance mode until" in done.stderr
    # The check it suggests reaches the same store.
    assert f"`affidavit archive verify {url} --endpoint-url {endpoint}`" in done.stderr
    ok = affidavit(path, "archive", "verify", url, "--endpoint-url", endpoint)
    assert ok.returncode == 0, ok.stderr
    assert "locked in compliance mode" in ok.stdout
    # The lock lasts the longest any record may be kept: here a folder's 400 days.
    config = tmp_path / "affidavit.toml"
    config.write_text(POLICY)
    done = affidavit(
        path, "archive", "--to", f"{url}2", "--endpoint-url", endpoint, "--config", str(config)
    )
    assert done.returncode == 0, done.stderr
    assert "(400 days)" in done.stderr
    manifest = done.stdout.strip().removeprefix(f"s3://{bucket}/")
    head = client.head_object(Bucket=bucket, Key=manifest)
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=399)
    plain = _bucket(client, lock=False, versioning=True)
    refused = affidavit(path, "archive", "--to", f"s3://{plain}/x", "--endpoint-url", endpoint)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "Object Lock" in refused.stderr


def test_bad_urls_are_input_errors() -> None:
    for url in ("bucket/prefix", "s3://UPPER/x", "s3://"):
        with pytest.raises(InputError):
            Location.parse(url)


def test_the_service_schedule_archives_to_s3_monthly_and_records_each_run(
    ledger: Ledger, client: Any, endpoint: str
) -> None:
    from affidavit.record import Kind
    from affidavit.service.schedule import ArchiveSchedule

    now = datetime.now(UTC)
    refused = ArchiveSchedule(f"s3://{_bucket(client, lock=False)}/a", timedelta(days=30), endpoint)
    run = refused.tick(ledger, now)
    assert run is not None
    failed = ledger.record(run).payload
    assert failed is not None and failed["run"]["outcome"] == "failed"
    assert "Object Lock" in failed["run"]["error"]
    schedule = ArchiveSchedule(f"s3://{_bucket(client)}/a", timedelta(days=30), endpoint)
    assert schedule.tick(ledger, now + timedelta(minutes=5)) is None  # retries after an hour
    run = schedule.tick(ledger, now + timedelta(hours=1))
    assert run is not None
    body = ledger.record(run).payload
    assert body is not None and body["run"]["outcome"] == "archived"
    archived = ledger.record(body["run"]["archive"])
    assert archived.envelope.kind == Kind.ATTESTATION
    assert archived.payload is not None and archived.payload["archive"]["store"] == "s3"
    verify_payload(archived.payload, ledger.verifier)
    assert schedule.tick(ledger, now + timedelta(days=20)) is None
    latest = gather(ledger, Config()).archive
    assert latest is not None and latest.seq == body["run"]["archive"]

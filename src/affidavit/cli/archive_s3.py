"""``affidavit archive --to s3://…`` and ``affidavit archive verify s3://…``.

The options join the ``archive`` group of :mod:`affidavit.cli.archive`; the work is in
:mod:`affidavit.evidence.s3` and :mod:`affidavit.evidence.s3_verify`.
"""

from __future__ import annotations

import getpass
import shlex
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from affidavit import config
from affidavit.cli.commands import Paths, b64, emit_json, say
from affidavit.errors import InputError, VerificationError

F = TypeVar("F", bound=Callable[..., Any])


def s3_options(fn: F) -> F:
    for option in reversed(
        (
            click.option(
                "--to",
                metavar="s3://BUCKET/PREFIX",
                help="Upload the snapshot to an S3 bucket with Object Lock instead of a folder.",
            ),
            click.option("--endpoint-url", help="An S3-compatible endpoint (default: AWS)."),
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False, path_type=Path),
                help="affidavit.toml whose retention policy sets the lock (with --to).",
            ),
        )
    ):
        fn = option(fn)
    return fn


def archive_to(
    paths: Paths, url: str, endpoint_url: str | None, config_path: Path | None, as_json: bool
) -> None:
    from affidavit.evidence import s3
    from affidavit.evidence.retention import lock_days
    from affidavit.evidence.s3_client import Location, connect
    from affidavit.signing import ledger_signer

    loc = Location.parse(url)
    cfg = config.load(config_path)
    days = lock_days(cfg)
    now = datetime.now(UTC)
    client = connect(endpoint_url)
    actor = {"user": getpass.getuser(), "host": socket.gethostname()}
    with paths.open() as ledger:
        report = s3.archive(
            ledger,
            loc,
            client=client,
            signer=ledger_signer(ledger),
            now=now,
            retain_until=now + timedelta(days=days),
            actor=actor,
        )
    a = report.archive
    if as_json:
        emit_json(
            {
                "ok": True,
                "url": report.url,
                "tree_size": a.tree_size,
                "root": b64(a.root),
                "retain_until": report.retain_until,
                "uploaded": report.uploaded,
                "reused": report.reused,
                "objects": [o.to_json() for o in report.objects],
                "record_seq": report.record_seq,
                "unpublished": report.unpublished,
            }
        )
        return
    click.echo(report.url)
    say(
        f"archived {a.records} records, {a.checkpoints} checkpoints, {a.blobs} blobs: "
        f"{report.uploaded} objects uploaded, {report.reused} already locked; compliance "
        f"mode until {report.retain_until} ({days} days); read back and verified; tree size "
        f"{a.tree_size}, root {b64(a.root)}"
    )
    # The check must reach the same store: an S3-compatible one is not AWS's default.
    where = "" if endpoint_url is None else f" --endpoint-url {shlex.quote(endpoint_url)}"
    say(
        f"recorded as record {report.record_seq}; check it with "
        f"`affidavit archive verify {url}{where}`"
    )
    if report.unpublished:
        say(
            f"warning: record {report.record_seq} is not published yet ({report.unpublished}); "
            "run `affidavit seal`"
        )


def verify(
    paths: Paths,
    url: str,
    endpoint_url: str | None,
    vkey: str | None,
    offline: bool,
    as_json: bool,
) -> None:
    from affidavit.evidence.s3_client import connect
    from affidavit.evidence.s3_verify import verify_stored
    from affidavit.note import Verifier

    if offline and not vkey:
        raise InputError("--offline needs --vkey (the ledger's verifier key: `affidavit key`)")
    client = connect(endpoint_url)
    try:
        if offline:
            check = verify_stored(
                url, client=client, verifier=Verifier.from_vkey(str(vkey)), ledger=None
            )
        else:
            with paths.open(readonly=True) as ledger:
                verifier = Verifier.from_vkey(vkey) if vkey else ledger.verifier
                check = verify_stored(url, client=client, verifier=verifier, ledger=ledger)
    except VerificationError as e:
        if as_json:
            emit_json({"ok": False, "where": e.where, "error": str(e)})
        raise
    a = check.archive
    if as_json:
        emit_json(
            {
                "ok": True,
                "url": check.url,
                "tree_size": a.tree_size,
                "root": b64(a.root),
                "objects": a.objects,
                "recorded_seq": check.recorded_seq,
                "ledger_size": a.ledger_size,
            }
        )
        return
    versions = (
        f"the versions record {check.recorded_seq} names"
        if check.recorded_seq is not None
        else "the current versions (no archive record in this ledger names them)"
    )
    click.echo(
        f"OK: {check.url}: {a.records} records, {a.checkpoints} checkpoints, {a.objects} "
        f"objects as signed, {versions}, locked in compliance mode; tree size {a.tree_size}"
    )
    if a.ledger_size is not None:
        click.echo(f"OK: the ledger's checkpoint of size {a.ledger_size} extends it")

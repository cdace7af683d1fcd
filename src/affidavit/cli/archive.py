"""``affidavit archive`` (write / verify a sealed snapshot) and ``affidavit retention``.

Layouts, checks and the policy are in :mod:`affidavit.evidence.archive` and
:mod:`affidavit.evidence.retention`; these commands parse, call one of them and print.
"""

from __future__ import annotations

import getpass
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from affidavit import config
from affidavit.cli import archive_s3
from affidavit.cli.archive_s3 import s3_options
from affidavit.cli.commands import Paths, b64, cli, emit_json, json_option, pass_paths, say
from affidavit.errors import InputError, VerificationError
from affidavit.evidence import archive as archiving
from affidavit.evidence import retention as retaining


def _report(report: archiving.ArchiveReport) -> dict[str, Any]:
    return {
        "ok": True,
        "dir": str(report.path),
        "origin": report.origin,
        "tree_size": report.tree_size,
        "root": b64(report.root),
        "created": report.created,
        "records": report.records,
        "erased": report.erased,
        "checkpoints": report.checkpoints,
        "blobs": report.blobs,
        "objects": report.objects,
        "bytes": report.bytes,
        "manifest_sha256": report.manifest_sha256,
        "ledger_size": report.ledger_size,
        "record_seq": report.record_seq,
        "unpublished": report.unpublished,
    }


@cli.group(invoke_without_command=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The archive folder to create (must not exist). Default: archives/<UTC time> "
    "beside the ledger.",
)
@s3_options
@json_option
@pass_paths
@click.pass_context
def archive(
    ctx: click.Context,
    paths: Paths,
    out: Path | None,
    to: str | None,
    endpoint_url: str | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Seal a write-once snapshot of the ledger into a folder or S3 Object Lock, and record it.

    Seals the ledger, then writes records, payloads, checkpoints, file contents and a
    manifest signed by the ledger key into OUT, read-only; refuses to write over anything.
    With --to s3://bucket/prefix it uploads them instead, locked in compliance mode for as
    long as the retention policy may keep any record, reads them back and verifies them (needs
    `pip install 'affidavit[s3]'`). `affidavit archive verify DIR|s3://...` checks an archive.
    """
    if ctx.invoked_subcommand is not None:
        return
    if to is not None:
        if out is not None:
            raise InputError("give --out (a folder) or --to (s3://...), not both")
        archive_s3.archive_to(paths, to, endpoint_url, config_path, as_json)
        return
    from affidavit.signing import ledger_signer

    now = datetime.now(UTC)
    if out is None:
        out = paths.ledger.parent / "archives" / now.strftime("%Y%m%dT%H%M%SZ")
        out.parent.mkdir(exist_ok=True)
    actor = {"user": getpass.getuser(), "host": socket.gethostname()}
    with paths.open() as ledger:
        report = archiving.archive(ledger, out, signer=ledger_signer(ledger), now=now, actor=actor)
    if as_json:
        emit_json(_report(report))
        return
    click.echo(str(report.path))
    say(
        f"archived {report.records} records ({report.erased} erased), {report.checkpoints} "
        f"checkpoints, {report.blobs} blobs: {report.objects} files, {report.bytes:,} bytes; "
        f"tree size {report.tree_size}, root {b64(report.root)}"
    )
    say(f"recorded as record {report.record_seq}; check it with `affidavit archive verify`")
    if report.unpublished:
        say(
            f"warning: record {report.record_seq} is not published yet ({report.unpublished}); "
            "run `affidavit seal`"
        )


@archive.command("verify")
@click.argument("directory")
@click.option("--endpoint-url", help="For s3://: the S3-compatible endpoint (default: AWS).")
@click.option("--vkey", help="Pin the verifier key instead of taking the ledger's.")
@click.option(
    "--offline",
    is_flag=True,
    help="Check the archive alone (needs --vkey); skip the consistency proof with the ledger.",
)
@json_option
@pass_paths
def verify_cmd(
    paths: Paths,
    directory: str,
    endpoint_url: str | None,
    vkey: str | None,
    offline: bool,
    as_json: bool,
) -> None:
    """Check an archive folder or s3:// snapshot against its signed manifest and the
    ledger's checkpoints.

    For s3://bucket/prefix (its latest manifest) or .../manifests/<N>.txt, the object
    versions the ledger recorded are read back and must be there, locked in compliance mode
    until the date recorded. Exit 0 when it holds, 1 naming the file that broke, 2 when it
    cannot be read.
    """
    from affidavit.note import Verifier

    if directory.startswith("s3://"):
        archive_s3.verify(paths, directory, endpoint_url, vkey, offline, as_json)
        return

    if offline and not vkey:
        raise InputError("--offline needs --vkey (the ledger's verifier key: `affidavit key`)")
    pinned = Verifier.from_vkey(vkey) if vkey else None
    try:
        if offline:
            assert pinned is not None
            report = archiving.verify_archive(Path(directory), verifier=pinned)
        else:
            with paths.open(readonly=True) as ledger:
                verifier = pinned or ledger.verifier
                report = archiving.verify_archive(Path(directory), verifier=verifier, ledger=ledger)
    except VerificationError as e:
        if as_json:
            emit_json({"ok": False, "where": e.where, "error": str(e)})
        raise
    if as_json:
        emit_json(_report(report))
        return
    click.echo(
        f"OK: {report.records} records ({report.erased} erased), {report.checkpoints} "
        f"checkpoints, {report.blobs} blobs, {report.objects} files as signed; tree size "
        f"{report.tree_size}, root {b64(report.root)}"
    )
    if report.ledger_size is not None:
        click.echo(f"OK: the ledger's checkpoint of size {report.ledger_size} extends it")


@cli.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="affidavit.toml. Default: $AFFIDAVIT_CONFIG, else the user config folder.",
)
@click.option(
    "--max-days",
    type=int,
    help="Use this maximum instead of retention.maximum_days (never below the minimum).",
)
@click.option("--apply", "do_apply", is_flag=True, help="Erase the eligible payloads.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_paths
def retention(
    paths: Paths,
    config_path: Path | None,
    max_days: int | None,
    do_apply: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Show what the retention policy keeps; with --apply, erase what it lets go.

    Per folder: records kept, eligible for erasure (older than the folder's, function's or
    global maximum, and than the minimum) and held (legal hold). Erasure records are
    always kept. --apply erases through `affidavit erase`'s path, so the
    ledger still verifies.
    """
    cfg = config.load(config_path)
    retaining.check_policy(cfg, max_days)
    now = datetime.now(UTC)
    with paths.open() as ledger:  # not read-only: the plan brings the actions index up to date
        plan = retaining.plan(ledger, cfg, now=now, maximum_days=max_days)
        erasures: tuple[int, ...] = ()
        if do_apply and plan.eligible:
            _confirm(len(plan.eligible), yes)
            reason = (
                f"retention policy ({cfg.path or 'defaults'}): older than the retention "
                f"period, minimum {plan.minimum_days} days"
            )
            erasures = retaining.apply(ledger, plan.eligible, reason=reason)
    _print(plan, erasures, do_apply, as_json)


def _confirm(count: int, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError("retention --apply needs --yes when not run from a terminal")
    click.confirm(f"Erase the payloads of {count} record(s) for good?", abort=True)


def _print(plan: retaining.Plan, erasures: tuple[int, ...], applied: bool, as_json: bool) -> None:
    rows = [
        {
            "folder": r.scope.folder,
            "function": r.scope.function,
            "days": r.scope.days,
            "rule": r.scope.rule,
            "kept": r.kept,
            "eligible": r.eligible,
            "held": r.held,
        }
        for r in plan.rows
    ]
    erased = list(plan.eligible) if erasures else []
    if as_json:
        emit_json(
            {
                "minimum_days": plan.minimum_days,
                "maximum_days": plan.maximum_days,
                "rows": rows,
                "erasure_records": plan.erasure_records,
                "erased_before": plan.erased,
                "eligible": len(plan.eligible),
                "applied": applied,
                "erased": erased,
                "erasure_seqs": list(erasures),
            }
        )
        return
    click.echo(
        f"{'folder':<32} {'function':<12} {'keep':<20} {'kept':>8} {'eligible':>8} {'held':>8}"
    )
    for r in rows:
        keep = "legal hold" if r["rule"] == "legal hold" else "forever"
        if r["days"] is not None:
            keep = f"{r['days']}d ({r['rule']})"
        folder = r["folder"] or "(no configured folder)"
        click.echo(
            f"{folder:<32} {r['function'] or '-':<12} {keep:<20} {r['kept']:>8} "
            f"{r['eligible']:>8} {r['held']:>8}"
        )
    maximum = "none" if plan.maximum_days is None else f"{plan.maximum_days} days"
    say(
        f"minimum {plan.minimum_days} days, maximum {maximum}; {plan.erasure_records} "
        f"erasure record(s) always kept; {plan.erased} payload(s) erased before"
    )
    if erasures:
        click.echo(f"erased {len(erased)} payload(s): records {retaining.ranges(erased)}")
        say(f"erasure recorded as record(s) {retaining.ranges(list(erasures))}")
    elif applied:
        say("nothing to erase")
    elif plan.eligible:
        say(f"{len(plan.eligible)} payload(s) eligible; run with --apply to erase them")

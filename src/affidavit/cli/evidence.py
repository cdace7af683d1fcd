"""``affidavit evidence`` and ``affidavit verify-pack``: evidence packs for an auditor."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from affidavit.cli.commands import (
    Paths,
    b64,
    cli,
    emit_json,
    json_option,
    pass_paths,
    progress_bar,
    read_text,
    say,
)
from affidavit.cli.query import filter_options, make_filters
from affidavit.errors import InputError

if TYPE_CHECKING:
    from affidavit.evidence import PackReport
    from affidavit.ledger import Ledger

_SHOWN_FAILURES = 50


@cli.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The pack to write (a ZIP file).",
)
@click.option(
    "--with-content",
    is_flag=True,
    help="Add the before/after contents of the files the records name (from the content store).",
)
@click.option(
    "--window-complete",
    is_flag=True,
    help="Add the envelope of every record of the log, so the auditor can check that no "
    "record of the time window is missing.",
)
@click.option(
    "--from",
    "from_files",
    multiple=True,
    type=click.File("rb"),
    help="A checkpoint the auditor kept: add the proof that the log only grew since (repeatable).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
@click.option(
    "--server",
    metavar="URL",
    help="Build the pack from the collector instead of this ledger: with --device, from its "
    "copy of that endpoint log; without, over the org log, records of every device proven "
    "against the org checkpoint. Either verifies with `affidavit verify-pack`.",
)
@click.option("--device", help="With --server: one endpoint log (its origin).")
@click.option(
    "--token", envvar="AFFIDAVIT_TOKEN", help="With --server: an auditor token ($AFFIDAVIT_TOKEN)."
)
@filter_options
@json_option
@pass_paths
def evidence(
    paths: Paths,
    /,
    out: Path,
    with_content: bool,
    window_complete: bool,
    from_files: tuple[IO[bytes], ...],
    force: bool,
    server: str | None,
    device: str | None,
    token: str | None,
    as_json: bool,
    **filters: Any,
) -> None:
    """Write an evidence pack: the records the filters select, with proofs, offline-checkable.

    The pack holds each record (envelope, payload, salt) with its RFC 9162 inclusion proof
    to the latest signed checkpoint, the checkpoint, the verifier key, a manifest of SHA-256
    hashes and a README with a stand-alone verification recipe. Records the latest
    checkpoint does not cover yet are left out, with a warning: run `affidavit seal` first
    to include them. Filters are those of `affidavit log`.

    With --server URL --device ORIGIN the pack is built from the collector's copy of that
    endpoint's log, proven against the endpoint's own checkpoint that the collector cosigned
    (the rebuilt tree must match it, or nothing is written); --with-content is for a local
    ledger. With --server URL alone the collector builds a pack over the org log (at most
    20,000 records, of any devices, each with its endpoint record), checked here with
    verify-pack before it is kept.
    """
    from affidavit.evidence import build_pack

    if server is not None and not device:
        if with_content or window_complete or from_files:
            raise click.UsageError(
                "--with-content, --window-complete and --from need one log: add --device "
                "ORIGIN, or build from the ledger"
            )
        _org_pack(server, token, out, force, filters, as_json)
        return
    kept = [read_text(f) for f in from_files]
    now = datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        if server is not None:
            ledger = stack.enter_context(_rebuilt(server, token, device, with_content, now))
        else:
            ledger = stack.enter_context(paths.open())
        progress = stack.enter_context(progress_bar(ledger.store.size(), "building pack"))
        result = build_pack(
            ledger,
            out,
            filters=make_filters(**filters),
            now=now,
            with_content=with_content,
            window_complete=window_complete,
            kept_checkpoints=kept,
            force=force,
            progress=progress,
        )
    if as_json:
        emit_json(
            {
                "out": str(result.path),
                "bytes": result.bytes,
                "tree_size": result.tree_size,
                "records": result.records,
                "erased": result.erased,
                "erasures": result.erasures,
                "unpublished": result.unpublished,
                "content_files": result.content_files,
                "content_missing": list(result.content_missing),
                "window": result.window,
                "consistency_from": list(result.consistency_from),
            }
        )
    say(
        f"wrote {result.path} ({result.bytes:,} bytes): {result.records} record(s)"
        f" ({result.erased} erased), proven against the checkpoint of size {result.tree_size}"
    )
    if with_content:
        say(
            f"  {result.content_files} content file(s)"
            + (
                f", {len(result.content_missing)} not kept by the log"
                if result.content_missing
                else ""
            )
        )
    if result.window is not None:
        say(f"  window-complete: the envelopes of all {result.window} records of the log")
    if result.unpublished:
        say(
            f"warning: {result.unpublished} matching record(s) are not covered by a signed "
            "checkpoint yet and were left out; run `affidavit seal` and build again"
        )
    if not result.records:
        say("warning: no published record matches the filters; the pack holds none")


def _org_pack(
    server: str,
    token: str | None,
    out: Path,
    force: bool,
    filters: dict[str, Any],
    as_json: bool,
) -> None:
    """``evidence --server URL`` without ``--device``: the collector's pack over the org log,
    saved and then verified here; a pack that fails is removed and its failures named."""
    from affidavit import remote
    from affidavit.errors import VerificationError
    from affidavit.evidence import verify_pack
    from affidavit.evidence.report import PackVerificationError

    if not token:
        raise click.UsageError("--server needs an auditor token: --token or $AFFIDAVIT_TOKEN")
    chosen = make_filters(**filters)
    remote.evidence(server, token, chosen, out, force=force)
    try:
        report = verify_pack(out)
    except PackVerificationError as e:
        out.unlink(missing_ok=True)
        where, *_ = e.report.failures() or ["pack: unknown"]
        raise VerificationError(
            f"the pack the collector at {server} sent does not verify, so it was not kept: {where}",
            where=where.split(":", 1)[0],
        ) from None
    size = report.checkpoint.size if report.checkpoint is not None else 0
    if as_json:
        emit_json(
            {
                "out": str(out),
                "bytes": out.stat().st_size,
                "tree_size": size,
                "records": len(report.records),
                "endpoint_records": report.endpoint_records,
                "erasures": report.erasures,
            }
        )
    say(
        f"wrote {out} ({out.stat().st_size:,} bytes): {len(report.records)} record(s) of the "
        f"org log with {report.endpoint_records or 0} endpoint record(s), proven against the "
        f"org checkpoint of size {size}; verify-pack passed"
    )
    if not report.records:
        say("warning: no published record matches the filters; the pack holds none")


@contextlib.contextmanager
def _rebuilt(
    server: str, token: str | None, device: str | None, with_content: bool, now: datetime
) -> Iterator[Ledger]:
    """The endpoint log rebuilt from the collector in a temporary folder, removed after."""
    from affidavit.evidence.collector import rebuild

    if not token:
        raise click.UsageError("--server needs an auditor token: --token or $AFFIDAVIT_TOKEN")
    if not device:
        raise click.UsageError("--server needs --device ORIGIN: a pack proves one log")
    if with_content:
        raise click.UsageError("--with-content reads a local content store; not with --server")
    with tempfile.TemporaryDirectory(prefix="affidavit-evidence-") as folder:
        ledger = rebuild(server, token, device, Path(folder) / "ledger.sqlite", now=now)
        try:
            yield ledger
        finally:
            ledger.close()


@cli.command("verify-pack")
@click.argument("pack", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "vkey",
    metavar="VKEY",
    help="The verifier key you got from the log's owner (name+keyid+base64). Without it the "
    "pack's own vkey.txt is trusted, and the output says so.",
)
@click.option(
    "--from",
    "from_file",
    type=click.File("rb"),
    help="A checkpoint you kept: also prove the pack's checkpoint extends it.",
)
@json_option
def verify_pack_command(
    pack: Path, vkey: str | None, from_file: IO[bytes] | None, as_json: bool
) -> None:
    """Verify an evidence pack offline; report per record.

    Checks every file against the manifest, the checkpoint's signature, each record's
    inclusion proof and commitment, erasures, content files, the window and consistency.
    Exit 0 when all holds, 1 naming each thing that broke, 2 when the file is not a pack
    or is unsafe to open (names escaping a folder, a zip bomb). Nothing is written to disk.
    """
    from affidavit.evidence import PackVerificationError, check_pack
    from affidavit.note import Verifier

    if not pack.is_file():
        raise InputError(f"no pack at {pack}")
    key = Verifier.from_vkey(vkey.strip()) if vkey else None
    kept = read_text(from_file) if from_file is not None else None
    report = check_pack(pack, key=key, kept=kept)
    if as_json:
        emit_json(_report_json(report))
    else:
        _print_report(report)
    if not report.ok:
        raise PackVerificationError(report)


def _report_json(report: PackReport) -> dict[str, Any]:
    cp = report.checkpoint
    window = report.window
    return {
        "ok": report.ok,
        "pack": str(report.path),
        "key": {"vkey": report.vkey, "pinned": report.key_pinned},
        "checkpoint": None
        if cp is None
        else {"origin": cp.origin, "size": cp.size, "root": b64(cp.root)},
        "filters": report.filters,
        "records": [
            {
                "seq": r.seq,
                "ok": r.ok,
                "error": r.error,
                "erased": r.erased,
                "kind": r.kind,
                "time": r.time,
            }
            for r in report.records
        ],
        "erasures": report.erasures,
        "content": {"files": report.content_files, "missing": list(report.content_missing)},
        "window": None
        if window is None
        else {
            "envelopes": window.envelopes,
            "in_window": window.in_window,
            "withheld": list(window.withheld),
            "envelope_filters_only": window.envelope_filters_only,
        },
        "consistency_from": list(report.consistency_from),
        "from_size": report.from_size,
        "problems": [{"where": p.where, "error": p.error} for p in report.problems],
        "endpoint_records": report.endpoint_records,
    }


def _print_report(report: PackReport) -> None:
    failures = report.failures()
    for line in failures[:_SHOWN_FAILURES]:
        click.echo(f"FAILED {line}")
    if len(failures) > _SHOWN_FAILURES:
        click.echo(f"... and {len(failures) - _SHOWN_FAILURES} more (use --json for all)")
    records = report.records
    good = sum(r.ok for r in records)
    erased = sum(r.erased for r in records)
    cp = report.checkpoint
    where = f"checkpoint {cp.origin} size {cp.size} root {b64(cp.root)}" if cp else "no checkpoint"
    mark = "OK" if report.ok else "FAILED"
    click.echo(f"{mark}: {good} of {len(records)} records proven ({erased} erased) against {where}")
    if report.content_files or report.content_missing:
        click.echo(
            f"content: {report.content_files} file(s) checked"
            + (
                f", {len(report.content_missing)} not kept by the log"
                if report.content_missing
                else ""
            )
        )
    window = report.window
    if window is not None:
        click.echo(
            f"window: {window.envelopes} envelopes (the whole log); {window.in_window} in the "
            f"window, {window.in_window - len(window.withheld)} in the pack"
        )
        if window.withheld:
            seqs = ", ".join(str(s) for s in window.withheld[:20])
            more = ", ..." if len(window.withheld) > 20 else ""
            click.echo(
                f"window: {len(window.withheld)} withheld as not matching the payload filters "
                f"(seqs {seqs}{more}); ask for them by seq if in doubt"
            )
    if report.endpoint_records is not None:
        click.echo(
            f"org log pack: {report.endpoint_records} endpoint record(s) in endpoints.jsonl, "
            "each checked against the proven org.entry that names it"
        )
    if report.from_size is not None:
        click.echo(f"OK: the log only grew since your checkpoint of size {report.from_size}")
    if not report.key_pinned:
        say(
            f"warning: key not pinned: the pack's own vkey.txt ({report.vkey}) was trusted; "
            "anyone who can change the pack can re-sign it with a new key. Pass --key with "
            "the verifier key you got from the log's owner."
        )

"""``affidavit export``: the records, filtered like ``affidavit log``, in a SIEM's format."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from affidavit import export as exports
from affidavit import query
from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, progress_bar, say
from affidavit.cli.query import filter_options, make_filters


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(exports.FORMATS)),
    required=True,
    help="ocsf (OCSF 1.8 JSON Lines), ecs (Elastic Common Schema JSON Lines), cef (one CEF "
    "line per record), csv, jsonl (Affidavit's payload shape) or parquet (needs "
    "affidavit[parquet]).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write (atomically: it appears complete or not at all).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
@click.option(
    "--server",
    metavar="URL",
    help="Export from the organisation's collector (every device's records) instead of this "
    "ledger: csv or jsonl, each row with its org seq, endpoint origin and seq, and leaf hash.",
)
@click.option("--device", help="With --server: only this endpoint log (its origin).")
@click.option(
    "--token", envvar="AFFIDAVIT_TOKEN", help="With --server: an auditor token ($AFFIDAVIT_TOKEN)."
)
@filter_options
@json_option
@pass_paths
def export(
    paths: Paths,
    /,
    fmt: str,
    out: Path,
    force: bool,
    server: str | None,
    device: str | None,
    token: str | None,
    as_json: bool,
    **filters: Any,
) -> None:
    """Export records to a file for a SIEM or an analyst, with the filters of `affidavit log`.

    Every row carries the record's seq and leaf hash, so it leads back to `affidavit prove
    SEQ`. Erased records are exported with their envelope only, marked erased. Records a
    format has no specific mapping for are written in its generic form and counted as
    unmapped in the summary. Streams in constant memory; a progress bar on a terminal.

    With --server URL the records come from the collector, across every device (csv or
    jsonl): each row carries its org seq (its leaf in the org log), the endpoint origin and
    seq, and the leaf hash.
    """
    f = make_filters(**filters)
    if server is not None:
        _export_remote(server, token, device, fmt, out, force, as_json, f)
        return
    with paths.open() as ledger:
        exporter = exports.exporter(fmt, origin=ledger.origin)
        total = 0
        if sys.stderr.isatty():
            query.refresh(ledger.store)
            total = exports.count_rows(ledger.store, f)
        with progress_bar(total, f"exporting {fmt}") as progress:
            report = exports.write_file(
                ledger.store, f, exporter, out, force=force, progress=progress
            )
    unmapped = dict(sorted(report.unmapped_by_kind.items()))
    if as_json:
        emit_json(
            {
                "format": fmt,
                "out": str(out),
                "written": report.written,
                "unmapped": report.unmapped,
                "unmapped_by_kind": unmapped,
                "erased": report.erased,
            }
        )
        return
    kinds = ", ".join(f"{kind} {count}" for kind, count in unmapped.items())
    say(
        f"wrote {report.written} record{'' if report.written == 1 else 's'} to {out}; "
        f"{report.unmapped} unmapped"
        + (f" (kinds: {kinds})" if kinds else "")
        + (f"; {report.erased} erased (envelope only)" if report.erased else "")
    )


def _export_remote(
    server: str,
    token: str | None,
    device: str | None,
    fmt: str,
    out: Path,
    force: bool,
    as_json: bool,
    f: query.Filters,
) -> None:
    from affidavit import remote

    if not token:
        raise click.UsageError("--server needs an auditor token: --token or $AFFIDAVIT_TOKEN")
    written = remote.export(server, token, f, out, fmt=fmt, device=device, force=force)
    if as_json:
        emit_json({"format": fmt, "out": str(out), "written": written, "server": server})
        return
    say(f"wrote {written} record{'' if written == 1 else 's'} from {server} to {out}")

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
@filter_options
@json_option
@pass_paths
def export(
    paths: Paths, /, fmt: str, out: Path, force: bool, as_json: bool, **filters: Any
) -> None:
    """Export records to a file for a SIEM or an analyst, with the filters of `affidavit log`.

    Every row carries the record's seq and leaf hash, so it leads back to `affidavit prove
    SEQ`. Erased records are exported with their envelope only, marked erased. Records a
    format has no specific mapping for are written in its generic form and counted as
    unmapped in the summary. Streams in constant memory; a progress bar on a terminal.
    """
    f = make_filters(**filters)
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

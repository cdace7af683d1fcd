"""``affidavit scan``: regulated data in granted folders and in recorded payloads."""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path

import click

from affidavit.cli.commands import Paths, cli, pass_paths, progress_bar, say
from affidavit.cli.query import output_options, write_rows
from affidavit.detect.scan import Finding, ScanReport
from affidavit.errors import VerificationError

COLUMNS = ["where", "data_class", "rule", "masked", "confidence", "folder", "source", "seq",
           "hmac"]  # fmt: skip
TABLE_COLUMNS = ["where", "data_class", "rule", "masked", "confidence", "folder"]


def _report(report: ScanReport, count: int) -> None:
    for path, why in report.errors:
        say(f"unreadable: {path}: {why}")
    by_reason: dict[str, list[str]] = defaultdict(list)
    for path, why in report.skipped:
        by_reason[why].append(path)
    for why, skipped in sorted(by_reason.items()):
        examples = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        say(f"skipped {len(skipped)}: {why}: {examples}")
    megabytes = report.bytes / 1024 / 1024
    say(
        f"{count} finding{'' if count == 1 else 's'} in {report.files} file(s) "
        f"({megabytes:.1f} MiB) and {report.records} record(s); "
        f"{len(report.skipped)} skipped, {len(report.errors)} unreadable"
    )


@cli.command()
@click.argument("targets", metavar="[PATHS]...", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--records/--no-records",
    default=True,
    help="Also scan recorded payloads: prompts, commands, tool inputs (default: yes).",
)
@click.option(
    "--record/--dry-run",
    "record",
    default=True,
    help="Record new findings as policy.finding records (default), or only print them.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="affidavit.toml. Default: $AFFIDAVIT_CONFIG, else the user config folder.",
)
@click.option(
    "--include-low",
    is_flag=True,
    help="Also report low-confidence matches: test card numbers in code comments, "
    "example.com addresses, numbers that only look like phone numbers.",
)
@click.option(
    "--max-size",
    "max_mib",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Skip files larger than this many MiB.",
)
@click.option("--since-seq", type=click.IntRange(min=0), default=0, help="Scan records from SEQ.")
@output_options
@pass_paths
def scan(
    paths: Paths,
    targets: tuple[Path, ...],
    records: bool,
    record: bool,
    config_path: Path | None,
    include_low: bool,
    max_mib: int,
    since_seq: int,
    fmt: str | None,
) -> None:
    """Find regulated data in PATHS (default: the folders affidavit.toml grants) and in
    recorded payloads: card numbers, US SSNs, IBANs, NHS numbers, PHI, emails, phone
    numbers and secrets.

    Reads text, CSV, XLSX, DOCX and PDF (the last three need `pip install
    'affidavit[scan]'`). Findings show the masked value only (cards as BIN + last 4) and
    are recorded as policy.finding records with a keyed HMAC, never the raw value; a
    finding already recorded at the same place is not recorded again. Exit 1 when there
    are findings, 0 when clean, 2 for usage errors.
    """
    from affidavit import config
    from affidavit.detect import records as scanned
    from affidavit.detect import scan as scanning

    cfg = config.load(config_path)
    roots = list(targets)
    if not roots:
        roots, problems = scanning.granted_roots(cfg)
        for problem in problems:
            say(f"warning: {problem}")
        if not roots:
            raise click.UsageError(
                "give PATHS to scan: affidavit.toml grants no folder that can be walked"
            )
    max_bytes = max_mib * 1024 * 1024
    needs_ledger = records or record or paths.ledger.exists()
    ledger = paths.open() if needs_ledger else None
    try:
        if ledger is not None:
            key = scanning.hmac_key(ledger, cfg)
        else:
            key = scanning.config_key(cfg) or os.urandom(32)
            if cfg.scan_hmac_key is None:
                say("note: no ledger and no scan.hmac_key: HMACs are from a one-off key")
        report = ScanReport()
        files = list(scanning.walk(roots, report=report, max_bytes=max_bytes))
        found: list[Finding] = []
        with progress_bar(sum(size for _, size in files), "scanning files") as bar:
            found += scanning.scan_files(files, cfg=cfg, key=key, report=report,
                                         include_low=include_low, max_bytes=max_bytes,
                                         progress=bar)  # fmt: skip
        if records and ledger is not None:
            with progress_bar(ledger.store.size() - since_seq, "scanning records") as bar:
                found += scanned.scan_ledger(ledger, since_seq=since_seq, cfg=cfg, key=key,
                                              report=report, include_low=include_low,
                                              progress=bar)  # fmt: skip
        table = (fmt or ("table" if sys.stdout.isatty() else "jsonl")) == "table"
        names = TABLE_COLUMNS if table else COLUMNS
        rows = (tuple(getattr(f, n) for n in names) for f in found)
        write_rows(names, rows, fmt)
        _report(report, len(found))
        if record and found and ledger is not None:
            seqs = scanned.record_findings(ledger, found)
            span = f": records {seqs.start}..{seqs.stop - 1}" if seqs else ""
            say(f"recorded {len(seqs)} new finding(s){span}; {len(found) - len(seqs)} known")
    finally:
        if ledger is not None:
            ledger.close()
    if found:  # exit 1, the code for findings (run() maps VerificationError to it)
        raise VerificationError(
            f"{len(found)} finding{'' if len(found) == 1 else 's'} of regulated data"
        )

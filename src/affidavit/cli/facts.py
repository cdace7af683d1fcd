"""``affidavit facts show`` and ``affidavit facts verify``: the vendor facts and their re-checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from affidavit import config
from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, say
from affidavit.cli.compliance import _actor, _emit, config_option
from affidavit.cli.query import output_options
from affidavit.compliance import facts as vendor
from affidavit.compliance.gather import gather
from affidavit.signing import ledger_signer


@cli.group("facts")
def facts_group() -> None:
    """The vendor facts the regime posture rests on, with their date.

    They ship with Affidavit as a dated file; replace them with your own copy through
    [vendor] facts_file in affidavit.toml. Re-check them at the vendor's trust center every
    month and record it with `affidavit facts verify --by NAME`: more than 31 days after the
    last check they are stale, and no regime is workable on stale facts.
    """


@facts_group.command("show")
@config_option
@output_options
@pass_paths
def show(paths: Paths, config_path: Path | None, fmt: str | None) -> None:
    """Print the vendor facts in force: key, statement, holds, as_of and where they come from.

    The summary (stderr) says when they were last checked and whether they are stale.
    """
    cfg = config.load(config_path)
    sheet = vendor.load(cfg.vendor_facts)
    with paths.open() as ledger:
        evidence = gather(ledger, cfg)
    checked, check = vendor.last_checked(sheet, evidence.facts_checks)
    rows = [
        (f.key, f.statement, f.holds, sheet.as_of.isoformat(), sheet.where)
        for f in sheet.facts.values()
    ]
    _emit(["key", "statement", "holds", "as_of", "file"], rows, fmt, "Vendor facts")
    age = (datetime.now(UTC).date() - checked).days
    who = f" by {check.by} (record {check.seq})" if check is not None else ""
    state = "STALE" if age > vendor.STALE_DAYS else "current"
    say(f"{state}: last checked {checked}{who}, {age} days ago (every {vendor.STALE_DAYS} days)")


@facts_group.command("verify")
@click.option("--by", "by", required=True, help="Who re-checked them at the vendor (a name).")
@click.option("--note", default="", help="Where they were checked (a URL, a ticket).")
@config_option
@json_option
@pass_paths
def verify(paths: Paths, by: str, note: str, config_path: Path | None, as_json: bool) -> None:
    """Record that NAME re-checked the vendor facts in force today, as a signed record.

    The record names the facts file by its SHA-256, so a later edit of the facts needs a new
    check. The facts then count as current for 31 days.
    """
    cfg = config.load(config_path)
    sheet = vendor.load(cfg.vendor_facts)
    now = datetime.now(UTC)
    with paths.open_privileged("affidavit facts verify") as ledger:
        seq = vendor.verify(
            ledger, ledger_signer(ledger), sheet, by=by, note=note, now=now, actor=_actor()
        )
    if as_json:
        emit_json({"seq": seq, "by": by, "date": now.date().isoformat(), "sha256": sheet.sha256})
    else:
        say(f"vendor facts re-checked by {by} on {now.date()}; recorded as record {seq}")

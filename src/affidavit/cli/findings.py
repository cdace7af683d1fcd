"""``affidavit findings``: list policy and data findings; ``findings resolve``: close one."""

from __future__ import annotations

import getpass
import socket
import sys
from datetime import UTC, datetime

import click

from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, say
from affidavit.cli.query import output_options, write_rows
from affidavit.compliance import findings as core

# What the table shows; the other formats carry every field of Finding.row().
TABLE_COLUMNS = ("id", "status", "rule", "path", "action_seq", "enforced", "detail")


@cli.group(name="findings", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Resolved findings too.")
@click.option("--open", "only_open", is_flag=True, help="Open findings only (the default).")
@output_options
@click.pass_context
def findings_group(ctx: click.Context, show_all: bool, only_open: bool, fmt: str | None) -> None:
    """List open findings: policy findings from the hook and data findings from scans.

    Each names its rule, the path, and the seq of the record it is about (`affidavit show
    SEQ`). `affidavit findings resolve ID --reason TEXT` closes one. Exit 1 when any open
    finding is listed, 0 when none, so a script can gate on it.
    """
    if ctx.invoked_subcommand is not None:
        return
    if show_all and only_open:
        raise click.UsageError("give --all or --open, not both")
    paths = ctx.find_object(Paths)
    assert paths is not None
    with paths.open(readonly=True) as ledger:
        items = core.findings(ledger.store)
    shown = items if show_all else [f for f in items if f.open]
    rows = [f.row() for f in shown]
    fmt = fmt or ("table" if sys.stdout.isatty() else "jsonl")
    names = list(TABLE_COLUMNS if fmt == "table" else core.ROW_FIELDS)
    count = write_rows(names, iter([tuple(r[n] for n in names) for r in rows]), fmt)
    opened = sum(1 for f in shown if f.open)
    say(f"{count} finding{'' if count == 1 else 's'}, {opened} open")
    if opened:
        ctx.exit(1)


@findings_group.command()
@click.argument("finding_id", metavar="ID")
@click.option("--reason", required=True, help="Why it is resolved (recorded).")
@click.option("--by", help="Who resolves it (recorded). Default: the OS user.")
@json_option
@pass_paths
def resolve(paths: Paths, finding_id: str, reason: str, by: str | None, as_json: bool) -> None:
    """Resolve finding ID (or a unique prefix of it) with a recorded reason.

    Appends a policy.finding record holding the resolution; the finding itself is never
    changed. Run `affidavit seal` (or let the hook) publish it.
    """
    user = getpass.getuser()
    actor = {"user": user, "host": socket.gethostname()}
    with paths.open() as ledger:
        finding, seq = core.resolve(
            ledger.store,
            finding_id,
            reason=reason,
            by=by or user,
            actor=actor,
            time=datetime.now(UTC),
        )
    if as_json:
        emit_json({"resolved": finding.id, "resolution_seq": seq})
    else:
        say(f"resolved finding {finding.id} ({finding.rule} on {finding.path or '-'})")
        say(f"recorded as record {seq}")

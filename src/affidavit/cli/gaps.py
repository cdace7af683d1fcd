"""``affidavit gaps --server URL``: where OpenTelemetry and the hooks disagree.

Lists the collector's reconciliation (:mod:`affidavit.server.reconcile`): tool results
OpenTelemetry reported that no hook recorded (``capture.gap`` records on the org log), hook
records whose session sent telemetry without that tool use, and hook sessions that sent no
telemetry. ``--by device`` or ``--by person`` prints the counts instead of the rows.
"""

from __future__ import annotations

from typing import Any

import click

from affidavit.cli.commands import cli
from affidavit.cli.common import say
from affidavit.cli.query import output_options, write_rows

ROWS = ("direction", "device", "person", "session_id", "tool_use_id", "tool", "gap_seq",
        "otel_seq", "seq", "late_hook")  # fmt: skip
COUNTS = ("otel_without_hook", "hook_without_otel", "session_without_otel")


@cli.command()
@click.option("--server", metavar="URL", required=True, help="The organisation's collector.")
@click.option("--token", envvar="AFFIDAVIT_TOKEN", help="An auditor token ($AFFIDAVIT_TOKEN).")
@click.option("--by", type=click.Choice(["device", "person"]), help="Counts per device or person.")
@output_options
@click.pass_context
def gaps(
    ctx: click.Context, server: str, token: str | None, by: str | None, fmt: str | None
) -> None:
    """Capture gaps between OpenTelemetry and the hooks, across the organisation.

    A tool use Claude Code or Cowork reported over OpenTelemetry that no endpoint hook
    recorded within the collector's grace period (the hook did not fire, or was removed)
    is a capture.gap record; hook records without their telemetry are listed too. Exit 1
    when there is any gap.
    """
    from affidavit import remote

    if not token:
        raise click.UsageError("gaps needs an auditor token: --token or $AFFIDAVIT_TOKEN")
    found = remote.gaps(server, token)
    if by:
        names = [by, *COUNTS]
        rows = iter(tuple(row.get(n) for n in names) for row in found[f"by_{by}"])
    else:
        names = list(ROWS)
        rows = iter(tuple(row.get(n) for n in names) for row in found["gaps"])
    write_rows(names, rows, fmt)
    say(_summary(found, server))
    if found["total"]:
        ctx.exit(1)


def _summary(found: dict[str, Any], server: str) -> str:
    counts = {c: 0 for c in COUNTS}
    for row in found["by_device"]:
        for c in COUNTS:
            counts[c] += int(row[c])
    detail = ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in counts.items())
    shown = "" if len(found["gaps"]) == found["total"] else f" (first {len(found['gaps'])} listed)"
    return f"{found['total']} gaps{shown} from {server}: {detail}; grace {found['grace_s']:g} s"

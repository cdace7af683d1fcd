"""``affidavit log`` and ``affidavit sql``: who did what to which file, when."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from affidavit import query
from affidavit.cli.commands import Paths, cli, pass_paths, say

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "jsonl", "csv")

# What the table shows; the other formats carry every column.
TABLE_COLUMNS = ("seq", "time", "actor", "agent", "session", "kind", "tool", "path", "command")


def output_options(fn: F) -> F:
    """``--format table|json|jsonl|csv`` for every listing (table on a terminal)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=None,
        help="Output format. Default: table on a terminal, jsonl in a pipe.",
    )(fn)


def filter_options(fn: F) -> F:
    """The filters shared by log, export and evidence; they combine with AND."""
    options = [
        click.option("--actor", help="OS user or account email."),
        click.option("--agent", help="claude-code, cowork, ..."),
        click.option("--session", help="Agent session id."),
        click.option(
            "--kind", "kinds", multiple=True, help="Record kind; prefix match (file = file.*)."
        ),
        click.option("--path", help="A folder or a glob (finance, finance/**, /srv/*.xlsx)."),
        click.option("--function", help="Business function mapped from folders (finance, HR...)."),
        click.option("--tool", help="Tool name (Edit, Bash, mcp__drive__search...)."),
        click.option("--since", help="Date, datetime or duration back from now (30d, 12h)."),
        click.option("--until", help="Date, datetime or duration back from now."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def make_filters(**kw: Any) -> query.Filters:
    now = datetime.now(UTC)
    since = query.parse_moment(kw["since"], now=now) if kw.get("since") else None
    until = query.parse_moment(kw["until"], now=now) if kw.get("until") else None
    if since is not None and until is not None and until < since:
        # An empty answer would look like "nothing happened"; it is a mistake in the window.
        raise click.UsageError(
            f"--until {kw['until']} ({until}) is before --since {kw['since']} ({since})"
        )
    return query.Filters(
        actor=kw.get("actor"),
        agent=kw.get("agent"),
        session=kw.get("session"),
        kinds=tuple(kw.get("kinds") or ()),
        path=kw.get("path"),
        function=kw.get("function"),
        tool=kw.get("tool"),
        since=since,
        until=until,
    )


def write_rows(names: list[str], rows: Iterator[tuple[object, ...]], fmt: str | None) -> int:
    """Stream rows in the chosen format; returns the count."""
    fmt = fmt or ("table" if sys.stdout.isatty() else "jsonl")
    out = sys.stdout
    count = 0
    if fmt == "csv":
        import csv  # here, as shutil below: `log` starts faster without them

        writer = csv.writer(out)
        writer.writerow(names)
        for row in rows:
            writer.writerow(row)
            count += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(("," if count else "") + "\n  ")
            out.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False))
            count += 1
        out.write("\n]\n" if count else "]\n")
    else:
        count = _table(names, rows)
    return count


def _table(names: list[str], rows: Iterator[tuple[object, ...]]) -> int:
    from rich.console import Console
    from rich.table import Table

    # The compact layout is for rows of the actions index (log); any other query (sql) shows
    # exactly the columns it selected.
    layout = "actor_user" in names and "session_id" in names
    shown = list(TABLE_COLUMNS) if layout else names
    table = Table(show_lines=False, header_style="bold")
    for name in shown:
        table.add_column(name, overflow="fold")
    count = 0
    for row in rows:
        record = dict(zip(names, row, strict=True))
        if layout:
            record["actor"] = record.get("actor_email") or record.get("actor_user")
            record["session"] = record.get("session_id")
            record["time"] = str(record.get("time") or "")[:19].replace("T", " ")
            if record.get("erased"):
                record["path"] = "(erased)"
        table.add_row(*("" if record.get(n) is None else str(record.get(n)) for n in shown))
        count += 1
    import shutil

    tty = sys.stdout.isatty()
    console = Console(width=shutil.get_terminal_size().columns if tty else 160)
    height = shutil.get_terminal_size().lines
    if tty and count > height:
        with console.pager(styles=True):
            console.print(table)
    else:
        console.print(table)
    return count


def _refresh(paths: Paths) -> Any:
    # Only the derived actions index is written here: a full page check (a read of the
    # whole file) on every listing would cost more than most queries. A damage note from
    # an earlier check still stops it (store.sqlite).
    ledger = paths.open(check_pages=False)
    try:
        query.refresh(ledger.store)
    except BaseException:
        ledger.close()
        raise
    return ledger


@cli.command()
@filter_options
@click.option(
    "--by",
    type=click.Choice(sorted(query.GROUPS)),
    help="Print totals per folder, function, actor, kind, day, agent or session instead of rows.",
)
@click.option(
    "--server",
    metavar="URL",
    help="Ask the organisation's collector instead of this ledger (every device's records).",
)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    help="At most N rows; the next page starts with --after the last seq printed.",
)
@click.option(
    "--after",
    type=click.IntRange(min=-1),
    metavar="SEQ",
    help="Only records after seq SEQ (the last of the page before).",
)
@click.option("--device", help="With --server: only this endpoint log (its origin).")
@click.option(
    "--token", envvar="AFFIDAVIT_TOKEN", help="With --server: an auditor token ($AFFIDAVIT_TOKEN)."
)
@output_options
@pass_paths
def log(
    paths: Paths,
    /,
    by: str | None,
    fmt: str | None,
    server: str | None,
    limit: int | None,
    after: int | None,
    device: str | None,
    token: str | None,
    **filters: Any,
) -> None:
    """Who did what to which file, when: one row per record, oldest first.

    Filters combine: `affidavit log --path finance/** --kind file --since 90d`.
    Erased records stay in the list, marked erased, with their personal fields blank.
    With --server URL the rows come from the collector, across every device, in org log
    order (--function and --by are for a local ledger).
    """
    if server is not None:
        if limit is not None or after is not None:
            raise click.UsageError("-n and --after are for a local ledger, not with --server")
        _log_remote(server, token, device, by, fmt, filters)
        return
    if by and (limit is not None or after is not None):
        raise click.UsageError("-n and --after page rows, not --by totals")
    with _refresh(paths) as ledger:
        f = make_filters(**filters)
        if by:
            names, rows = query.totals(ledger.store, f, by)
        else:
            names, rows = query.actions(ledger.store, f, after=after, limit=limit)
        count = write_rows(names, rows, fmt)
    say(f"{count} {'group' if by else 'record'}{'' if count == 1 else 's'}")


def _log_remote(
    server: str,
    token: str | None,
    device: str | None,
    by: str | None,
    fmt: str | None,
    filters: dict[str, Any],
) -> None:
    from affidavit import remote

    if by:
        raise click.UsageError("--by is for a local ledger, not with --server")
    if not token:
        raise click.UsageError("--server needs an auditor token: --token or $AFFIDAVIT_TOKEN")
    rows = remote.records(server, token, make_filters(**filters), device=device)
    count = write_rows(list(remote.COLUMNS), rows, fmt)
    say(f"{count} record{'' if count == 1 else 's'} from {server}")


@cli.command()
@click.argument("statement")
@output_options
@pass_paths
def sql(paths: Paths, statement: str, fmt: str | None) -> None:
    """Run one read-only SQL statement over the `actions` table and the raw tables.

    `actions` has one row per record: seq, time, kind, source, actor_user, actor_email,
    agent, session_id, tool_use_id, tool, path, folder, function, before_sha256,
    after_sha256, size, command, corroborated, erased, leaf_hash. Raw tables: records,
    checkpoints, nodes, blobs, tool_uses. Anything that would write is refused.
    """
    with _refresh(paths) as ledger:
        names, rows = query.run_sql(ledger.store, statement)
        count = write_rows(names, rows, fmt)
    say(f"{count} row{'' if count == 1 else 's'}")

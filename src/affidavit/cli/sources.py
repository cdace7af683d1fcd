"""``affidavit sources``: cloud-sync version history and connector-side logs as evidence.

The work is in :mod:`affidavit.sources`; these commands parse, call it and print.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, say
from affidavit.errors import InputError
from affidavit.sources import FORMAT_NAMES, PROVIDER_NAMES

SETTLE_MINUTES = 60  # affidavit.sources.cloud.SETTLE; the core is imported on first use


@cli.group()
def sources() -> None:
    """External trails: cloud-sync version history and connector audit logs.

    `sources add` names a Google Drive, OneDrive or Dropbox folder; `sources pull` links
    every agent edit there to the provider revision that captured it (or records a gap);
    `sources import` reads a connector's own audit log export and `sources match` lists the
    agent's connector calls that log does not show.
    """


@sources.command("add")
@click.argument("provider", type=click.Choice(PROVIDER_NAMES))
@click.argument("name")
@click.option(
    "--local-root",
    required=True,
    help="The folder the sync client mirrors on this machine (agent paths under it).",
)
@click.option("--remote-root", default="", help="The provider folder it maps to (default: root).")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file holding the OAuth access token (or JSON with access_token); never logged.",
)
@click.option(
    "--token-keyring",
    metavar="SERVICE:USERNAME",
    help="Read the token from the OS keyring entry SERVICE, USERNAME instead "
    "(the keyring extra: pip install 'affidavit[keyring]').",
)
@click.option(
    "--token-env", metavar="NAME", help="Read the token from the environment variable NAME."
)
@click.option("--api-url", help="The provider's API base URL (default: the provider's own).")
@click.option(
    "--retention-days",
    type=int,
    help="How long the provider keeps versions under your plan or policy (no API says it). "
    "Default: 30 for Google Drive and Dropbox, unknown for OneDrive.",
)
@pass_paths
def add_cmd(
    paths: Paths,
    provider: str,
    name: str,
    local_root: str,
    remote_root: str,
    token_file: Path | None,
    token_keyring: str | None,
    token_env: str | None,
    api_url: str | None,
    retention_days: int | None,
) -> None:
    """Add (or replace) the source NAME: a PROVIDER folder synced to --local-root.

    The token comes from one of --token-file, --token-keyring or --token-env; the source
    records where it is, never the token.
    """
    from affidavit.sources import cloud
    from affidavit.sources.providers import PROVIDERS

    given = [
        ref
        for ref in (
            None if token_file is None else str(token_file.absolute()),
            None if token_keyring is None else f"keyring:{token_keyring}",
            None if token_env is None else f"env:{token_env}",
        )
        if ref is not None
    ]
    if len(given) != 1:
        raise InputError("give the token with one of --token-file, --token-keyring, --token-env")
    p = PROVIDERS[provider]
    cfg = cloud.SourceConfig(
        name,
        provider,
        str(Path(local_root).expanduser().absolute()),
        remote_root.strip("/"),
        given[0],
        api_url or p.api_url,
        retention_days if retention_days is not None else p.default_retention_days,
    )
    with paths.open() as ledger:
        seq = cloud.add(ledger, cfg, now=datetime.now(UTC))
    days = "unknown" if cfg.retention_days is None else f"{cfg.retention_days} days"
    say(f"source {name} ({provider}, retention {days}) recorded as record {seq}")
    say(f"run `affidavit sources pull {name}` to link agent edits to its revisions")


@sources.command("list")
@json_option
@pass_paths
def list_cmd(paths: Paths, as_json: bool) -> None:
    """The sources, with their cursor and totals from the last pull."""
    from affidavit.sources import cloud

    with paths.open(readonly=True) as ledger:
        rows = [(c, cloud.last_pull(ledger, c.name)) for c in cloud.configs(ledger).values()]
    if as_json:
        emit_json([{**c.to_json(), "last_pull": last} for c, last in rows])
        return
    for c, last in rows:
        days = "?" if c.retention_days is None else str(c.retention_days)
        click.echo(
            f"{c.name}\t{c.provider}\t{c.local_root}\tretention {days}d\t"
            f"cursor {last.get('cursor', '-')}\tlast pull {last.get('at', 'never')}"
        )


@sources.command("pull")
@click.argument("names", nargs=-1)
@click.option(
    "--settle-minutes",
    type=int,
    default=SETTLE_MINUTES,
    show_default=True,
    help="Leave edits younger than this for the next pull (the sync client may lag).",
)
@json_option
@pass_paths
def pull_cmd(paths: Paths, names: tuple[str, ...], settle_minutes: int, as_json: bool) -> None:
    """Link agent edits to provider revisions for NAMES (default: every source).

    Resumes after the last edit judged; exit 2 naming the source when a provider refuses
    (an expired token), after recording what was judged before it.
    """
    from affidavit.sources import cloud

    now = datetime.now(UTC)
    stopped: list[str] = []
    out = []
    with paths.open() as ledger:
        known = cloud.configs(ledger)
        for name in names or tuple(known):
            if name not in known:
                raise InputError(f"no source {name!r}; `affidavit sources list` shows them")
            report = cloud.pull(
                ledger, known[name], now=now, settle=timedelta(minutes=settle_minutes)
            )
            out.append(report)
            if report.stopped:
                stopped.append(report.stopped)
        if out and any(r.seqs for r in out):
            ledger.seal()
    if as_json:
        emit_json(
            [
                {
                    "source": r.source,
                    "judged": r.judged,
                    "linked": r.linked,
                    "gaps": r.gaps,
                    "pending": r.pending,
                    "cursor": r.cursor,
                    "stopped": r.stopped,
                }
                for r in out
            ]
        )
    for r in out:
        say(
            f"{r.source}: {r.judged} edit(s) judged: {r.linked} linked to a revision, "
            f"{r.gaps} gap(s); cursor at record {r.cursor}"
            + (f"; {r.pending} too recent, left for the next pull" if r.pending else "")
        )
    if stopped:
        raise InputError("; ".join(stopped) + " (what was judged before is recorded)")


@sources.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMAT_NAMES))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--from",
    "start",
    metavar="TIME",
    help="With --to: the start of the time the export was asked for (RFC 3339), e.g. the "
    "audit search's start or the Event Log File's day.",
)
@click.option("--to", "end", metavar="TIME", help="With --from: the end of that time.")
@pass_paths
def import_cmd(
    paths: Paths, fmt: str, files: tuple[Path, ...], start: str | None, end: str | None
) -> None:
    """Import connector audit log exports as connector.* records.

    FORMAT: salesforce-audit (Setup Audit Trail CSV), salesforce-event (Event Log File
    CSV) or unified-audit (Microsoft 365 unified audit log, CSV or JSON). Entries already
    imported are skipped. Every file is read and checked before any is imported: a
    malformed one refuses them all (exit 2, naming file and line).

    Without --from and --to an export covers only its first to its last entry, since the
    file cannot say more; with them it covers that window, so a call after its last entry
    counts as missing from the log and an export with no entries is evidence too.
    """
    from affidavit.record import parse_time
    from affidavit.sources.connector_log import import_export, read_export

    if (start is None) != (end is None):
        raise InputError("give --from and --to together (the window the export covers)")
    try:
        window = None if start is None or end is None else (parse_time(start), parse_time(end))
    except InputError as e:
        raise InputError(f"--from/--to: {e}") from e
    exports = [read_export(fmt, path, window=window) for path in files]
    now = datetime.now(UTC)
    with paths.open() as ledger:
        for path, export in zip(files, exports, strict=True):
            report = import_export(ledger, export, now=now)
            say(
                f"{path}: {report.entries} entries, {report.imported} new"
                + (f"; gap recorded: {report.gap}" if report.gap else "")
            )
        ledger.seal()


@sources.command("match")
@click.argument("server")
@click.option(
    "--log",
    "connector",
    required=True,
    type=click.Choice(["salesforce", "microsoft365"]),
    help="Whose imported audit log to match the calls against.",
)
@click.option("--window-minutes", type=int, default=5, show_default=True)
@click.option(
    "--user",
    "user_pairs",
    multiple=True,
    metavar="CALLER=SOURCE_USER",
    help="The source's name for a caller: the call's e-mail (else its OS login) = the log's "
    "user (Salesforce username or user id, Microsoft 365 UPN). Repeatable; recorded with "
    "the result.",
)
@json_option
@pass_paths
def match_cmd(
    paths: Paths,
    server: str,
    connector: str,
    window_minutes: int,
    user_pairs: tuple[str, ...],
    as_json: bool,
) -> None:
    """List the agent's calls to MCP SERVER (mcp__SERVER__* tools) that the connector's own
    log does not show; exit 1 when there is any.

    A call matches an entry within --window-minutes of it by the same user (where both
    name one; --user pairs a login or e-mail with the log's name for the same person).
    Calls outside the time the imported exports cover are counted apart. The result (every
    pair, every call with no entry, the --user pairs) is recorded as a connector.match
    record and sealed, so it is in the log and verifiable.
    """
    from affidavit.sources.connector_log import match, record_match

    users: dict[str, str] = {}
    for pair in user_pairs:
        caller, sep, name = pair.partition("=")
        if not sep or not caller.strip() or not name.strip():
            raise click.BadParameter(
                f"{pair!r} is not CALLER=SOURCE_USER (dana=dana@example.com)", param_hint="--user"
            )
        users[caller.strip()] = name.strip()
    window = timedelta(minutes=window_minutes)
    with paths.open() as ledger:
        report = match(ledger, server, connector, window=window, users=users)
        seq = record_match(
            ledger,
            report,
            server=server,
            connector=connector,
            window=window,
            now=datetime.now(UTC),
            users=users,
        )
        ledger.seal()
    if as_json:
        emit_json(
            {
                "matched": [{"seq": c.seq, "entry_seq": e} for c, e in report.matched],
                "unmatched": [
                    {"seq": c.seq, "time": c.time.isoformat(), "tool": c.tool, "user": c.user}
                    for c in report.unmatched
                ],
                "uncovered": [c.seq for c in report.uncovered],
                "record": seq,
            }
        )
    else:
        for c in report.unmatched:
            click.echo(f"{c.seq}\t{c.time.isoformat()}\t{c.tool}\t{c.user or '-'}")
    say(
        f"{len(report.matched)} call(s) matched in the {connector} log, "
        f"{len(report.unmatched)} with no entry there, {len(report.uncovered)} outside the "
        f"time the imported exports cover; recorded as connector.match record {seq}"
    )
    if report.unmatched:
        raise click.exceptions.Exit(1)

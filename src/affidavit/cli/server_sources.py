"""``affidavit server sources``: feeds the collector pulls itself (the Anthropic Compliance API).

The work is in :mod:`affidavit.server.compliance`; these commands parse, call it and print.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from affidavit.cli.commands import emit_json, json_option, say
from affidavit.cli.server import _connected, _db_options, _keys, server
from affidavit.errors import InputError

API_URL = "https://api.anthropic.com"  # affidavit.server.compliance_feed.API_URL


@server.group("sources")
def sources() -> None:
    """Feeds the collector pulls on a schedule: the Anthropic Compliance API (Enterprise).

    `server sources add anthropic-compliance NAME --key-file F` registers a pull of the
    Activity Feed and the local and remote Cowork / Claude Code session lists; every worker
    of `affidavit server` runs the due pulls, and `server sources pull` runs one now.
    """


@sources.command("add")
@_db_options
@click.argument("provider", type=click.Choice(["anthropic-compliance"]))
@click.argument("name")
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the Compliance Access Key (mode 0600, owned by the collector's "
    "account); read at each pull, never stored or logged.",
)
@click.option(
    "--key-keyring", metavar="SERVICE:USERNAME", help="Read the key from the OS keyring instead."
)
@click.option("--key-env", metavar="NAME", help="Read the key from the environment variable NAME.")
@click.option("--api-url", default=API_URL, show_default=True, help="The API's base URL.")
@click.option("--every-minutes", type=int, default=60, show_default=True, help="Pull interval.")
@click.option(
    "--grace-minutes",
    type=int,
    default=10,
    show_default=True,
    help="How long after a session starts its hook records may still arrive.",
)
def add_cmd(
    db: str | None,
    schema: str,
    keys: Path | None,
    provider: str,
    name: str,
    key_file: Path | None,
    key_keyring: str | None,
    key_env: str | None,
    api_url: str,
    every_minutes: int,
    grace_minutes: int,
) -> None:
    """Add (or replace) the source NAME; its first pull is due at once."""
    from affidavit.server import compliance
    from affidavit.server.schema import Collector

    given = [
        ref
        for ref in (
            None if key_file is None else str(key_file.absolute()),
            None if key_keyring is None else f"keyring:{key_keyring}",
            None if key_env is None else f"env:{key_env}",
        )
        if ref is not None
    ]
    if len(given) != 1:
        raise InputError("give the key with one of --key-file, --key-keyring, --key-env")
    src = compliance.ComplianceSource(
        name,
        api_url.rstrip("/"),
        given[0],
        every=timedelta(minutes=every_minutes),
        grace=timedelta(minutes=grace_minutes),
    )
    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
        seq = compliance.add(conn, c, src, now=datetime.now(UTC))
    say(f"source {name} ({provider}) recorded as org log record {seq}; first pull due now")


@sources.command("list")
@_db_options
@json_option
def list_cmd(db: str | None, schema: str, keys: Path | None, as_json: bool) -> None:
    """The sources: where the key is (never the key), cursors and the last pull."""
    from affidavit.server import compliance

    with _connected(db) as conn:
        rows = compliance.sources(conn, schema)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        last = r["last_pull"] or {}
        click.echo(
            f"{r['name']}\t{r['provider']}\tkey {r['key']}\tevery {r['every_s'] // 60} min\t"
            f"next {r['next_due']}\tlast pull {last.get('at', 'never')}"
        )


@sources.command("remove")
@_db_options
@click.argument("name")
def remove_cmd(db: str | None, schema: str, keys: Path | None, name: str) -> None:
    """Stop pulling NAME; what it recorded stays in the org log."""
    from affidavit.server import compliance
    from affidavit.server.schema import Collector

    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
        seq = compliance.remove(conn, c, name, now=datetime.now(UTC))
    say(f"source {name} removed (org log record {seq})")


@sources.command("pull")
@_db_options
@click.argument("names", nargs=-1)
@json_option
def pull_cmd(
    db: str | None, schema: str, keys: Path | None, names: tuple[str, ...], as_json: bool
) -> None:
    """Pull NAMES (default: every source) now, whatever the schedule says.

    Exit 2 naming the source and list when the API refused one (a revoked key, a long
    rate limit), after recording what was pulled before it; the next pull resumes.
    """
    from affidavit.server import compliance
    from affidavit.server.schema import Collector

    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
        known = [r["name"] for r in compliance.sources(conn, schema)]
        reports = []
        for name in names or tuple(known):
            if name not in known:
                raise InputError(f"no source {name!r}; `affidavit server sources list` shows them")
            report = compliance.pull(conn, c, name, now=datetime.now(UTC))
            if report is None:
                say(f"{name}: a collector worker is pulling it now; skipped")
            else:
                reports.append(report)
    if as_json:
        emit_json([r.to_json() for r in reports])
    for r in reports:
        counts = ", ".join(f"{f} {r.new.get(f, 0)} new of {n}" for f, n in r.fetched.items())
        say(
            f"{r.source}: {counts or 'nothing listed'}; sessions: {r.captured} captured, "
            f"{r.gaps} gap(s), {r.unattributed} without a person"
        )
    stopped = [f"{r.source}: {why}" for r in reports for why in r.stopped.values()]
    if stopped:
        raise InputError("; ".join(stopped) + " (what was pulled before is recorded)")

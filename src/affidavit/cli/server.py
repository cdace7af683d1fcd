"""``affidavit server``: run and administer the organisation's collector (the server extra).

``affidavit server init`` makes the tables and keys, ``affidavit server`` serves, ``server
key`` prints the verifier keys endpoints pin, ``server token ...`` manages bearer tokens,
``server seal`` runs the org log's integrator once, ``server witnesses ...`` and ``server logs
add`` set up witnessing both ways, and ``server erase`` erases the collector's copy of a payload.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from affidavit.cli.commands import cli, emit_json, json_option, say
from affidavit.errors import InputError

if TYPE_CHECKING:
    import psycopg


def _db_options(f: Any) -> Any:
    f = click.option(
        "--keys",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="AFFIDAVIT_SERVER_KEYS",
        help="Folder of the collector's two signing keys. Default: $AFFIDAVIT_SERVER_KEYS, "
        "else collector/ in the user config folder.",
    )(f)
    f = click.option(
        "--schema",
        default="affidavit",
        show_default=True,
        envvar="AFFIDAVIT_SERVER_SCHEMA",
        help="PostgreSQL schema of the collector's tables (the org log is <schema>_org).",
    )(f)
    return click.option(
        "--db",
        envvar="AFFIDAVIT_SERVER_DB",
        help="PostgreSQL URL, e.g. postgresql://user@host:5432/affidavit. "
        "Default: $AFFIDAVIT_SERVER_DB.",
    )(f)


def _need_db(db: str | None) -> str:
    if not db:
        raise InputError("give the database with --db URL (or $AFFIDAVIT_SERVER_DB)")
    return db


@contextmanager
def _connected(db: str | None) -> Iterator[psycopg.Connection[Any]]:
    from affidavit.server import require_extra

    require_extra()
    from affidavit.store.postgres import connect

    conn = connect(_need_db(db))
    try:
        yield conn
    finally:
        conn.close()


def _keys(keys: Path | None) -> Path:
    from affidavit.server.schema import default_keys_dir

    return keys or default_keys_dir()


@cli.group(invoke_without_command=True)
@_db_options
@click.option(
    "--listen",
    default="127.0.0.1:8750",
    show_default=True,
    help="HOST:PORT to serve on. Put TLS in front (a reverse proxy) for anything but loopback.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="uvicorn worker processes; any number can serve one database.",
)
@click.option(
    "--gap-grace",
    default=600.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds an OpenTelemetry tool result waits for its hook record before it is "
    "recorded as a capture.gap.",
)
@click.pass_context
def server(
    ctx: click.Context,
    db: str | None,
    schema: str,
    keys: Path | None,
    listen: str,
    workers: int,
    gap_grace: float,
) -> None:
    """Run the organisation's collector, or administer it (init, key, token, seal).

    Serve with `affidavit server --db URL --listen HOST:PORT`.

    Endpoints ship their records and checkpoints to it (`affidavit enrol` then
    `affidavit ship`); it verifies and cosigns every endpoint checkpoint (a C2SP witness), keeps one
    org log over every record and serves it. Any number of workers, on any number of hosts,
    can serve one database. Claude Code and Cowork send their OpenTelemetry logs to its
    /v1/logs (`affidavit install --otel --server URL --token TOKEN` prints the settings);
    `affidavit gaps --server URL` lists where
    they and the hooks disagree. Needs the server extra: pip install 'affidavit[server]'.
    """
    if ctx.invoked_subcommand is not None:
        return
    from affidavit.server import require_extra

    require_extra()
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"--listen {listen!r}: expected HOST:PORT")
    os.environ["AFFIDAVIT_SERVER_DB"] = _need_db(db)
    os.environ["AFFIDAVIT_SERVER_SCHEMA"] = schema
    os.environ["AFFIDAVIT_SERVER_KEYS"] = str(_keys(keys))
    os.environ["AFFIDAVIT_SERVER_GAP_GRACE"] = repr(gap_grace)
    with _connected(db) as conn:  # fail here, in one line, rather than in every worker
        from affidavit.server.schema import Collector

        collector = Collector.load(conn, schema, _keys(keys))
        collector.witness_signer()
    say(f"collector {collector.origin} on http://{listen} ({workers} worker(s))")
    import uvicorn

    uvicorn.run(
        "affidavit.server.app:create_app",
        factory=True,
        host=host.strip("[]"),
        port=int(port),
        workers=workers,
        log_level="info",
    )


@server.command()
@_db_options
@click.option("--origin", required=True, help="The collector's name, e.g. audit.example.com/org.")
@json_option
def init(db: str | None, schema: str, keys: Path | None, origin: str, as_json: bool) -> None:
    """Create the collector's tables, its org log and its two signing keys."""
    from affidavit.server.schema import init_collector

    with _connected(db) as conn:
        c = init_collector(conn, schema=schema, origin=origin, keys=_keys(keys))
    if as_json:
        emit_json({"origin": c.origin, "org_vkey": c.org_vkey, "witness_vkey": c.witness_vkey})
        return
    say(f"created collector {c.origin} in schema {schema}; keys in {c.keys} (mode 0600)")
    click.echo(c.witness_vkey)
    click.echo(c.org_vkey)
    say("next: affidavit server token create --role device --name laptop-1 --db URL")


@server.command()
@_db_options
@json_option
def key(db: str | None, schema: str, keys: Path | None, as_json: bool) -> None:
    """Print the collector's verifier keys: its witness key, then its org log key."""
    from affidavit.server.schema import Collector

    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
    if as_json:
        emit_json({"origin": c.origin, "org_vkey": c.org_vkey, "witness_vkey": c.witness_vkey})
        return
    click.echo(c.witness_vkey)
    click.echo(c.org_vkey)


@server.command()
@_db_options
@json_option
def seal(db: str | None, schema: str, keys: Path | None, as_json: bool) -> None:
    """Move every shipped record into the org log and publish a checkpoint now.

    The identity join and the reconciliation run first, with the grace period of
    $AFFIDAVIT_SERVER_GAP_GRACE (seconds, default 600), as the running collector does.
    """
    from affidavit.server import identity, orglog, reconcile
    from affidavit.server.schema import Collector, upgrade

    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
        upgrade(conn, schema, progress=say)
        identity.ensure_tables(conn, schema)
        reconcile.run(conn, c, grace_s=reconcile.grace_seconds(), wait=True)
        size = orglog.integrate(conn, c, wait=True)
        latest = orglog.org_ledger(conn, c).latest_checkpoint()
    note = "" if latest is None else latest[1]
    if as_json:
        emit_json({"size": size, "checkpoint": note})
        return
    click.echo(note, nl=False)
    say(f"org log sealed at size {size}")


@server.command("verify")
@_db_options
@json_option
def verify_cmd(db: str | None, schema: str, keys: Path | None, as_json: bool) -> None:
    """Recheck the collector's database: every endpoint's records against the checkpoint it
    cosigned, the org log against the org key, and the references between them.

    Exit 1 naming the first thing that does not hold (an edited or missing record, an edited
    org log).
    """
    from affidavit.errors import VerificationError
    from affidavit.server.check import verify_collector
    from affidavit.server.schema import Collector

    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
        try:
            found = verify_collector(conn, c)
        except VerificationError as e:
            if as_json:
                emit_json({"ok": False, "where": e.where, "error": str(e)})
            raise
    if as_json:
        emit_json({"ok": True, **found})
        return
    click.echo(
        f"OK: {found['records']} records of {found['endpoints']} endpoint logs match the "
        f"checkpoints the collector cosigned; org log of {found['org_log']} records verifies"
    )


@server.group()
def token() -> None:
    """Create, list and revoke the collector's bearer tokens."""


@token.command("create")
@_db_options
@click.option("--role", required=True, type=click.Choice(["device", "auditor", "admin"]))
@click.option("--name", required=True, help="Who or what holds it, e.g. laptop-17 or j.smith.")
def token_create(db: str | None, schema: str, keys: Path | None, role: str, name: str) -> None:
    """Make a token and print it once; only its argon2 hash is stored.

    device: enrol and ship; auditor: read; admin: read and manage.
    """
    from affidavit.server.tokens import create_token

    with _connected(db) as conn:
        secret = create_token(conn, schema, role=role, name=name)
    click.echo(secret)
    say(f"token {name!r} ({role}) created; it is shown only now: store it in a secret manager")


@token.command("list")
@_db_options
@json_option
def token_list(db: str | None, schema: str, keys: Path | None, as_json: bool) -> None:
    """List tokens: name, role, created, revoked, last used (never the tokens)."""
    from affidavit.server.tokens import list_tokens

    with _connected(db) as conn:
        rows = list_tokens(conn, schema)
    for row in rows:
        if as_json:
            emit_json(row)
        else:
            click.echo(
                f"{row['name']}\t{row['role']}\tcreated {row['created']}\t"
                f"last used {row['last_used'] or '-'}\t"
                + (f"REVOKED {row['revoked']}" if row["revoked"] else "live")
            )


@token.command("revoke")
@_db_options
@click.argument("name")
def token_revoke(db: str | None, schema: str, keys: Path | None, name: str) -> None:
    """Revoke the token NAME: every worker refuses it from the next request on."""
    from affidavit.server.tokens import revoke_token

    with _connected(db) as conn:
        revoke_token(conn, schema, name)
    say(f"token {name!r} revoked")


@server.group("witnesses")
def witnesses_group() -> None:
    """External witnesses that cosign the org log's checkpoints (C2SP tlog-witness)."""


@witnesses_group.command("add")
@_db_options
@click.argument("url")
@click.option(
    "--vkey", required=True, help="The witness's cosignature/v1 verifier key (type 0x04)."
)
def witnesses_add(db: str | None, schema: str, keys: Path | None, url: str, vkey: str) -> None:
    """Ask the witness at URL to cosign every new org checkpoint; pin its key.

    After each seal the collector POSTs URL/add-checkpoint with a consistency proof from the
    size the witness last cosigned, checks the answer against --vkey and keeps the line;
    GET /checkpoint serves the checkpoint with it. The witness must know this collector's
    org log key (`affidavit server key`, second line).
    """
    from affidavit.server.schema import Collector
    from affidavit.server.witnesses import add

    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
        cosigner = add(conn, c, url, vkey)
    say(f"witness {cosigner.name} at {url} will be asked at the next seal")


@witnesses_group.command("list")
@_db_options
@json_option
def witnesses_list(db: str | None, schema: str, keys: Path | None, as_json: bool) -> None:
    """List external witnesses: URL, the org log size each last cosigned, and its key."""
    from affidavit.server.schema import Collector
    from affidavit.server.witnesses import listed

    with _connected(db) as conn:
        rows = listed(conn, Collector.load(conn, schema, _keys(keys)))
    for row in rows:
        if as_json:
            emit_json(row)
        else:
            click.echo(f"{row['url']}\tcosigned size {row['cosigned_size']}\t{row['vkey']}")


@server.group("logs")
def logs_group() -> None:
    """Other C2SP logs this collector witnesses through POST /add-checkpoint."""


@logs_group.command("add")
@_db_options
@click.argument("vkey")
def logs_add(db: str | None, schema: str, keys: Path | None, vkey: str) -> None:
    """Witness the log whose checkpoints VKEY signs (the key's name is the log's origin).

    That log (another collector, or any C2SP log) then sends its checkpoints to
    POST /add-checkpoint and gets this collector's cosignature (its witness key, the
    first line of `affidavit server key`).
    """
    from affidavit.server.schema import Collector
    from affidavit.server.witness import add_log

    with _connected(db) as conn:
        origin = add_log(conn, Collector.load(conn, schema, _keys(keys)), vkey)
    say(f"witnessing {origin}: it may now POST its checkpoints to /add-checkpoint")


@server.command("erase")
@_db_options
@click.argument("origin")
@click.argument("seq", type=click.IntRange(min=0))
@click.option("--reason", required=True, help="Why (a request under GDPR Art. 17, ...).")
@click.option("--by", "by", required=True, help="Who asks for it, e.g. your admin name.")
@json_option
def erase_cmd(
    db: str | None,
    schema: str,
    keys: Path | None,
    origin: str,
    seq: int,
    reason: str,
    by: str,
    as_json: bool,
) -> None:
    """Erase the collector's copy of the payload of record SEQ of the endpoint log ORIGIN.

    The record's envelope stays, so every proof still verifies; a collector.erasure record
    on the org log names it, with --reason and --by. Erase the endpoint's own copy there
    (`affidavit erase`). Exit 2 if the collector holds no such record or its payload is gone.
    """
    from datetime import UTC, datetime

    from affidavit.server.erasure import erase
    from affidavit.server.schema import Collector

    with _connected(db) as conn:
        c = Collector.load(conn, schema, _keys(keys))
        org_seq = erase(conn, c, origin, seq, reason=reason, by=by, now=datetime.now(UTC))
    if as_json:
        emit_json({"origin": origin, "seq": seq, "erasure": org_seq})
        return
    say(f"erased the payload of {origin} record {seq}; org log record {org_seq} says why")

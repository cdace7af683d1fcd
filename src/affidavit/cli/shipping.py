"""``affidavit enrol`` and ``affidavit ship``: send this ledger to the organisation's collector.

The token comes from ``--token`` or ``$AFFIDAVIT_TOKEN`` and is never printed or stored.
"""

from __future__ import annotations

import click

from affidavit.cli.commands import Paths, emit_json, json_option, pass_paths, say
from affidavit.errors import InputError

_token = click.option(
    "--token",
    envvar="AFFIDAVIT_TOKEN",
    help="The device token from `affidavit server token create`. Default: $AFFIDAVIT_TOKEN.",
)


def _need(token: str | None) -> str:
    if not token:
        raise InputError("give the collector token with --token or $AFFIDAVIT_TOKEN")
    return token


@click.command()
@click.argument("url")
@_token
@json_option
@pass_paths
def enrol(paths: Paths, url: str, token: str | None, as_json: bool) -> None:
    """Enrol this ledger with the collector at URL and pin the collector's witness key.

    The collector learns the ledger's verifier key; the pinned keys are written beside the
    ledger as <ledger>.collector.json. Then run `affidavit ship`.
    """
    from affidavit import shipping

    with paths.open(readonly=True) as ledger:
        state = shipping.enrol(ledger, paths.ledger, url, _need(token))
    if as_json:
        emit_json({k: state[k] for k in ("url", "collector", "witness_vkey", "org_vkey")})
        return
    click.echo(state["witness_vkey"])
    say(f"enrolled with {state['collector']} at {url}; pinned its witness key (printed)")


@click.command()
@_token
@json_option
@pass_paths
def ship(paths: Paths, token: str | None, as_json: bool) -> None:
    """Send every published record the collector lacks, now; keep its cosignatures.

    Resumes where the collector stopped; records it already holds are not sent twice. Only
    published records go: run `affidavit seal` first. Exit 1 if the collector refuses a
    checkpoint as inconsistent with one it cosigned (this ledger's history was rewritten).
    """
    from affidavit import shipping

    with paths.open(readonly=True) as ledger:
        sent, acked = shipping.ship(ledger, paths.ledger, _need(token))
        left = ledger.store.size() - acked
    if as_json:
        emit_json({"sent": sent, "acked": acked, "unshipped": left})
        return
    say(f"shipped {sent} record(s); the collector holds {acked}, cosigned")
    if left:
        say(f"{left} record(s) not yet published, so not shipped; run `affidavit seal`")


def _register() -> None:
    from affidavit.cli.commands import cli

    cli.add_command(enrol)
    cli.add_command(ship)


_register()

"""``affidavit service``: run the recorder service (see :mod:`affidavit.service`)."""

from __future__ import annotations

import grp
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from affidavit.capture.client import DEFAULT_SOCKET
from affidavit.cli.commands import Paths, cli, pass_paths, say
from affidavit.errors import InputError
from affidavit.keys import require_key_access

if TYPE_CHECKING:
    from affidavit.service.shipper import Shipper


@cli.command()
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_SOCKET,
    show_default=True,
    help="Unix socket to listen on; hooks find it by their --socket or $AFFIDAVIT_SOCKET.",
)
@click.option(
    "--group",
    help="Group that may write to the socket (the users whose agents it records). "
    "Default: the service's own group.",
)
@click.option(
    "--seal-interval",
    type=click.FloatRange(min=0.1),
    help="Seconds between seals when something new was appended. Default: 10, or 2 when "
    "shipping, so a record reaches the collector within 5 s.",
)
@click.option(
    "--token",
    envvar="AFFIDAVIT_TOKEN",
    help="Device token for the collector this ledger is enrolled with (`affidavit enrol`): "
    "with it the service ships every new checkpoint as soon as it is sealed. "
    "Default: $AFFIDAVIT_TOKEN.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the device token from this file (keep it readable by the service alone).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Clients served at once; one more is refused in one line and its hook spools "
    "the event, which the next hook hands over.",
)
@click.option(
    "--max-connections-per-user",
    type=click.IntRange(min=1),
    help="Clients of one uid served at once, so that no user takes every slot; one more "
    "is refused the same way. Default: half of --max-connections.",
)
@click.option(
    "--max-queued-mb",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Request frames held at once, all clients together, in MiB (counted from each "
    "frame's header, before its body is read); a frame that would pass it is refused in "
    "one line and its hook spools the event.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Folder policy, read-keeping and [archive] schedule config. Default: "
    "$AFFIDAVIT_CONFIG, else the service account's config folder.",
)
@pass_paths
def service(
    paths: Paths,
    socket_path: Path,
    group: str | None,
    seal_interval: float | None,
    token: str | None,
    token_file: Path | None,
    max_connections: int,
    max_connections_per_user: int | None,
    max_queued_mb: int,
    config_path: Path | None,
) -> None:
    """Run the recorder service: the one writer of the ledger, under its own account.

    Hooks (`affidavit hook`) send it their events over a Unix socket; it records the
    sender's uid and pid as the kernel reports them (SO_PEERCRED), commits each event
    durably before it acknowledges, and seals every --seal-interval seconds when something
    new was appended. Run it as an account that alone can read the ledger and the signing
    key; give the users it serves write access to the socket with --group. Stops on SIGTERM
    or Ctrl-C after sealing what it holds. Exits 2 when the ledger or key cannot be used.

    When the ledger is enrolled with a collector and a device token is given (--token,
    --token-file or $AFFIDAVIT_TOKEN), it also ships each new checkpoint as soon as it is
    sealed, and retries with a growing wait (1 s doubling to 60 s) while the collector is
    unreachable.
    """
    from affidavit import shipping
    from affidavit.ledger import Ledger
    from affidavit.service.recorder import Recorder
    from affidavit.service.server import Server

    gid = None
    if group is not None:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise InputError(f"--group: no group named {group!r}") from None
    signer = require_key_access(paths.key, "affidavit service")
    Ledger.open(paths.ledger, signer=signer).close()  # fail here, before the socket exists
    config = str(config_path) if config_path else None
    from affidavit import config as configuration
    from affidavit.service.schedule import ArchiveSchedule

    archive = ArchiveSchedule.from_config(configuration.load(config_path))
    shipper = _shipper(paths.ledger, token, token_file)
    if seal_interval is None:
        seal_interval = 10.0 if shipper is None else 2.0

    def open_recorder() -> Recorder:
        return Recorder(Ledger.open(paths.ledger, signer=signer), config=config)

    server = Server(
        open_recorder,
        str(socket_path),
        seal_interval=seal_interval,
        group=gid,
        max_connections=max_connections,
        max_per_user=max_connections_per_user,
        max_queued_bytes=max_queued_mb * 2**20,
        archive=archive,
    )
    server.bind()

    def stop(signum: int, frame: object) -> None:
        server.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    say(f"recording {paths.ledger} on {socket_path}; sealing every {seal_interval:g} s")
    if archive is not None:
        say(f"archiving to {archive.to} every {archive.every.days} days ([archive] in config)")
    if shipper is not None:
        say(f"shipping to {shipping.load_url(paths.ledger)} as soon as a checkpoint is sealed")
        shipper.start()
    try:
        server.serve()
    finally:
        if shipper is not None:
            shipper.stop()
    say("stopped")
    sys.stdout.flush()


def _shipper(ledger: Path, token: str | None, token_file: Path | None) -> Shipper | None:
    """The shipping thread, when the ledger is enrolled and a token is given."""
    from affidavit import shipping
    from affidavit.service.shipper import Shipper

    if token_file is not None:
        try:
            token = token_file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"--token-file {token_file}: cannot read it: {e}") from None
        if not token:
            raise InputError(f"--token-file {token_file}: the file is empty")
    enrolled = shipping.state_path(ledger).exists()
    if token and not enrolled:
        raise InputError(f"a token was given but {ledger} is not enrolled; run `affidavit enrol`")
    if not token:
        if enrolled:
            say("enrolled with a collector but no token given: not shipping (see --token)")
        return None
    shipping.load_url(ledger)  # a malformed state file stops the start, not the thread
    return Shipper(ledger, token)

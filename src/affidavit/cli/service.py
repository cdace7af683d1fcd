"""``affidavit service``: run the recorder service (see :mod:`affidavit.service`)."""

from __future__ import annotations

import grp
import signal
import sys
from pathlib import Path

import click

from affidavit.capture.client import DEFAULT_SOCKET
from affidavit.cli.commands import Paths, cli, pass_paths, say
from affidavit.errors import InputError
from affidavit.keys import require_key_access


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
    default=10.0,
    show_default=True,
    help="Seconds between seals when something new was appended.",
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
    seal_interval: float,
    max_connections: int,
    config_path: Path | None,
) -> None:
    """Run the recorder service: the one writer of the ledger, under its own account.

    Hooks (`affidavit hook`) send it their events over a Unix socket; it records the
    sender's uid and pid as the kernel reports them (SO_PEERCRED), commits each event
    durably before it acknowledges, and seals every --seal-interval seconds when something
    new was appended. Run it as an account that alone can read the ledger and the signing
    key; give the users it serves write access to the socket with --group. Stops on SIGTERM
    or Ctrl-C after sealing what it holds. Exits 2 when the ledger or key cannot be used.
    """
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

    def open_recorder() -> Recorder:
        return Recorder(Ledger.open(paths.ledger, signer=signer), config=config)

    server = Server(
        open_recorder,
        str(socket_path),
        seal_interval=seal_interval,
        group=gid,
        max_connections=max_connections,
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
    server.serve()
    say("stopped")
    sys.stdout.flush()

"""Commands over captured file actions: ``diff`` and ``rollback``."""

from __future__ import annotations

import getpass
import socket
import sys

import click

from affidavit.capture import rollback as undo
from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, say


@cli.command()
@click.argument("seq", type=int)
@pass_paths
def diff(paths: Paths, seq: int) -> None:
    """Print the unified diff of file action SEQ (from the content store)."""
    with paths.open(readonly=True) as ledger:
        sys.stdout.write(undo.diff(ledger, seq))


@cli.command()
@click.argument("seq", type=int)
@click.option("--force", is_flag=True, help="Overwrite the file even if it changed since SEQ.")
@json_option
@pass_paths
def rollback(paths: Paths, seq: int, force: bool, as_json: bool) -> None:
    """Undo file action SEQ: put back the bytes it replaced.

    Refuses when the file no longer holds what SEQ left (someone changed it since) unless
    --force. The restore is recorded as a file.restore record; run `affidavit seal` (or let
    the hook) publish it.
    """
    actor = {"user": getpass.getuser(), "host": socket.gethostname()}
    with paths.open() as ledger:
        action = undo.file_action(ledger, seq)
        restored = undo.rollback(ledger, seq, force=force, actor=actor)
    if as_json:
        emit_json({"restored": seq, "path": action.path, "restore_seq": restored})
    else:
        say(f"restored {action.old_path or action.path} to its state before record {seq}")
        say(f"recorded as record {restored}")

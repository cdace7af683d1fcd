"""Commands over captured file actions: ``diff``, ``rollback``, and ``hook`` after options."""

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


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
@pass_paths
def hook(paths: Paths, options: tuple[str, ...]) -> None:
    """Record one hook event read as JSON from stdin; Claude Code calls it once per event.

    OPTIONS are the hook's own: --socket PATH, --ledger PATH, --config PATH,
    --seal-interval SECONDS, --busy-timeout SECONDS, --service-timeout SECONDS,
    --max-file-bytes N, --manifest-cap N (`affidavit hook --help` explains each).
    It exits 0 whatever happens to it (problems become capture.error records), except
    when an [enforce] rule blocks a tool call (a PreToolUse then exits 2 with a one-line
    reason).

    Claude Code runs `affidavit hook ...` with `hook` as the first word, which starts
    without loading the rest of the command line; `affidavit --ledger PATH hook` works too.
    """
    from affidavit.capture.hook import run_hook

    argv = list(options) if "--ledger" in options else ["--ledger", str(paths.ledger), *options]
    code = run_hook(argv)
    sys.stdout.flush()
    raise click.exceptions.Exit(code)

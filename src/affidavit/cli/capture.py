"""Commands over captured file actions: ``diff``, ``rollback``, and ``hook`` after options."""

from __future__ import annotations

import getpass
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from affidavit.capture import rollback as undo
from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, say
from affidavit.errors import InputError


def _server_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--token",
        envvar="AFFIDAVIT_TOKEN",
        help="With --server: an auditor token ($AFFIDAVIT_TOKEN).",
    )(f)
    return click.option(
        "--server",
        metavar="URL",
        help="SEQ is an org seq on this collector (an edit an http hook sent), not a local "
        "record: work from the before/after evidence the record carries.",
    )(f)


def _remote(server: str, token: str | None, seq: int) -> tuple[str, dict[str, Any]]:
    from affidavit import remote

    if not token:
        raise click.UsageError("--server needs an auditor token: --token or $AFFIDAVIT_TOKEN")
    found = remote.record(server, token, seq)
    payload = found.get("payload")
    if not isinstance(payload, dict):
        raise InputError(f"record {seq} on {server} is erased; its evidence is gone")
    return str(found.get("kind")), payload


@cli.command()
@click.argument("seq", type=int)
@_server_options
@pass_paths
def diff(paths: Paths, seq: int, server: str | None, token: str | None) -> None:
    """Print the unified diff of file action SEQ (from the content store).

    With --server URL, SEQ is an org seq on the collector and the diff comes from the
    evidence an http hook's record carries (Claude Code's originalFile, the new text, its
    structuredPatch): the collector never reads the user's files.
    """
    if server is not None:
        from affidavit.capture import evidence_diff

        kind, payload = _remote(server, token, seq)
        sys.stdout.write(evidence_diff.diff_of(kind, payload, seq=seq))
        return
    with paths.open(readonly=True) as ledger:
        sys.stdout.write(undo.diff(ledger, seq))


@cli.command()
@click.argument("seq", type=int)
@click.option("--force", is_flag=True, help="Overwrite the file even if it changed since SEQ.")
@_server_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="With --server: the folder to write the restore file and patch into.",
)
@json_option
@pass_paths
def rollback(
    paths: Paths,
    seq: int,
    force: bool,
    server: str | None,
    token: str | None,
    out: Path,
    as_json: bool,
) -> None:
    """Undo file action SEQ: put back the bytes it replaced.

    Refuses when the file no longer holds what SEQ left (someone changed it since) unless
    --force. The restore is recorded as a file.restore record; run `affidavit seal` (or let
    the hook) publish it.

    With --server URL (an edit an http hook sent: the collector cannot reach the file) it
    writes, into --out, the text to put back and a patch that does it, for the user to
    apply on the machine that holds the file; nothing is changed or recorded.
    """
    if server is not None:
        _rollback_remote(server, token, seq, out, as_json)
        return
    actor = {"user": getpass.getuser(), "host": socket.gethostname()}
    with paths.open() as ledger:
        action = undo.file_action(ledger, seq)
        restored = undo.rollback(ledger, seq, force=force, actor=actor)
    if as_json:
        emit_json({"restored": seq, "path": action.path, "restore_seq": restored})
    else:
        say(f"restored {action.old_path or action.path} to its state before record {seq}")
        say(f"recorded as record {restored}")


def _rollback_remote(server: str, token: str | None, seq: int, out: Path, as_json: bool) -> None:
    from affidavit.capture import evidence_diff
    from affidavit.files import write_atomically

    kind, payload = _remote(server, token, seq)
    restore = evidence_diff.restore_of(kind, payload, seq=seq)
    out.mkdir(parents=True, exist_ok=True)
    patch = out / f"restore-{seq}.patch"
    write_atomically(patch, restore.patch)
    content = None
    if restore.before is not None:
        content = out / f"restore-{seq}.{Path(restore.path).name or 'file'}"
        write_atomically(content, restore.before)
    if as_json:
        emit_json(
            {
                "org_seq": seq,
                "path": restore.path,
                "patch": str(patch),
                "restore_file": None if content is None else str(content),
                "applied": False,
            }
        )
        return
    say(f"the collector cannot write {restore.path}; nothing was changed or recorded")
    if content is None:
        say(f"record {seq} created the file: undoing it deletes it ({patch} shows what it held)")
    else:
        say(f"wrote {content}: the text before record {seq}; copy it over the file, or")
    say(f"apply {patch} on the machine that holds it: patch {restore.path} < {patch.name}")


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

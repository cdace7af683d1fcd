"""The ``affidavit`` command.

``affidavit hook`` runs inside the agent on every tool call, so :func:`main` hands it to the
stdlib-only capture path before click, rich or cryptography are imported. Every other
command goes to the click group in :mod:`affidavit.cli.commands`.

Exit codes (the README lists them too): 0 ok, 1 verification failed or findings,
2 usage or input error, or a file system that refused a write (a full disk, an I/O error).
``affidavit hook`` always exits 0 unless a policy blocks the tool.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the hook ~2 ms
if TYPE_CHECKING:
    import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> None:
    """Entry point; maps errors to the documented exit codes."""
    args = sys.argv[1:] if argv is None else argv
    # --version and the group's --help, answered as click would without importing it (about
    # half of their time was click's import).
    if args == ["--version"]:
        from affidavit import __version__

        print(f"affidavit, version {__version__}")
        sys.exit(EXIT_OK)
    if args in (["--help"], ["-h"]) and terminal_columns() >= 80:
        from affidavit.cli.group_help import GROUP_HELP

        print(GROUP_HELP, end="")
        sys.exit(EXIT_OK)
    if args[:1] == ["hook"] and args[1:2] in (["--help"], ["-h"]):
        print(HOOK_HELP, end="")
        sys.exit(EXIT_OK)
    if args[:1] == ["hook"]:
        try:
            from affidavit.capture.hook import run_hook
        except Exception as e:  # a broken install must not break the agent either
            print(f"affidavit hook: cannot load: {type(e).__name__}: {e}", file=sys.stderr)
            sys.exit(EXIT_OK)
        code = run_hook(args[1:], close=False)
        # Everything is committed and fsync-ed by now. Leaving without closing the SQLite
        # connection skips the WAL checkpoint that the last connection runs on close, which
        # would otherwise cost the agent several milliseconds per event; the WAL is
        # checkpointed as usual when it grows, and by every other command.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(run(args))


def terminal_columns() -> int:
    """The width click formats help for (``shutil.get_terminal_size``), without shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__
        try:
            columns = 0 if stdout is None else os.get_terminal_size(stdout.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


HOOK_HELP = """\
Usage: affidavit hook [--socket PATH] [--ledger PATH] [--config PATH]
                      [--seal-interval SECONDS] [--busy-timeout SECONDS]
                      [--service-timeout SECONDS] [--max-file-bytes N] [--manifest-cap N]

  Record one Claude Code / Cowork hook event, read as JSON from stdin. Claude Code calls
  this once per event (`affidavit install` registers it); you do not run it by hand.

  Exits 0 whatever happens to it: a problem becomes a capture.error record (or the event
  is spooled beside the ledger and recorded by the next run), except when a rule in
  [enforce] of affidavit.toml blocks a tool call: then a PreToolUse exits 2 with a
  one-line reason, which Claude Code shows the agent. An unknown option is recorded as a
  capture.error, never refused: the command line is fixed in the agent's settings.

  It sends the event to the recorder service when one listens on the socket; else, when
  the ledger is this account's own, it records it directly; else it spools it (redacted,
  mode 0600) for the service to take over.

Options:
  --socket PATH             the recorder service's socket (default: $AFFIDAVIT_SOCKET, else
                            /run/affidavit/recorder.sock)
  --service-timeout SECONDS wait this long for the service's acknowledgement (default 20)
  --ledger PATH             the ledger (default: $AFFIDAVIT_LEDGER, else the user's)
  --config PATH             the affidavit.toml with folder policy (default: $AFFIDAVIT_CONFIG)
  --seal-interval SECONDS   start a detached `affidavit seal` when the oldest unpublished
                            record is this old (default 60)
  --busy-timeout SECONDS    spool when a writer holds the ledger this long without committing
                            (default 5); wait at most four times this while others commit
  --max-file-bytes N        largest file whose content is kept for rollback
  --manifest-cap N          most files listed in a folder scan around a shell command
  -h, --help                show this message and exit
"""


def __getattr__(name: str) -> object:
    # The list of command modules lives beside the group; reading it here must not import
    # click for the hook, so it is looked up on first use.
    if name == "COMMAND_MODULES":
        from affidavit.cli.group import COMMAND_MODULES

        return COMMAND_MODULES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load() -> click.Group:
    """The click group with every command registered (imports every command module)."""
    from affidavit.cli.group import cli, import_all

    import_all()
    return cli


def run(args: list[str]) -> int:
    import click

    # Lazy: only the module of the command that runs is imported (affidavit.cli.group).
    from affidavit.cli.group import cli
    from affidavit.errors import AffidavitError, VerificationError

    try:
        # Without standalone mode click returns ctx.exit(N)'s code instead of raising it.
        code = cli.main(args=args, prog_name="affidavit", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as e:
        e.show()
        return EXIT_USAGE
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except VerificationError as e:
        click.echo(f"FAILED: {e}", err=True)
        return EXIT_FAILED
    except AffidavitError as e:
        click.echo(f"error: {e}", err=True)
        return EXIT_USAGE
    except BrokenPipeError:
        # A reader such as `head` went away: not an error, and nothing more to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:
        # The file system refused: a full disk, an I/O error, a read-only folder. Commands
        # write their files atomically and the ledger in transactions, so nothing is half
        # done; one line says what, instead of a traceback.
        click.echo(f"error: {os_error(e)}", err=True)
        return EXIT_USAGE
    return EXIT_OK


def os_error(e: OSError) -> str:
    """One line for a failed file operation: what, where, and what to do for a full disk."""
    import errno

    text = e.strerror or str(e)
    if e.filename:
        text += f": {e.filename}"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        text += "; free some space and run the command again"
    return text

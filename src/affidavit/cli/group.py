"""The ``affidavit`` click group, which imports a command's module only when it runs.

Importing all command modules (and through them the ledger, cryptography, the detectors
and the compliance tables) cost every command, even ``--version``, about 110 ms. The group
knows each command by name: :data:`COMMANDS` maps it to the module that defines it and to
the short help the group's help lists, so that list needs no import at all and running
a command imports only its own module. tests/test_cli_lazy.py checks the table against the
commands the modules really register.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from affidavit import __version__, locations
from affidavit.cli.common import Paths

# Modules whose commands join the group when imported (each uses ``@cli.command()``). The
# group imports one only when a command of it runs, by COMMANDS below; a command a module
# registers that COMMANDS lacks still works, by importing them all.
COMMAND_MODULES = (
    "affidavit.cli.commands",
    "affidavit.cli.verify",
    "affidavit.cli.capture",
    "affidavit.cli.install",
    "affidavit.cli.importing",
    "affidavit.cli.query",
    "affidavit.cli.compliance",
    "affidavit.cli.export",
    "affidavit.cli.evidence",
    "affidavit.cli.findings",
    "affidavit.cli.scan",
    "affidavit.cli.archive",
    "affidavit.cli.report",
    "affidavit.cli.config",
    "affidavit.cli.facts",
    "affidavit.cli.sources",
    "affidavit.cli.server",
    "affidavit.cli.server_sources",
    "affidavit.cli.shipping",
    "affidavit.cli.service",
    "affidavit.cli.gaps",
)

# Modules that add subcommands to a command another module defines (and import that module,
# so it cannot import them back): imported right after it.
SUBCOMMAND_MODULES: dict[str, tuple[str, ...]] = {"server": ("server_sources",)}

# name -> (module that registers it, its short help as the group's help lists it).
COMMANDS: dict[str, tuple[str, str]] = {
    "append": (
        "commands",
        "Append records from JSON Lines (FILE, or - for stdin); print their seqs.",
    ),
    "archive": (
        "archive",
        "Seal a write-once snapshot of the ledger into a folder or S3 Object Lock, and record it.",
    ),
    "attest": (
        "compliance",
        "Record a signed attestation of checklist ITEM by a person; it expires.",
    ),
    "checklist": (
        "compliance",
        "The eight-item checklist and the mid-market minimum, each scored from evidence.",
    ),
    "checkpoint": ("commands", "Print the latest signed checkpoint exactly as signed."),
    "config": ("config", "The organisation profile and policies in affidavit.toml."),
    "diff": ("capture", "Print the unified diff of file action SEQ (from the content store)."),
    "drill": (
        "compliance",
        "Rollback drill on a scratch copy: snapshot, change, roll back, compare the bytes.",
    ),
    "enrol": (
        "shipping",
        "Enrol this ledger with the collector at URL and pin the collector's witness key.",
    ),
    "erase": ("commands", "Erase the payloads of records SEQ..."),
    "evidence": (
        "evidence",
        "Write an evidence pack: the records the filters select, with proofs, offline-checkable.",
    ),
    "export": (
        "export",
        "Export records to a file for a SIEM or an analyst, with the filters of `affidavit log`.",
    ),
    "facts": ("facts", "The vendor facts the regime posture rests on, with their date."),
    "gaps": ("gaps", "Capture gaps between OpenTelemetry and the hooks, across the organisation."),
    "findings": (
        "findings",
        "List open findings: policy findings from the hook and data findings from scans.",
    ),
    "hook": (
        "capture",
        "Record one hook event read as JSON from stdin; Claude Code calls it once per event.",
    ),
    "import": ("importing", "Import records from agents' own logs (transcripts) into the ledger."),
    "init": ("commands", "Create a ledger and its signing key; print the verifier key."),
    "install": (
        "install",
        "Register the capture hook with Claude Code (or write a Cowork / Claude Code plugin).",
    ),
    "key": (
        "commands",
        "Print the ledger's verifier key (name+keyid+base64 key, as C2SP signed-note).",
    ),
    "log": ("query", "Who did what to which file, when: one row per record, oldest first."),
    "posture": (
        "compliance",
        "Per regime: workable, conditional or not yet, each condition with its evidence.",
    ),
    "prove": (
        "commands",
        "Print an inclusion proof for record SEQ, or a consistency proof with --consistency.",
    ),
    "report": (
        "report",
        "The security review pack for a client, and the admin's worklist, in folder --out.",
    ),
    "retention": (
        "archive",
        "Show what the retention policy keeps; with --apply, erase what it lets go.",
    ),
    "review": (
        "compliance",
        "The monthly governance review: the period's report, and with --attendee its sign-off.",
    ),
    "rollback": ("capture", "Undo file action SEQ: put back the bytes it replaced."),
    "scan": (
        "scan",
        "Find regulated data in PATHS (default: the folders affidavit.toml grants) and in "
        "recorded payloads: card numbers, US SSNs, IBANs, NHS numbers, PHI, emails, phone "
        "numbers and secrets.",
    ),
    "seal": (
        "commands",
        "Integrate new records into the tree and publish a signed checkpoint; print it.",
    ),
    "server": (
        "server",
        "Run the organisation's collector, or administer it (init, key, token, seal).",
    ),
    "service": (
        "service",
        "Run the recorder service: the one writer of the ledger, under its own account.",
    ),
    "ship": (
        "shipping",
        "Send every published record the collector lacks, now; keep its cosignatures.",
    ),
    "show": (
        "commands",
        "Show records SEQ, START..END (inclusive) or --all, one JSON object per line.",
    ),
    "sources": ("sources", "External trails: cloud-sync version history and connector audit logs."),
    "sql": (
        "query",
        "Run one read-only SQL statement over the `actions` table and the raw tables.",
    ),
    "status": (
        "commands",
        "Show size, integrated and published counts, the last checkpoint and erased count.",
    ),
    "uninstall": ("install", "Remove the hooks install added, and nothing else."),
    "verify": ("verify", "Recheck every record, subtree hash, checkpoint root and signature."),
    "verify-pack": ("evidence", "Verify an evidence pack offline; report per record."),
}


def import_all() -> None:
    """Import every command module, so every command is registered (tests, the service)."""
    for name in COMMAND_MODULES:
        importlib.import_module(name)


class LedgerGroup(click.Group):
    """The command group: lazy by name, and SQLite's own errors leave it as Affidavit's."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            entry = COMMANDS.get(cmd_name)
            if entry is not None:
                importlib.import_module(f"affidavit.cli.{entry[0]}")
                for extra in SUBCOMMAND_MODULES.get(cmd_name, ()):
                    importlib.import_module(f"affidavit.cli.{extra}")
            else:
                import_all()  # a command some module registers that the table lacks yet
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table, so ``--help`` imports no command module."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.commands:
                text = self.commands[name].get_short_help_str(limit)
            else:
                text = click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            # Only a command that opened a ledger has imported sqlite3; none else can raise
            # its errors, so the group need not import it to catch them.
            sqlite3 = sys.modules.get("sqlite3")
            paths = ctx.find_object(Paths)
            # Integrity and programming errors are bugs: let them show as such.
            if (
                sqlite3 is None
                or paths is None
                or not isinstance(e, sqlite3.DatabaseError)
                or type(e) not in (sqlite3.DatabaseError, sqlite3.OperationalError)
            ):
                raise
            from affidavit.store.damage import explain

            raise explain(paths.ledger, e) from e


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ledger file. Default: $AFFIDAVIT_LEDGER, else ledger.sqlite in the user data folder.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Signing key file. Default: $AFFIDAVIT_KEY, else beside a --ledger file as "
    "<ledger>.key, else signing.key in the user config folder.",
)
@click.version_option(version=__version__, prog_name="affidavit")
@click.pass_context
def cli(ctx: click.Context, ledger: Path | None, key_file: Path | None) -> None:
    """Affidavit: a verifiable audit trail of what AI coworkers did to your files.

    Records go into an append-only Merkle log (RFC 9162) whose state is published as
    signed C2SP checkpoints, so anyone can check the trail without trusting this tool.
    """
    path = locations.ledger_path(ledger)
    ctx.obj = Paths(path, locations.key_path(path, key_file))


pass_paths = click.make_pass_decorator(Paths)

"""``affidavit install`` / ``uninstall``: wire the capture hook into Claude Code and Cowork.

The work is in :mod:`affidavit.capture.install`; this module picks the target, prints the
change (a unified diff on stdout with ``--dry-run``) and a summary on stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from affidavit.capture import install as core
from affidavit.capture import system as system_module
from affidavit.cli import install_admin, install_otel
from affidavit.cli.commands import Paths, cli, emit_json, json_option, say


def _target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--scope",
            type=click.Choice(core.SCOPES),
            help="Which settings: user (~/.claude/settings.json, the default), project "
            "(<project>/.claude/settings.json) or managed (a drop-in file in the managed "
            "settings folder, for every user of the machine; needs an administrator).",
        ),
        click.option(
            "--project",
            type=click.Path(file_okay=False, path_type=Path),
            help="The project folder for --scope project (implies it). Default: the current one.",
        ),
        click.option(
            "--settings",
            "settings_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Edit this settings file instead of a scope's.",
        ),
        click.option(
            "--plugin",
            "plugin_dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Write a Claude Code / Cowork plugin into this folder instead of settings.",
        ),
        click.option(
            "--dry-run", is_flag=True, help="Print the change as a unified diff; write nothing."
        ),
        json_option,
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _settings_target(
    scope: str | None, project: Path | None, settings_file: Path | None, plugin_dir: Path | None
) -> Path | None:
    """The settings file to edit, or ``None`` for a plugin; rejects mixed targets."""
    if plugin_dir is not None and (scope or project or settings_file):
        raise click.UsageError("--plugin writes a plugin; it does not go with --scope/--settings")
    if settings_file is not None and (scope or project):
        raise click.UsageError("--settings names the file; it does not go with --scope/--project")
    if project is not None and scope not in (None, "project"):
        raise click.UsageError("--project goes with --scope project")
    if plugin_dir is not None:
        return None
    if settings_file is not None:
        return settings_file.expanduser().absolute()
    return core.settings_path(scope or ("project" if project else "user"), project=project)


def _admin(
    scope: str | None,
    system: bool,
    root: Path | None,
    platform_name: str | None,
    account: str,
    clients: str,
    python: str | None,
    origin: str | None,
) -> install_admin.Admin | None:
    """The administrator's request (--system and/or --scope managed), else None."""
    if not system and scope != "managed":
        if root is not None or platform_name is not None:
            raise click.UsageError("--root and --platform go with --system or --scope managed")
        return None
    return install_admin.Admin(
        system=system,
        managed=scope == "managed",
        root=root,
        platform=platform_name,
        account=account,
        clients=clients,
        python=python,
        origin=origin,
    )


def _no_mix(project: Path | None, settings_file: Path | None, plugin_dir: Path | None) -> None:
    if project or settings_file or plugin_dir:
        raise click.UsageError(
            "--system and --scope managed do not go with --project, --settings or --plugin"
        )


def _explicit_ledger(ctx: click.Context, paths: Paths) -> Path | None:
    """The ledger to bake into the command: only one the user chose (--ledger or env)."""
    parent = ctx.parent.params if ctx.parent is not None else {}
    if parent.get("ledger") or os.environ.get("AFFIDAVIT_LEDGER"):
        return paths.ledger.absolute()
    return None


def _show(path: Path) -> str:
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home) :] if text.startswith(home + os.sep) else text


def _report(
    changes: list[core.Change],
    where: Path,
    *,
    command: core.Handler | None,
    dry_run: bool,
    as_json: bool,
    verb: str,
) -> None:
    diff = "".join(c.diff() for c in changes)
    if as_json:
        emit_json(
            {
                "files": [
                    {
                        "path": str(c.path),
                        "changed": c.changed,
                        "added": c.added,
                        "removed": c.removed,
                        "deleted": c.changed and c.after is None,
                    }
                    for c in changes
                ],
                "changed": any(c.changed for c in changes),
                "dry_run": dry_run,
                "command": command,
                "diff": diff,
            }
        )
    elif dry_run:
        sys.stdout.write(diff)
    added = sum(c.added for c in changes)
    removed = sum(c.removed for c in changes)
    if not any(c.changed for c in changes):
        shown = _show(where)
        say(f"already installed in {shown}" if verb == "install" else f"not installed in {shown}")
        return
    shown = _show(where)
    would = "dry run, nothing written: would have " if dry_run else ""
    if verb == "install" and removed:
        say(f"{would}replaced {removed} older affidavit hook(s) with {added} in {shown}")
    elif verb == "install":
        say(f"{would}added {added} hooks to {shown}")
    else:
        deleted = [c for c in changes if c.after is None]
        tail = " (the file held nothing else and was removed)" if deleted and not dry_run else ""
        say(f"{would}removed {removed} affidavit hooks from {shown}{tail}")


def _admin_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--system",
            is_flag=True,
            help="The recorder service: its account, folders, ledger and key (0600, the "
            "account's), socket folder (0770, the --group's) and a systemd unit (Linux) or "
            "launchd daemon (macOS). Needs an administrator. Combine with --scope managed.",
        ),
        click.option(
            "--root",
            type=click.Path(file_okay=False, path_type=Path),
            help="Install into this folder as the root of the target system, account "
            "database included (for packaging and images). Default: /.",
        ),
        click.option(
            "--platform",
            "platform_name",
            type=click.Choice(system_module.PLATFORMS),
            help="Plan for another system (with --dry-run). Default: this one.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@cli.command()
@_target_options
@_admin_options
@click.option(
    "--user",
    "account",
    default=system_module.ACCOUNT,
    show_default=True,
    help="The service account (--system).",
)
@click.option(
    "--group",
    "clients",
    default=system_module.CLIENTS,
    show_default=True,
    help="The group whose members' hooks may reach the service's socket (--system).",
)
@click.option(
    "--python",
    type=click.Path(dir_okay=False),
    help="The interpreter the service and managed hooks run (--system, --scope managed). "
    "Default: this one.",
)
@click.option("--origin", help="The new ledger's origin line (--system). Default: host name.")
@click.option(
    "--http",
    "http_url",
    metavar="URL",
    help="Hook Claude Code / Cowork to the collector at URL with http hooks (POST /v1/hooks) "
    "instead of running Python here: the token comes from $AFFIDAVIT_TOKEN on the agent's "
    "machine. With --plugin (a Cowork plugin), --scope managed or any settings file.",
)
@click.option(
    "--all-events",
    is_flag=True,
    help="Also hook events that only recent Claude Code releases know (PermissionDenied, "
    "StopFailure, PostCompact). An older release rejects the whole settings file.",
)
@click.option(
    "--otel",
    is_flag=True,
    help="Instead of hooks: print (or with --scope managed / --settings write) the "
    "OpenTelemetry settings that send Claude Code's and Cowork's logs to --server.",
)
@click.option("--server", metavar="URL", help="With --otel: the collector's URL.")
@click.option("--token", metavar="TOKEN", help="With --otel: a device token of the collector.")
@click.pass_context
def install(
    ctx: click.Context,
    scope: str | None,
    project: Path | None,
    settings_file: Path | None,
    plugin_dir: Path | None,
    dry_run: bool,
    as_json: bool,
    system: bool,
    root: Path | None,
    platform_name: str | None,
    account: str,
    clients: str,
    python: str | None,
    origin: str | None,
    http_url: str | None,
    all_events: bool,
    otel: bool,
    server: str | None,
    token: str | None,
) -> None:
    """Register the capture hook with Claude Code (or write a Cowork / Claude Code plugin).

    Adds one hook per audited event to the settings file, next to any hooks already there,
    calling this Python by its absolute path. Running it again changes nothing; after an
    upgrade into another environment it replaces the old entries. A --ledger given to
    affidavit (or $AFFIDAVIT_LEDGER) is written into the hook command.

    For an administrator: --system installs the recorder service; --scope managed writes
    Claude Code's managed settings (a managed-settings.d drop-in) with the hooks,
    allowManagedHooksOnly and permissions.deny rules that keep the agent's Read, Edit,
    Write and Bash tools off the ledger, key, spool and configuration folders. --dry-run
    then prints every step: paths, modes, owners, file contents, commands. Not on Windows
    yet.

    --otel --server URL --token T prints the environment that makes Claude Code export its
    events to the collector's OpenTelemetry receiver, and the values (egress allow-list
    entry included) for Cowork's admin console; --scope managed writes that environment
    into a managed-settings drop-in, --settings FILE into that file.

    --http URL writes http hooks that POST each event to the collector at URL instead:
    nothing runs on the agent's machine, which only needs $AFFIDAVIT_TOKEN (a device token)
    and network access to URL. A collector that is down never blocks the agent (Claude Code
    treats a failed http hook as a non-blocking error).
    """
    if otel:
        if system or project or plugin_dir:
            raise click.UsageError("--otel does not go with --system, --project or --plugin")
        install_otel.install(
            server=server,
            token=token,
            scope=scope,
            settings_file=settings_file,
            root=root,
            dry_run=dry_run,
            as_json=as_json,
        )
        return
    if server or token:
        raise click.UsageError("--server and --token go with --otel")
    events = core.EVENTS + core.NEWER_EVENTS if all_events else core.EVENTS
    handler = core.http_handler(http_url) if http_url is not None else None
    if handler is not None and system:
        raise click.UsageError("--http needs no recorder service; it does not go with --system")
    admin = _admin(scope, system, root, platform_name, account, clients, python, origin)
    if admin is not None:
        _no_mix(project, settings_file, plugin_dir)
        install_admin.install(admin, events=events, dry_run=dry_run, as_json=as_json, http=handler)
        return
    paths: Paths = ctx.obj
    target = _settings_target(scope, project, settings_file, plugin_dir)
    command: core.Handler = handler or core.hook_command(
        core.interpreter(), _explicit_ledger(ctx, paths)
    )
    if target is None:
        assert plugin_dir is not None
        target = plugin_dir.absolute()
        changes = core.install_plugin(target, command, events=events, dry_run=dry_run)
    else:
        changes = [core.install_settings(target, command, events=events, dry_run=dry_run)]
    _report(changes, target, command=command, dry_run=dry_run, as_json=as_json, verb="install")


@cli.command()
@_target_options
@_admin_options
def uninstall(
    scope: str | None,
    project: Path | None,
    settings_file: Path | None,
    plugin_dir: Path | None,
    dry_run: bool,
    as_json: bool,
    system: bool,
    root: Path | None,
    platform_name: str | None,
) -> None:
    """Remove the hooks install added, and nothing else.

    If the settings file was not edited in between, it comes back byte for byte as it was
    before install (from the <file>.affidavit-backup install kept); otherwise only the
    affidavit entries are taken out.

    --system and --scope managed remove what install wrote there, as its manifest lists
    it, and nothing else. A ledger that holds records is kept, with its key and the
    account that owns them: those records are the evidence.
    """
    admin = _admin(scope, system, root, platform_name, system_module.ACCOUNT, "", None, None)
    if admin is not None:
        _no_mix(project, settings_file, plugin_dir)
        install_admin.uninstall(admin, dry_run=dry_run, as_json=as_json)
        return
    target = _settings_target(scope, project, settings_file, plugin_dir)
    if target is None:
        assert plugin_dir is not None
        target = plugin_dir.absolute()
        changes = core.uninstall_plugin(target, dry_run=dry_run)
    else:
        changes = [core.uninstall_settings(target, dry_run=dry_run)]
    _report(changes, target, command=None, dry_run=dry_run, as_json=as_json, verb="uninstall")

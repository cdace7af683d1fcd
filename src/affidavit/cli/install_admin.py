"""The administrator's half of ``affidavit install`` / ``uninstall``: ``--system`` (the
recorder service) and ``--scope managed`` (Claude Code's managed settings).

:mod:`affidavit.cli.install` parses the options and hands over here; the work is in
:mod:`affidavit.capture.system`, :mod:`~affidavit.capture.system_apply` and
:mod:`~affidavit.capture.managed`. ``--dry-run`` prints the plan on stdout, exactly what
would be written (paths, modes, owners, contents, the commands that would run); the
summary goes to stderr.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from affidavit.capture import install as core
from affidavit.capture import managed, system, system_apply, system_uninstall
from affidavit.capture.system import Plan
from affidavit.cli.commands import emit_json, say
from affidavit.errors import InputError


@dataclass(frozen=True, slots=True)
class Admin:
    """What the admin options asked for."""

    system: bool
    managed: bool
    root: Path | None
    platform: str | None
    account: str
    clients: str
    python: str | None
    origin: str | None


def _setting(admin: Admin) -> tuple[system.Layout, Path, bool]:
    """(layout, root, native): ``native`` is false for another platform's plan."""
    here = system.this_platform()
    target = system.this_platform(admin.platform) if admin.platform else here
    root = (admin.root or Path("/")).absolute()
    if not root.is_dir():
        raise InputError(f"--root {root}: no such folder")
    return system.LAYOUTS[target], root, target == here


def _check_can_write(dry_run: bool, native: bool, admin: Admin) -> None:
    if dry_run:
        return
    if not native:
        raise click.UsageError(
            f"--platform {admin.platform} is not this system; add --dry-run to see its plan"
        )
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        what = "--system" if admin.system else "--scope managed"
        raise InputError(
            f"install {what} needs an administrator: run it with sudo (or add --dry-run); "
            "managed settings for one user only: --settings FILE"
        )


def install(
    admin: Admin,
    *,
    events: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    http: dict[str, Any] | None = None,
) -> None:
    """``http``: the http hook handler (``--http``) managed settings hold instead of a command."""
    layout, root, native = _setting(admin)
    _check_can_write(dry_run, native, admin)
    python = admin.python or core.interpreter()
    account = system.check_name("user", admin.account)
    clients = system.check_name("group", admin.clients)
    plan = Plan(layout, account, clients)
    if admin.system:
        plan = system_apply.plan_install(
            layout,
            root=root,
            account=account,
            clients=clients,
            python=python,
            origin=admin.origin,
            native=native,
        )
    if admin.managed:
        command: core.Handler = http or core.hook_command(python, socket=layout.socket)
        managed.plan_install(plan, root=root, command=command, events=events, native=native)
    _drop_unchanged(plan, root, native=native)
    notes: list[str] = []
    if not dry_run:
        try:
            notes = system_apply.apply_install(plan, root=root, origin=admin.origin)
        except PermissionError as e:
            raise InputError(
                f"cannot write {e.filename}: {e.strerror}; managed settings and the service "
                "need an administrator (run the command with sudo), or name a file you may "
                "write with --settings"
            ) from e
    _report(plan, dry_run=dry_run, as_json=as_json, verb="install", root=root, notes=notes)


def _drop_unchanged(plan: Plan, root: Path, *, native: bool) -> None:
    """Leave out a manifest that would be written as it is, and then a needless restart."""
    path = system_apply.under(root, plan.layout.manifest)
    if native and path.is_file():
        text = path.read_text(encoding="utf-8")
        plan.steps = [s for s in plan.steps if not (s.what == "file" and s.text == text)]
    if all(s.what == "run" for s in plan.steps):
        plan.steps.clear()


def uninstall(admin: Admin, *, dry_run: bool, as_json: bool) -> None:
    layout, root, native = _setting(admin)
    _check_can_write(dry_run, native, admin)
    sections = tuple(s for s, on in (("system", admin.system), ("managed", admin.managed)) if on)
    plan = system_uninstall.plan_uninstall(layout, root=root, sections=sections)
    kept: list[str] = []
    if not dry_run:
        kept = system_uninstall.apply_uninstall(plan, root=root)
    _report(plan, dry_run=dry_run, as_json=as_json, verb="uninstall", root=root, notes=kept)


def _report(
    plan: Plan, *, dry_run: bool, as_json: bool, verb: str, root: Path, notes: list[str]
) -> None:
    if as_json:
        emit_json(
            {
                "platform": plan.layout.platform,
                "root": str(root),
                "dry_run": dry_run,
                "steps": [
                    {
                        "what": s.what,
                        "target": s.target,
                        "mode": None if s.mode is None else f"{s.mode:04o}",
                        "owner": None if s.owner is None else ":".join(s.owner),
                        "argv": list(s.argv) or None,
                        "note": s.note or None,
                        "text": s.text,
                    }
                    for s in plan.steps
                ],
                "notes": notes,
            }
        )
    elif dry_run:
        sys.stdout.write(plan.show())
    where = "" if root == Path("/") else f" under {root}"
    changes = [s for s in plan.steps if s.what != "keep"]
    if not changes:
        say(f"already installed{where}" if verb == "install" else f"not installed{where}")
    elif dry_run:
        say(f"dry run, nothing written: {verb} would take {len(changes)} steps{where}")
    else:
        say(f"{verb}ed{where}: {len(changes)} steps ({plan.layout.platform})")
    for note in notes:
        say(note)

"""``affidavit install --otel --server URL --token TOKEN``: point Claude Code's and Cowork's
OpenTelemetry logs at the collector.

Without a target it prints the settings (``env`` block) for Claude Code and the values for
Cowork's admin console on stdout; ``--scope managed`` writes the ``env`` block into its own
managed-settings drop-in (``managed-settings.d/affidavit-otel.json``), ``--settings FILE``
merges it into that settings file. The values are in :mod:`affidavit.capture.otel_setup`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from affidavit.capture import install as core
from affidavit.capture import otel_setup
from affidavit.cli.common import emit_json, say
from affidavit.errors import InputError
from affidavit.files import write_atomically


def install(
    *,
    server: str | None,
    token: str | None,
    scope: str | None,
    settings_file: Path | None,
    root: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    if not server or not token:
        raise click.UsageError("--otel needs --server URL and --token TOKEN (a device token)")
    if scope not in (None, "managed"):
        raise click.UsageError("--otel writes --scope managed or --settings FILE, or prints")
    env = otel_setup.claude_code_env(server, token)
    cowork = otel_setup.cowork_console(server, token)
    target = _target(scope, settings_file, root)
    if target is None:
        _print(env, cowork, as_json)
        return
    old = target.read_text(encoding="utf-8") if target.is_file() else None
    new = otel_setup.merge_env(old, env, where=str(target))
    if as_json:
        emit_json({"path": str(target), "env": env, "cowork": cowork, "dry_run": dry_run})
    if dry_run:
        if not as_json:
            sys.stdout.write(new)
        say(f"dry run, nothing written: would set {len(env)} variables in {target}")
        return
    if old == new:
        say(f"already set in {target}")
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Claude Code runs as each user and must read it: managed settings are 0644.
        write_atomically(target, new, mode=0o644 if scope == "managed" else 0o600)
    except PermissionError as e:
        raise InputError(
            f"cannot write {target}: {e.strerror}; managed settings need an administrator "
            "(run it with sudo), or name a file you may write with --settings"
        ) from e
    say(f"set {len(env)} OpenTelemetry variables in {target}")
    say(f"Cowork: in the admin console set endpoint {cowork['endpoint']}, protocol "
        f"{cowork['protocol']}, the Authorization header, and allow {cowork['egress_allow']} "
        "in network egress")  # fmt: skip


def _target(scope: str | None, settings_file: Path | None, root: Path | None) -> Path | None:
    if settings_file is not None:
        if scope is not None:
            raise click.UsageError("--settings names the file; it does not go with --scope")
        return settings_file
    if scope != "managed":
        if root is not None:
            raise click.UsageError("--root goes with --scope managed")
        return None
    drop_in = core.settings_path("managed").with_name(otel_setup.DROP_IN)
    if root is None:
        return drop_in
    return root / os.path.relpath(drop_in, drop_in.anchor)


def _print(env: dict[str, str], cowork: dict[str, str], as_json: bool) -> None:
    if as_json:
        emit_json({"claude_code": {"env": env}, "cowork": cowork})
        return
    click.echo("# Claude Code: the env block of managed settings (or ~/.claude/settings.json)")
    click.echo(json.dumps({"env": env}, indent=2))
    click.echo("")
    click.echo("# Cowork: organisation admin console, OpenTelemetry")
    click.echo(f"OTLP endpoint:  {cowork['endpoint']}")
    click.echo(f"OTLP protocol:  {cowork['protocol']}")
    click.echo(f"OTLP headers:   {cowork['headers']}")
    click.echo(f"Network egress allow-list: {cowork['egress_allow']}")
    say("the token is a secret: anyone holding it may send telemetry as this organisation")

"""``affidavit config init`` and ``affidavit config check``."""

from __future__ import annotations

import os
from pathlib import Path

import click

from affidavit import config as cfg
from affidavit.cli.commands import cli, emit_json, say
from affidavit.errors import InputError
from affidavit.files import write_atomically


@cli.group("config")
def config_group() -> None:
    """The organisation profile and policies in affidavit.toml.

    Found at --config, $AFFIDAVIT_CONFIG, or affidavit.toml in the user config folder.
    """


@config_group.command("init")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it. Default: $AFFIDAVIT_CONFIG, else affidavit.toml in the user "
    "config folder.",
)
def init(out: Path | None) -> None:
    """Write a commented starter affidavit.toml that asserts nothing (never overwrites one).

    Every fact in it is commented out with the evidence it wants: unedited, every checklist
    item is red and no regime is workable.
    """
    chosen = os.environ.get("AFFIDAVIT_CONFIG")
    target = out or (Path(chosen).expanduser() if chosen else cfg.default_path())
    if target.exists():
        raise InputError(f"{target} exists; edit it, or remove it first")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:  # 0600: the file may come to hold scan.hmac_key
        write_atomically(target, cfg.STARTER, mode=0o600, exclusive=True)
    except FileExistsError:
        raise InputError(f"{target} exists; edit it, or remove it first") from None
    say(f"wrote {target}; edit it, then run `affidavit config check`")


@config_group.command("check")
@click.option(
    "--config",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to check (default: the one in force).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def check(path: Path | None, as_json: bool) -> None:
    """Validate affidavit.toml: exit 0 when valid, 2 naming file, line and field when not."""
    found = cfg.find(path)
    if found is None:
        raise InputError(
            f"no configuration at {cfg.default_path()}; create one with `affidavit config init`"
        )
    loaded = cfg.read(found)
    summary = {
        "path": str(found),
        "plan": loaded.plan,
        "folders": len(loaded.folders),
        "regulated_folders": sum(1 for f in loaded.folders if f.regulated),
        "connectors": len(loaded.connectors),
        "documents": sorted(loaded.documents),
        "enforced": sorted(k for k, v in loaded.enforce.items() if v),
    }
    if as_json:
        emit_json({"ok": True, **summary})
        return
    click.echo(f"OK: {found}")
    for key, value in summary.items():
        if key != "path":
            click.echo(f"  {key + ':':<19}{value}")

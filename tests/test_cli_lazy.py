"""Tests for the lazy command group (affidavit.cli.group): the table of commands matches
what the modules register, ``affidavit --help`` lists them without importing any, and a
command imports its own module and not the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from affidavit.cli import EXIT_USAGE, load, run
from affidavit.cli.group import COMMANDS, LedgerGroup


def fresh(code: str, *, columns: int = 100) -> str:
    """stdout of ``code`` run by a new interpreter, so nothing is imported beforehand."""
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_the_table_names_every_registered_command_its_module_and_short_help() -> None:
    group = load()
    real = {
        name: (
            (cmd.callback.__module__ if cmd.callback else "").removeprefix("affidavit.cli."),
            cmd.get_short_help_str(limit=10**6),
        )
        for name, cmd in group.commands.items()
    }
    table = {
        name: (module, click.Command(name, help=text).get_short_help_str(limit=10**6))
        for name, (module, text) in COMMANDS.items()
    }
    assert table == real


def test_group_help_lists_every_command_as_click_would_without_importing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = fresh(
        "import sys\n"
        "from affidavit.cli import run\n"
        "run(['--help'])\n"
        "print('MODULES', *sorted(m for m in sys.modules if m.startswith('affidavit.')))\n"
    )
    help_text, _, modules = out.rpartition("MODULES ")
    assert set(modules.split()) <= {
        "affidavit.cli",
        "affidavit.cli.common",
        "affidavit.cli.group",
        "affidavit.errors",
        "affidavit.locations",
    }
    # What click's own listing prints once every module is imported, at the same width.
    monkeypatch.setenv("COLUMNS", "100")
    group = load()
    ctx = click.Context(group, info_name="affidavit")
    formatter = ctx.make_formatter()
    click.Group.format_commands(group, ctx, formatter)
    listing = formatter.getvalue()
    assert listing.count("\n") == len(COMMANDS) + 1
    assert listing in help_text


def test_a_command_imports_its_own_module_only() -> None:
    out = fresh(
        "import sys\n"
        "from affidavit.cli import run\n"
        "code = run(['log', '--help'])\n"
        "print('MODULES', code, *sorted(m for m in sys.modules if m.startswith('affidavit.cli.')))"
    )
    help_text, _, tail = out.rpartition("MODULES ")
    code, *modules = tail.split()
    assert code == "0" and "--path" in help_text
    assert "affidavit.cli.query" in modules
    others = {f"affidavit.cli.{m}" for m, _ in COMMANDS.values()} - {
        "affidavit.cli.query",
        "affidavit.cli.commands",  # the modules that share helpers import it
    }
    assert not others & set(modules)


def test_an_unknown_command_is_a_usage_error_after_looking_in_every_module(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["no-such-command"]) == EXIT_USAGE
    assert "No such command 'no-such-command'" in capsys.readouterr().err
    group = load()
    assert isinstance(group, LedgerGroup)
    assert group.get_command(click.Context(group), "no-such-command") is None


def test_version_is_the_packages(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.metadata
    import tomllib

    import affidavit

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert affidavit.__version__ == project["project"]["version"]
    assert affidavit.__version__ == importlib.metadata.version("affidavit")
    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"affidavit, version {affidavit.__version__}\n"


def click_group_help(columns: int) -> str:
    """The group's help as click prints it, every command module imported first."""
    return fresh("from affidavit.cli import load, run\nload()\nrun(['--help'])\n", columns=columns)


def fast_main(args: list[str], *, columns: int) -> tuple[str, list[str]]:
    """stdout of ``main(args)`` in a new interpreter, and which of click and the command
    modules it imported."""
    out = fresh(
        "import sys\n"
        "from affidavit.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('\\nMODULES:', *sorted(m for m in sys.modules\n"
        "      if m == 'click' or m.startswith(('affidavit.cli.', 'affidavit.ledger'))))\n",
        columns=columns,
    )
    text, _, modules = out.rpartition("\nMODULES:")
    return text, modules.split()


@pytest.mark.parametrize("columns", [80, 132])
def test_group_help_is_clicks_own_text_printed_without_click(columns: int) -> None:
    from affidavit.cli.group_help import GROUP_HELP

    want = click_group_help(columns)
    assert want == GROUP_HELP, (
        "the group's help changed: run .venv/bin/python scripts/write_group_help.py"
    )
    for flag in ("--help", "-h"):
        text, modules = fast_main([flag], columns=columns)
        assert (text, modules) == (want, ["affidavit.cli.group_help"])


def test_a_narrow_terminal_gets_clicks_help_at_its_width() -> None:
    from affidavit.cli.group_help import GROUP_HELP

    text, modules = fast_main(["--help"], columns=60)
    assert text == click_group_help(60) != GROUP_HELP
    assert "click" in modules


def test_version_is_printed_without_click() -> None:
    import affidavit

    assert fast_main(["--version"], columns=80) == (
        f"affidavit, version {affidavit.__version__}\n",
        [],
    )


@pytest.mark.parametrize("words", [["status"], ["prove", "0"], ["log", "-n", "1"]])
def test_a_read_command_loads_no_signing_network_or_platform_code(
    tmp_path: Path, words: list[str]
) -> None:
    from datetime import UTC, datetime

    from affidavit.ledger import Ledger
    from affidavit.record import Record

    path, key = tmp_path / "l.sqlite", tmp_path / "l.key"
    with Ledger.create(path, origin="example.com/lazy", key_path=key) as ledger:
        ledger.append([Record.create("file.read", "test", {"file": {"path": "/a"}},
                                     time=datetime(2026, 8, 1, tzinfo=UTC))])  # fmt: skip
        ledger.integrate()
        ledger.publish()
    code = (
        "import sys\n"
        "from affidavit.cli import main\n"
        "try:\n"
        f"    main({words!r})\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = ('cryptography', 'urllib.request', 'socket', 'shutil', 'platformdirs', 'csv')\n"
        "print('\\nHEAVY:', *sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "AFFIDAVIT_LEDGER": str(path), "AFFIDAVIT_KEY": str(key)}
    env.pop("AFFIDAVIT_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text, _, heavy = done.stdout.rpartition("\nHEAVY:")
    assert heavy.split() == []
    assert text.strip()  # it did print its answer

"""Every ``affidavit ...`` command the product prints exists and runs.

Commands are collected from the README, every command's ``--help``, the messages in the
source, the security review pack's ``report.md`` and an evidence pack's ``README.md``. Each
one is checked against the real click tree (an unknown command or option fails the test)
and then run against a real ledger made here, with a replayed agent session: as written
when it has everything it needs, or as ``--help`` when it names a placeholder (``SEQ``,
``FILE``, ``[--out DIR]``...). A run may succeed, report a failed check (1) or refuse an
input in one ``error:`` line (2); a usage error or a traceback fails the test.
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from affidavit.cli import load, run

ROOT = Path(__file__).resolve().parent.parent
SPAN = re.compile(r"`(affidavit [^`]+)`")
PLACEHOLDER = re.compile(r"[A-Z]{2,}|[|\[\]<>…]|\.\.\.|\.\.")
# Commands that would change the machine outside the test's folders (the managed settings
# under /etc) run only as --dry-run; the hook reads an event from stdin.
DRY_RUN_ONLY = {"install", "uninstall"}
# A command that serves until it is stopped (and listens under /run) runs only as --help.
HELP_ONLY = {"service"}


# -- collecting -------------------------------------------------------------------------------


def from_markdown(text: str) -> list[str]:
    """Command lines in fenced blocks (after a ``$`` prompt, before a ``#`` comment) and
    in inline code."""
    found: list[str] = []
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    for block in blocks:
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ").split("  #")[0].strip()
            found += commands_in(line)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    for span in SPAN.findall(prose.replace("\n", " ")):
        found += commands_in(span)
    return found


def from_prose(text: str) -> list[str]:
    """Backticked commands in help text or messages, which may wrap across lines."""
    joined = re.sub(r"\s*\n\s*", " ", text)
    return [c for span in SPAN.findall(joined) for c in commands_in(span)]


def commands_in(line: str) -> list[str]:
    """The ``affidavit`` commands of one shell line (``a && b``, pipes, redirections)."""
    line = line.replace("\\|", "|")  # a pipe escaped in a Markdown table cell
    out = []
    for part in re.split(r"\s*(?:&&|\|\||;|\s\|\s)\s*", line):
        part = re.sub(r"\s[0-9]?>\S*.*$", "", part).strip()
        if part.startswith("affidavit "):
            out.append(part)
    return out


# -- checking against the click tree ----------------------------------------------------------


@dataclass
class Resolved:
    words: list[str]  # the command path, e.g. ["review", "list"]
    args: list[str]  # everything after "affidavit"
    problems: list[str]
    placeholder: bool


def option_names(command: click.Command) -> dict[str, click.Option]:
    names: dict[str, click.Option] = {"--help": click.Option(["--help"], is_flag=True)}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                names[name] = param
    return names


def hook_options() -> dict[str, click.Option]:
    """``affidavit hook`` is dispatched before click (it must start fast): its options are
    the capture path's own."""
    from affidavit.capture.options import _OPTIONS

    # --help / -h are answered before the hook reads anything (affidavit.cli.main).
    return {name: click.Option([name]) for name in (*_OPTIONS, "--help", "-h")}


def resolve(line: str) -> Resolved:
    try:
        tokens = shlex.split(line)[1:]
    except ValueError:
        tokens = line.split()[1:]
    if tokens[:1] == ["hook"]:
        known = hook_options()
        problems = [
            f"affidavit hook: no option {t.split('=')[0]}"
            for t in tokens[1:]
            if t.startswith("-") and t.split("=")[0] not in known
        ]
        return Resolved(["hook"], tokens, problems, any(PLACEHOLDER.search(t) for t in tokens))
    group = load()
    current: click.Command = group
    ctx = click.Context(group)
    words: list[str] = []
    problems: list[str] = []
    placeholder = False
    known = option_names(group)
    skip = False
    for token in tokens:
        if skip:
            skip = False
            placeholder |= bool(PLACEHOLDER.search(token))
            continue
        if PLACEHOLDER.search(token):
            placeholder = True
        for alternative in token.strip("[]().,").split("|"):
            if not alternative.startswith("-") or alternative in ("-", "--"):
                continue
            name = alternative.split("=")[0].rstrip("]")
            option = known.get(name)
            if option is None:
                problems.append(f"{' '.join(['affidavit', *words])}: no option {name}")
            elif not option.is_flag and "=" not in alternative and token == alternative:
                skip = True  # its value follows
        if token.strip("[]().,").startswith("-") or PLACEHOLDER.search(token):
            continue
        if isinstance(current, click.Group):
            sub = current.get_command(ctx, token)
            if sub is None:
                problems.append(f"affidavit {' '.join([*words, token])}: no such command")
                break
            current = sub
            words.append(token)
            known |= option_names(sub)
    if isinstance(current, click.Group) and not words:
        problems.append(f"{line!r} names no command")
    return Resolved(words, tokens, problems, placeholder)


# -- running against a real ledger ------------------------------------------------------------


@dataclass
class Env:
    home: Path
    work: Path
    ledger: Path
    variables: dict[str, str]


@contextlib.contextmanager
def environment(env: Env) -> Iterator[None]:
    saved = dict(os.environ)
    cwd = Path.cwd()
    os.environ.clear()
    os.environ.update(env.variables)
    os.chdir(env.work)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(cwd)


def affidavit(env: Env, args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    if args[:1] == ["hook"]:  # the hook leaves with os._exit: a process of its own
        done = subprocess.run(
            [sys.executable, "-m", "affidavit", *args],
            input=stdin,
            capture_output=True,
            env=env.variables,
            cwd=env.work,
            check=False,
        )
        return done.returncode, done.stdout.decode(), done.stderr.decode()
    out, err = io.StringIO(), io.StringIO()
    with environment(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run(args)
        except Exception as e:  # a crash, not a verdict
            return -1, out.getvalue(), f"Traceback: {type(e).__name__}: {e}"
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("printed")
    home, work = root / "home", root / "work"
    work.mkdir()
    ledger = root / "ledger.sqlite"
    variables = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
    variables.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONIOENCODING="utf-8",
        AFFIDAVIT_LEDGER=str(ledger),
    )
    made = Env(home, work, ledger, variables)
    assert affidavit(made, ["init", "--origin", "example.com/printed"])[0] == 0
    agent = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_agent.py"), str(work), str(ledger)],
        env=variables,
        capture_output=True,
        check=False,
    )
    assert agent.returncode == 0, agent.stderr
    assert affidavit(made, ["seal"])[0] == 0
    assert affidavit(made, ["config", "init"])[0] == 0
    return made


def check_and_run(env: Env, lines: list[str]) -> list[str]:
    """Problems with ``lines``, in order; each runnable one is run, in order."""
    problems: list[str] = []
    seen: set[str] = set()
    for line in lines:
        if line in seen:
            continue
        seen.add(line)
        found = resolve(line)
        if found.problems:
            problems += [f"{line!r}: {p}" for p in found.problems]
            continue
        args = found.args
        if found.words[:1] and found.words[0] in DRY_RUN_ONLY and "--dry-run" not in args:
            args = [*args, "--dry-run"]
        if found.placeholder or (found.words[:1] and found.words[0] in HELP_ONLY):
            args = [*found.words, "--help"]
        code, _, err = affidavit(env, args, stdin=b"{}")
        if args == found.words and usage_error(err):
            # A bare command name in prose ("run `affidavit erase`") refers to the command;
            # it needs arguments it cannot have here: its --help must work.
            args = [*found.words, "--help"]
            code, _, err = affidavit(env, args)
        if code not in (0, 1, 2) or usage_error(err) or "Traceback" in err:
            problems.append(f"{line!r} ran as {args}: exit {code}: {err.strip()[-300:]}")
        elif code == 2 and not err.strip().splitlines()[-1:][0].startswith("error: "):
            problems.append(f"{line!r}: exit 2 without an error line: {err.strip()[-300:]}")
    return problems


def usage_error(err: str) -> bool:
    """What click prints for a command line it cannot parse."""
    return "Usage:" in err or "No such option" in err or "No such command" in err


def all_help() -> dict[str, str]:
    """Every command's --help text, by command path."""
    texts: dict[str, str] = {}
    group = load()

    def walk(command: click.Command, words: list[str]) -> None:
        with click.Context(command, info_name=" ".join(["affidavit", *words])) as ctx:
            texts[" ".join(words)] = command.get_help(ctx)
        if isinstance(command, click.Group):
            for name in command.list_commands(click.Context(command)):
                sub = command.get_command(click.Context(command), name)
                assert sub is not None
                walk(sub, [*words, name])

    walk(group, [])
    return texts


# -- the tests --------------------------------------------------------------------------------


def test_every_command_in_the_readme_runs(env: Env) -> None:
    lines = from_markdown((ROOT / "README.md").read_text())
    assert len(lines) > 30, "the README's commands were not found"
    problems = check_and_run(env, lines)
    assert not problems, "\n".join(problems)


def test_every_command_in_help_texts_and_messages_runs(env: Env) -> None:
    texts = all_help()
    assert {"log", "verify", "review list"} <= set(texts)
    lines = [c for text in texts.values() for c in from_prose(text)]
    for path in sorted((ROOT / "src" / "affidavit").rglob("*.py")):
        lines += from_prose(path.read_text())
    assert len(lines) > 20
    problems = check_and_run(env, lines)
    assert not problems, "\n".join(problems)


def test_every_command_in_the_review_pack_runs(env: Env) -> None:
    code, _, err = affidavit(env, ["report", "--out", str(env.work / "review"), "--no-pdf"])
    assert code in (0, 1), err
    markdown = (env.work / "review" / "report.md").read_text()
    lines = from_markdown(markdown)
    assert lines, "report.md names no command for its reader to run"
    problems = check_and_run(env, lines)
    assert not problems, "\n".join(problems)


def test_every_command_in_the_review_packs_html_runs(env: Env) -> None:
    review = env.work / "review-html"
    code, _, err = affidavit(env, ["report", "--out", str(review), "--no-pdf"])
    assert code in (0, 1), err
    page = html.unescape((review / "report.html").read_text())
    lines = [c for span in re.findall(r"<code>(affidavit [^<]+)</code>", page) for c in
             commands_in(span)]  # fmt: skip
    assert lines, "report.html names no command for its reader to run"
    problems = check_and_run(env, lines)
    assert not problems, "\n".join(problems)


def test_every_command_in_an_evidence_packs_readme_runs(env: Env) -> None:
    pack = env.work / "pack.zip"
    code, _, err = affidavit(env, ["evidence", "--out", str(pack)])
    assert code == 0, err
    with zipfile.ZipFile(pack) as opened:
        readme = opened.read("README.md").decode()
    lines = from_markdown(readme)
    assert any(line.startswith("affidavit verify-pack") for line in lines)
    problems = check_and_run(env, lines)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "wanted"),
    [
        ("affidavit verify --from-checkpoint FILE", "no option --from-checkpoint"),
        ("affidavit frobnicate", "no such command"),
        ("affidavit review lsit", "no such command"),
        ("affidavit log --by session", None),  # a value, not an option: checked by running
    ],
)
def test_the_check_catches_unknown_commands_and_options(line: str, wanted: str | None) -> None:
    problems = resolve(line).problems
    if wanted is None:
        assert problems == []
    else:
        assert any(wanted in p for p in problems), problems


def test_a_wrong_value_fails_when_run(env: Env) -> None:
    problems = check_and_run(env, ["affidavit log --by nonsense"])
    assert len(problems) == 1 and "Invalid value" in problems[0], problems
    assert problems[0].startswith("'affidavit log --by nonsense'")  # names the line

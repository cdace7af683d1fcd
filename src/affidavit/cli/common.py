"""What every command module shares: the ledger paths, output helpers and flag bundles.

It sits below :mod:`affidavit.cli.commands` (the group and the core commands) so that a
command module the group itself calls on, such as :mod:`affidavit.cli.salvage`, can use
these without importing the group back.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from affidavit.errors import InputError

if TYPE_CHECKING:  # the ledger imports cryptography: only commands that open one pay for it
    from affidavit.ledger import Ledger, Progress


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def say(message: str) -> None:
    """A summary line for people, on stderr so stdout stays data.

    stdout is flushed first: where both go to one terminal or file, the summary must follow
    the data it sums up, never land inside it.
    """
    sys.stdout.flush()
    click.echo(message, err=True)


@dataclass(frozen=True, slots=True)
class Paths:
    ledger: Path
    key: Path

    def open(self, *, readonly: bool = False, check_pages: bool = False) -> Ledger:
        from affidavit.ledger import Ledger

        return Ledger.open(
            self.ledger, key_path=self.key, readonly=readonly, check_pages=check_pages
        )

    def open_privileged(self, action: str, *, signs: bool = True) -> Ledger:
        """Open to write (and sign): refused in one line, before anything is touched, when
        this account cannot write the ledger or read the key, as in service mode."""
        from affidavit.keys import require_key_access, require_write_access
        from affidavit.ledger import Ledger

        require_write_access(self.ledger, action)
        if not self.ledger.exists():
            return self.open()  # says there is no ledger, and what to run
        signer = require_key_access(self.key, action) if signs else None
        return Ledger.open(self.ledger, signer=signer, key_path=None if signs else self.key)


def progress_bar(total: int, label: str) -> AbstractContextManager[Progress | None]:
    """A rich progress bar on a terminal; nothing in a pipe."""
    if not sys.stderr.isatty() or total < 10_000:
        return nullcontext(None)
    from contextlib import contextmanager

    from rich.progress import Progress as Bar

    @contextmanager
    def bar() -> Iterator[Progress]:
        with Bar(transient=True, console=None) as p:
            task = p.add_task(label, total=total)
            yield lambda done: p.update(task, completed=done)

    return bar()


def read_text(file: IO[bytes]) -> str:
    """A text file named on the command line, or InputError naming it and the line.

    Files are opened in binary and decoded here, newlines translated as text mode does:
    click's text mode would let a UnicodeDecodeError escape, naming neither file nor line.
    """
    data = file.read()
    try:
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"{file.name}:{line}: not UTF-8 text ({e.reason})") from e


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")

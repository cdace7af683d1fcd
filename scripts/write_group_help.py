"""Write src/affidavit/cli/group_help.py: the group's --help as click prints it at 80 columns.

    .venv/bin/python scripts/write_group_help.py

The group's --help prints that text without importing click (tests/test_cli_lazy.py checks
it against click's own output); run this after changing a command's short help, the
group's options or its docstring.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "src" / "affidavit" / "cli" / "group_help.py"

HEAD = '''"""The group's ``--help`` as click prints it 80 or more columns wide, so the group's help
needs no click import (:func:`affidavit.cli.main` prints it). Written by
scripts/write_group_help.py from click's own output; tests/test_cli_lazy.py checks that the
two agree.
"""

GROUP_HELP = """\\
'''


def click_help() -> str:
    """The group's help from click itself, every command module imported, 80 columns."""
    code = "from affidavit.cli import load, run\nload()\nrun(['--help'])\n"
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout


def main() -> None:
    text = click_help()
    if '"""' in text or "\\" in text:
        sys.exit("the help text holds a quote or backslash this script does not escape")
    TARGET.write_text(HEAD + text + '"""\n')
    print(f"wrote {TARGET.relative_to(TARGET.parents[3])}")


if __name__ == "__main__":
    main()

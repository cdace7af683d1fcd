"""``python -m affidavit``: the same as the ``affidavit`` command."""

from __future__ import annotations

from affidavit.cli import main

if __name__ == "__main__":
    main()

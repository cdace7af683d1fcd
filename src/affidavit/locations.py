"""Where a ledger and its signing key live unless the user says otherwise.

The default ledger sits in the user's data directory and its key in the config directory
(platformdirs), outside every folder an agent is given to write. ``--ledger`` /
``AFFIDAVIT_LEDGER`` choose another ledger file; its key then sits beside it as
``<ledger>.key`` unless ``--key`` / ``AFFIDAVIT_KEY`` say otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "affidavit"


def default_ledger_path() -> Path:
    import platformdirs

    return platformdirs.user_data_path(APP) / "ledger.sqlite"


def ledger_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    chosen = explicit or os.environ.get("AFFIDAVIT_LEDGER")
    return Path(chosen).expanduser() if chosen else default_ledger_path()


def key_path(ledger: Path, explicit: str | os.PathLike[str] | None = None) -> Path:
    chosen = explicit or os.environ.get("AFFIDAVIT_KEY")
    if chosen:
        return Path(chosen).expanduser()
    if ledger == default_ledger_path():
        import platformdirs

        return platformdirs.user_config_path(APP) / "signing.key"
    return ledger.with_name(ledger.name + ".key")

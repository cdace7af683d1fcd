"""Which contents of files the agent only READ the ledger keeps.

A file the agent writes is kept before and after (that is what rollback restores). A file it
only reads is kept only where ``[capture] keep_read_contents`` in ``affidavit.toml`` says
(default: the session's own folder, its ``cwd``) and only up to ``keep_read_max_bytes``
(default 1 MiB): an agent that reads ``~/.aws/credentials`` or a key file must not make the
ledger a second copy of it. Elsewhere the record keeps the file's hash and size.

The rule is compiled from the config only when the config file's stat changes, and cached as
JSON in the ledger's ``meta`` table (as :mod:`affidavit.capture.policy` does). A config
that does not load gives the defaults here; the policy check records that it did not load.
Standard library only: this runs in the hook.
"""

from __future__ import annotations

import json
import os
import re

from affidavit.capture.policy_config import config_location, folder_pattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from affidavit.store.sqlite import SqliteStore

CACHE_KEY = "read_contents_cache"
FORMAT = 1
WORKSPACE = "workspace"  # as affidavit.config.WORKSPACE, without importing it on every run
DEFAULT: dict[str, object] = {"workspace": True, "match": None, "max_bytes": 2**20}


class ReadRule:
    """Whether the content of a file read at ``path`` from session folder ``cwd`` is kept."""

    __slots__ = ("match", "max_bytes", "workspace")

    def __init__(self, data: dict[str, object]) -> None:
        self.workspace = bool(data["workspace"])
        pattern = data["match"]
        self.match = re.compile(pattern).match if isinstance(pattern, str) else None
        size = data["max_bytes"]
        self.max_bytes = size if isinstance(size, int) else 0

    def keeps(self, path: str, cwd: str | None, size: int) -> bool:
        if size > self.max_bytes:
            return False
        real = os.path.realpath(path)
        if self.match is not None and (self.match(real) or self.match(os.path.abspath(path))):
            return True
        if self.workspace and cwd:
            top = os.path.realpath(cwd)
            return real == top or real.startswith(top.rstrip(os.sep) + os.sep)
        return False


def compile_file(path: str) -> dict[str, object]:
    """The rule of the config at ``path``; the defaults when it does not load."""
    from pathlib import Path

    from affidavit import config
    from affidavit.errors import InputError

    try:
        with open(path, "rb") as f:
            cfg = config.parse(f.read().decode("utf-8"), Path(path))
    except (OSError, UnicodeDecodeError, InputError):
        return DEFAULT
    folders = [f for f in cfg.keep_read_contents if f != WORKSPACE]
    return {
        "workspace": WORKSPACE in cfg.keep_read_contents,
        "match": "|".join(f"(?:{folder_pattern(f)})" for f in folders) or None,
        "max_bytes": cfg.keep_read_max_bytes,
    }


def load(store: SqliteStore, explicit: str | None = None) -> ReadRule:
    """The rule in force for this ledger and config (cached by the config file's stat)."""
    path, _ = config_location(explicit)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return ReadRule(DEFAULT)
    key = f"reads:{FORMAT}:{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    cached = store.meta(CACHE_KEY)
    if cached is not None and cached.startswith(key + "\n"):
        return ReadRule(json.loads(cached[len(key) + 1 :]))
    data = compile_file(path)
    store.set_meta(CACHE_KEY, key + "\n" + json.dumps(data))
    return ReadRule(data)

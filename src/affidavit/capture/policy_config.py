"""The folder policy's configuration at capture time: where ``affidavit.toml`` is, the
policy compiled from it (regexes for every folder), cached in the ledger's ``meta`` table
and recompiled only when the file's stat changes.

Stdlib only, like the rest of the hook's path: :mod:`affidavit.config` (which parses and
validates the TOML) is imported only on a cache miss.
"""

from __future__ import annotations

import json
import os
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, Protocol

    from affidavit.config import Config

    class MetaStore(Protocol):
        """Where the compiled policy is cached: a ledger's meta table, or the collector's
        in-process cache (:mod:`affidavit.server.hooks`)."""

        def meta(self, key: str) -> str | None: ...

        def set_meta(self, key: str, value: str) -> None: ...


RULES = ("outside_granted", "regulated_workspace", "forbidden_data")
CACHE_KEY = "policy_cache"
FORMAT = 1  # of the compiled JSON; part of the cache key, so a new format recompiles
_GLOB = frozenset("*?[")


# -- where the config is --------------------------------------------------------------------


def config_location(explicit: str | None = None) -> tuple[str, bool]:
    """The config file for the hook, and whether someone named it (then it must exist)."""
    chosen = explicit or os.environ.get("AFFIDAVIT_CONFIG")
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen)), True
    return default_config_path(), False


def default_config_path() -> str:
    """:func:`affidavit.config.default_path` without importing platformdirs (~20 ms a run).

    platformdirs 4 on Linux and macOS: ``$XDG_CONFIG_HOME`` when it is absolute, else
    ``~/.config`` (Linux) or ``~/Library/Application Support`` (macOS); then ``affidavit``.
    Windows asks platformdirs itself. The tests compare the two.
    """
    if sys.platform == "win32":
        from affidavit.config import default_path

        return str(default_path())
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not base.startswith("/"):
        home = "~/Library/Application Support" if sys.platform == "darwin" else "~/.config"
        base = os.path.expanduser(home)
    return os.path.join(base, "affidavit", "affidavit.toml")


# -- compiling the config (on a cache miss only) ----------------------------------------------


def folder_pattern(folder: str) -> str:
    """One regex (for ``re.match``) equal to ``query.path_matches(path, folder)``, with a
    leading ``~`` expanded.

    An absolute folder without wildcards also matches under its real path, so a granted
    folder that is itself a symlink still grants what lies under it.
    """
    import fnmatch

    forms = [os.path.expanduser(folder)]
    if forms[0].startswith("/") and not _GLOB.intersection(forms[0]):
        real = os.path.realpath(forms[0])
        if real != forms[0].rstrip("/"):
            forms.append(real)
    parts: list[str] = []
    for form in forms:
        pattern = form.replace("\\", "/").rstrip("/")
        if not _GLOB.intersection(pattern):
            pattern += "/**"
        pattern = pattern.replace("**", "*")
        parts.append(fnmatch.translate(pattern))
        if not pattern.startswith("/"):
            parts.append(fnmatch.translate("*/" + pattern))
    return "|".join(f"(?:{p})" for p in parts)


def compile_config(cfg: Config) -> dict[str, Any]:
    """The JSON form the hook caches: folders with their regexes, workspace, switches."""
    return {
        "format": FORMAT,
        "folders": [
            {
                "path": f.path,
                "match": folder_pattern(f.path),
                "regulated": list(f.regulated),
                "forbidden": list(f.forbidden_data),
            }
            for f in cfg.folders
        ],
        "workspace_regulated": cfg.regulated_workspace,
        "enforce": {rule: bool(cfg.enforce.get(rule, False)) for rule in RULES},
    }


def compile_file(path: str) -> dict[str, Any]:
    """The compiled policy of ``path``, or ``{"error": ...}`` naming file, line and field."""
    from pathlib import Path

    from affidavit import config
    from affidavit.errors import InputError

    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
        return compile_config(config.parse(text, Path(path)))
    except (OSError, UnicodeDecodeError, InputError) as e:
        where = str(e) if path in str(e) else f"{path}: {e}"
        return {"error": f"policy not applied: {where}"}


# -- the policy in force --------------------------------------------------------------------


class Folder:
    __slots__ = ("forbidden", "match", "path", "regulated")

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.path: str = item["path"]
        self.match = re.compile(item["match"]).match
        self.regulated: list[str] = item["regulated"]
        self.forbidden: list[str] = item["forbidden"]


class Policy:
    """The compiled policy: folders, whether this workspace is regulated, the switches."""

    __slots__ = ("enforce", "folders", "workspace_regulated")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.folders = [Folder(item) for item in data["folders"]]
        self.workspace_regulated: bool = data["workspace_regulated"]
        self.enforce: dict[str, bool] = data["enforce"]

    def granted(self, real: str) -> bool:
        """Under a granted folder (always, when none is listed)."""
        return not self.folders or any(f.match(real) for f in self.folders)

    def folders_at(self, forms: Iterable[str]) -> list[Folder]:
        """Every folder the path lies in, by its written or its real form."""
        return [f for f in self.folders if any(f.match(form) for form in forms)]


def load(store: MetaStore, explicit: str | None = None) -> tuple[Policy | None, str | None]:
    """The policy in force and a problem to record (once per version of the config file)."""
    path, named = config_location(explicit)
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        if not named:
            return None, None
        key = f"policy:{FORMAT}:{path}:missing"
        missing = f"policy not applied: {path} (named by --config or AFFIDAVIT_CONFIG) is missing"
        data, fresh = _cached(store, key, lambda: {"error": missing})
    else:
        key = f"policy:{FORMAT}:{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
        data, fresh = _cached(store, key, lambda: compile_file(path))
    if "error" in data:
        return None, (str(data["error"]) if fresh else None)
    return Policy(data), None


def _cached(
    store: MetaStore, key: str, make: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """The value cached under ``key`` in meta, or ``make()`` stored there; and whether new."""
    cached = store.meta(CACHE_KEY)
    if cached is not None and cached.startswith(key + "\n"):
        value: dict[str, Any] = json.loads(cached[len(key) + 1 :])
        return value, False
    value = make()
    store.set_meta(CACHE_KEY, key + "\n" + json.dumps(value))
    return value, True


def path_forms(path: str, cwd: str | None, *, directory: bool = False) -> tuple[str, str]:
    """The path with ``..`` resolved, then with symlinks followed too (last).

    A ``directory`` (a command's working folder) ends in ``/``, so that it lies in itself: a
    folder pattern matches what is under the folder, not the folder's own path.
    """
    if cwd and not os.path.isabs(path):
        path = os.path.join(cwd, path)
    norm = os.path.normpath(path)
    try:
        real = os.path.realpath(norm)
    except (OSError, ValueError):
        real = norm
    return _slashed(norm, directory), _slashed(real, directory)


def same_path(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(os.path.expanduser(b))


def _slashed(path: str, directory: bool) -> str:
    path = path.replace("\\", "/")
    return path.rstrip("/") + "/" if directory else path

"""Register the capture hook with Claude Code: settings files, a managed drop-in, a plugin.

The entries themselves and the pure merge of a settings document live in
:mod:`affidavit.capture.settings_merge` (re-exported here, where callers use them); this module
picks the settings file for a scope, reads and writes it, and writes the plugin.

Editing a settings file: it is parsed as JSON (an unreadable file is refused with its line
and column and left alone), only our entries are added or removed, other keys keep their
order, and the file is rewritten with its own indent and newline style through a temp file,
fsync and rename, keeping its mode. A symlinked settings file (dotfiles) is written through
the link. Install is idempotent: an entry already holding exactly our command is kept.

Byte-identical round trip: JSON re-serialisation can change the formatting, so the first
install that changes a file saves its exact original bytes beside it as
``<name>.affidavit-backup``. Uninstall removes our entries and, if what is left equals the
backup's content (the user changed nothing else in between), writes the backup's bytes back
verbatim and deletes the backup. If the user did edit the file meanwhile, uninstall keeps
their edits and only removes our entries, re-serialised in the file's indent; the stale
backup is deleted. A file that did not exist before install gets no backup and is deleted
again when nothing but our entries is left in it (the managed drop-in is always such a file).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from affidavit.capture.settings_merge import EVENTS as EVENTS
from affidavit.capture.settings_merge import MARKER as MARKER
from affidavit.capture.settings_merge import NEWER_EVENTS as NEWER_EVENTS
from affidavit.capture.settings_merge import TIMEOUT as TIMEOUT
from affidavit.capture.settings_merge import TOKEN_ENV as TOKEN_ENV
from affidavit.capture.settings_merge import TOOL_EVENTS as TOOL_EVENTS
from affidavit.capture.settings_merge import Handler as Handler
from affidavit.capture.settings_merge import Plan as Plan
from affidavit.capture.settings_merge import _entry, _groups, _is_ours, _parse, ours_in
from affidavit.capture.settings_merge import hook_command as hook_command
from affidavit.capture.settings_merge import http_handler as http_handler
from affidavit.capture.settings_merge import interpreter as interpreter
from affidavit.capture.settings_merge import plan_install as plan_install
from affidavit.capture.settings_merge import plan_uninstall as plan_uninstall
from affidavit.errors import InputError
from affidavit.files import fsync_folder, write_atomically

BACKUP_SUFFIX = ".affidavit-backup"
SCOPES = ("user", "project", "managed")
DROP_IN = "affidavit.json"
# The managed settings folder per platform (code.claude.com/docs/en/managed-settings).
MANAGED_DIRS = {
    "darwin": Path("/Library/Application Support/ClaudeCode"),
    "linux": Path("/etc/claude-code"),
    "win32": Path("C:/Program Files/ClaudeCode"),
}
PLUGIN_NAME = "affidavit"
PLUGIN_MANIFEST = Path(".claude-plugin") / "plugin.json"
PLUGIN_HOOKS = Path("hooks") / "hooks.json"


@dataclass(frozen=True, slots=True)
class Change:
    """One file before and after (``None``: absent); ``changed`` is false when nothing moves."""

    path: Path
    before: str | None
    after: str | None
    added: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """A unified diff of the change, ``/dev/null`` standing for an absent file."""
        name = str(self.path)
        return "".join(
            difflib.unified_diff(
                (self.before or "").splitlines(keepends=True),
                (self.after or "").splitlines(keepends=True),
                fromfile=name if self.before is not None else "/dev/null",
                tofile=name if self.after is not None else "/dev/null",
            )
        )


# ---- where settings live --------------------------------------------------------------------


def settings_path(scope: str, *, project: Path | None = None, platform: str = sys.platform) -> Path:
    """The settings file of a scope: user, project (``project`` or the cwd) or managed."""
    if scope == "user":
        config = os.environ.get("CLAUDE_CONFIG_DIR")
        return (Path(config).expanduser() if config else Path.home() / ".claude") / "settings.json"
    if scope == "project":
        return (project or Path.cwd()).absolute() / ".claude" / "settings.json"
    if scope == "managed":
        key = "linux" if platform.startswith("linux") else platform
        if key not in MANAGED_DIRS:
            raise InputError(f"no known managed settings folder on {platform}; use --settings")
        return MANAGED_DIRS[key] / "managed-settings.d" / DROP_IN
    raise InputError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")


# ---- files ----------------------------------------------------------------------------------


def install_settings(
    path: Path, command: Handler, *, events: Iterable[str] = EVENTS, dry_run: bool = False
) -> Change:
    """Add our hooks to the settings file at ``path`` (created if absent)."""
    before = _read(path)
    plan = plan_install(before, command, events=events, where=str(path))
    if plan is None:
        return Change(path, before, before)
    if not dry_run:
        backup = _backup(path)
        if before is None:
            _remove(backup)
        elif not _ours_in_text(before):
            _write(backup, before, like=path)
        assert plan.text is not None
        _write(path, plan.text)
    return Change(path, before, plan.text, added=plan.added, removed=plan.removed)


def uninstall_settings(path: Path, *, dry_run: bool = False) -> Change:
    """Remove our hooks from the settings file at ``path``, restoring its bytes if we can."""
    before = _read(path)
    backup = _backup(path)
    original = _read(backup)
    plan = plan_uninstall(before, original=original, where=str(path))
    if plan is None:
        if before is not None and not dry_run:
            _remove(backup)  # stale: our entries were removed by hand
        return Change(path, before, before)
    if not dry_run:
        if plan.text is None:
            _remove(path)
        else:
            _write(path, plan.text)
        _remove(backup)
    return Change(path, before, plan.text, removed=plan.removed)


def _ours_in_text(text: str) -> bool:
    try:
        hooks = _parse(text, "").get("hooks")
    except InputError:
        return False
    return isinstance(hooks, dict) and any(ours_in(g) for g in hooks.values())


def _backup(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _read(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a settings file") from None
    except PermissionError as e:
        raise _denied(path, e) from e
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start}); nothing was changed") from e


def _write(path: Path, text: str, *, like: Path | None = None) -> None:
    """Atomically replace ``path`` (through a symlink), keeping the mode of it or ``like``."""
    target = path.resolve() if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            st: os.stat_result | None = os.stat(target if target.exists() else (like or target))
        except FileNotFoundError:
            st = None
        mode = stat.S_IMODE(st.st_mode) if st is not None else None
        root = st is not None and hasattr(os, "geteuid") and os.geteuid() == 0
        owner = (st.st_uid, st.st_gid) if st is not None and root else None
        write_atomically(target, text, mode=mode, owner=owner)
    except PermissionError as e:
        raise _denied(path, e) from e


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except PermissionError as e:
        raise _denied(path, e) from e
    fsync_folder(path.parent)


def _denied(path: Path, e: OSError) -> InputError:
    return InputError(
        f"cannot write {path}: {e.strerror or 'permission denied'}; managed settings need an "
        "administrator (run the command with sudo), or name a file you may write with --settings"
    )


# ---- plugin ---------------------------------------------------------------------------------


def plugin_files(command: Handler, *, events: Iterable[str] = EVENTS) -> dict[Path, str]:
    """The files of a Claude Code / Cowork plugin that runs our hook, by relative path.

    Layout from the plugins reference (code.claude.com/docs/en/plugins-reference):
    ``.claude-plugin/plugin.json`` (the manifest; ``name`` is the one required field) and
    ``hooks/hooks.json`` (the settings ``hooks`` shape plus a ``description``). A command
    hook runs the absolute interpreter path, not ``${CLAUDE_PLUGIN_ROOT}``: the hook is the
    installed package, nothing inside the plugin folder. An ``http`` handler
    (:func:`http_handler`) needs nothing installed at all: the plugin Cowork deploys.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("affidavit")
    except PackageNotFoundError:
        release = "0.0.0"
    manifest = {
        "name": PLUGIN_NAME,
        "version": release,
        "description": "Affidavit: record what the agent does to files in a verifiable audit "
        "trail (RFC 9162 Merkle log, signed C2SP checkpoints).",
    }
    hooks = {
        "description": "Affidavit capture hook",
        "hooks": {event: [_entry(event, command)] for event in events},
    }
    return {
        PLUGIN_MANIFEST: json.dumps(manifest, indent=2) + "\n",
        PLUGIN_HOOKS: json.dumps(hooks, indent=2, ensure_ascii=False) + "\n",
    }


def install_plugin(
    directory: Path, command: Handler, *, events: Iterable[str] = EVENTS, dry_run: bool = False
) -> list[Change]:
    """Write (or update) the plugin in ``directory``; refuses files that are not ours."""
    changes = []
    for rel, text in plugin_files(command, events=events).items():
        path = directory / rel
        before = _read(path)
        _check_plugin_file(path, rel, before)
        added = 0 if before == text else len(json.loads(text).get("hooks", {}))
        changes.append(Change(path, before, text, added=added))
    if not dry_run:
        for c in changes:
            if c.changed:
                assert c.after is not None
                _write(c.path, c.after)
    return changes


def uninstall_plugin(directory: Path, *, dry_run: bool = False) -> list[Change]:
    """Delete the plugin's files from ``directory`` (and the folders that leaves empty)."""
    changes = []
    for rel in (PLUGIN_MANIFEST, PLUGIN_HOOKS):
        path = directory / rel
        before = _read(path)
        _check_plugin_file(path, rel, before)
        removed = 0 if before is None or rel != PLUGIN_HOOKS else len(_parse(before, "")["hooks"])
        changes.append(Change(path, before, None, removed=removed))
    if not dry_run:
        for c in changes:
            _remove(c.path)
        for folder in (directory / PLUGIN_MANIFEST.parent, directory / PLUGIN_HOOKS.parent):
            _rmdir_if_empty(folder)
        _rmdir_if_empty(directory)
    return changes


def _check_plugin_file(path: Path, rel: Path, text: str | None) -> None:
    if text is None:
        return
    try:
        value = _parse(text, str(path))
    except InputError:
        value = {}
    if rel == PLUGIN_MANIFEST:
        ours = value.get("name") == PLUGIN_NAME
    else:
        hooks = value.get("hooks")
        ours = (
            isinstance(hooks, dict)
            and bool(hooks)
            and all(
                isinstance(g, list) and all(_is_ours(h) for x in _groups(g) for h in x["hooks"])
                for g in hooks.values()
            )
        )
    if not ours:
        raise InputError(f"{path} exists and is not Affidavit's; choose another --plugin folder")


def _rmdir_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or already gone
        folder.rmdir()

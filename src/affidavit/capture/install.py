"""Register the capture hook with Claude Code: settings files, a managed drop-in, a plugin.

Claude Code reads hooks from ``{"hooks": {"<Event>": [{"matcher": "...", "hooks":
[{"type": "command", "command": "...", "timeout": N}]}]}}`` in ``~/.claude/settings.json``
(``$CLAUDE_CONFIG_DIR`` moves it), ``<project>/.claude/settings.json``, the managed settings
folder's ``managed-settings.d/*.json`` drop-ins (merged alphabetically on top of
``managed-settings.json``; arrays such as hook lists are concatenated), and a plugin's
``hooks/hooks.json`` next to ``.claude-plugin/plugin.json`` (code.claude.com/docs/en/hooks,
/settings, /managed-settings, /plugins-reference).

What install adds: one matcher group per event in :data:`EVENTS`, ``"matcher": "*"`` on the
tool events only, whose single command runs ``<absolute interpreter> -E -P -m affidavit
hook``. The interpreter is the one Affidavit was installed with (a venv's ``bin/python``
stays a venv path, never resolved past its symlink, or the venv's packages would be lost);
``-P`` keeps the agent's working folder off ``sys.path``, so a folder the agent can write
cannot shadow the ``affidavit`` package and switch auditing off, and ``-E`` ignores
``PYTHONPATH`` and friends for the same reason. An entry is recognised as ours by
``-m affidavit hook`` in its command, so installing from another interpreter replaces the
old entry instead of adding a second, and uninstall never touches anyone else's hooks.

Events: every event of the hooks reference that tells an auditor something (sessions,
prompts, tool calls and their outcome, permission dialogs, subagents, compaction, settings
and instruction files loaded or changed). Left out: ``WorktreeCreate`` (a command hook there
*replaces* git's worktree creation and must print the path), ``TeammateIdle``,
``TaskCreated``/``TaskCompleted``, ``Elicitation*``, ``CwdChanged``, ``FileChanged`` (needs a
list of files to watch), ``Setup``, ``PostToolBatch``, ``UserPromptExpansion`` (nothing the
other events miss). :data:`NEWER_EVENTS` (``PermissionDenied``, ``StopFailure``,
``PostCompact``) are opt-in: a Claude Code release that predates an event rejects the whole
settings file ("Invalid key in record ... Files with errors are skipped entirely"), which
would silently switch off the user's other hooks and permission rules too.

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
import copy
import difflib
import json
import os
import shlex
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from affidavit.errors import InputError
from affidavit.files import fsync_folder, write_atomically

MARKER = "-m affidavit hook"
TIMEOUT = 30  # seconds; capture is one short SQLite transaction, this only bounds a hang
EVENTS = (
    "SessionStart",
    "InstructionsLoaded",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "SubagentStart",
    "SubagentStop",
    "Stop",
    "PreCompact",
    "ConfigChange",
    "SessionEnd",
)
NEWER_EVENTS = ("PermissionDenied", "StopFailure", "PostCompact")
TOOL_EVENTS = frozenset(
    {"PreToolUse", "PermissionRequest", "PermissionDenied", "PostToolUse", "PostToolUseFailure"}
)
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
class Plan:
    """A settings file's new text (``None``: delete the file) and how many entries moved."""

    text: str | None
    added: int = 0
    removed: int = 0


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


# ---- the command ----------------------------------------------------------------------------


def interpreter(executable: str | None = None) -> str:
    """The absolute path of the running interpreter, refusing a version manager's shim.

    A shim (pyenv, asdf) is a shell script that picks a Python by the current folder's
    settings, so the hook could run a Python without Affidavit when the agent is elsewhere.
    """
    exe = sys.executable if executable is None else executable
    if not exe:
        raise InputError("cannot tell which Python runs Affidavit (sys.executable is empty)")
    path = os.path.abspath(exe)
    if _is_shim(path):
        base = getattr(sys, "_base_executable", "") if executable is None else ""
        if base and sys.prefix == sys.base_prefix and not _is_shim(base):
            return os.path.abspath(base)
        raise InputError(
            f"{path} is a version manager's shim, not an interpreter; run install with the "
            "real one, for example `$(pyenv which python) -m affidavit install`"
        )
    if not os.access(path, os.X_OK):
        raise InputError(f"{path} is not an executable interpreter")
    return path


def _is_shim(path: str) -> bool:
    if Path(path).parent.name == "shims":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def hook_command(python: str, ledger: Path | None = None, *, socket: PurePath | None = None) -> str:
    """The shell command Claude Code runs for every event, shell-quoted; ``socket`` names
    the recorder service's socket (an admin install's layout), so hooks find the service."""
    args = [python, "-E", "-P", "-m", "affidavit", "hook"]
    if socket is not None:
        args += ["--socket", str(socket)]
    if ledger is not None:
        args += ["--ledger", os.path.abspath(ledger)]
    return shlex.join(args)


def _is_ours(hook: object) -> bool:
    return isinstance(hook, dict) and MARKER in str(hook.get("command", ""))


def _entry(event: str, command: str) -> dict[str, Any]:
    hook = {"type": "command", "command": command, "timeout": TIMEOUT}
    return {"matcher": "*", "hooks": [hook]} if event in TOOL_EVENTS else {"hooks": [hook]}


# ---- planning (pure: text in, text out) -----------------------------------------------------


def plan_install(
    text: str | None,
    command: str,
    *,
    events: Iterable[str] = EVENTS,
    where: str = "settings.json",
) -> Plan | None:
    """The settings text with our hook on every event, or ``None`` if it is already there.

    Other hooks and keys are untouched. An entry holding exactly ``command`` is kept; other
    affidavit entries (an older interpreter) are replaced. Events that already carry an
    affidavit entry are updated too, so a reinstall never drops coverage.
    """
    settings = _parse(text, where)
    new = copy.deepcopy(settings)
    hooks = new.setdefault("hooks", {})
    if not isinstance(hooks, dict):
        raise InputError(f'{where}: "hooks" is not an object; fix it by hand, nothing was changed')
    wanted = list(dict.fromkeys([*events, *(e for e in hooks if _ours_in(hooks[e]))]))
    added = removed = 0
    for event in wanted:
        groups = hooks.setdefault(event, [])
        if not isinstance(groups, list):
            raise InputError(f'{where}: "hooks.{event}" is not a list; nothing was changed')
        keep = next((h for g in _groups(groups) for h in g["hooks"] if _exact(h, command)), None)
        removed += _strip(groups, keep=keep)
        if keep is None:
            groups.append(_entry(event, command))
            added += 1
    if not hooks and "hooks" not in settings:
        del new["hooks"]
    if new == settings:
        return None
    return Plan(_dump(new, text), added=added, removed=removed)


def plan_uninstall(
    text: str | None, *, original: str | None = None, where: str = "settings.json"
) -> Plan | None:
    """The settings text without our entries, or ``None`` if it holds none.

    ``original`` is the text saved before install (``None``: the file did not exist, or
    nobody knows). When the rest equals it, it comes back byte for byte; with no original
    and nothing left, the plan deletes the file.
    """
    if text is None:
        return None
    settings = _parse(text, where)
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return None
    new = copy.deepcopy(settings)
    removed = 0
    for event, groups in list(new["hooks"].items()):
        if isinstance(groups, list) and _ours_in(groups):
            removed += _strip(groups, keep=None)
            if not groups:
                del new["hooks"][event]
    if not removed:
        return None
    if not new["hooks"]:
        del new["hooks"]
    if original is not None:
        try:
            before = _parse(original, where)
        except InputError:
            before = None
        if before is not None and _pruned(before) == _pruned(new):
            return Plan(original, removed=removed)
    elif not new:
        return Plan(None, removed=removed)
    return Plan(_dump(new, text), removed=removed)


def _parse(text: str | None, where: str) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"{where}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}); "
            "fix it by hand, nothing was changed"
        ) from e
    if not isinstance(value, dict):
        raise InputError(
            f"{where}:1: expected a JSON object, got {type(value).__name__}; nothing was changed"
        )
    return value


def _groups(groups: list[Any]) -> Iterable[dict[str, Any]]:
    return (g for g in groups if isinstance(g, dict) and isinstance(g.get("hooks"), list))


def _ours_in(groups: object) -> bool:
    return isinstance(groups, list) and any(
        _is_ours(h) for g in _groups(groups) for h in g["hooks"]
    )


def _exact(hook: object, command: str) -> bool:
    return isinstance(hook, dict) and hook.get("command") == command


def _strip(groups: list[Any], *, keep: object) -> int:
    """Remove our hooks (but ``keep``) from ``groups``, and the groups that leaves empty."""
    removed = 0
    for group in list(_groups(groups)):
        inner = group["hooks"]
        rest = [h for h in inner if h is keep or not _is_ours(h)]
        if len(rest) != len(inner):
            removed += len(inner) - len(rest)
            if rest:
                group["hooks"] = rest
            else:
                groups.remove(group)
    return removed


def _pruned(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings with empty hook lists and an empty hooks object dropped, for comparing."""
    out = dict(settings)
    hooks = out.get("hooks")
    if isinstance(hooks, dict):
        hooks = {e: g for e, g in hooks.items() if g != []}
        if hooks:
            out["hooks"] = hooks
        else:
            del out["hooks"]
    return out


def _dump(settings: dict[str, Any], like: str | None) -> str:
    """JSON in the style of ``like``: its indent unit, line ending and final newline."""
    like = like or ""
    indent = "  "
    for line in like.splitlines()[1:]:
        body = line.lstrip(" \t")
        if body and len(body) < len(line):
            indent = line[: len(line) - len(body)]
            break
    newline = "\r\n" if "\r\n" in like else "\n"
    text = json.dumps(settings, indent=indent, ensure_ascii=False)
    if newline != "\n":
        text = text.replace("\n", newline)
    final = like.endswith(("\n", "\r")) or not like.strip()
    return text + newline if final else text


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
    path: Path, command: str, *, events: Iterable[str] = EVENTS, dry_run: bool = False
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
    return isinstance(hooks, dict) and any(_ours_in(g) for g in hooks.values())


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


def plugin_files(command: str, *, events: Iterable[str] = EVENTS) -> dict[Path, str]:
    """The files of a Claude Code / Cowork plugin that runs our hook, by relative path.

    The command is the absolute interpreter path, not ``${CLAUDE_PLUGIN_ROOT}``: the hook
    is the installed package, nothing inside the plugin folder.
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
    directory: Path, command: str, *, events: Iterable[str] = EVENTS, dry_run: bool = False
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

"""Our hook entries in a Claude Code settings document: the command, the events, and the pure
merge that adds or removes them (text in, text out; :mod:`affidavit.capture.install` reads and
writes the files).

Claude Code reads hooks from ``{"hooks": {"<Event>": [{"matcher": "...", "hooks":
[{"type": "command", "command": "...", "timeout": N}]}]}}`` in ``~/.claude/settings.json``
(``$CLAUDE_CONFIG_DIR`` moves it), ``<project>/.claude/settings.json``, the managed settings
folder's ``managed-settings.d/*.json`` drop-ins (merged alphabetically on top of
``managed-settings.json``; arrays such as hook lists are concatenated), and a plugin's
``hooks/hooks.json`` next to ``.claude-plugin/plugin.json`` (code.claude.com/docs/en/hooks,
/settings, /managed-settings, /plugins-reference).

With ``--http URL`` the single hook is an ``http`` handler instead (:func:`http_handler`),
recognised as ours by its URL ending in ``/v1/hooks`` with ``AFFIDAVIT_TOKEN`` in its
``allowedEnvVars``.

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
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from affidavit.errors import InputError

MARKER = "-m affidavit hook"
TIMEOUT = 30  # seconds; capture is one short SQLite transaction, this only bounds a hang
HOOKS_PATH = "/v1/hooks"  # the collector's route for http hooks (affidavit.server.hooks)
TOKEN_ENV = "AFFIDAVIT_TOKEN"
# An http hook waits for the collector's answer: short, so a slow network costs the agent
# little (a timeout is a non-blocking error); the collector answers within its own deadline.
HTTP_TIMEOUT = 10
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
Handler = str | dict[str, Any]
"""A command line (a ``command`` hook) or a whole ``http`` hook handler."""
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


@dataclass(frozen=True, slots=True)
class Plan:
    """A settings file's new text (``None``: delete the file) and how many entries moved."""

    text: str | None
    added: int = 0
    removed: int = 0


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


# The session variables a command hook reads itself (affidavit.capture.events.SESSION_ENV),
# forwarded by an http hook as headers. Claude Code puts "" for an unset variable, and the
# collector ignores an empty header, so a laptop's session sends nothing.
SESSION_HEADERS = {
    "X-Affidavit-Remote": "CLAUDE_CODE_REMOTE",
    "X-Affidavit-Remote-Session": "CLAUDE_CODE_REMOTE_SESSION_ID",
}


def http_handler(url: str, *, token_env: str = TOKEN_ENV) -> dict[str, Any]:
    """The ``http`` hook handler that POSTs every event to a collector's ``/v1/hooks``.

    Shape from the hooks reference, "HTTP hook fields" (code.claude.com/docs/en/hooks) and
    SchemaStore's settings schema: ``url``, ``headers`` whose ``$VAR`` values Claude Code fills
    only from ``allowedEnvVars``, ``timeout`` in seconds. The token never sits in the file:
    it comes from ``$<token_env>`` on the machine that runs the agent. The cloud session
    variables go along as :data:`SESSION_HEADERS`, so the collector can say ``remote``.
    """
    parsed = urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InputError(f"--http {url!r}: give the collector's address, https://HOST[:PORT]")
    if parsed.query or parsed.fragment:
        raise InputError(f"--http {url!r}: no query or fragment; the address of the collector")
    if not _ENV_NAME.fullmatch(token_env):
        raise InputError(f"{token_env!r} is not an environment variable name")
    base = urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))
    return {
        "type": "http",
        "url": base if base.endswith(HOOKS_PATH) else base + HOOKS_PATH,
        "headers": {
            "Authorization": f"Bearer ${token_env}",
            **{header: f"${name}" for header, name in SESSION_HEADERS.items()},
        },
        "allowedEnvVars": [token_env, *SESSION_HEADERS.values()],
        "timeout": HTTP_TIMEOUT,
    }


def _is_ours(hook: object) -> bool:
    if not isinstance(hook, dict):
        return False
    if hook.get("type") == "http":
        env = hook.get("allowedEnvVars")
        url = hook.get("url")
        return (
            isinstance(url, str)
            and url.endswith(HOOKS_PATH)
            and isinstance(env, list)
            and TOKEN_ENV in env
        )
    return MARKER in str(hook.get("command", ""))


def _entry(event: str, handler: Handler) -> dict[str, Any]:
    hook = (
        {"type": "command", "command": handler, "timeout": TIMEOUT}
        if isinstance(handler, str)
        else dict(handler)
    )
    return {"matcher": "*", "hooks": [hook]} if event in TOOL_EVENTS else {"hooks": [hook]}


# ---- planning (pure: text in, text out) -----------------------------------------------------


def plan_install(
    text: str | None,
    command: Handler,
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
    wanted = list(dict.fromkeys([*events, *(e for e in hooks if ours_in(hooks[e]))]))
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
        if isinstance(groups, list) and ours_in(groups):
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


def ours_in(groups: object) -> bool:
    return isinstance(groups, list) and any(
        _is_ours(h) for g in _groups(groups) for h in g["hooks"]
    )


def _exact(hook: object, handler: Handler) -> bool:
    if isinstance(handler, str):
        return isinstance(hook, dict) and hook.get("command") == handler
    return hook == handler


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

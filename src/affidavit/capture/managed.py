"""``affidavit install --scope managed``: Claude Code's managed settings, locked for the audit.

Claude Code reads managed settings from ``managed-settings.json`` in a system folder
(``/etc/claude-code`` on Linux and WSL, ``/Library/Application Support/ClaudeCode`` on
macOS) and merges the ``managed-settings.d/*.json`` drop-ins beside it on top; no user,
project or ``--settings`` value overrides them (code.claude.com/docs/en/managed-settings,
/settings, /permissions). Install writes one drop-in, ``affidavit.json``, which is wholly
ours, holding:

* ``hooks``: the capture hook on every audited event (:mod:`affidavit.capture.install`);
* ``allowManagedHooksOnly: true``: user, project and plugin hooks are not loaded, so a
  settings file the agent can write cannot add a hook that runs before ours or replace it;
* ``permissions.deny``: ``Read``, ``Edit`` and ``Write`` of the service's ledger and key
  folder, its socket and configuration folders and the per-user folders of direct mode
  (ledger, key, spool), and ``Bash`` commands that name them; ``Edit``/``Write`` of the
  managed settings folder itself. Path rules use the gitignore-style forms of the
  permissions reference: ``//abs/path/**`` from the file system root, ``~/path/**`` from
  the home folder.

The deny rules are a tripwire, not the wall: Claude Code matches ``Bash`` rules against the
command text, which a command can dodge (``cd /var/lib && cat affidavit/*``). What keeps the
agent out in service mode is the file ownership (:mod:`affidavit.capture.system`).

The drop-in is written whole (0644, root's) and removed whole; the folders install made for
it are noted in the install manifest (``managed`` section) and removed again if empty.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from affidavit.capture import install as settings
from affidavit.capture import settings_merge
from affidavit.capture.system import Layout, Plan, Step
from affidavit.capture.system_apply import folder_steps, load_manifest, manifest_step, under
from affidavit.errors import InputError

SCHEMA = "https://json.schemastore.org/claude-code-settings.json"
DROP_IN_DIR = "managed-settings.d"


def drop_in(layout: Layout) -> str:
    return f"{layout.managed}/{DROP_IN_DIR}/{settings.DROP_IN}"


def deny_rules(layout: Layout) -> list[str]:
    """The ``permissions.deny`` rules that keep the agent's tools off Affidavit's files."""
    rules: list[str] = []
    for folder in (layout.state, layout.socket_dir, layout.config):
        rules += [f"{tool}(/{folder}/**)" for tool in ("Read", "Edit", "Write")]
        rules.append(f"Bash(*{folder}*)")
    for home in layout.home_dirs:
        rules += [f"{tool}({home}/**)" for tool in ("Read", "Edit", "Write")]
        rules.append(f"Bash(*{home.removeprefix('~/')}*)")
    rules += [f"{tool}(/{layout.managed}/**)" for tool in ("Edit", "Write")]
    return rules


def document(
    command: settings.Handler, layout: Layout, *, events: tuple[str, ...]
) -> dict[str, Any]:
    """The drop-in's settings: our hooks, managed hooks only, and the deny rules.

    With an ``http`` handler (``--http``: machines with no Python, Cowork's VM) there is no
    local ledger, key or spool to keep the agent off, so no deny rules."""
    out: dict[str, Any] = {"$schema": SCHEMA, "allowManagedHooksOnly": True}
    if isinstance(command, str):
        out["permissions"] = {"deny": deny_rules(layout)}
    hooks = settings.plugin_files(command, events=events)[settings.PLUGIN_HOOKS]
    out["hooks"] = json.loads(hooks)["hooks"]
    return out


def text_of(command: settings.Handler, layout: Layout, *, events: tuple[str, ...]) -> str:
    return json.dumps(document(command, layout, events=events), indent=2) + "\n"


def plan_install(
    plan: Plan, *, root: Path, command: settings.Handler, events: tuple[str, ...], native: bool
) -> None:
    """Add the steps that write the drop-in (and the folders it needs) to ``plan`` (empty, or
    the ``--system`` plan, whose manifest step this one's replaces), noted in the manifest."""
    layout = plan.layout
    path = drop_in(layout)
    text = text_of(command, layout, events=events)
    where = under(root, path)
    before = where.read_text(encoding="utf-8") if native and where.exists() else None
    if before is not None and not _ours(before):
        raise InputError(f"{where} exists and is not Affidavit's; nothing was changed")
    old = load_manifest(root, layout) if native else None
    for step in [s for s in plan.steps if s.target == str(layout.manifest)]:
        assert step.text is not None
        old = json.loads(step.text)  # the --system plan's: merge into it
        plan.steps.remove(step)
    made: dict[str, Any] = {"folders": [], "files": {}}
    shared: list[str] = []
    owner = ("root", layout.root_group)
    folder = PurePosixPath(path).parent
    folder_steps(plan, root, folder, 0o755, owner, made["folders"], native=native)
    if before != text:
        plan.steps.append(Step("file", path, 0o644, owner, text=text))
    made["files"][path] = None  # ours whole: removed even if an admin edited it
    folder_steps(plan, root, layout.config, 0o755, owner, shared, native=native)
    plan.steps.append(manifest_step(layout, old, "managed", made, shared))


def _ours(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    hooks = value.get("hooks") if isinstance(value, dict) else None
    return isinstance(hooks, dict) and any(settings_merge.ours_in(g) for g in hooks.values())

"""Undo ``install --system`` / ``--scope managed`` from the install manifest.

Uninstall removes what the manifest (:mod:`affidavit.capture.system_apply`) names and
nothing else: a file changed since install is kept and named; a ledger holding records is
kept with its key, its folder and the account that owns them (the records are the
evidence), and the manifest is rewritten to name just what is left. What is already gone is
skipped, so an install that stopped half way is undone too.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from affidavit.capture.system import Layout, Plan, Step
from affidavit.capture.system_apply import (
    Accounts,
    load_manifest,
    run_tool,
    sha_text,
    stop_argv,
    under,
    with_root,
)
from affidavit.files import write_atomically


def plan_uninstall(layout: Layout, *, root: Path, sections: tuple[str, ...]) -> Plan:
    """Steps that remove what the manifest's ``sections`` (system, managed) name, ``keep``
    steps for what stays, and the manifest rewritten or removed."""
    manifest = load_manifest(root, layout)
    plan = Plan(layout, "", "")
    if manifest is None:
        return plan
    rest = dict(manifest)
    for section in sections:
        part: dict[str, Any] = rest.pop(section, None) or {}
        kept = _section_steps(plan, part, layout, root=root, section=section)
        if kept:
            rest[section] = kept
    if not any(s.what == "remove" for s in plan.steps) and rest == manifest:
        return plan  # nothing of these sections is installed
    if "system" in rest or "managed" in rest:
        text = json.dumps(rest, indent=2) + "\n"
        plan.steps.append(Step("file", str(layout.manifest), 0o644, ("root", layout.root_group),
                               text=text, note="what is left to uninstall"))  # fmt: skip
    else:
        plan.steps.append(Step("remove", str(layout.manifest)))
        for folder in reversed(manifest.get("folders", [])):
            if under(root, folder).is_dir():
                plan.steps.append(Step("remove", folder, note="folder, if empty"))
    return plan


def _section_steps(
    plan: Plan, part: dict[str, Any], layout: Layout, *, root: Path, section: str
) -> dict[str, Any]:
    """Append the steps undoing one section; returns what of it stays installed."""
    add = plan.steps.append
    if not part:
        return {}
    keep_state = False
    ledger = part.get("ledger")
    if ledger is not None and under(root, ledger).exists():
        count = _records(under(root, ledger))
        if count:
            keep_state = True
            add(Step("keep", ledger, note=f"holds {count} records: the evidence stays"))
    if section == "system" and root == Path("/") and str(layout.unit) in part.get("files", {}):
        add(Step("run", stop_argv(layout)[0], argv=tuple(stop_argv(layout))))
    for path, sha in part.get("files", {}).items():
        where = under(root, path)
        if sha is not None and where.exists() and sha_text(where.read_text("utf-8")) != sha:
            add(Step("keep", path, note="changed since install"))
        elif where.exists():
            add(Step("remove", path))
    for name in ("ledger", "key"):
        path = part.get(name)
        if path and not keep_state and under(root, path).exists():
            add(Step("remove", path))
            for suffix in ("-wal", "-shm") if name == "ledger" else ():
                if under(root, path + suffix).exists():
                    add(Step("remove", path + suffix))
    for folder in reversed(part.get("folders", [])):
        if keep_state and folder == str(layout.state):
            add(Step("keep", folder, note="holds the ledger"))
        elif under(root, folder).is_dir():
            add(Step("remove", folder, note="folder, if empty"))
    if part.get("account"):
        if keep_state:
            add(Step("keep", part["account"], note="owns the kept ledger"))
        elif Accounts(root, native=True).uid(part["account"]) is not None:
            add(Step("remove", part["account"], argv=tuple(_userdel(layout, part))))
    for group in reversed(part.get("groups", [])):
        if (
            not (keep_state and group == part.get("account"))
            and Accounts(root, native=True).gid(group) is not None
        ):
            linux = layout.platform == "linux"
            argv = ["groupdel", group] if linux else ["dseditgroup", "-o", "delete", group]
            add(Step("remove", group, argv=tuple(argv), note="group"))
    return _kept(plan, part, layout)


def _kept(plan: Plan, part: dict[str, Any], layout: Layout) -> dict[str, Any]:
    """What of ``part`` stays installed after the plan (a kept ledger and its owner)."""
    kept = {s.target for s in plan.steps if s.what == "keep"}
    out: dict[str, Any] = {}
    for name in ("account", "ledger", "key"):
        if part.get(name) in kept or (name == "key" and part.get("ledger") in kept):
            out[name] = part[name]
    if str(layout.state) in kept:
        top = str(layout.state)
        out["folders"] = [f for f in part.get("folders", []) if (top + "/").startswith(f + "/")]
    if "account" in out:
        out["groups"] = [g for g in part.get("groups", []) if g == out["account"]]
    files = {p: h for p, h in part.get("files", {}).items() if p in kept}
    if files:
        out["files"] = files
    return {k: v for k, v in out.items() if v}


def _userdel(layout: Layout, manifest: dict[str, Any]) -> list[str]:
    if layout.platform == "linux":
        return ["userdel", str(manifest["account"])]
    return ["dscl", ".", "-delete", f"/Users/{manifest['account']}"]


def _records(ledger: Path) -> int:
    try:
        conn = sqlite3.connect(f"{ledger.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1  # unreadable: treat as evidence, never delete it


def apply_uninstall(plan: Plan, *, root: Path) -> list[str]:
    """Run the uninstall plan; returns what was kept, for the summary."""
    layout = plan.layout
    db = Accounts(root, native=True)
    for step in plan.steps:
        if step.what == "run":
            if os.path.isdir("/run/systemd/system") or step.argv[0] != "systemctl":
                subprocess.run(list(step.argv), capture_output=True, check=False)
        elif step.what == "file":
            assert step.text is not None and step.mode is not None and step.owner is not None
            write_atomically(under(root, step.target), step.text, mode=step.mode,
                             owner=db.ids(step.owner))  # fmt: skip
        elif step.what != "remove":
            continue
        elif step.argv:
            if step.note == "group" and db.gid(step.target) is None:
                continue  # userdel took the user's own group with it
            run_tool(with_root(list(step.argv), root, layout))
        elif step.note.startswith("folder"):
            path = under(root, step.target)
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        else:
            under(root, step.target).unlink(missing_ok=True)
    return [f"kept {s.target} ({s.note})" for s in plan.steps if s.what == "keep"]

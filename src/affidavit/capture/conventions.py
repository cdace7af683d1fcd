"""The instructions in force: snapshot the files that tell the agent what to do.

CLAUDE.md (and CLAUDE.local.md) of the project, of each parent folder and of the user;
``scheduled-tasks.md``; ``.claude/settings.json`` and ``settings.local.json`` of the project
and the user; the skills, agents and commands folders. At SessionStart, ConfigChange and
FileChanged, and whenever their (path, size, mtime) fingerprint changed since the last event
for that folder, a ``convention.snapshot`` record lists each file with its hash, and the
contents go to the content store, so an auditor can see which instructions were in force
for any action. The fingerprint costs a few dozen ``stat`` calls per event.
"""

from __future__ import annotations

import os

from affidavit.capture import events, jsontext, snapshots
from affidavit.capture.digest import sha256_hex

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

    from affidavit.store.sqlite import SqliteStore

FORCING_EVENTS = frozenset({"SessionStart", "ConfigChange", "FileChanged", "InstructionsLoaded"})
FOLDERS = ("skills", "agents", "commands")
MAX_FOLDER_FILES = 200


def _folder_files(root: str) -> list[str]:
    found: list[str] = []
    stack = [root]
    while stack and len(found) < MAX_FOLDER_FILES:
        try:
            with os.scandir(stack.pop()) as entries:
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file() and len(found) < MAX_FOLDER_FILES:
                        found.append(e.path)
        except (OSError, ValueError):  # ValueError: a NUL in the event's cwd
            continue
    return sorted(found)


def candidates(cwd: str, home: str) -> list[str]:
    """Every place an instruction or configuration file may sit, nearest first."""
    paths: list[str] = []
    project = os.path.join(cwd, ".claude")
    names = ("CLAUDE.md", "settings.json", "settings.local.json")
    paths += [os.path.join(project, n) for n in names]
    paths.append(os.path.join(cwd, "scheduled-tasks.md"))
    folder = cwd
    while True:
        paths += [os.path.join(folder, n) for n in ("CLAUDE.md", "CLAUDE.local.md")]
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    user = os.path.join(home, ".claude")
    paths += [os.path.join(user, n) for n in ("CLAUDE.md", "settings.json")]
    for base in (project, user):
        for name in FOLDERS:
            paths += _folder_files(os.path.join(base, name))
    return list(dict.fromkeys(paths))


def fingerprint(event: dict[str, Any]) -> tuple[str, str, dict[str, snapshots.Stat]] | None:
    """(meta key, fingerprint, stats) of the conventions files around the event's cwd."""
    cwd = event.get("cwd")
    if not isinstance(cwd, str) or not cwd:
        return None
    stats = {}
    for path in candidates(cwd, os.path.expanduser("~")):
        st = snapshots.stat_of(path)
        if st is not None:
            stats[path] = st
    print_ = sha256_hex(jsontext.dumps(sorted(stats.items())).encode())
    return memo_key(cwd), print_, stats


def forced(event: dict[str, Any]) -> bool:
    """Whether the event asks for a snapshot whatever the fingerprint says."""
    name = event.get("hook_event_name")
    return isinstance(name, str) and name in FORCING_EVENTS


def snapshot_draft(
    event: dict[str, Any],
    stats: dict[str, snapshots.Stat],
    actor: dict[str, Any],
    max_bytes: int,
) -> tuple[tuple[str, dict[str, Any]], list[snapshots.Snapshot]]:
    """The convention.snapshot draft and the contents it names (to keep)."""
    name = event.get("hook_event_name")
    name = name if isinstance(name, str) else None  # a list is not even hashable
    files = []
    snaps = []
    for path in stats:
        snap = snapshots.snapshot(path, max_bytes)
        if snap.sha256 is None:
            continue
        snaps.append(snap)
        files.append({"path": path, "sha256": snap.sha256, "size": snap.size})
    product, surface = events.product_and_surface(event)
    agent = {
        k: v
        for k, v in {
            "product": product,
            "surface": surface,
            "session_id": event.get("session_id"),
            "event": name,
            "cwd": event.get("cwd"),
        }.items()
        if isinstance(v, str)
    }
    trigger = name if name in FORCING_EVENTS else "changed"
    payload = {"actor": actor, "agent": agent, "conventions": {"trigger": trigger, "files": files}}
    return ("convention.snapshot", payload), snaps


def check(
    conn: sqlite3.Connection,
    store: SqliteStore,
    event: dict[str, Any],
    actor: dict[str, Any],
    max_bytes: int,
) -> list[tuple[str, dict[str, Any]]]:
    """A convention.snapshot draft when the conventions changed or the event asks for one."""
    found = fingerprint(event)
    if found is None:
        return []
    key, print_, stats = found
    if not forced(event) and store.meta(key) == print_:
        return []
    draft, snaps = snapshot_draft(event, stats, actor, max_bytes)
    for snap in snaps:
        snapshots.keep(conn, snap)
    store.set_meta(key, print_)
    return [draft]


def memo_key(cwd: str) -> str:
    """The ``meta`` key that remembers a folder's conventions. A folder name that is not
    UTF-8 (lone surrogates from ``os.fsdecode`` or a hostile event) is not SQLite text, so
    its key holds the name's hash instead: such a name cannot be in a payload either."""
    try:
        cwd.encode("utf-8")
    except UnicodeEncodeError:
        digest = sha256_hex(cwd.encode("utf-8", "surrogatepass"))
        return f"conventions:sha256:{digest}"
    return f"conventions:{cwd}"

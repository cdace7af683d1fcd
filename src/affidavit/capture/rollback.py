"""Undo one file action, and show what it changed.

``rollback`` puts back the bytes a recorded action replaced, but only when the file still
holds what the action left (its after-hash); anything else means someone changed it since,
and overwriting that needs ``force``. The restore is itself recorded as ``file.restore``.
Writes go to a temporary file in the same folder, are fsync-ed, then renamed over the path,
so a crash leaves either the old or the new bytes; a symlink at the path is replaced, never
written through, so a rollback cannot write outside the path it names. A rollback killed
after putting the file back and before recording it is finished by running it again: the
file already holds what the rollback leaves, so it is recorded (``found_restored``) without
``--force``; a rollback already recorded is refused, naming its ``file.restore`` record.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from affidavit import query
from affidavit.capture import content, snapshots
from affidavit.errors import InputError, LedgerError
from affidavit.files import write_atomically
from affidavit.ledger import Ledger
from affidavit.record import Record

FILE_KINDS = ("file.create", "file.update", "file.delete", "file.rename", "file.restore")


@dataclass(frozen=True, slots=True)
class FileAction:
    seq: int
    kind: str
    path: str
    old_path: str | None
    before: str | None
    after: str | None
    cwd: str | None = None
    """The agent's working folder when the action was recorded (its workspace)."""


def file_action(ledger: Ledger, seq: int) -> FileAction:
    rec = ledger.record(seq)
    if rec.envelope.kind not in FILE_KINDS:
        raise InputError(f"record {seq} is a {rec.envelope.kind}, not a file change")
    payload = rec.payload
    if payload is None:
        raise InputError(f"record {seq} is erased; its file details are gone")
    file = payload.get("file") or {}
    if not isinstance(file, dict) or not isinstance(file.get("path"), str):
        raise InputError(f"record {seq} names no file path")
    for field in ("old_path", "before_sha256", "after_sha256"):
        if not isinstance(file.get(field), str | None):
            raise InputError(f"record {seq}: field file.{field} is not text")
    before, after = file.get("before_sha256"), file.get("after_sha256")
    if rec.envelope.kind == "file.delete":
        after = None
    agent = payload.get("agent")
    cwd = agent.get("cwd") if isinstance(agent, dict) else None
    return FileAction(
        seq,
        rec.envelope.kind,
        file["path"],
        file.get("old_path"),
        before,
        after,
        cwd if isinstance(cwd, str) else None,
    )


def _leaves_workspace(path: str, cwd: str | None) -> bool:
    """Whether ``path``, lexically inside the workspace ``cwd``, lies outside it once the
    folders on the way are resolved: a folder symlink planted in the workspace leads out."""
    if cwd is None or not os.path.isabs(cwd):
        return False
    cwd, folder = os.path.normpath(cwd), os.path.dirname(os.path.normpath(path))
    if os.path.commonpath([folder, cwd]) != cwd:
        return False
    real = os.path.realpath(cwd)
    return os.path.commonpath([os.path.realpath(folder), real]) != real


def _content(ledger: Ledger, sha256: str | None, what: str) -> bytes | None:
    if sha256 is None:
        return None
    data = content.get_blob(ledger.store.connection, sha256)
    if data is None:
        raise LedgerError(f"the {what} content ({sha256[:12]}…) was not kept (over the size cap?)")
    return data


def diff(ledger: Ledger, seq: int) -> str:
    """Unified diff of one file action; binary content is summarised, never dumped."""
    action = file_action(ledger, seq)
    old = _content(ledger, action.before, "before") if action.kind != "file.create" else None
    new = _content(ledger, action.after, "after")
    old_name = action.old_path or action.path
    if b"\0" in (old or b"") or b"\0" in (new or b""):
        sizes = f"{len(old or b'')} -> {len(new or b'')} bytes"
        return f"Binary files {old_name} and {action.path} differ ({sizes})\n"
    lines = difflib.unified_diff(
        (old or b"").decode("utf-8", "replace").splitlines(keepends=True),
        (new or b"").decode("utf-8", "replace").splitlines(keepends=True),
        fromfile="/dev/null" if old is None else f"a/{old_name.lstrip('/')}",
        tofile="/dev/null" if new is None else f"b/{action.path.lstrip('/')}",
    )
    marker = "\n\\ No newline at end of file\n"
    return "".join(line if line.endswith("\n") else line + marker for line in lines)


def rollback(
    ledger: Ledger, seq: int, *, force: bool = False, actor: dict[str, Any] | None = None
) -> int:
    """Restore the file to its state before record ``seq``; returns the file.restore seq."""
    action = file_action(ledger, seq)
    target = action.path
    for path in (target, action.old_path):
        # A relative path (or another system's, such as C:\\x) would land wherever the
        # rollback happens to run, not on the file the action touched.
        if path is not None and (not os.path.isabs(path) or "\0" in path):
            raise InputError(
                f"record {seq} names {path[:200]!r}, not an absolute path on this system; "
                "cannot tell which file to restore"
            )
        if path is not None and _leaves_workspace(path, action.cwd):
            # Even with --force: the workspace was changed so the path leads out of it.
            raise InputError(
                f"{path} leads out of the workspace {action.cwd} through a symbolic link "
                f"(to {os.path.realpath(os.path.dirname(path))}); not writing there"
            )
    current = snapshots.snapshot(target, max_bytes=0)
    if current.sha256 != action.after and not force and _undone(action, current):
        done = _restore_of(ledger, seq)
        if done is not None:
            raise InputError(f"record {seq} was already rolled back, by record {done}")
        # A rollback killed between putting the file back and recording it: record it now,
        # so the change is in the log and running the rollback again needs no --force.
        renamed = action.kind == "file.rename" and action.old_path
        restored_path = action.old_path if renamed and action.old_path else target
        restored = None if action.kind == "file.create" else action.before
        return _record(
            ledger,
            seq,
            path=restored_path,
            target=target,
            before=None,
            after=restored,
            actor=actor,
            forced=False,
            found=True,
        )
    if current.sha256 != action.after and not force:
        now = "absent" if current.sha256 is None else f"sha256 {current.sha256[:12]}…"
        want = "absent" if action.after is None else f"sha256 {action.after[:12]}…"
        raise InputError(
            f"{target} changed since record {seq}: it is {now}, the action left it {want}; "
            "use --force to overwrite it anyway"
        )
    if action.kind not in ("file.create", "file.rename") and action.before is None:
        raise InputError(f"record {seq} does not know what {target} held before; cannot undo it")
    mode = os.stat(target).st_mode & 0o7777 if current.exists else None
    if action.kind == "file.rename" and action.old_path:
        if os.path.lexists(action.old_path) and not force:
            raise InputError(f"{action.old_path} exists again; use --force to replace it")
        if not os.path.lexists(target):
            raise InputError(f"{target} is gone; there is nothing to move back")
        _make_folder(action.old_path)
        os.replace(target, action.old_path)
        restored_path, restored = action.old_path, action.before
    elif action.kind == "file.create":
        if current.exists:
            os.unlink(target)
        restored_path, restored = target, None
    else:
        data = _content(ledger, action.before, "before")
        assert data is not None
        _make_folder(target)
        write_atomically(target, data, mode=mode)
        restored_path, restored = target, action.before
    forced = force and current.sha256 != action.after
    return _record(
        ledger,
        seq,
        path=restored_path,
        target=target,
        before=current.sha256,
        after=restored,
        actor=actor,
        forced=forced,
    )


def _make_folder(path: str) -> None:
    """Recreate the folders a shell ``rm -r`` took with the file (checked to stay inside the
    workspace above, before anything is written)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)


def _record(
    ledger: Ledger,
    seq: int,
    *,
    path: str,
    target: str,
    before: str | None,
    after: str | None,
    actor: dict[str, Any] | None,
    forced: bool,
    found: bool = False,
) -> int:
    """Append the file.restore record; ``found``: the file was found already restored (by a
    rollback that ended before recording it), so nothing was written and what it held
    before is not known."""
    restore: dict[str, Any] = {"of_seq": seq, "forced": forced}
    if found:
        restore["found_restored"] = True
    record = Record.create(
        "file.restore",
        "affidavit.rollback",
        {
            "actor": actor or {},
            "file": {
                k: v
                for k, v in {
                    "path": path,
                    "before_sha256": before,
                    "after_sha256": after,
                    "old_path": target if path != target else None,
                }.items()
                if v is not None
            },
            "restore": restore,
        },
        time=datetime.now(UTC),
    )
    return ledger.append([record])[0]


def _undone(action: FileAction, current: snapshots.Snapshot) -> bool:
    """Whether the files are already as undoing ``action`` leaves them."""
    if action.kind == "file.rename" and action.old_path:
        back = snapshots.snapshot(action.old_path, max_bytes=0)
        return not current.exists and back.sha256 is not None and back.sha256 == action.before
    if action.kind == "file.create":
        return not current.exists
    return current.sha256 is not None and current.sha256 == action.before


def _restore_of(ledger: Ledger, seq: int) -> int | None:
    """The seq of a file.restore record that undid record ``seq``, if there is one."""
    _, rows = query.actions(ledger.store, query.Filters(kinds=("file.restore",)))
    for row in rows:
        restore_seq = int(row[0])  # type: ignore[call-overload]
        if restore_seq <= seq:
            continue
        record = ledger.store.record(restore_seq)
        body = None if record is None else record[4]
        restore = json.loads(body).get("restore") if body is not None else None
        if isinstance(restore, dict) and restore.get("of_seq") == seq:
            return int(restore_seq)
    return None

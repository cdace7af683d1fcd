"""What the hook sees on disk for one event, before anything is written.

It runs as the user, so it alone can read the user's files: the snapshots of a file before
and after a Write/Edit, of a file the agent read, and the workspace manifest around a shell
command. Two facts come from the ledger: what the PreToolUse of the same tool call saw (the
``pending`` state) and the last hash known for a file under its stat (``file_state``).
A :class:`Lookup` answers them: over the ledger's connection in direct mode
(:class:`ConnLookup`), over the socket in service mode
(:class:`affidavit.capture.client.RemoteLookup`).

Standard library only: this runs in the hook.
"""

from __future__ import annotations

import os
import zlib

from affidavit.capture import events, jsontext, snapshots, state

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any, Protocol

    Draft = tuple[str, dict[str, Any]]

    class Lookup(Protocol):
        def pending(self, use_id: str, *, packed: bool) -> Any: ...

        def recall(self, items: list[tuple[str, snapshots.Stat]]) -> list[str | None]: ...


class ConnLookup:
    """The ledger's own connection answers (direct mode)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def pending(self, use_id: str, *, packed: bool) -> Any:
        return state.load_pending(self.conn, use_id, packed=packed)

    def recall(self, items: list[tuple[str, snapshots.Stat]]) -> list[str | None]:
        return [state.recall(self.conn, path, st) for path, st in items]


class Observation:
    """One event's view of the disk: facts for its record, extra records, contents to keep."""

    def __init__(self, max_file_bytes: int, manifest_cap: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.manifest_cap = manifest_cap
        self.observed: dict[str, Any] = {}
        self.extra: list[Draft] = []
        self.blobs: list[snapshots.Snapshot] = []
        self.remembered: list[tuple[str, snapshots.Stat, str]] = []
        self.pending: tuple[str, bytes] | None = None
        self.done_pending: str | None = None
        self.reads: list[tuple[str, str | None, snapshots.Snapshot]] = []  # files only read

    def observe(self, event: dict[str, Any], lookup: Lookup) -> None:
        """Read the disk (before any lock is taken): snapshots and Bash manifests."""
        name = event.get("hook_event_name")
        tool = event.get("tool_name")
        use_id = event.get("tool_use_id")
        tool_input = event.get("tool_input")
        if not isinstance(tool, str) or not isinstance(use_id, str):
            return
        tool_input = tool_input if isinstance(tool_input, dict) else {}
        if tool in events.FILE_WRITERS:
            path = events.file_path_of(tool_input)
            if path is None:
                return
            snap = snapshots.snapshot(path, self.max_file_bytes)
            self.track(path, snap)
            if name == "PreToolUse":
                seen = {"before": snap.sha256, "known": snap.exists}
                self.pending = (use_id, jsontext.dumps(seen).encode())
                self.observed = {"before_sha256": snap.sha256, "before_known": snap.exists}
                return
            before = lookup.pending(use_id, packed=False)
            self.done_pending = use_id
            observed: dict[str, Any] = {}
            if before is not None:
                observed["before_sha256"] = before.get("before")
                observed["before_known"] = before.get("known")
            if snap.exists:
                observed["after_sha256"] = snap.sha256
                observed["size"] = snap.size
            self.observed = {k: v for k, v in observed.items() if v is not None}
        elif tool == "Read" and name == "PostToolUse":
            # Keep what the agent read, where the config allows (capture/reads.py): a later
            # shell `rm` of it can then be rolled back.
            path = events.file_path_of(tool_input)
            if path is not None:
                snap = snapshots.snapshot(path, self.max_file_bytes)
                self.track(path, snap)
                cwd = event.get("cwd")
                self.reads.append((path, cwd if isinstance(cwd, str) else None, snap))
                if snap.sha256 is not None:
                    self.observed = {"before_sha256": snap.sha256, "size": snap.size}
        elif tool in ("Bash", "PowerShell"):
            cwd = event.get("cwd")
            if not isinstance(cwd, str) or not os.path.isdir(cwd):
                return
            manifest, capped = snapshots.scan([cwd], self.manifest_cap)
            if name == "PreToolUse":
                from affidavit.capture import preimages  # shell pre-images, for rollback

                pre = preimages.take(tool, tool_input, cwd, self.max_file_bytes)
                packed = zlib.compress(jsontext.dumps([manifest, capped, pre.state()]).encode(), 1)
                self.pending = (use_id, packed)
                self.observed = {"preimages": pre.summary()}
                return
            kept = lookup.pending(use_id, packed=True)
            self.done_pending = use_id
            if kept is not None:
                self.extra = self.side_effects(event, kept, manifest, capped, lookup)

    def track(self, path: str, snap: snapshots.Snapshot) -> None:
        if snap.sha256 is None:
            return
        self.blobs.append(snap)
        st = snapshots.stat_of(path)
        if st is not None:
            self.remembered.append((path, st, snap.sha256))

    def side_effects(
        self,
        event: dict[str, Any],
        kept: Any,
        after: dict[str, snapshots.Stat],
        capped_after: bool,
        lookup: Lookup,
    ) -> list[Draft]:
        """File records for what a shell command changed, attributed to its tool_use_id."""
        before: dict[str, snapshots.Stat] = {p: tuple(v) for p, v in kept[0].items()}
        created, updated, deleted, renamed = snapshots.diff(before, after)
        # Pre-images taken at PreToolUse first (they bring the bytes, for rollback); then one
        # question for every other before-hash, so service mode makes one round trip.
        from affidavit.capture.preimages import Before

        images = Before(None, kept, self.blobs)
        asked = [p for p in updated if p in before] + deleted + [old for old, _ in renamed]
        priors: dict[str, str | None] = {}
        for p in asked:
            found = images.preimage(before[p])
            if found is not None:
                priors[p] = found
        rest = [p for p in asked if p not in priors]
        priors.update(zip(rest, lookup.recall([(p, before[p]) for p in rest]), strict=True))
        agent = _agent_of(event)
        tool_input = event.get("tool_input")
        text = tool_input.get("command") if isinstance(tool_input, dict) else None
        command = {"text": text} if isinstance(text, str) else {}
        out: list[Draft] = []

        def add(kind: str, file: dict[str, Any]) -> None:
            body = {k: v for k, v in file.items() if v is not None}
            payload = {"agent": dict(agent), "command": command, "file": body}
            out.append((kind, {**payload, "via": "command-side-effect"}))

        for path in created + updated:
            snap = snapshots.snapshot(path, self.max_file_bytes)
            self.track(path, snap)
            add(
                "file.create" if path in created else "file.update",
                {
                    "path": path,
                    "before_sha256": priors.get(path),
                    "after_sha256": snap.sha256,
                    "size": snap.size if snap.exists else None,
                },
            )
        for path in deleted:
            add("file.delete", {"path": path, "before_sha256": priors.get(path)})
        for old, new in renamed:
            prior = priors.get(old)
            if prior is None:  # never hashed: a rename keeps the content, so hash it where it is
                snap = snapshots.snapshot(new, self.max_file_bytes)
                self.track(new, snap)
                prior = snap.sha256
            add(
                "file.rename",
                {"path": new, "old_path": old, "before_sha256": prior, "after_sha256": prior},
            )
        if kept[1] or capped_after:
            gap = {
                "reason": "workspace manifest hit its cap; changes past it unseen",
                "cap": self.manifest_cap,
            }
            out.append(("capture.gap", {"agent": dict(agent), "command": command, "gap": gap}))
        return out


def _agent_of(event: dict[str, Any]) -> dict[str, Any]:
    product, surface = events.product_and_surface(event)
    agent = {
        "product": product,
        "surface": surface,
        "session_id": event.get("session_id"),
        "prompt_id": event.get("prompt_id"),
        "tool_use_id": event.get("tool_use_id"),
        "tool": event.get("tool_name"),
        "event": event.get("hook_event_name"),
        "cwd": event.get("cwd"),
    }
    return {k: v for k, v in agent.items() if isinstance(v, str)}

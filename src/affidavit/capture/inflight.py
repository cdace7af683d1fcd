"""In-flight markers: a hook run killed while it held an event leaves a trace.

Claude Code kills a hook that overruns its timeout, and a user or the OS can kill one at any
time. A hook killed after it read its event and before it committed or spooled it would lose
the event without a word. So each run, once it has parsed its event, creates
``<ledger>.inflight/<pid>-<ns>`` (mode 0600, folder 0700) holding only the event's name,
session, tool and tool call id, the size and SHA-256 of its input and the time: no payload
content. The run holds an exclusive ``flock`` on it while it works and deletes it when the
event is committed or spooled.

A later run (the hook, inside its write transaction) finds a marker nobody holds a lock on:
its owner died, since the kernel drops a process's locks when it ends, however it ends. That
run records a ``capture.gap`` naming the lost event and deletes the marker after its commit,
unless the event reached the ledger after all: committed with the marker's name indexed, or
spooled under it (``marker`` in the spool entry).

In service mode the marker lives in the user's own ``<spool base>.inflight/`` and names the
delivery id; the next hook that reaches the service hands orphans over (``gaps``), and the
service records the gap unless that delivery arrived (:mod:`affidavit.capture.client`).
The lock, not the pid, says who is alive, so a reused pid cannot hide a dead run. A marker is
written under its lock, so an empty one with no lock is either being created right now or
its creator died in that instant: its pid decides. The marker is not fsync-ed: it must
survive the death of a process, not of the machine, and the fast path stays one small
create, one lock and one delete.

Standard library only: this runs in the hook.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress

from affidavit.capture import jsontext
from affidavit.files import PRIVATE_FILE, make_private_folder

try:
    import fcntl
except ImportError:  # Windows: the pid alone says whether the owner is alive
    fcntl = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Fields of the event a marker keeps: which event was lost, never what it said.
FIELDS = ("hook_event_name", "session_id", "tool_name", "tool_use_id")


def folder_of(ledger: str) -> str:
    return ledger + ".inflight"


class Marker:
    """This run's marker, held (locked) from :meth:`create` to :meth:`remove`."""

    __slots__ = ("fd", "path")

    def __init__(self, path: str, fd: int) -> None:
        self.path, self.fd = path, fd

    @classmethod
    def create(cls, ledger: str, facts: dict[str, Any]) -> Marker | None:
        """Mark this run as holding the event ``facts`` describes; None if it cannot (the
        run goes on: a marker is a safety net, never a reason to lose the event)."""
        folder = folder_of(ledger)
        path = os.path.join(folder, f"{os.getpid()}-{time.time_ns()}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            try:
                fd = os.open(path, flags, PRIVATE_FILE)
            except FileNotFoundError:
                make_private_folder(folder, narrow=True)
                fd = os.open(path, flags, PRIVATE_FILE)
        except OSError:
            return None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, jsontext.dumps(facts).encode())
        except OSError:
            with suppress(OSError):
                os.unlink(path)
            os.close(fd)
            return None
        return cls(path, fd)

    def remove(self) -> None:
        """The event is committed or spooled: drop the marker (unlink before unlocking, so a
        checker never sees it unlocked while it still names a live event)."""
        with suppress(OSError):
            os.unlink(self.path)
        with suppress(OSError):
            os.close(self.fd)


def facts_of(event: dict[str, Any] | None, raw_bytes: int, sha256: str) -> dict[str, Any]:
    """What a marker keeps about an event."""
    facts: dict[str, Any] = {"started": time.time(), "pid": os.getpid()}
    if event is not None:
        facts.update({k: event[k] for k in FIELDS if isinstance(event.get(k), str)})
    facts["input"] = {"bytes": raw_bytes, "sha256": sha256}
    return facts


def orphans(ledger: str, *, own: Marker | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(marker name, facts) of every marker whose run ended without removing it."""
    folder = folder_of(ledger)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    out = []
    for name in names:
        path = os.path.join(folder, name)
        if own is not None and path == own.path:
            continue
        facts = _orphaned(path, name)
        if facts is not None:
            out.append((name, facts))
    return out


def _orphaned(path: str, name: str) -> dict[str, Any] | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None  # removed meanwhile: its run finished
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return None  # its run is alive and holds it
        if os.fstat(fd).st_nlink == 0:
            return None  # removed between our open and our lock: finished
        data = os.read(fd, 1 << 16)
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops our lock
    pid = _pid_of(name)
    # Unlocked and empty: being created this instant, or its creator died right then.
    if (not data or fcntl is None) and (pid is None or _alive(pid)):
        return None
    try:
        facts = jsontext.loads(data) if data else {}
    except ValueError:
        facts = {}
    return facts if isinstance(facts, dict) else {}


def _pid_of(name: str) -> int | None:
    try:
        return int(name.split("-", 1)[0])
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def discard(ledger: str, names: list[str]) -> None:
    """Delete recorded orphans (after the transaction that recorded them committed)."""
    folder = folder_of(ledger)
    for name in names:
        with suppress(OSError):
            os.unlink(os.path.join(folder, name))


def gap_draft(
    name: str, facts: dict[str, Any], actor: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The ``capture.gap`` record for a lost event: when, which event, which session.

    The tool call id sits under ``gap``, not ``agent``: the lost event was never recorded,
    and indexing the gap under that call would read as if part of it were.
    """
    started = facts.get("started")
    when = (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
        if isinstance(started, (int, float))
        else None
    )
    lost = {k: facts[k] for k in FIELDS if isinstance(facts.get(k), str)}
    gap: dict[str, Any] = {
        "reason": "a hook run was killed after it read its event and before it recorded or "
        "spooled it; the event is lost",
        "started": when,
        "pid": facts.get("pid"),
        **lost,
    }
    if isinstance(facts.get("input"), dict):
        gap["input"] = facts["input"]
    agent = {k: lost[k] for k in ("session_id",) if k in lost}
    if "hook_event_name" in lost:
        agent["event"] = lost["hook_event_name"]
    payload = {
        "actor": actor,
        "agent": agent,
        "gap": {k: v for k, v in gap.items() if v is not None},
        "dedup_key": f"inflight:{name}",
    }
    return ("capture.gap", payload)

"""The files a shell command names, for a command an ``http`` hook sent: claimed, not observed.

The command hook compares the workspace before and after a ``Bash`` call and records a
``file.*`` record for each file that really changed (:mod:`affidavit.capture.observe`). The
collector cannot look at the disk the command ran on, so it records what the command itself
says: the command is read with the hook's own reader (:mod:`affidavit.capture.shell_commands`,
``disk=False``: no glob, ``~``, walk or existence test, which would look at the collector's
own disk), and each file it names as one it deletes, moves over, truncates or rewrites
becomes a ``file.claim`` record::

    file   {path}
    claim  {by: "command", observed: false}

beside the tool call's ``command.exec``, whose ``claims`` says how many were named and what
could not be read from the text alone (``missed``: a glob, ``$VAR``, ``~``, ``find -delete``,
``git reset --hard``...). A claim says the command was written to change the file, not that it
did: the command may have failed half-way or the file may not have existed. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from affidavit.capture import events, shell_commands

Draft = tuple[str, dict[str, Any]]
MAX_CLAIMS = 200  # files claimed per command; more are counted in ``claims.more``
_AFTER = ("PostToolUse", "PostToolUseFailure")


def claim_drafts(event: Mapping[str, Any], drafts: list[Draft]) -> list[Draft]:
    """The ``file.claim`` drafts of a finished shell command; ``drafts[0]`` (its
    ``command.exec``) gets the ``claims`` summary. Nothing for any other event."""
    if event.get("hook_event_name") not in _AFTER or event.get("tool_name") not in events.SHELLS:
        return []
    if not drafts or "command" not in drafts[0][1]:
        return []
    tool_input = event.get("tool_input")
    command = tool_input.get("command") if isinstance(tool_input, Mapping) else None
    cwd = event.get("cwd")
    if not isinstance(command, str) or not isinstance(cwd, str) or not cwd.startswith("/"):
        return []  # a relative or unknown cwd: no path would mean anything
    found = shell_commands.targets(command, cwd, disk=False)
    paths = list(found.paths)
    head = drafts[0][1]
    summary: dict[str, Any] = {"files": len(paths)}
    if len(paths) > MAX_CLAIMS:
        summary["more"] = len(paths) - MAX_CLAIMS
    if found.misses:
        summary["missed"] = [{"path": p, "reason": why} for p, why in found.misses]
    if found.dropped:
        summary["missed_more"] = found.dropped
    head["claims"] = summary
    base: dict[str, Any] = {k: head[k] for k in ("actor", "agent", "outcome") if k in head}
    return [
        (
            "file.claim",
            {**base, "file": {"path": path}, "claim": {"by": "command", "observed": False}},
        )
        for path in paths[:MAX_CLAIMS]
    ]

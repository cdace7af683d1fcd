"""Whose session an imported transcript records, as far as the evidence in the file goes.

An import is often run by someone other than the person whose agent acted: an admin
collecting transcripts from a laptop, an auditor reading a copied folder. So the importer's
own account is never taken as the actor; it is recorded apart, as ``imported_by``. The owner
is inferred, strongest evidence first:

1. **The transcript's location.** Claude Code keeps an account's transcripts in that
   account's home: ``<home>/.claude/projects/<project>/<session>.jsonl``; Cowork keeps its
   sessions under ``<home>/Library/Application Support/Claude/local-agent-mode-sessions/``
   (macOS) or ``<home>\\AppData\\Roaming\\Claude\\local-agent-mode-sessions\\`` (Windows),
   the next two folders being the Claude account and organization. The home is the path's
   leading ``/Users/NAME``, ``/home/NAME``, ``/root``, ``/var/root``, ``C:\\Users\\NAME`` (any
   drive, either slash) or ``/mnt/c/Users/NAME`` (WSL). A home without one of those two
   markers after it proves nothing (anyone can copy a file into their Downloads), and
   ``CLAUDE_CONFIG_DIR`` can move the folder anywhere, so a location without both is no
   evidence.
2. **The session's working directory** (``cwd``), when it lies in a home: the agent ran
   there. Weaker, since one account can work in another's folder, so it decides only when
   the location says nothing. When both name someone and differ, the cwd's user is kept
   beside the owner (``cwd_user``) so the disagreement stays visible.
3. **Account fields** of the lines. The Claude Code transcripts seen so far (versions
   1.0 to 2.1) carry no account id or email, only ``userType`` (``external`` for a customer
   account), which is kept as ``user_type`` but names no one.

Nothing else: the user becomes ``unknown``. An owner stated by the importer (``--user``,
``--email``) replaces the inference, and ``basis`` says so.

Pure and standard-library only, like :mod:`affidavit.capture.events`.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

UNKNOWN = "unknown"
# Shared or system profiles: a path under them is no one's home.
_NOT_PEOPLE = frozenset({"shared", "public", "default", "default user", "all users", "guest"})
_HOME = re.compile(
    r"""^(?:
        /(?:Users|home)/(?P<unix>[^/]+)             # macOS, Linux
      | (?P<root>/root|/var/root)                   # root's home on Linux, macOS
      | (?:[A-Za-z]:|/mnt/[a-z])[\\/]Users[\\/](?P<win>[^\\/]+)   # Windows, WSL
    )(?:[\\/]|$)""",
    re.VERBOSE,
)
_SEP = re.compile(r"[\\/]+")
_COWORK = "local-agent-mode-sessions"


def home_user(path: str) -> str | None:
    """The account whose home ``path`` lies in, or None."""
    m = _HOME.match(path)
    if m is None:
        return None
    if m.group("root"):
        return "root"
    name = m.group("unix") or m.group("win")
    if not name or name.lower() in _NOT_PEOPLE or name in (".", ".."):
        return None
    return name


def location_owner(path: str) -> dict[str, str]:
    """``user`` (and Cowork's ``account_id``/``org_id``) when the file sits where its
    agent keeps an account's sessions; empty when the location proves nothing."""
    user = home_user(path)
    parts = _SEP.split(path)
    lowered = [p.lower() for p in parts]
    found: dict[str, str] = {}
    for i in range(len(parts) - 1):
        if lowered[i] == ".claude" and lowered[i + 1] == "projects":
            if user is not None:
                found["user"] = user
            return found
        if lowered[i] == _COWORK:
            if user is not None:
                found["user"] = user
            # <account>/<org>/ follow; a session file itself is never one of them.
            ids = [p for p in parts[i + 1 : i + 3] if p and not p.startswith("local_")]
            for key, value in zip(("account_id", "org_id"), ids, strict=False):
                found[key] = value
            return found
    return {}


def owner_of(
    transcript: str,
    *,
    cwd: str | None = None,
    user_type: str | None = None,
    stated: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``actor`` of an imported record: who ran the session, and on what ``basis``.

    ``stated`` is an owner the importer named (user and/or email); it wins.
    """
    owner: dict[str, Any] = dict(location_owner(transcript))
    by_cwd = home_user(cwd) if cwd else None
    if stated and any(stated.values()):
        owner.update({k: v for k, v in stated.items() if v})
        owner["basis"] = "stated by the importer"
    elif "user" in owner:
        owner["basis"] = "transcript location"
    elif by_cwd is not None:
        owner["user"] = by_cwd
        owner["basis"] = "working directory"
    else:
        owner["basis"] = "no evidence"
    owner.setdefault("user", UNKNOWN)
    if by_cwd is not None and by_cwd != owner["user"]:
        owner["cwd_user"] = by_cwd
    if user_type:
        owner["user_type"] = user_type
    return owner

"""Folder policy at capture time: where an agent may go, and what it may write there.

Three rules, named as in the ``[enforce]`` table of ``affidavit.toml``:

* ``outside_granted``: a file the agent reads or writes, or that a shell command created,
  changed, deleted or renamed, lies outside every ``[[folders]]`` path (checked only when
  the config lists at least one folder);
* ``regulated_workspace``: such a file lies in a folder with ``regulated = [...]`` while
  ``[workspace] regulated`` is false, or a shell command runs from inside such a folder;
* ``forbidden_data``: text the agent writes into a folder (Write ``content``, Edit and
  MultiEdit ``new_string``, NotebookEdit ``new_source``, the content of files a shell
  command created or changed), or a prompt or command given from inside it, holds a data
  class that the folder's ``forbidden_data`` names (:func:`affidavit.detect.detectors.detect`).

A shell command's working folder is not a touched path for ``outside_granted``: Cowork runs
every command from its own session folder, and what a command changes is checked file by
file once it has run. Folders match as :func:`affidavit.query.path_matches` does (a folder or
a glob; relative patterns match at any depth), against the path with ``..`` resolved and
symlinks followed, so a link inside a granted folder does not grant its target.

Each hit becomes a ``policy.finding`` record, written after the record it is about, in the
same transaction, with that record's seq as ``action_seq``. PreToolUse judges the intent
and, for a rule with ``enforce = true``, blocks the tool call (exit 2, one line on stderr
that the agent reads); the block stands even if the ledger could not take the event (it
is spooled). PostToolUse judges what happened (never blocking: it has happened), and so
does UserPromptSubmit; a finding whose id (a hash of the rule, the tool call, the path and
the data class) is already in the ledger is not repeated, so a write seen at PreToolUse is
not flagged twice. Forbidden values found are replaced by their masked form in every
record of that event, and file contents holding them are not kept in the content store,
so the value the agent wrote never reaches the ledger (a text over :data:`MAX_SCAN_CHARS`
is checked that far, and no copy of it is kept). Data that was already in a file
(the old text an Edit response carries, a Read) is not scanned here: ``affidavit scan``
finds it, in folders and in recorded payloads.

This runs in the hook on every event, so it uses the standard library only. The config is
parsed (with :mod:`affidavit.config`) only when its file's stat changes; the compiled policy
is cached as JSON in the ledger's ``meta`` table. No config file means no policy, for the
cost of one ``stat``. A config that cannot be read or does not validate switches the policy
off, recorded once per version of the file as a ``capture.error`` naming the problem: a
typo in the policy file must not stop every agent in the company, and the record makes the
gap visible. Only a policy that loaded can block. Finding, compiling and caching the config is
:mod:`.policy_config`.
"""

from __future__ import annotations

import hashlib
import json

from affidavit.capture import events
from affidavit.capture.policy_config import (
    CACHE_KEY,
    FORMAT,
    RULES,
    Folder,
    Policy,
    default_config_path,
    folder_pattern,
    load,
    path_forms,
    same_path,
)

__all__ = [
    "CACHE_KEY",
    "EXIT_BLOCK",
    "FORMAT",
    "RULES",
    "Verdict",
    "default_config_path",
    "finding_in_ledger",
    "folder_pattern",
    "load",
    "mask",
    "review",
]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from affidavit.capture.policy_config import MetaStore
    from affidavit.capture.snapshots import Snapshot
    from affidavit.store.sqlite import SqliteStore

    Draft = tuple[str, dict[str, Any]]

EXIT_BLOCK = 2  # Claude Code: a PreToolUse hook exiting 2 blocks the call, stderr to the model
CUT_MARK = "…[cut "  # what events.cap() puts after a string it shortened
# Detection runs at ~3 MB/s: past this much text in one piece, a hook would keep the agent
# waiting. Longer texts are checked this far, and their contents are not kept.
MAX_SCAN_CHARS = 4 * 2**20

_VERBS = {
    "file.create": "creating",
    "file.update": "changing",
    "file.delete": "deleting",
    "file.rename": "renaming",
}


# -- judging one event ----------------------------------------------------------------------


def review(
    store: MetaStore,
    config: str | None,
    event: Mapping[str, Any],
    drafts: list[Draft],
    first: int,
    *,
    actor: Mapping[str, Any],
    known: Callable[[str], bool],
    blobs: Iterable[Snapshot] = (),
) -> Verdict | None:
    """Judge the records ``drafts[first:]`` of one hook event; mask forbidden data in them.

    Call inside the writer's transaction. ``store`` caches the compiled config (a ledger's
    meta table; the collector's in-process cache); ``known(id)`` says whether a finding with
    that id is already recorded (:func:`finding_in_ledger` for a ledger). ``blobs`` are the
    contents the hook is about to keep (the files a shell command created or changed are
    read from them). Never raises: a failure is a ``capture.error`` in the verdict, and no
    block.
    """
    try:
        policy, problem = load(store, config)
    except Exception as e:
        policy, problem = None, f"policy not applied: {type(e).__name__}: {e}"
    verdict = Verdict(known, actor)
    if problem:
        verdict.error(problem)
    if policy is None:
        return verdict if problem else None
    try:
        verdict.judge(policy, event, drafts, first, blobs)
    except Exception as e:
        verdict.findings.clear()
        verdict.enforced.clear()
        verdict.error(f"policy check failed, no finding recorded: {type(e).__name__}: {e}")
    finally:
        if verdict.secrets:
            for i in range(first, len(drafts)):
                drafts[i] = (drafts[i][0], mask(drafts[i][1], verdict.secrets))
    return verdict


class Action:
    """The record a finding is about: its index among the drafts, agent, tool call, phase."""

    __slots__ = ("agent", "index", "intent", "key")

    def __init__(self, index: int, agent: Mapping[str, Any], key: str, intent: bool) -> None:
        self.index, self.agent, self.key, self.intent = index, dict(agent), key, intent


class Verdict:
    """What the policy says about one event: findings, values to mask, whether to block."""

    __slots__ = (
        "actor",
        "enforced",
        "errors",
        "findings",
        "ids",
        "policy",
        "known",
        "secrets",
        "unkept",
    )

    def __init__(self, known: Callable[[str], bool], actor: Mapping[str, Any]) -> None:
        self.known = known
        self.actor = dict(actor)
        self.policy: Policy | None = None
        self.findings: list[tuple[Action, dict[str, Any]]] = []
        self.enforced: list[dict[str, Any]] = []  # block on these, recorded now or before
        self.errors: list[Draft] = []
        self.secrets: dict[str, str] = {}
        self.unkept: set[str] = set()
        self.ids: set[str] = set()

    @property
    def block(self) -> str | None:
        """The one line for the agent when an enforced rule fired, else None."""
        if not self.enforced:
            return None
        first = self.enforced[0]
        more = f"; {len(self.enforced) - 1} more" if len(self.enforced) > 1 else ""
        line = f"Affidavit policy: {first['detail']} (rule {first['rule']}{more}); ask an admin"
        return line.replace("\r", "\\r").replace("\n", "\\n")

    def records(self, seqs: range) -> list[Draft]:
        """The ``capture.error`` and ``policy.finding`` drafts, once the actions have seqs."""
        out = list(self.errors)
        for action, finding in self.findings:
            finding["action_seq"] = seqs.start + action.index
            payload = {"finding": finding, "actor": self.actor, "agent": action.agent}
            out.append(("policy.finding", {**payload, "dedup_key": "finding:" + finding["id"]}))
        return out

    def error(self, message: str) -> None:
        payload = {"actor": self.actor, "error": {"message": message, "stage": "policy"}}
        self.errors.append(("capture.error", payload))

    # -- the rules --------------------------------------------------------------------------

    def judge(
        self,
        policy: Policy,
        event: Mapping[str, Any],
        drafts: list[Draft],
        first: int,
        blobs: Iterable[Snapshot],
    ) -> None:
        """Check the event's own record, ``drafts[first]``, then the files a command changed."""
        if first >= len(drafts):
            return
        self.policy = policy
        name = event.get("hook_event_name")
        tool = event.get("tool_name")
        raw_input = event.get("tool_input")
        tool_input: Mapping[str, Any] = raw_input if isinstance(raw_input, dict) else {}
        cwd = event.get("cwd") if isinstance(event.get("cwd"), str) else None
        use_id = event.get("tool_use_id")
        use_id = use_id if isinstance(use_id, str) else ""
        agent = drafts[first][1].get("agent") or {}
        if name == "UserPromptSubmit" and isinstance(event.get("prompt"), str) and cwd:
            text = event["prompt"]
            key = f"prompt:{event.get('session_id')}:{events.sha256_text(text)}"
            where = policy.folders_at(path_forms(cwd, None, directory=True))
            self.text(Action(first, agent, key, False), "the prompt given in", cwd, where, text)
        elif isinstance(tool, str) and name in ("PreToolUse", "PostToolUse", "PostToolUseFailure"):
            action = Action(first, agent, use_id, name == "PreToolUse")
            after = (drafts[first][1].get("file") or {}).get("after_sha256")
            self.tool_call(action, tool, tool_input, cwd, after)
        contents = {b.sha256: b.data for b in blobs if b.sha256 and b.data is not None}
        for index in range(first + 1, len(drafts)):
            kind, payload = drafts[index]
            if payload.get("via") == "command-side-effect":
                action = Action(index, payload.get("agent") or agent, use_id, False)
                self.side_effect(action, kind, payload.get("file") or {}, cwd, contents)

    def tool_call(
        self,
        action: Action,
        tool: str,
        tool_input: Mapping[str, Any],
        cwd: str | None,
        after: object,
    ) -> None:
        path = events.file_path_of(tool_input)
        if path is not None and (tool in events.FILE_WRITERS or tool == "Read"):
            where = self.path(action, "reading" if tool == "Read" else "writing", path, cwd)
            text = written_text(tool, tool_input)
            found = text is not None and self.text(
                action, f"the {tool} content for", path, where, text
            )
            if found and not action.intent and isinstance(after, str):
                self.unkept.add(after)  # what was written holds the value: keep no copy
        if tool in events.SHELLS and cwd:
            where = self.path(action, "running a command in", cwd, None, directory=True)
            command = tool_input.get("command")
            if isinstance(command, str):
                self.text(action, "the command run in", cwd, where, command)

    def side_effect(
        self,
        action: Action,
        kind: str,
        file: Mapping[str, Any],
        cwd: str | None,
        contents: Mapping[str, bytes],
    ) -> None:
        paths = [p for p in (file.get("path"), file.get("old_path")) if isinstance(p, str)]
        for path in paths:
            where = self.path(action, _VERBS.get(kind, "changing"), path, cwd)
            after = file.get("after_sha256")
            data = contents.get(after) if isinstance(after, str) else None
            if kind in ("file.create", "file.update") and data and b"\0" not in data[:8192]:
                text = data.decode("utf-8", "replace")
                if self.text(action, "the content a command wrote to", path, where, text):
                    self.unkept.add(str(after))

    def path(
        self, action: Action, verb: str, path: str, cwd: str | None, *, directory: bool = False
    ) -> list[Folder]:
        """outside_granted and regulated_workspace for one path; returns the folders it lies
        in. A ``directory`` (a command's working folder) is never outside_granted: see above."""
        assert self.policy is not None
        forms = path_forms(path, cwd, directory=directory)
        if not directory and not self.policy.granted(forms[-1]):
            detail = f"{verb} {path} is outside the folders granted to agents"
            self.hit(action, "outside_granted", path, None, detail)
        where = self.policy.folders_at(forms)
        if not self.policy.workspace_regulated:
            for folder in where:
                if folder.regulated:
                    inside = "" if same_path(path, folder.path) else f" in {folder.path}"
                    regimes = ", ".join(folder.regulated)
                    detail = (
                        f"{verb} {path}{inside} ({regimes}) from a workspace that is not regulated"
                    )
                    self.hit(action, "regulated_workspace", path, folder, detail)
        return where

    def text(self, action: Action, what: str, path: str, where: list[Folder], text: str) -> bool:
        """forbidden_data for a text written to, or given from, ``where``.

        True when the text must not be kept in the content store: it holds a forbidden
        value, or it is longer than :data:`MAX_SCAN_CHARS` and was checked only that far.
        """
        forbidden = {c: f for f in where for c in f.forbidden}
        if not forbidden or not text:
            return False
        from affidavit.detect.detectors import detect  # only where something is forbidden

        unchecked = len(text) > MAX_SCAN_CHARS
        text = text[:MAX_SCAN_CHARS]
        by_class: dict[str, list[Any]] = {}
        for m in detect(text):
            # "low": almost surely not real (a test card in a code comment); scan skips it too
            if m.data_class in forbidden and m.confidence != "low":
                by_class.setdefault(m.data_class, []).append(m)
                raw = text[m.start : m.end]
                if raw and raw != m.masked:
                    self.secrets[raw] = str(m.masked)
        for data_class, matches in by_class.items():
            folder = forbidden[data_class]
            masked = [str(m.masked) for m in matches]
            shown = ", ".join(dict.fromkeys(masked[:3])) + (
                f" and {len(masked) - 3} more" if len(masked) > 3 else ""
            )
            detail = f"{what} {path} holds {data_class} data ({shown}), which {folder.path} forbids"
            found = self.hit(action, "forbidden_data", path, folder, detail, data_class)
            if found is not None:
                found.update(data_class=data_class, masked=masked[:10], matches=len(masked))
        return bool(by_class) or unchecked

    def hit(
        self,
        action: Action,
        rule: str,
        path: str,
        folder: Folder | None,
        detail: str,
        *extra: str,
    ) -> dict[str, Any] | None:
        """Add a finding unless one with its id exists already; returns it when added.

        An enforced rule blocks even when its finding was recorded before (the same event
        delivered twice, say by two hook registrations): the block never depends on that.
        """
        assert self.policy is not None
        subject = [rule, action.key, path, *extra]
        fid = hashlib.sha256(json.dumps(subject).encode()).hexdigest()[:12]
        finding: dict[str, Any] = {
            "id": fid,
            "type": "policy",
            "rule": rule,
            "path": path,
            "detail": detail,
            "enforced": action.intent and bool(self.policy.enforce.get(rule)),
        }
        if folder is not None:
            finding["folder"] = folder.path
        if finding["enforced"]:
            self.enforced.append(finding)
        if fid in self.ids or self.known(fid):
            return None
        self.ids.add(fid)
        self.findings.append((action, finding))
        return finding


def finding_in_ledger(store: SqliteStore, fid: str) -> bool:
    """Whether the ledger holds a finding with this id (indexed as ``finding:<id>``)."""
    row = store.connection.execute(
        "SELECT 1 FROM tool_uses WHERE tool_use_id = ? LIMIT 1", ("finding:" + fid,)
    ).fetchone()
    return row is not None


def written_text(tool: str, tool_input: Mapping[str, Any]) -> str | None:
    """The text a file tool call writes: Write content, Edit/MultiEdit new text, a cell."""
    if tool == "Write":
        value = tool_input.get("content")
    elif tool == "Edit":
        value = tool_input.get("new_string")
    elif tool == "NotebookEdit":
        value = tool_input.get("new_source")
    elif tool == "MultiEdit" and isinstance(tool_input.get("edits"), list):
        parts = [e.get("new_string") for e in tool_input["edits"] if isinstance(e, dict)]
        value = "\n".join(p for p in parts if isinstance(p, str))
    else:
        value = None
    return value if isinstance(value, str) else None


def mask(value: Any, secrets: Mapping[str, str]) -> Any:
    """A copy with every raw value replaced by its mask.

    A string that :func:`events.cap` cut may end in the first digits of a value; those are
    starred too (six or more characters: fewer say no more than a masked value does).
    """
    if isinstance(value, str):
        for raw, masked in secrets.items():
            if raw in value:
                value = value.replace(raw, masked)
        cut = value.find(CUT_MARK)
        if cut > 0:
            head = value[:cut]
            for raw in secrets:
                for n in range(len(raw) - 1, 5, -1):
                    if head.endswith(raw[:n]):
                        head = head[:-n] + "*" * n
                        break
            value = head + value[cut:]
        return value
    if isinstance(value, dict):
        return {k: mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, secrets) for v in value]
    return value

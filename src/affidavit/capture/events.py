"""Map one Claude Code / Cowork hook event to the records it implies, in the one payload shape.

Pure and standard-library only: the hook runs it on every tool call, and the transcript
importer feeds it the same events rebuilt from transcript lines, so both sources give the
same records. The payload shape (documented in the README) is::

    actor   {user, host, email, account_uuid, org_uuid}
    agent   {product, version, session_id, prompt_id, tool_use_id, tool, surface,
             remote_session_id, event, agent_id, permission_mode, cwd}
    file    {path, before_sha256, after_sha256, size, old_path}
    command {text, description, exit, interrupted, git}
    tool    {server, name, input}
    prompt  {text}
    preimages {taken, bytes, missed: [{path, reason}], missed_more}  (Bash PreToolUse: shell
             pre-images, :mod:`affidavit.capture.preimages`)
    outcome "ok" | "failed";  error  text
    raw_rest  the source event's fields not held verbatim above, redacted and size-capped
             (records written before it hold the whole event in ``raw``;
             :func:`source_event` rebuilds the event from either)
    corroborated_by  other sources that saw the same tool_use_id

Empty fields are left out. Event to kind: PreToolUse → ``tool.intent``; PostToolUse and
PostToolUseFailure → the tool's kind (:data:`FILE_WRITERS`: Write/Edit/NotebookEdit, and
the older MultiEdit, Replace and NotebookEditCell → file.create or file.update, Read →
file.read, Bash/PowerShell and Cowork's workspace bash → command.exec, WebFetch → web.fetch,
WebSearch → web.search, Agent/Task → agent.spawn, anything else,
MCP tools included, → tool.call); UserPromptSubmit → prompt.submit; PermissionRequest and
PermissionDenied → permission.decision; SessionStart/SessionEnd → session.start/end; every
other event, known or not yet invented, → agent.event with the raw event.
"""

from __future__ import annotations

from collections.abc import Mapping

from affidavit.capture import digest

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any

SOURCE_HOOK = "claude-code.hook"
SOURCE_TRANSCRIPT = "claude-code.transcript"

# Every tool that writes, moves or deletes a file, checked against the tool table of the
# public Claude Code tools reference (code.claude.com/docs/en/tools-reference): Write, Edit
# and NotebookEdit write files (NotebookEdit also deletes cells); Bash and PowerShell can do
# anything, so they are commands; no other tool there writes a user's file (EnterWorktree's
# checkout is git's work, done through the shell tools' own records). MultiEdit (file_path
# + edits[]) is in the transcripts of Claude Code versions before it was folded into Edit.
# Replace (file_path + content, as Write) and NotebookEditCell (notebook_path, as
# NotebookEdit) are the names of the earliest versions (0.2.x), known from their tool
# descriptions quoted publicly ("The agent can not use Bash, Replace, Edit,
# NotebookEditCell, so can not modify files"); not confirmed by an Anthropic document.
FILE_WRITERS = frozenset(
    {"Write", "Edit", "MultiEdit", "NotebookEdit", "Replace", "NotebookEditCell"}
)
_WHOLE_FILE_WRITERS = frozenset({"Write", "Replace"})
# Cowork runs Claude Code in a VM and gives it MCP tools. mcp__workspace__bash is its shell
# (in Cowork audit.jsonl files, e.g. the public vibe-replay test fixture). The mcp__cowork__
# names seen in public skills and plugins (request_cowork_directory, present_files,
# allow_cowork_file_delete, create_artifact, update_artifact) ask for a folder, show files,
# grant a deletion, publish an artifact: none writes, moves or deletes a file itself (the
# deletion they allow is then done by the shell), so they stay tool.call. Cowork writes files
# with the built-in Write and Edit above. No Anthropic document listing these MCP tools could
# be found, so this list is not confirmed; a name not listed is recorded as tool.call with
# its input, never dropped.
SHELLS = frozenset({"Bash", "PowerShell", "mcp__workspace__bash"})
STRING_CAP = 4096
_MCP = r"mcp__(.+?)__(.+)"
_EXIT = r"Exit code (-?\d+)"
_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(source: str) -> re.Pattern[str]:
    """The pattern, compiled on first use: the hook's thin client only reads this module's
    tables, and importing ``re`` would cost it about 4 ms a run (see :mod:`.jsontext`)."""
    found = _PATTERNS.get(source)
    if found is None:
        import re

        found = _PATTERNS[source] = re.compile(source)
    return found


_TOOL_KINDS = {
    "Read": "file.read",
    "WebFetch": "web.fetch",
    "WebSearch": "web.search",
    "Agent": "agent.spawn",
    "Task": "agent.spawn",
}
_EVENT_KINDS = {
    "UserPromptSubmit": "prompt.submit",
    "PermissionRequest": "permission.decision",
    "PermissionDenied": "permission.decision",
    "SessionStart": "session.start",
    "SessionEnd": "session.end",
}
COWORK_MARK = "local-agent-mode-sessions"
SURFACE_VM = "vm"  # Cowork's Linux VM
SURFACE_HOST = "host"  # the machine the desktop app runs on
SURFACE_REMOTE = "remote"  # a cloud session on Anthropic-managed infrastructure
# The session variables a hook passes on (:func:`affidavit.capture.intake.with_env`), both
# documented in code.claude.com/docs/en/claude-code-on-the-web: CLAUDE_CODE_REMOTE is "true"
# in a cloud (remote) session ("Local vs remote execution": hooks run in both, and a hook
# tells them apart by this variable), CLAUDE_CODE_REMOTE_SESSION_ID is the cloud session's
# id, the one in its claude.ai/code/<id> link ("Link artifacts back to the session"). Other
# variables that public code reads (CLAUDE_CODE_ENTRYPOINT=remote_cowork,
# CLAUDE_CODE_IS_COWORK) are in no Anthropic document, so they are not used.
REMOTE_ENV = "CLAUDE_CODE_REMOTE"
REMOTE_SESSION_ENV = "CLAUDE_CODE_REMOTE_SESSION_ID"
SESSION_ENV = (REMOTE_ENV, REMOTE_SESSION_ENV)
ENV_KEY = "affidavit_env"  # where the hook puts them in the event: a name Claude Code never uses


def sha256_text(text: str) -> str:
    return digest.sha256_hex(text.encode("utf-8", "surrogatepass"))


def cap(value: Any, limit: int = STRING_CAP, depth: int = 0) -> Any:
    """A copy with long strings cut (noting length and hash) and nesting bounded."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}…[cut {len(value) - limit} chars; sha256 {sha256_text(value)}]"
    if depth > 32:
        return "…[nested too deep]"
    if isinstance(value, Mapping):
        return {str(k): cap(v, limit, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [cap(v, limit, depth + 1) for v in value]
    return value


_SURROGATE = "[\ud800-\udfff]"
_MAX_SAFE_INT = 2**53 - 1


def storable(value: Any, depth: int = 0) -> Any:
    """A copy that canonical JSON can hold, for a payload that failed to canonicalize.

    Lone surrogates (a JavaScript string cut mid-pair, escaped as ``\\ud83d`` in the event; a
    file name that is not UTF-8, as ``os.fsdecode`` gives it) become the text ``\\ud83d``;
    NaN, infinities and integers beyond JSON's safe range become their Python text.
    """
    if isinstance(value, str):
        return _compiled(_SURROGATE).sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if type(value) is float and value - value != 0.0:  # NaN or infinite (no math module)
        return repr(value)
    if type(value) is int and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return str(value)
    if depth > 200:
        return "…[nested too deep]"
    if isinstance(value, Mapping):
        return {storable(str(k)): storable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v, depth + 1) for v in value]
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _prune(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def file_path_of(tool_input: Mapping[str, Any]) -> str | None:
    return _text(tool_input.get("file_path")) or _text(tool_input.get("notebook_path"))


def product_and_surface(event: Mapping[str, Any]) -> tuple[str, str]:
    """The product and the surface it ran on, from the event's ``cwd`` and ``transcript_path``.

    Cowork runs Claude Code in a Linux VM whose tools see the workspace as
    ``/sessions/<name>/mnt/...`` (the ``cwd`` of Cowork's session files, e.g. the public
    vibe-replay fixture): surface ``vm``. The desktop app keeps its session files on the host
    under ``.../Claude/local-agent-mode-sessions/...``: a path there says surface ``host``.
    Anything else is Claude Code's own ``cli``.

    A cloud session says so only through its environment, ``CLAUDE_CODE_REMOTE=true``, which
    the hook adds to the event (:data:`ENV_KEY`): surface ``remote``, whatever the paths say.
    Its product stays what the paths show: no document says how a remote Cowork session
    differs from Claude Code on the web, and no public sample shows one's paths.
    """
    product, surface = _local_product_and_surface(event)
    env = event.get(ENV_KEY)
    if isinstance(env, Mapping) and env.get(REMOTE_ENV) == "true":
        return product, SURFACE_REMOTE
    return product, surface


def remote_session_of(event: Mapping[str, Any]) -> str | None:
    """The cloud session's id (``CLAUDE_CODE_REMOTE_SESSION_ID``), if the hook saw one."""
    env = event.get(ENV_KEY)
    return _text(env.get(REMOTE_SESSION_ENV)) if isinstance(env, Mapping) else None


def _local_product_and_surface(event: Mapping[str, Any]) -> tuple[str, str]:
    cwd = event.get("cwd")
    if isinstance(cwd, str) and cwd.startswith("/sessions/") and "/mnt/" in cwd:
        return "cowork", SURFACE_VM
    for key in ("transcript_path", "cwd"):
        value = event.get(key)
        if isinstance(value, str):
            if value.startswith("/sessions/") and "/mnt/" in value:
                return "cowork", SURFACE_VM
            if COWORK_MARK in value:
                return "cowork", SURFACE_HOST
    return "claude-code", "cli"


def tool_kind(tool: str, response: object, original_known: bool | None) -> str:
    """The record kind of a finished tool call."""
    if tool in FILE_WRITERS:
        r = response if isinstance(response, Mapping) else {}
        rtype = r.get("type")
        if rtype in ("create", "update"):
            return f"file.{rtype}"
        # The old text in the event proves the file existed, even when the PreToolUse hook
        # could not see the path (another machine's path, a replayed or sandboxed event).
        if original_known is False and _text(r.get("originalFile")) is None:
            return "file.create"
        return "file.update"
    if tool in SHELLS:
        return "command.exec"
    return _TOOL_KINDS.get(tool, "tool.call")


def after_text(tool: str, tool_input: Mapping[str, Any], response: object) -> str | None:
    """The file's new text when the event itself carries it (Write, Edit, MultiEdit)."""
    r = response if isinstance(response, Mapping) else {}
    if tool in _WHOLE_FILE_WRITERS:
        return _text(tool_input.get("content")) if "content" in tool_input else None
    original = r.get("originalFile")
    if not isinstance(original, str):
        return None
    edits: list[Any] = []
    if tool == "Edit":
        edits = [tool_input]
    elif tool == "MultiEdit" and isinstance(tool_input.get("edits"), list):
        edits = tool_input["edits"]
    text = original
    for edit in edits:
        old, new = edit.get("old_string"), edit.get("new_string")
        if not isinstance(old, str) or not isinstance(new, str) or old not in text:
            return None
        text = text.replace(old, new) if edit.get("replace_all") else text.replace(old, new, 1)
    return text if edits else None


def file_section(
    tool: str, tool_input: Mapping[str, Any], response: object, observed: Mapping[str, Any]
) -> dict[str, Any]:
    """``file`` of a file action: ``observed`` (hashes read from disk) wins over the event."""
    r = response if isinstance(response, Mapping) else {}
    path = file_path_of(tool_input) or _text(r.get("filePath"))
    section: dict[str, Any] = {"path": path}
    original = r.get("originalFile", r.get("original_file"))
    if isinstance(original, str):
        section["before_sha256"] = sha256_text(original)
    after = after_text(tool, tool_input, response) if tool in FILE_WRITERS else None
    if tool == "NotebookEdit" and isinstance(r.get("updated_file"), str):
        after = r["updated_file"]
    if after is not None:
        section["after_sha256"] = sha256_text(after)
        section["size"] = len(after.encode("utf-8", "surrogatepass"))
    section.update({k: v for k, v in observed.items() if k in _FILE_KEYS})
    return _prune(section)


_FILE_KEYS = ("path", "before_sha256", "after_sha256", "size", "old_path", "before_known")


def _command(tool_input: Mapping[str, Any], response: object, error: str | None) -> dict[str, Any]:
    r = response if isinstance(response, Mapping) else {}
    exit_code: int | None = None
    if error is not None:
        m = _compiled(_EXIT).search(error)
        exit_code = int(m.group(1)) if m else None
    elif response is not None and not r.get("interrupted"):
        exit_code = 0
    return _prune(
        {
            "text": _text(tool_input.get("command")),
            "description": _text(tool_input.get("description")),
            "exit": exit_code,
            "interrupted": r.get("interrupted") if isinstance(r.get("interrupted"), bool) else None,
            "git": r.get("gitOperation"),
        }
    )


def _tool(tool: str, tool_input: Mapping[str, Any]) -> dict[str, Any]:
    m = _compiled(_MCP).fullmatch(tool)
    server, name = (m.group(1), m.group(2)) if m else (None, tool)
    return _prune({"server": server, "name": name, "input": cap(dict(tool_input), 1024)})


def map_event(
    event: Mapping[str, Any],
    *,
    actor: Mapping[str, Any],
    observed: Mapping[str, Any] | None = None,
    version: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """(kind, payload) drafts for one hook event; redaction happens after, on the payload.

    ``observed`` carries what the hook saw on disk (file hashes and size); ``version`` the
    agent version when the source knows it (transcripts do, hooks do not).
    """
    name = _text(event.get("hook_event_name")) or "unknown"
    tool = _text(event.get("tool_name"))
    raw_input = event.get("tool_input")
    tool_input: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}
    response = event.get("tool_response")
    product, surface = product_and_surface(event)
    agent = _prune(
        {
            "product": product,
            "version": version,
            "session_id": _text(event.get("session_id")),
            "prompt_id": _text(event.get("prompt_id")),
            "tool_use_id": _text(event.get("tool_use_id")),
            "tool": tool,
            "surface": surface,
            "remote_session_id": remote_session_of(event),
            "event": name,
            "agent_id": _text(event.get("agent_id")),
            "permission_mode": _text(event.get("permission_mode")),
            "cwd": _text(event.get("cwd")),
        }
    )
    payload: dict[str, Any] = {"actor": dict(actor), "agent": agent}
    observed = observed or {}
    if tool is not None and name in ("PreToolUse", "PostToolUse", "PostToolUseFailure"):
        failed = name == "PostToolUseFailure"
        error = _text(event.get("error")) if failed else None
        if name == "PreToolUse":
            kind = "tool.intent"
        else:
            kind = tool_kind(tool, response, observed.get("before_known"))
            payload["outcome"] = "failed" if failed else "ok"
            if error:
                payload["error"] = cap(error)
        if tool in FILE_WRITERS or tool == "Read":
            payload["file"] = file_section(tool, tool_input, response, observed)
            payload["file"].pop("before_known", None)
            if kind == "tool.intent":
                for key in ("after_sha256", "size"):
                    payload["file"].pop(key, None)
        if tool in SHELLS:
            payload["command"] = _command(tool_input, None if failed else response, error)
            if observed.get("preimages"):  # what the hook kept of files the command may destroy
                payload["preimages"] = dict(observed["preimages"])
        payload["tool"] = _tool(tool, tool_input)
    else:
        kind = _EVENT_KINDS.get(name, "agent.event")
        if name == "UserPromptSubmit":
            payload["prompt"] = {"text": cap(_text(event.get("prompt")) or "", 65536)}
    payload = _prune(payload)
    # Kept even when empty: its presence says the payload was mapped from a source event.
    payload["raw_rest"] = _rest(cap(dict(event)), payload)
    return [(kind, payload)]


# Where map_event keeps an event field verbatim. Each home is filled from that one field and
# from nothing else, and a default it may hold instead ("unknown" for a missing event name,
# "" for a missing prompt) never counts, so a home's value always means the event had the
# field with that value: that is what lets raw_rest leave it out and source_event put it
# back. The rest of the event (tool_response, transcript_path, unknown fields) stays in
# raw_rest as it came, capped.
_HOMES: tuple[tuple[str, str, str], ...] = (
    ("cwd", "agent", "cwd"),
    ("hook_event_name", "agent", "event"),
    ("permission_mode", "agent", "permission_mode"),
    ("prompt_id", "agent", "prompt_id"),
    ("session_id", "agent", "session_id"),
    ("tool_use_id", "agent", "tool_use_id"),
    ("tool_name", "agent", "tool"),
    ("agent_id", "agent", "agent_id"),
    ("tool_input", "tool", "input"),
    ("prompt", "prompt", "text"),
)
_DEFAULT_EVENT = "unknown"


def _home(payload: Mapping[str, Any], key: str, section: str, field: str) -> object:
    part = payload.get(section)
    value = part.get(field) if isinstance(part, Mapping) else None
    if not value or (key == "hook_event_name" and value == _DEFAULT_EVENT):
        return None
    return value


def _rest(raw: dict[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` without the fields whose value ``payload`` holds verbatim at their home.

    The comparison is exact and typed: a field the mapper cut harder (a tool input string
    over 1 KiB) or changed stays whole in the rest.
    """
    for key, section, field in _HOMES:
        value = raw.get(key)
        home = _home(payload, key, section, field)
        if home is not None and type(home) is type(value) and home == value:
            del raw[key]
    return raw


def source_event(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The source event a record was mapped from, redacted and size-capped as it was stored.

    Records written before ``raw_rest`` hold the whole event in ``raw``; newer ones hold
    the fields the mapper did not keep verbatim, and the rest is put back from its home
    (:data:`_HOMES`). ``None`` for a payload that was not mapped from an event.
    """
    whole = payload.get("raw")
    if isinstance(whole, dict):
        return dict(whole)
    rest = payload.get("raw_rest")
    if not isinstance(rest, dict):
        return None
    event = dict(rest)
    for key, section, field in _HOMES:
        home = _home(payload, key, section, field)
        if key not in event and home is not None:
            event[key] = home
    return event

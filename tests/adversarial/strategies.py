"""Hypothesis strategies for hostile input: what an agent, a user or an attacker can hand
Affidavit's parsers.

Each strategy draws mostly well-formed input (so the parser gets past its first check and
the deep paths run) with hostile values mixed in: wrong types, lone surrogates, NUL bytes,
numbers JSON cannot carry, Windows and ``..`` paths, undecodable file names, and byte-level
damage (cut, spliced, re-encoded). Every path points somewhere harmless: under a given
workspace, or under a root that does not exist, never at a real system file.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from affidavit.record import Kind

# -- text -----------------------------------------------------------------------------------

AWKWARD = (
    "\x00",
    "\n",
    "\r\n",
    "\t",
    '"',
    "\\",
    "\u2014 ",  # the em dash that starts a signature line
    "+",
    " ",
    "\ufeff",
    "\ufffd",
    "\u202e",
    "\U0001f600",
    "e\u0301",
    "sk-ant-api03-" + "A" * 40,  # a secret the redactor masks
    "-----BEGIN PRIVATE KEY-----",
)
"""Fragments that have broken parsers before: controls, quotes, marks, BOM, RTL, astral."""

lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
_CHARS = st.one_of(
    st.characters(codec="ascii"),
    st.characters(max_codepoint=0x10FFFF),
    st.sampled_from('\x00\n\r\t"\\+ \u2014\ufeff\ufffd\u202e\U0001f600'),
    lone_surrogates,
)


def hostile_text(max_size: int = 24) -> st.SearchStrategy[str]:
    """Text with awkward characters, sometimes a lone surrogate (from JSON ``\\ud800``), or
    one of the :data:`AWKWARD` fragments whole."""
    return st.one_of(st.text(_CHARS, max_size=max_size), st.sampled_from(AWKWARD))


numbers = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.integers(min_value=2**53, max_value=2**70),  # beyond JSON's safe integers
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 1e308, 5e-324]),
)


def json_values(max_leaves: int = 6) -> st.SearchStrategy[Any]:
    """Any JSON value, hostile scalars included (NaN, huge ints, lone surrogates)."""
    scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text(12))
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(hostile_text(6), children, max_size=3),
        ),
        max_leaves=max_leaves,
    )


_ANY = json_values(4)


def nested(depth: int, *, opener: str = "[", closer: str = "]") -> str:
    """``depth`` nested arrays (or objects), as JSON text."""
    return opener * depth + closer * depth


# -- paths ----------------------------------------------------------------------------------

NOWHERE = "/nonexistent-affidavit-fuzz"
"""A root that does not exist: absolute paths under it never touch a real file."""

SEGMENTS = (
    "a",
    "b.txt",
    "..",
    ".",
    "",
    "ü 日本",
    "bad\udcff.txt",  # a file name that is not UTF-8, as os.fsdecode gives it
    "nul\x00byte",
    "CON",
    "x" * 300,
    ".git",
    "local-agent-mode-sessions",
)

windows_paths = st.sampled_from(
    [
        "C:\\Users\\alice\\work\\a.txt",
        "c:/Users/alice/b.txt",
        "C:relative.txt",
        "\\\\server\\share\\c.txt",
        "\\\\?\\C:\\very\\long\\d.txt",
        "..\\..\\windows\\system32\\e.dll",
        "C:\\",
    ]
)


def paths(workspace: str | None = None) -> st.SearchStrategy[str]:
    """Paths an agent may name: under ``workspace`` or :data:`NOWHERE`, with ``..``, Windows
    forms, NUL bytes, undecodable names, overlong components, or relative."""
    roots = [NOWHERE] if workspace is None else [NOWHERE, workspace]
    joined = st.tuples(st.sampled_from(roots), st.lists(st.sampled_from(SEGMENTS), max_size=5))
    return st.one_of(
        joined.map(lambda t: "/".join([t[0], *t[1]])),
        st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map("/".join),  # relative
        windows_paths,
        st.sampled_from(["", "/", "//", NOWHERE + "/" + "y" * 5000]),
    )


# -- hook events ----------------------------------------------------------------------------

HOOK_EVENT_NAMES = (
    "PreToolUse",
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "PermissionRequest",
    "PermissionDenied",
    "SessionStart",
    "SessionEnd",
    "Stop",
    "SubagentStop",
    "Notification",
    "PreCompact",
    "NotInventedYet",
)
TOOLS = (
    "Write",
    "Edit",
    "MultiEdit",
    "NotebookEdit",
    "Read",
    "Bash",
    "PowerShell",
    "mcp__workspace__bash",
    "WebFetch",
    "WebSearch",
    "Agent",
    "Task",
    "Glob",
    "mcp__github__create_issue",
    "mcp____",
    "mcp__x",
)
IDS = ("toolu_01", "toolu_02", "toolu_03", "", "toolu_\u2014")


def maybe(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The right type mostly, any JSON value sometimes."""
    return st.one_of(right, right, right, _ANY)


def tool_inputs(workspace: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    edit = st.fixed_dictionaries(
        {},
        optional={
            "old_string": maybe(hostile_text()),
            "new_string": maybe(hostile_text()),
            "replace_all": maybe(st.booleans()),
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "file_path": maybe(paths(workspace)),
            "notebook_path": maybe(paths(workspace)),
            "content": maybe(hostile_text(64)),
            "old_string": maybe(hostile_text()),
            "new_string": maybe(hostile_text()),
            "replace_all": maybe(st.booleans()),
            "edits": maybe(st.lists(maybe(edit), max_size=3)),
            "command": maybe(hostile_text(64)),
            "description": maybe(hostile_text()),
            "url": maybe(hostile_text()),
            "extra": json_values(),
        },
    )


tool_responses = st.one_of(
    st.none(),
    json_values(),
    st.fixed_dictionaries(
        {},
        optional={
            "type": maybe(st.sampled_from(["create", "update", "delete"])),
            "originalFile": maybe(hostile_text(64)),
            "original_file": maybe(hostile_text()),
            "updated_file": maybe(hostile_text()),
            "filePath": maybe(hostile_text()),
            "interrupted": maybe(st.booleans()),
            "gitOperation": json_values(),
            "stdout": hostile_text(64),
        },
    ),
)


def hook_events(workspace: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A hook event: the fields Claude Code sends, each sometimes of the wrong type."""
    # A cwd is scanned for a shell command's side effects: never a real folder but the
    # workspace (a scan of / could read /proc).
    cwds = st.sampled_from(
        [
            "/sessions/fuzz/mnt/outputs",
            NOWHERE + "/local-agent-mode-sessions/x",
            NOWHERE + "/bad\udcff",
            "C:\\Users\\alice\\work",
            "",
            *([workspace] if workspace else []),
        ]
    )
    return st.fixed_dictionaries(
        {"hook_event_name": maybe(st.sampled_from(HOOK_EVENT_NAMES))},
        optional={
            "session_id": maybe(hostile_text()),
            "transcript_path": maybe(paths(workspace)),
            "cwd": maybe(cwds),
            "tool_name": maybe(st.sampled_from(TOOLS)),
            "tool_use_id": maybe(st.sampled_from(IDS)),
            "tool_input": maybe(tool_inputs(workspace)),
            "tool_response": tool_responses,
            "prompt": maybe(hostile_text(64)),
            "error": maybe(hostile_text()),
            "permission_mode": maybe(hostile_text()),
            "agent_id": maybe(hostile_text()),
            "prompt_id": maybe(hostile_text()),
            "unknown_field": json_values(),
        },
    )


def dumps(value: Any, *, ascii_only: bool = True) -> bytes:
    """JSON bytes the way a sender could write them: NaN literals and lone surrogates
    (escaped, or UTF-8-encoded with ``surrogatepass``) included."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` cut, spliced with junk, prefixed with a BOM, or re-encoded."""
    how = draw(st.sampled_from(["cut", "splice", "bom", "utf16", "latin1", "as-is", "as-is"]))
    if how == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if how == "splice":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "utf16":
        return data.decode("utf-8", "surrogateescape").encode("utf-16", "surrogatepass")
    if how == "latin1":
        return data.decode("utf-8", "replace").encode("latin-1", "replace")
    return data


@st.composite
def hook_stdin(draw: st.DrawFn, workspace: str | None = None) -> bytes:
    """What ``affidavit hook`` may read on stdin."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(st.binary(max_size=64))
    if choice == 1:
        return dumps(draw(json_values()))
    event = draw(hook_events(workspace))
    data = dumps(event, ascii_only=draw(st.booleans()))
    return draw(damaged(data)) if choice == 2 else data


# -- transcripts and Cowork session records ---------------------------------------------------

TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-11-26T10:00:00.000Z",
            "2026-11-26T10:00:00+05:30",
            "2026-11-26T10:00:00",  # no offset
            "yesterday",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
        ]
    ),
    _ANY,
)


def _line(kind: st.SearchStrategy[Any], extra: dict[str, st.SearchStrategy[Any]]) -> Any:
    base: dict[str, st.SearchStrategy[Any]] = {
        "sessionId": maybe(st.sampled_from(["s1", "s2", ""])),
        "timestamp": TIMES,
        "cwd": maybe(paths()),
        "uuid": maybe(st.sampled_from(["u1", "u2", "u3"])),
        "isSidechain": st.booleans(),
    }
    return st.fixed_dictionaries({"type": kind}, optional={**base, **extra})


def _blocks(kind: str) -> st.SearchStrategy[Any]:
    tool_use = st.fixed_dictionaries(
        {"type": st.just("tool_use")},
        optional={
            "id": maybe(st.sampled_from(IDS)),
            "name": maybe(st.sampled_from(TOOLS)),
            "input": maybe(tool_inputs()),
        },
    )
    tool_result = st.fixed_dictionaries(
        {"type": st.just("tool_result")},
        optional={
            "tool_use_id": maybe(st.sampled_from(IDS)),
            "is_error": maybe(st.booleans()),
            "content": maybe(hostile_text()),
        },
    )
    text = st.fixed_dictionaries({"type": st.just("text"), "text": maybe(hostile_text())})
    block = tool_use if kind == "assistant" else tool_result
    return st.lists(st.one_of(block, block, text, _ANY), max_size=3)


def transcript_objects() -> st.SearchStrategy[Any]:
    """One transcript line's value: assistant tool uses, user results and prompts, others."""
    message = st.fixed_dictionaries(
        {}, optional={"role": hostile_text(), "content": json_values(4)}
    )
    assistant = _line(
        st.just("assistant"),
        {"message": maybe(st.fixed_dictionaries({"content": maybe(_blocks("assistant"))}))},
    )
    user = _line(
        st.just("user"),
        {
            "message": maybe(
                st.fixed_dictionaries(
                    {"content": st.one_of(maybe(_blocks("user")), hostile_text(64))}
                )
            ),
            "toolUseResult": tool_responses,
            "isMeta": maybe(st.booleans()),
            "promptId": maybe(hostile_text()),
        },
    )
    other = _line(
        st.sampled_from(["system", "summary", "progress", "queue-operation", "new-type"]),
        {"message": maybe(message)},
    )
    cowork = _line(st.just("user"), {"_audit_timestamp": TIMES, "session_id": hostile_text()})
    return st.one_of(assistant, assistant, user, user, other, cowork, _ANY)


@st.composite
def transcript_bytes(draw: st.DrawFn) -> bytes:
    """A transcript file: JSON lines with damaged lines, CRLF, blank lines, junk bytes."""
    lines: list[bytes] = []
    for obj in draw(st.lists(transcript_objects(), max_size=5)):
        line = dumps(obj, ascii_only=draw(st.booleans()))
        if draw(st.integers(0, 7)) == 0:
            line = draw(damaged(line))
        lines.append(line)
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.binary(max_size=16)))
    end = draw(st.sampled_from([b"\n", b"\r\n"]))
    return end.join(lines) + draw(st.sampled_from([b"", end]))


@st.composite
def cowork_session_bytes(draw: st.DrawFn) -> bytes:
    """A Cowork ``local_<id>.json`` session record, often damaged."""
    record = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "sessionId": maybe(st.sampled_from(["local_1", "", "local_\u2014"])),
                "cliSessionId": maybe(hostile_text()),
                "cwd": maybe(paths()),
                "createdAt": maybe(
                    st.one_of(numbers, st.sampled_from([1764151200000, -1, 10**30]))
                ),
                "title": hostile_text(),
                "model": json_values(),
            },
        )
    )
    value = record if draw(st.integers(0, 5)) else draw(json_values())
    return draw(damaged(dumps(value, ascii_only=draw(st.booleans()))))


# -- affidavit append -------------------------------------------------------------------------

KINDS = tuple(k.value for k in Kind)


def append_objects() -> st.SearchStrategy[Any]:
    """One ``affidavit append`` line's value; fields missing, extra or of the wrong type."""
    return st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "kind": maybe(st.sampled_from([*KINDS, "file.teleport", ""])),
                "source": maybe(st.sampled_from(["my-tool", "UPPER", "a" * 65, "", "ok.tool"])),
                "time": TIMES,
                "payload": maybe(st.dictionaries(hostile_text(6), _ANY, max_size=3)),
                "extra": _ANY,
            },
        ),
        _ANY,
    )


@st.composite
def append_bytes(draw: st.DrawFn) -> bytes:
    """An ``affidavit append`` input file."""
    lines = [
        dumps(obj, ascii_only=draw(st.booleans()))
        for obj in draw(st.lists(append_objects(), max_size=4))
    ]
    if lines and draw(st.booleans()):
        at = draw(st.integers(0, len(lines) - 1))
        lines[at] = draw(damaged(lines[at]))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))


# -- affidavit.toml ---------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    """A TOML literal for ``value`` (strings as JSON-escaped basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if value == value else "nan"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    return '"?"'


toml_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    hostile_text(),
    st.sampled_from(["2026-03-01", "enterprise", "HIPAA", "card", "/srv/work/finance"]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(hostile_text(6), c, max_size=3)),
    max_leaves=6,
)
TOML_FIELDS: dict[str, tuple[str, ...]] = {
    "org": ("name", "plan", "dpa_signed", "baa_signed", "training_opt_out", "dpo_signoff"),
    "workspace": ("regulated",),
    "documents": ("acceptable_use", "memory_hygiene", "joiner_mover_leaver", "other"),
    "incident_response": ("name", "channel"),
    "governance": ("cadence_days",),
    "retention": ("minimum_days", "maximum_days", "functions"),
    "enforce": ("outside_granted", "regulated_workspace", "forbidden_data", "everything"),
    "attestations": ("expiry_days",),
    "scan": ("hmac_key",),
    "unknown": ("x",),
}
DATES = st.sampled_from(["2026-03-01", "2026-02-30", "1979-05-27T07:32:00Z"])


@st.composite
def config_text(draw: st.DrawFn) -> str:
    """An ``affidavit.toml``: known sections with right and wrong values, tables of folders
    and connectors, sometimes broken TOML."""
    out: list[str] = []
    for section in draw(st.lists(st.sampled_from(sorted(TOML_FIELDS)), max_size=4, unique=True)):
        out.append(f"[{section}]")
        for key in draw(st.lists(st.sampled_from(TOML_FIELDS[section]), max_size=3, unique=True)):
            literal = draw(st.one_of(DATES, toml_values.map(_toml_value)))
            out.append(f"{key} = {literal}")
    for table in draw(st.lists(st.sampled_from(["folders", "connectors"]), max_size=3)):
        out.append(f"[[{table}]]")
        keys = ["path", "function", "regulated", "forbidden_data", "retention_days", "legal_hold"]
        if table == "connectors":
            keys = ["name", "scopes", "owner", "reviewed"]
        for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
            literal = draw(
                st.one_of(
                    toml_values.map(_toml_value),
                    st.sampled_from(['["HIPAA"]', '["card", "ssn"]', "2555", '"/srv/x"']),
                )
            )
            out.append(f"{key} = {literal}")
    text = "\n".join(out) + "\n"
    if draw(st.integers(0, 5)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(hostile_text(8)) + text[at:]
    return text

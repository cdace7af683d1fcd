"""Write ``<session>.jsonl``: transcripts of the RonKat2008 hook payloads' tool calls.

Made at test time into a temporary folder, from the payloads read in place in
``../shared/`` (third-party data is never committed to the project, not even derived).

Each of the four sessions in ``../shared/fixtures/RonKat2008__agent-verdict/.../hooks/``
gets the transcript Claude Code 2.1 would have written for it: a prompt, then per tool call
an ``assistant`` line with the ``tool_use`` block and a ``user`` line with its
``tool_result`` and ``toolUseResult`` (the hook's ``tool_response``). The two tool calls the
hooks saw only at PreToolUse get results here, and session ``5668ec28…`` has one tool call
no hook saw (``toolu_01TranscriptOnlyLs0000``), so the import test sees every case.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

HOOKS = ("fixtures", "RonKat2008__agent-verdict", "tests", "fixtures", "hooks")
CWD = "/private/var/folders/p2/xpfv5y4n1q9gmxzf52f5q3l40000gn/T/tmp.gOyhlOEkeJ"
NAMESPACE = uuid.UUID("6f1c2a8e-0000-4000-8000-000000000000")
BASH_OK = {"stderr": "", "interrupted": False, "isImage": False}
ONLY_IN_TRANSCRIPT = {
    "5668ec28-8187-4443-bfc9-b89bf23120bc": [
        (
            "toolu_01TranscriptOnlyLs0000",
            "Bash",
            {"command": "ls", "description": "List files"},
            {"stdout": "note.txt", **BASH_OK},
            False,
            "note.txt",
        )
    ]
}
RESULTS_OF_PRE_ONLY = {
    "toolu_013o22E8CxU2DsECXTvzaGbF": ({"stdout": "hello", **BASH_OK}, False, "hello"),
    "toolu_01AuKzST1rHeqN55prtUhqoF": (
        {"type": "create", "filePath": f"{CWD}/note.txt", "content": "hi",
         "structuredPatch": [], "originalFile": None},
        False,
        f"File created successfully at: {CWD}/note.txt",
    ),
}  # fmt: skip
ORDER = ["toolu_01NxNsGpqtGv2atHcfHbzkKi", "toolu_01RGX6GiRHL2buRqMJcNM5xz"]

Call = tuple[str, str, dict[str, Any], Any, bool, str]


def calls_of(payloads: list[dict[str, Any]]) -> list[Call]:
    by_id: dict[str, dict[str, dict[str, Any]]] = {}
    for p in payloads:
        if "tool_use_id" in p:
            by_id.setdefault(p["tool_use_id"], {})[p["hook_event_name"]] = p
    calls: list[Call] = []
    for use_id, seen in by_id.items():
        post = seen.get("PostToolUse") or seen.get("PostToolUseFailure")
        first = post or seen["PreToolUse"]
        if post is None:
            response, failed, text = RESULTS_OF_PRE_ONLY[use_id]
        elif post["hook_event_name"] == "PostToolUseFailure":
            response, failed, text = "Error: " + post["error"], True, post["error"]
        else:
            response, failed = post["tool_response"], False
            text = json.dumps(post["tool_response"])[:200]
        calls.append((use_id, first["tool_name"], first["tool_input"], response, failed, text))
    calls.sort(key=lambda c: ORDER.index(c[0]) if c[0] in ORDER else len(ORDER))
    return calls


def transcript(session: str, payloads: list[dict[str, Any]]) -> str:
    lines: list[dict[str, Any]] = []

    def line(kind: str, message: dict[str, Any], **extra: Any) -> str:
        uid = str(uuid.uuid5(NAMESPACE, f"{session}/{len(lines)}"))
        lines.append({
            "parentUuid": lines[-1]["uuid"] if lines else None, "isSidechain": False,
            "userType": "external", "cwd": CWD, "sessionId": session, "version": "2.1.278",
            "gitBranch": "", "type": kind, "message": message, "uuid": uid,
            "timestamp": f"2026-09-21T10:00:{len(lines) + 1:02d}.000Z", **extra,
        })  # fmt: skip
        return uid

    prompts = [p for p in payloads if p["hook_event_name"] == "UserPromptSubmit"]
    extra = {"promptId": prompts[0]["prompt_id"]} if prompts else {}
    text = prompts[0]["prompt"] if prompts else "Do the task in this folder."
    line("user", {"role": "user", "content": text}, permissionMode="acceptEdits", **extra)
    for use_id, name, tool_input, response, failed, output in [
        *calls_of(payloads),
        *ONLY_IN_TRANSCRIPT.get(session, []),
    ]:
        use = {"type": "tool_use", "id": use_id, "name": name, "input": tool_input}
        origin = line(
            "assistant",
            {"model": "claude-opus-4-6", "id": f"msg_{use_id[-12:]}", "type": "message",
             "role": "assistant", "content": [use], "stop_reason": None, "stop_sequence": None,
             "usage": {"input_tokens": 10, "output_tokens": 20}},
            requestId=f"req_{use_id[-10:]}",
        )  # fmt: skip
        block: dict[str, Any] = {"tool_use_id": use_id, "type": "tool_result", "content": output}
        if failed:
            block["is_error"] = True
        line("user", {"role": "user", "content": [block]}, toolUseResult=response,
             sourceToolAssistantUUID=origin)  # fmt: skip
    line("assistant", {"model": "claude-opus-4-6", "id": "msg_end", "type": "message",
                       "role": "assistant", "content": [{"type": "text", "text": "Done."}],
                       "stop_reason": "end_turn", "stop_sequence": None,
                       "usage": {"input_tokens": 10, "output_tokens": 2}})  # fmt: skip
    return "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines)


def write_hooked(out: Path) -> Path:
    """Write one transcript per session into ``out``; returns ``out``. Skips the calling
    test (with the path named) where ``../shared/`` is absent, never under ``CI=true``."""
    from conftest import shared_path

    hooks = shared_path(*HOOKS)
    payloads = [json.loads(p.read_text("utf-8")) for p in sorted(hooks.glob("*.json"))]
    sessions: dict[str, list[dict[str, Any]]] = {}
    for p in payloads:
        sessions.setdefault(p["session_id"], []).append(p)
    out.mkdir(parents=True, exist_ok=True)
    for session, items in sorted(sessions.items()):
        (out / f"{session}.jsonl").write_text(transcript(session, items), encoding="utf-8")
    return out

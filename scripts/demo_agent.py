"""Play the sample agent session in examples/demo-session.json against a scratch workspace.

Acts as the agent: for each tool call it sends the PreToolUse payload to `affidavit hook`,
does the work (reads, edits, writes, runs the shell command), then sends PostToolUse (or
PostToolUseFailure), exactly as Claude Code calls a command hook: one JSON object on stdin.

    python scripts/demo_agent.py WORKSPACE LEDGER
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

SESSION = Path(__file__).resolve().parent.parent / "examples" / "demo-session.json"


def hook(ledger: str, payload: dict[str, Any]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", ledger],
        input=json.dumps(payload).encode(),
        capture_output=True,
    )
    if done.returncode != 0 or done.stderr:
        print(
            f"hook said: {done.stderr.decode().strip()} (exit {done.returncode})", file=sys.stderr
        )


def main() -> None:
    workspace, ledger = Path(sys.argv[1]).resolve(), sys.argv[2]
    spec = json.loads(SESSION.read_text())
    for rel, text in spec["files"].items():
        (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace / rel).write_text(text)
    ws = str(workspace)
    session = spec["session_id"]
    base = {
        "session_id": session,
        "transcript_path": f"{Path.home()}/.claude/projects/{ws.replace('/', '-')}/{session}.jsonl",
        "cwd": ws,
        "permission_mode": spec["permission_mode"],
    }
    prompt_id = str(uuid.uuid4())
    for step in spec["steps"]:
        if "event" in step:
            hook(
                ledger,
                {
                    **base,
                    "hook_event_name": step["event"],
                    "prompt_id": prompt_id,
                    **step.get("fields", {}),
                },
            )
            continue
        tool = step["tool"]
        tool_input = json.loads(json.dumps(step["input"]).replace("{ws}", ws))
        call = {
            **base,
            "prompt_id": prompt_id,
            "tool_name": tool,
            "tool_input": tool_input,
            "tool_use_id": f"toolu_01{uuid.uuid4().hex[:22]}",
        }
        hook(ledger, {**call, "hook_event_name": "PreToolUse"})
        response, error = act(tool, tool_input, ws)
        if error is None:
            hook(
                ledger,
                {
                    **call,
                    "hook_event_name": "PostToolUse",
                    "tool_response": response,
                    "duration_ms": 3,
                },
            )
        else:
            hook(
                ledger,
                {
                    **call,
                    "hook_event_name": "PostToolUseFailure",
                    "error": error,
                    "is_interrupt": False,
                    "duration_ms": 3,
                },
            )
        print(f"  {tool:<5} {json.dumps(tool_input)[:90]}", file=sys.stderr)


def act(tool: str, tool_input: dict[str, Any], ws: str) -> tuple[dict[str, Any], str | None]:
    """Do what the tool does; return its tool_response (Claude Code's shape) or an error."""
    if tool == "Read":
        path = Path(tool_input["file_path"])
        text = path.read_text()
        lines = text.count("\n")
        file = {
            "filePath": str(path),
            "content": text,
            "numLines": lines,
            "startLine": 1,
            "totalLines": lines,
        }
        return {"type": "text", "file": file}, None
    if tool == "Edit":
        path = Path(tool_input["file_path"])
        original = path.read_text()
        path.write_text(original.replace(tool_input["old_string"], tool_input["new_string"], 1))
        return {
            "filePath": str(path),
            "oldString": tool_input["old_string"],
            "newString": tool_input["new_string"],
            "originalFile": original,
            "replaceAll": False,
            "userModified": False,
            "structuredPatch": [],
        }, None
    if tool == "Write":
        path = Path(tool_input["file_path"])
        original = path.read_text() if path.exists() else None
        path.write_text(tool_input["content"])
        return {
            "type": "create" if original is None else "update",
            "filePath": str(path),
            "content": tool_input["content"],
            "originalFile": original,
            "structuredPatch": [],
            "userModified": False,
        }, None
    if tool == "Bash":
        done = subprocess.run(
            tool_input["command"], shell=True, cwd=ws, capture_output=True, text=True
        )
        if done.returncode:
            return {}, f"Exit code {done.returncode}\n{done.stderr.strip()}"
        return {
            "stdout": done.stdout,
            "stderr": done.stderr,
            "interrupted": False,
            "isImage": False,
            "noOutputExpected": False,
        }, None
    raise SystemExit(f"demo session uses an unknown tool {tool}")


if __name__ == "__main__":
    main()

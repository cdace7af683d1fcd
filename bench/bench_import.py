"""Benchmark ``affidavit import claude-code`` on a synthetic ~100 MB transcript set.

The set is generated here (not copied from fixtures) in the shapes Claude Code 2.1 writes:
sessions of prompts, thinking and text, tool calls (Read, Bash, Edit, Write, Grep, Glob,
TodoWrite, WebFetch, Task) each followed by hook_progress lines and a tool_result line whose
``toolUseResult`` carries the structured response (file contents, originalFile and
structuredPatch, stdout), plus subagent transcripts and file-history snapshots.

Prints the import's MB/s, the peak RSS (VmHWM) and a baseline measured in the same run: a
plain ``json.loads`` of every line of the same files, and the ratio between the two.

    .venv/bin/python bench/bench_import.py [--mb 100] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from affidavit.capture import transcripts
from affidavit.ledger import Ledger

_VOCABULARY = (
    "the of and to in is for that with on as this be are from by at or an it not we can "
    "config value return self data file path error result test user request handler cache "
    "index query table record update create delete import export module function class "
    "async await None True False list dict str int raise except try finally yield lambda"
)
WORDS = _VOCABULARY.split()


class Writer:
    """Generates one session transcript in Claude Code's line shapes."""

    def __init__(self, rng: random.Random, session: str, cwd: str, agent: str | None) -> None:
        self.rng = rng
        self.session = session
        self.cwd = cwd
        self.agent = agent
        self.parent: str | None = None
        self.clock = 1_760_000_000.0 + rng.random() * 1e6
        self.lines: list[str] = []

    def text(self, words: int) -> str:
        return " ".join(self.rng.choice(WORDS) for _ in range(words))

    def code(self, lines: int) -> str:
        out = []
        for i in range(lines):
            indent = "    " * self.rng.randint(0, 3)
            out.append(
                f"{indent}{self.rng.choice(WORDS)}_{i} = {self.text(self.rng.randint(2, 9))}"
            )
        return "\n".join(out)

    def emit(self, kind: str, **fields: Any) -> str:
        self.clock += self.rng.random() * 5
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.clock))
        uid = str(uuid.UUID(int=self.rng.getrandbits(128)))
        line: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": self.agent is not None,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session,
            "version": "2.1.38",
            "gitBranch": "main",
            "slug": "synthetic-bench-session",
        }
        if self.agent:
            line["agentId"] = self.agent
        line.update(
            type=kind, **fields, uuid=uid, timestamp=f"{stamp}.{int(self.clock % 1 * 1000):03d}Z"
        )
        self.parent = uid
        self.lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        return uid

    def prompt(self) -> None:
        content = self.text(self.rng.randint(8, 60))
        self.emit("user", message={"role": "user", "content": content}, permissionMode="default")

    def assistant(self, blocks: list[dict[str, Any]]) -> str:
        message = {
            "model": "claude-opus-4-6",
            "id": f"msg_{self.rng.getrandbits(64):016x}",
            "type": "message",
            "role": "assistant",
            "content": blocks,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "cache_read_input_tokens": 41000, "output_tokens": 212},
        }
        return self.emit(
            "assistant", message=message, requestId=f"req_{self.rng.getrandbits(48):x}"
        )

    def tool(self, name: str, tool_input: dict[str, Any], output: str, result: Any) -> None:
        use_id = f"toolu_01{self.rng.getrandbits(100):025x}"
        origin = self.assistant(
            [{"type": "tool_use", "id": use_id, "name": name, "input": tool_input}]
        )
        for event in ("PreToolUse", "PostToolUse"):
            data = {
                "type": "hook_progress",
                "hookEvent": event,
                "hookName": f"{event}:{name}",
                "command": "callback",
            }
            self.emit("progress", data=data, parentToolUseID=use_id, toolUseID=use_id)
        block = {"tool_use_id": use_id, "type": "tool_result", "content": output}
        self.emit(
            "user",
            message={"role": "user", "content": [block]},
            toolUseResult=result,
            sourceToolAssistantUUID=origin,
        )

    def random_tool(self) -> None:
        rng = self.rng
        path = f"{self.cwd}/src/{rng.choice(WORDS)}/{rng.choice(WORDS)}_{rng.randint(1, 999)}.py"
        pick = rng.random()
        if pick < 0.3:
            body = self.code(rng.randint(80, 300))
            numbered = "\n".join(f"{i + 1:6}→{t}" for i, t in enumerate(body.split("\n")))
            file = {
                "filePath": path,
                "content": body,
                "numLines": body.count("\n") + 1,
                "startLine": 1,
                "totalLines": body.count("\n") + 1,
            }
            self.tool("Read", {"file_path": path}, numbered, {"type": "text", "file": file})
        elif pick < 0.55:
            command = f"pytest -q tests/test_{rng.choice(WORDS)}.py -k {rng.choice(WORDS)}"
            out = self.code(rng.randint(5, 60))
            result = {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
            self.tool("Bash", {"command": command, "description": self.text(5)}, out, result)
        elif pick < 0.75:
            original = self.code(rng.randint(80, 250))
            old = original.split("\n")[rng.randint(0, 50)]
            new = old + "  # " + self.text(6)
            patch = [
                {
                    "oldStart": 10,
                    "oldLines": 7,
                    "newStart": 10,
                    "newLines": 7,
                    "lines": [" " + self.text(8) for _ in range(3)] + ["-" + old, "+" + new],
                }
            ]
            result = {
                "filePath": path,
                "oldString": old,
                "newString": new,
                "originalFile": original,
                "structuredPatch": patch,
                "userModified": False,
                "replaceAll": False,
            }
            note = f"The file {path} has been updated. Here's the result:\n{self.code(12)}"
            self.tool(
                "Edit", {"file_path": path, "old_string": old, "new_string": new}, note, result
            )
        elif pick < 0.82:
            content = self.code(rng.randint(30, 150))
            result = {
                "type": "create",
                "filePath": path,
                "content": content,
                "structuredPatch": [],
                "originalFile": None,
            }
            self.tool(
                "Write",
                {"file_path": path, "content": content},
                f"File created successfully at: {path}",
                result,
            )
        elif pick < 0.9:
            found = "\n".join(f"{self.cwd}/src/{rng.choice(WORDS)}_{i}.py" for i in range(40))
            self.tool(
                rng.choice(["Grep", "Glob"]),
                {"pattern": rng.choice(WORDS)},
                found,
                {"filenames": found.split("\n"), "numFiles": 40, "durationMs": 12},
            )
        elif pick < 0.96:
            todos = [
                {"content": self.text(8), "status": "pending", "activeForm": self.text(4)}
                for _ in range(5)
            ]
            self.tool(
                "TodoWrite",
                {"todos": todos},
                "Todos have been modified successfully.",
                {"oldTodos": todos[:2], "newTodos": todos},
            )
        else:
            url = f"https://docs.example.com/{rng.choice(WORDS)}/{rng.randint(1, 9999)}"
            text = self.text(600)
            self.tool(
                "WebFetch",
                {"url": url, "prompt": self.text(10)},
                text,
                {
                    "bytes": len(text),
                    "code": 200,
                    "codeText": "OK",
                    "result": text,
                    "durationMs": 900,
                    "url": url,
                },
            )

    def session_body(self, turns: int) -> None:
        self.emit(
            "file-history-snapshot",
            messageId=str(uuid.UUID(int=self.rng.getrandbits(128))),
            snapshot={"trackedFileBackups": {}, "timestamp": "2026-02-10T21:54:15.897Z"},
            isSnapshotUpdate=False,
        )
        for _ in range(turns):
            if self.agent is None:
                self.prompt()
            self.assistant([{"type": "thinking", "thinking": self.text(80), "signature": "sig"}])
            for _ in range(self.rng.randint(1, 8)):
                self.random_tool()
            self.assistant([{"type": "text", "text": self.text(self.rng.randint(20, 200))}])


def generate(root: Path, target_bytes: int, seed: int = 20261126) -> tuple[int, int]:
    """Write sessions under ``root`` until ``target_bytes``; returns (bytes, files)."""
    rng = random.Random(seed)
    total = files = 0
    project = root / "-home-dev-work-project"
    project.mkdir(parents=True)
    while total < target_bytes:
        session = str(uuid.UUID(int=rng.getrandbits(128)))
        writers = [Writer(rng, session, "/home/dev/work/project", None)]
        writers[0].session_body(rng.randint(5, 25))
        if rng.random() < 0.4:
            agent = f"a{rng.getrandbits(64):016x}"
            writers.append(Writer(rng, session, "/home/dev/work/project", agent))
            writers[1].session_body(rng.randint(2, 6))
        for i, w in enumerate(writers):
            path = project / f"{session}.jsonl"
            if i:
                path = project / session / "subagents" / f"agent-{w.agent}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
            data = ("\n".join(w.lines) + "\n").encode("utf-8")
            path.write_bytes(data)
            total += len(data)
            files += 1
    return total, files


def peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def baseline(root: Path) -> float:
    """Seconds to json.loads every line of every file, read line by line."""
    started = time.perf_counter()
    for path in sorted(root.rglob("*.jsonl")):
        with open(path, "rb") as f:
            for line in f:
                if line.strip():
                    json.loads(line)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="size of the set (MB)")
    parser.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="affidavit-bench-"))
    root = args.keep or work / "projects"
    try:
        if not root.exists():
            size, files = generate(root, int(args.mb * 1e6))
        else:
            size = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
            files = len(list(root.rglob("*.jsonl")))
        mb = size / 1e6
        where = f" ({root})" if args.keep else ""  # a generated set lives in a temp folder
        print(f"transcript set: {mb:.1f} MB in {files} files{where}")
        rss_before = peak_rss_mb()

        json_seconds = baseline(root)
        ledger = Ledger.create(
            work / "bench.sqlite", origin="bench.example/import", key_path=work / "bench.key"
        )
        started = time.perf_counter()
        result = transcripts.import_paths(ledger.store, [root], imported_by={"user": "bench"})
        seconds = time.perf_counter() - started
        ledger.close()

        print(
            f"import:    {seconds:6.2f} s  {mb / seconds:7.1f} MB/s  "
            f"({result.records} records, {result.error_count} errors)"
        )
        print(f"json.loads:{json_seconds:6.2f} s  {mb / json_seconds:7.1f} MB/s  (baseline)")
        print(f"ratio:     import takes {seconds / json_seconds:.1f}x the plain parse")
        print(f"peak RSS:  {peak_rss_mb():.0f} MB (VmHWM; {rss_before:.0f} MB after generating)")
        print(json.dumps(result.to_json()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()

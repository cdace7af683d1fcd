"""Elastic Common Schema 9.1 JSON Lines: one document per record (field reference: ECS 9.1,
whose ``gen_ai.*`` fields name the agent and its tool calls).

Every document has ``@timestamp`` (the record time, RFC 3339 UTC), ``ecs.version``,
``event.kind`` "event", ``event.action`` (the record kind), ``event.sequence`` (seq, a long)
and ``event.hash`` (the leaf hash, hex: ECS's field "to demonstrate log integrity"),
``event.module`` "affidavit", ``event.dataset`` "affidavit.records", ``event.provider``
(the record source) and ``event.outcome`` when the record knows it. ``affidavit.*`` (a
custom namespace, as ECS advises) holds ``seq``, ``leaf_hash``, ``origin``, ``kind``,
``source``, ``erased``, ``corroborated``, ``session_id``, ``agent`` (the payload's agent
section: cwd, permission_mode, tool_use_id...), ``file.before_sha256``/``old_path``, and
``payload``: the other payload fields ECS has no place for.

=====================  ===============  ==========================  ========================
record kind            event.category   event.type                  main fields
=====================  ===============  ==========================  ========================
file.* (not claim)     file             creation, access, change,   file.path/name/directory/
                                        deletion (restore: by its   extension/size/type,
                                        effect; rename: change)     file.hash.sha256
command.exec           process          start                       process.command_line,
                                                                    exit_code, working_directory
web.fetch, web.search  web              access                      url.full, url.domain
tool.call              api              access                      gen_ai.tool.name/call.id
tool.intent            api              info                        gen_ai.tool.name/call.id
agent.spawn            api              start                       gen_ai.operation.name
prompt.submit          api              info                        message (the prompt)
session.start/end      session          start / end
convention.snapshot    configuration    info
anything else          (none)           (none)                      counted as unmapped
=====================  ===============  ==========================  ========================

People and places: ``user.name`` (OS user), ``user.email`` and ``user.id`` (Claude account),
``organization.id``, ``host.hostname`` and ``host.name``; ``gen_ai.agent.name`` is the agent
product and ``gen_ai.system`` its vendor; ``related.hash``/``user``/``hosts`` collect every
hash, user and host for pivoting. The file hash is the content after the action (before it
for a delete); the other one is in ``affidavit.file.before_sha256`` and ``related.hash``.

Payload fields whose shape varies (tool input, gaps, corroborations...) go to
``affidavit.payload`` as one JSON string, so that no arbitrary key can grow or break the
index mapping. The ``raw`` or ``raw_rest`` source event is not exported (the ledger and
jsonl keep it).
Erased records have the envelope fields only and ``tags: ["erased"]``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import urlsplit

from affidavit.export import (
    VENDORS,
    ExportReport,
    Lines,
    Row,
    basename,
    file_action,
    int_of,
    section,
    text_of,
)

VERSION = "9.1.0"
FILE_TYPES = {
    "create": "creation",
    "read": "access",
    "update": "change",
    "delete": "deletion",
    "rename": "change",
}
# kind → (event.category, event.type, gen_ai.operation.name)
KINDS: dict[str, tuple[str, str, str | None]] = {
    "command.exec": ("process", "start", "execute_tool"),
    "web.fetch": ("web", "access", "execute_tool"),
    "web.search": ("web", "access", "execute_tool"),
    "tool.call": ("api", "access", "execute_tool"),
    "tool.intent": ("api", "info", "execute_tool"),
    "agent.spawn": ("api", "start", "invoke_agent"),
    "prompt.submit": ("api", "info", "invoke_agent"),
    "session.start": ("session", "start", None),
    "session.end": ("session", "end", None),
    "convention.snapshot": ("configuration", "info", None),
}
OUTCOMES = {"ok": "success", "failed": "failure"}
_TAKEN = frozenset(
    {"raw", "raw_rest", "actor", "agent", "file", "command", "prompt", "outcome", "error"}
)
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode


class EcsExporter:
    name = "ecs"
    suffix = ".ecs.jsonl"

    def __init__(self, *, origin: str, version: str) -> None:
        self.origin = origin
        self.version = version

    def write(self, rows: Iterable[Row], out: IO[bytes]) -> ExportReport:
        unmapped: Counter[str] = Counter()
        lines = Lines(out)
        written = erased = 0
        for row in rows:
            doc = self.document(row)
            if row.payload is None:
                erased += 1
            elif "category" not in doc["event"]:
                unmapped[row.kind] += 1
            lines.add(_encode(doc) + "\n")
            written += 1
        lines.flush()
        return ExportReport(written, dict(unmapped), erased)

    def document(self, row: Row) -> dict[str, Any]:
        """The ECS document of one record."""
        event: dict[str, Any] = {"kind": "event"}
        mine: dict[str, Any] = {
            "seq": row.seq,
            "leaf_hash": row.leaf_hash,
            "origin": self.origin,
            "kind": row.kind,
            "source": row.source,
            "erased": row.payload is None,
            "corroborated": bool(row.corroborated),
        }
        doc: dict[str, Any] = {"@timestamp": row.time, "ecs": {"version": VERSION}, "event": event}
        if row.payload is None:
            doc["tags"] = ["erased"]
        else:
            self._fill(row, json.loads(row.payload), doc, event, mine)
        event["action"] = row.kind
        event["sequence"] = row.seq
        event["hash"] = row.leaf_hash
        event["module"] = "affidavit"
        event["dataset"] = "affidavit.records"
        event["provider"] = row.source
        doc["affidavit"] = mine
        return doc

    def _fill(
        self,
        row: Row,
        p: dict[str, Any],
        doc: dict[str, Any],
        event: dict[str, Any],
        mine: dict[str, Any],
    ) -> None:
        file = section(p, "file")
        # A file.claim (what a command named, not what was seen happen) is no file event.
        if row.kind.startswith("file.") and row.kind != "file.claim":
            action = file_action(row.kind, file)
            event["category"], event["type"] = ["file"], [FILE_TYPES[action]]
            operation: str | None = "execute_tool" if row.tool_use_id else None
        elif row.kind in KINDS:
            category, kind_type, operation = KINDS[row.kind]
            event["category"], event["type"] = [category], [kind_type]
        else:
            operation = None
        outcome = OUTCOMES.get(text_of(p, "outcome") or "")
        if outcome:
            event["outcome"] = outcome
        actor = section(p, "actor")
        related: dict[str, list[str]] = {}
        user = {}
        if row.actor_user:
            user["name"] = row.actor_user
        if row.actor_email:
            user["email"] = row.actor_email
        account = text_of(actor, "account_uuid")
        if account:
            user["id"] = account
        if user:
            doc["user"] = user
            related["user"] = list(dict.fromkeys(user.values()))
        host = text_of(actor, "host")
        if host:
            doc["host"] = {"hostname": host, "name": host}
            related["hosts"] = [host]
        org = text_of(actor, "org_uuid")
        if org:
            doc["organization"] = {"id": org}
        if row.session_id:
            mine["session_id"] = row.session_id
        if row.path:
            self._file(row, file, doc, mine, related)
        rest = {k: v for k, v in p.items() if k not in _TAKEN}
        if row.kind == "command.exec":
            leftover = self._process(row, p, doc)
            if leftover:
                rest["command"] = leftover
        elif row.kind == "web.fetch":
            url = text_of(section(section(p, "tool"), "input"), "url")
            if url:
                doc["url"] = {"full": url, "original": url}
                try:
                    domain = urlsplit(url).hostname
                except ValueError:
                    domain = None
                if domain:
                    doc["url"]["domain"] = domain
        elif row.kind == "prompt.submit":
            prompt = text_of(section(p, "prompt"), "text")
            if prompt:
                doc["message"] = prompt
        error = text_of(p, "error")
        if error:
            doc["error"] = {"message": error}
        gen_ai = self._gen_ai(row, section(p, "agent"), operation)
        if gen_ai:
            doc["gen_ai"] = gen_ai
        agent = section(p, "agent")
        if agent:
            mine["agent"] = agent
        if related:
            doc["related"] = related
        if rest:
            mine["payload"] = _encode(rest)

    def _file(
        self,
        row: Row,
        file: dict[str, Any],
        doc: dict[str, Any],
        mine: dict[str, Any],
        related: dict[str, list[str]],
    ) -> None:
        path = row.path or ""
        name = basename(path)
        out: dict[str, Any] = {"path": path, "name": name, "type": "file"}
        folder = path[: len(path) - len(name)].rstrip("/\\")
        if folder:
            out["directory"] = folder
        dot = name.rfind(".")
        if dot > 0:
            out["extension"] = name[dot + 1 :]
        if row.size is not None:
            out["size"] = row.size
        before, after = row.before_sha256, row.after_sha256
        digest = after if after is not None else before
        if digest:
            out["hash"] = {"sha256": digest}
        hashes = [h for h in (before, after) if h]
        if hashes:
            related["hash"] = list(dict.fromkeys(hashes))
        doc["file"] = out
        extra = {}
        if before is not None and after is not None:
            extra["before_sha256"] = before
        old = text_of(file, "old_path")
        if old:
            extra["old_path"] = old
        if extra:
            mine["file"] = extra

    def _process(self, row: Row, p: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
        """Fill ``process``; returns the command fields ECS has no place for."""
        command = section(p, "command")
        process: dict[str, Any] = {"command_line": row.command or ""}
        code = int_of(command, "exit")
        if code is not None:
            process["exit_code"] = code
        cwd = text_of(section(p, "agent"), "cwd")
        if cwd:
            process["working_directory"] = cwd
        if row.tool_use_id:
            process["entity_id"] = row.tool_use_id
        doc["process"] = process
        return {k: v for k, v in command.items() if k not in ("text", "exit")}

    def _gen_ai(self, row: Row, agent: dict[str, Any], operation: str | None) -> dict[str, Any]:
        gen_ai: dict[str, Any] = {}
        if row.agent:
            gen_ai["agent"] = {"name": row.agent}
            vendor = VENDORS.get(row.agent)
            if vendor:
                gen_ai["system"] = vendor.lower()
            agent_id = text_of(agent, "agent_id")
            if agent_id:
                gen_ai["agent"]["id"] = agent_id
        if row.tool:
            tool: dict[str, Any] = {"name": row.tool}
            if row.tool_use_id:
                tool["call"] = {"id": row.tool_use_id}
            gen_ai["tool"] = tool
        if operation:
            gen_ai["operation"] = {"name": operation}
        return gen_ai

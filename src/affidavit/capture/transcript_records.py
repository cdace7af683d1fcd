"""What a transcript import records for each tool use, prompt and Cowork session record.

The mapping half of :mod:`affidavit.capture.transcripts`: each thing read is rebuilt as
the hook event it stands for, mapped by :func:`affidavit.capture.events.map_event` (the one
mapper), attributed to the session's owner (:mod:`affidavit.capture.attribution`), checked
against what is already recorded and written through :class:`~.transcript_batch.Batch`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from affidavit.capture import attribution, events, transcript_batch, writer
from affidavit.capture.redact import redact
from affidavit.capture.transcript_batch import CORROBORATION, INTENT, SOURCE, ImportResult
from affidavit.capture.transcript_files import (
    MAX_LINE,
    BadLine,
    Source,
    excerpt,
    kind_of,
    text_field,
    text_of,
)
from affidavit.store.sqlite import SqliteStore

MAX_SESSION_FILE = 16 * 2**20

Clock = Callable[[], datetime]
Draft = tuple[str, dict[str, Any]]


@dataclass(slots=True)
class Use:
    """A tool use read from a transcript, waiting for its result."""

    id: str
    name: str
    input: dict[str, Any]
    line: int
    time: datetime | None
    session: str | None
    cwd: str | None
    version: str | None
    agent_id: str | None
    prompt_id: str | None
    permission_mode: str | None
    raw: dict[str, Any]  # excerpt of its line, should it need a capture.error


@dataclass(slots=True)
class FileState:
    """What one transcript has said so far that later lines inherit."""

    path: str
    cowork: bool
    cwd: str | None = None
    version: str | None = None
    permission_mode: str | None = None
    user_type: str | None = None
    pending: dict[str, Use] = field(default_factory=dict)


class Recorder:
    """Turns what was read into records, for one import run over one store."""

    def __init__(
        self,
        store: SqliteStore,
        *,
        imported_by: Mapping[str, Any],
        owner: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        max_line: int = MAX_LINE,
    ) -> None:
        self.store = store
        self.stated = {k: v for k, v in (owner or {}).items() if v}
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.max_line = max_line
        self.result = ImportResult()
        self.batch = transcript_batch.Batch(
            store, self.result, clock=self.clock, imported_by=dict(imported_by)
        )
        self.sessions: set[str] = set()
        self._owners: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
        self.raw = b""  # the line being read, for the excerpt of a capture.error

    # -- attribution and errors -------------------------------------------------------------

    def owner(self, path: str, cwd: str | None, user_type: str | None) -> dict[str, Any]:
        """The actor of records from ``path``: see :mod:`affidavit.capture.attribution`."""
        key = (path, cwd, user_type)
        found = self._owners.get(key)
        if found is None:
            if len(self._owners) > 4096:
                self._owners.clear()
            found = attribution.owner_of(path, cwd=cwd, user_type=user_type, stated=self.stated)
            self._owners[key] = found
        return found

    def error(
        self, state: FileState, line: int, reason: str, raw: dict[str, Any] | None = None
    ) -> None:
        """Report a bad line on stderr and leave a ``capture.error`` for it in the ledger."""
        self.result.error(f"{state.path}:{line}: {reason}")
        owner = self.owner(state.path, state.cwd, state.user_type)
        snippet = raw if raw is not None else excerpt(self.raw)
        self.batch.error_record(owner, reason, path=state.path, line=line, raw=snippet)

    def flush(self) -> None:
        self.batch.flush(self._group_agent)

    # -- mapping ----------------------------------------------------------------------------

    def _event(self, state: FileState, session: str | None, **fields: Any) -> dict[str, Any]:
        base = {"session_id": session, "transcript_path": state.path, "cwd": state.cwd}
        base.update(fields)
        return {k: v for k, v in base.items() if v is not None}

    def _drafts(
        self, state: FileState, event: dict[str, Any], version: str | None, cwd: str | None
    ) -> list[Draft]:
        actor = self.owner(state.path, cwd, state.user_type)
        drafts = events.map_event(event, actor=actor, version=version)
        if state.cowork:  # a Cowork session file: the VM when its cwd shows it, else the host
            _, surface = events.product_and_surface({"cwd": cwd})
            surface = surface if surface == events.SURFACE_VM else events.SURFACE_HOST
            for _, payload in drafts:
                payload["agent"].update(product="cowork", surface=surface)
        return drafts

    def _agent(self, path: str, cowork: bool, session: str | None) -> dict[str, Any]:
        product, surface = events.product_and_surface({"transcript_path": path})
        if cowork:
            product, surface = "cowork", events.SURFACE_HOST
        agent = {"product": product, "surface": surface, "session_id": session}
        return {k: v for k, v in agent.items() if v}

    def _group_agent(self, group: transcript_batch.Group) -> dict[str, Any]:
        session, path, cowork = group
        return self._agent(path, cowork, session or None)

    def tool_use(
        self,
        state: FileState,
        use: Use,
        result: Mapping[str, Any] | None,
        response: object,
        moment: datetime | None,
    ) -> None:
        extra: dict[str, Any] = {}
        if result is None:
            name = "PreToolUse"
        elif result.get("is_error") is True:
            name, extra = "PostToolUseFailure", {"error": text_of(result.get("content"))}
        else:
            name = "PostToolUse"
            extra = {"tool_response": response if isinstance(response, dict) else None}
        event = self._event(
            state,
            use.session,
            hook_event_name=name,
            tool_name=use.name,
            tool_input=use.input,
            tool_use_id=use.id,
            prompt_id=use.prompt_id,
            agent_id=use.agent_id,
            permission_mode=use.permission_mode,
            cwd=use.cwd,
            transcript_line=use.line,
            **extra,
        )
        drafts = self._drafts(state, event, use.version, use.cwd or state.cwd)
        owner = drafts[0][1]["actor"]
        answered = result is not None
        group = (use.session or "", state.path, state.cowork)
        batch = self.batch
        batch.begin()
        held = batch.claimed.get(use.id)
        if held is not None and (held != INTENT or not answered):
            self.result.duplicates += 1
            return
        verdict, seqs, hook_intent, gap_done = batch.classify(use.id, use.name, answered)
        if verdict == "duplicate":
            self.result.duplicates += 1
            return
        if verdict == "corroborated":
            kind = CORROBORATION if answered else INTENT
            batch.corroborated.setdefault(group, []).append((seqs, use.id, kind))
            batch.owners.setdefault(group, owner)
            batch.claimed[use.id] = kind
            self.result.corroborated += 1
            batch.cover(use.session)
            return
        if hook_intent:
            # The hook saw this call's PreToolUse: the record written now says so.
            drafts[0][1]["corroborated_by"] = [
                {"source": "claude-code.hook", "event": "PreToolUse", "seqs": seqs}
            ]
        covered = hook_intent or (use.session is not None and use.session in batch.hooked())
        gap = not gap_done and covered
        if gap:
            reason = (
                "a hook saw the request (PreToolUse) but not its result"
                if hook_intent
                else "transcript shows a tool use no hook saw"
            )
            body: dict[str, Any] = {"reason": reason, "tool_use_id": use.id}
            body.update(transcript=state.path, line=use.line)
            agent = self._agent(state.path, state.cowork, use.session)
            agent.update(tool_use_id=use.id, tool=use.name)
            drafts.append(("capture.gap", {"actor": owner, "agent": agent, "gap": body}))
        failure = batch.write(drafts, moment, state.path, use.line)
        if failure is not None:
            self.error(state, use.line, failure, use.raw)
            return
        self.result.gaps += int(gap)
        if not gap_done and not covered:
            batch.uncovered[group] = batch.uncovered.get(group, 0) + 1
            batch.owners.setdefault(group, owner)

    def prompt(
        self,
        state: FileState,
        obj: Mapping[str, Any],
        text: str,
        number: int,
        session: str | None,
        moment: datetime | None,
    ) -> None:
        event = self._event(
            state,
            session,
            hook_event_name="UserPromptSubmit",
            prompt=text,
            prompt_id=text_field(obj, "promptId"),
            permission_mode=state.permission_mode,
            transcript_line=number,
        )
        drafts = self._drafts(state, event, state.version, state.cwd)
        uuid = text_field(obj, "uuid") or f"line-{number}"
        line_key = f"prompt:{session or ''}:{uuid}"
        batch = self.batch
        batch.begin()
        seen = writer.seen(self.store, line_key)
        if line_key in batch.claimed or any(src == SOURCE for _, src, _ in seen):
            self.result.duplicates += 1
            return
        clean, _ = redact(drafts[0][1].get("prompt", {}).get("text", ""))
        text_key = writer.prompt_key(session, clean)
        rows = writer.seen(self.store, text_key)
        theirs = [seq for seq, src, _ in rows if src != SOURCE]
        claimed = sum(1 for _, src, _ in rows if src == SOURCE) + batch.text_claims[text_key]
        if len(theirs) > claimed:
            group = (session or "", state.path, state.cowork)
            batch.corroborated.setdefault(group, []).append(([theirs[claimed]], line_key, "prompt"))
            batch.corroborated[group].append(([], text_key, "prompt"))
            batch.owners.setdefault(group, drafts[0][1]["actor"])
            batch.claimed[line_key] = CORROBORATION
            batch.text_claims[text_key] += 1
            self.result.corroborated += 1
            return
        drafts[0][1]["dedup_key"] = line_key
        failure = batch.write(drafts, moment, state.path, number)
        if failure is not None:
            self.error(state, number, failure)

    def session_record(self, source: Source) -> None:
        """A Cowork ``local_<id>.json``: one ``session.start`` record, deduplicated by id."""
        path = str(source.path)
        state = FileState(path, cowork=True)
        with open(path, "rb") as f:
            data = f.read(MAX_SESSION_FILE + 1)
        self.raw = data
        if len(data) > MAX_SESSION_FILE:
            self.error(state, 1, f"larger than {MAX_SESSION_FILE} bytes; not a session record")
            return
        try:
            obj = json.loads(data)
        except json.JSONDecodeError as e:
            self.raw = data.split(b"\n")[e.lineno - 1]
            self.error(state, e.lineno, f"not JSON ({e.msg})")
            return
        except (ValueError, RecursionError) as e:
            self.error(state, 1, f"not JSON text ({e})")
            return
        try:
            if type(obj) is not dict:
                raise BadLine(f"expected a JSON object, got {kind_of(obj)}")
            session, cli_session = text_field(obj, "sessionId"), text_field(obj, "cliSessionId")
            state.cwd = text_field(obj, "cwd")
            if session is None:
                raise BadLine("no 'sessionId': not a Cowork session record (local_<id>.json)")
        except BadLine as e:
            self.error(state, 1, str(e))
            return
        self.sessions.update(s for s in (session, cli_session) if s)
        event = self._event(state, session, hook_event_name="SessionStart", cowork_session=obj)
        drafts = self._drafts(state, event, None, state.cwd)
        drafts[0][1]["dedup_key"] = f"cowork-session:{session}"
        created = obj.get("createdAt")
        moment = None
        if isinstance(created, int | float) and not isinstance(created, bool):
            try:
                moment = datetime.fromtimestamp(created / 1000, UTC)
            except (OverflowError, OSError, ValueError):
                self.error(
                    state, 1, "createdAt is not a time in milliseconds; used the import time"
                )
        self.batch.begin()
        if writer.seen(self.store, f"cowork-session:{session}"):
            self.result.duplicates += 1
            return
        failure = self.batch.write(drafts, moment, path, 1)
        if failure is not None:
            self.error(state, 1, failure)

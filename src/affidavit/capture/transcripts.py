"""Import Claude Code transcripts and Cowork session folders as ledger records.

A transcript is what the agent wrote down about itself. Each tool call it shows is rebuilt
as the event the hook would have received and mapped by
:func:`affidavit.capture.events.map_event`, so both sources give the same record kinds and
payloads; imported records carry the source ``claude-code.transcript``.

What is read (a folder is searched recursively, symlinked folders are not followed):

* Claude Code transcripts: every ``*.jsonl`` (``~/.claude/projects/<project>/<session>.jsonl``
  and the subagent transcripts beside it). A file named on the command line is read as a
  transcript whatever its name, except a ``.json`` file (below).
* Cowork, under ``local-agent-mode-sessions/<account>/<org>/``: each ``local_<id>.json``
  session record gives one ``session.start`` record (title, model... in its ``raw``); its
  folder ``local_<id>/`` holds ``audit.jsonl`` (Agent SDK stream messages: snake_case
  ``session_id``, ``_audit_timestamp``) and the inner CLI transcripts under ``.claude/``.
  Cowork writes a tool call to both, so the second copy counts as a duplicate. A file is
  Cowork when its path has ``local-agent-mode-sessions`` in it or its lines carry
  ``_audit_timestamp``; its records say product ``cowork``, surface ``desktop``.

Rules, lenient with what is unknown and strict with what is used:

* **Tool uses** are the ``tool_use`` blocks of top-level ``assistant`` lines; the ones echoed
  inside ``progress`` lines (a subagent's ``agent_progress``) are not, since the subagent's own
  transcript holds them. Each is matched with the ``tool_result`` block of a later ``user``
  line (same ``tool_use_id``) and that line's ``toolUseResult`` (used when the line answers
  just one tool use). ``is_error`` makes it a ``PostToolUseFailure`` whose error is the
  result's text. Record time: the result line's ``timestamp`` (the hook's PostToolUse fires
  then), else the tool use line's, else the import time.
* **Unanswered tool uses** (the session stopped, or is still running) are recorded as what
  the hook's PreToolUse gives: ``tool.intent``, no outcome. When a later import sees the
  result, the outcome record is added then; an intent alone never counts as "already seen".
* **Prompts**: a ``user`` line whose ``message.content`` is a string or holds ``text`` blocks
  and no ``tool_result``; not ``isMeta``, ``isCompactSummary``, ``isVisibleInTranscriptOnly``,
  ``isReplay`` (Cowork's echo), not in a subagent (``isSidechain``, ``parent_tool_use_id``:
  the text is the parent agent's, not a person's), and not slash-command or shell noise
  (:data:`NOISE`): local commands never reach the model, and a custom command's expansion is
  an ``isMeta`` line. The tool uses a command causes are recorded all the same.
* **Everything else** (summary, system, progress, file-history-snapshot, queue-operation,
  rate_limit_event, result, types not invented yet, unknown fields) is skipped silently, but
  every non-empty ``sessionId``/``session_id`` counts towards ``sessions``.

Deduplication, through the ``tool_uses`` index (tool_use_id → records): a tool use counts as
already recorded by a record under the same id that names the same tool (fixtures reuse ids
like ``tool_001`` across sessions; real ids are unique).

* already imported from a transcript → ``duplicates``, nothing written;
* recorded by a hook's PostToolUse (or by any other source) → ``corroborated``: nothing is
  duplicated, and one ``capture.corroboration`` record per session and transcript lists the
  hook records' seqs and the tool_use_ids, so the corroboration is in the log too; its index
  rows make a re-import count these as duplicates;
* seen by no hook → the record is written, and a ``capture.gap`` record says so: one per
  tool use when hooks covered the session (a hook recorded any tool call of it), naming the
  transcript line; otherwise one per session and transcript, counting its tool uses
  ("session known only from its transcript").

Prompts dedupe by ``prompt:<session>:<line uuid>`` and corroborate the hook's
``prompt.submit`` of the same text in the same session (:func:`writer.prompt_key`).

Errors: a line that is not UTF-8, not JSON, not an object, longer than ``max_line``, or has
the wrong type in a field used here, is reported as ``path:line: reason`` and skipped; a file
that cannot be read is reported and skipped. The import goes on either way.

Writes go through the store in transactions, each holding the records it summarizes: one
ends at a file boundary once it holds :data:`BATCH_RECORDS` records or :data:`BATCH_SECONDS`
of work, and inside a file after every :data:`BATCH_RECORDS` records of that file (a file
that long gets its summaries per part, at points that depend on the input only). So hooks
never wait long for the lock, memory stays bounded, and an interrupted import keeps what it
committed; running it again skips that as duplicates.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from affidavit.capture import events, writer
from affidavit.capture.redact import redact
from affidavit.errors import InputError
from affidavit.record import parse_time
from affidavit.store.sqlite import SqliteStore

SOURCE = events.SOURCE_TRANSCRIPT
MAX_LINE = 64 * 2**20
MAX_SESSION_FILE = 16 * 2**20
BATCH_RECORDS = 1000
BATCH_SECONDS = 0.5
MAX_PENDING = 10_000
MAX_ERRORS_LISTED = 1000
_PROGRESS_STEP = 2**20
NOISE = (
    "<command-name>",
    "<command-message>",
    "<command-args>",
    "<local-command-",
    "<bash-input>",
    "<bash-stdout>",
    "<bash-stderr>",
    "<task-notification>",
    "[Request interrupted by user",
    "Caveat: The messages below were generated by the user while running local commands",
)
_INTENT, _CORROBORATION = "tool.intent", "capture.corroboration"
_SILENT_TYPES = {"tool.intent", "capture.gap"}

Clock = Callable[[], datetime]
Progress = Callable[[int], None]
Draft = tuple[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Source:
    """One file to import: a JSONL transcript or a Cowork ``local_<id>.json`` session record."""

    path: Path
    kind: str  # "transcript" | "cowork-session"
    size: int


@dataclass(slots=True)
class ImportResult:
    """What an import did. ``records`` counts every record appended (gaps and corroborations
    included); ``duplicates`` the tool uses and prompts already imported; ``corroborated``
    those a hook had recorded; ``gaps`` the ``capture.gap`` records written."""

    sessions: int = 0
    records: int = 0
    duplicates: int = 0
    corroborated: int = 0
    gaps: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    files_read: int = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(message)

    def to_json(self) -> dict[str, int]:
        return {
            "sessions": self.sessions,
            "records": self.records,
            "duplicates": self.duplicates,
            "corroborated": self.corroborated,
            "gaps": self.gaps,
            "errors": self.error_count,
        }


# -- discovery ------------------------------------------------------------------------------


def discover(paths: Iterable[Path]) -> tuple[list[Source], list[str]]:
    """The files under ``paths`` to import, in a stable order, and one error per bad path."""
    sources: list[Source] = []
    errors: list[str] = []
    seen: set[str] = set()

    def add(path: str, kind: str, size: int) -> None:
        if path not in seen:
            seen.add(path)
            sources.append(Source(Path(path), kind, size))

    for given in paths:
        top = os.path.abspath(given)
        try:
            st = os.stat(top)
        except OSError as e:
            errors.append(f"{given}: cannot read: {e.strerror or e}")
            continue
        if not stat.S_ISDIR(st.st_mode):
            add(top, "cowork-session" if top.endswith(".json") else "transcript", st.st_size)
            continue
        before = len(sources)
        for folder, dirs, files in os.walk(top, onerror=lambda e: errors.append(_os_error(e))):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".jsonl"):
                    kind = "transcript"
                elif name.startswith("local_") and name.endswith(".json"):
                    kind = "cowork-session"
                else:
                    continue
                path = os.path.join(folder, name)
                try:
                    add(path, kind, os.stat(path).st_size)
                except OSError as e:
                    errors.append(_os_error(e))
        if len(sources) == before:
            errors.append(
                f"{given}: no transcripts (*.jsonl) or Cowork session records (local_*.json) in it"
            )
    return sources, errors


def _os_error(e: OSError) -> str:
    return f"{e.filename}: cannot read: {e.strerror or e}"


def default_actor(store: SqliteStore, *, user: str | None, email: str | None) -> dict[str, Any]:
    """The hook's actor (OS user, host, Claude account), or the person named instead."""
    from affidavit.capture.hook import actor_of

    actor = actor_of(store)
    if user is None and email is None:
        return actor
    named = {"user": user or actor.get("user"), "host": actor.get("host"), "email": email}
    return {k: v for k, v in named.items() if v}


def import_paths(
    store: SqliteStore,
    paths: Sequence[Path],
    *,
    actor: Mapping[str, Any],
    progress: Progress | None = None,
    clock: Clock | None = None,
    max_line: int = MAX_LINE,
) -> ImportResult:
    """Import every transcript and Cowork session record under ``paths`` into ``store``."""
    sources, errors = discover(paths)
    importer = Importer(store, actor=actor, clock=clock, max_line=max_line)
    for message in errors:
        importer.result.error(message)
    importer.run(sources, progress)
    return importer.result


# -- one file's reading state ---------------------------------------------------------------


class BadLine(Exception):
    """A line whose structure is wrong where it matters; reported, then skipped."""


@dataclass(slots=True)
class _Use:
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


@dataclass(slots=True)
class _File:
    path: str
    cowork: bool
    cwd: str | None = None
    version: str | None = None
    permission_mode: str | None = None
    pending: dict[str, _Use] = field(default_factory=dict)


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise BadLine(f"field {key!r} must be a string, not {_kind_of(value)}")


def _kind_of(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def _content(obj: Mapping[str, Any]) -> str | list[Any] | None:
    message = obj.get("message")
    if message is None:
        return None
    if not isinstance(message, dict):
        raise BadLine(f"field 'message' must be an object, not {_kind_of(message)}")
    content = message.get("content")
    if content is None or isinstance(content, str | list):
        return content
    raise BadLine(f"message.content must be a string or a list, not {_kind_of(content)}")


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


# -- the importer ---------------------------------------------------------------------------


class Importer:
    """One import run over one store. Not reusable across stores."""

    def __init__(
        self,
        store: SqliteStore,
        *,
        actor: Mapping[str, Any],
        clock: Clock | None = None,
        max_line: int = MAX_LINE,
    ) -> None:
        self.store = store
        self.actor = dict(actor)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.max_line = max_line
        self.result = ImportResult()
        self.sessions: set[str] = set()
        self._covered: set[str] | None = None
        self._open_since: float | None = None
        self._batch_records = 0
        self._file_records = 0
        # (session, transcript, cowork) → corroborated (hook seqs, key, index kind) / count
        self._corroborated: dict[tuple[str, str, bool], list[tuple[list[int], str, str]]] = {}
        self._uncovered: dict[tuple[str, str, bool], int] = {}
        # keys corroborated in this batch, not yet indexed: key → index kind / text key → count
        self._claimed: dict[str, str] = {}
        self._text_claims: Counter[str] = Counter()
        self._progress: Progress | None = None
        self._done = 0

    # -- running ----------------------------------------------------------------------------

    def run(self, sources: Sequence[Source], progress: Progress | None = None) -> None:
        self._progress = progress
        done = 0
        try:
            for source in sources:
                try:
                    if source.kind == "cowork-session":
                        self._session_record(source)
                    else:
                        self._transcript(source)
                    self.result.files_read += 1
                except OSError as e:
                    self.result.error(f"{source.path}: cannot read: {e.strerror or e}")
                if self._due():
                    self._flush()
                done += source.size
                self._done = done
                if progress is not None:
                    progress(done)
            self._flush()
        except BaseException:
            self.store.rollback()
            raise
        self.result.sessions = len(self.sessions)

    def _error(self, path: str, line: int, reason: str) -> None:
        self.result.error(f"{path}:{line}: {reason}")

    def _lines(self, f: IO[bytes], path: str) -> Iterator[tuple[int, bytes]]:
        number = 0
        limit = self.max_line
        read = 0
        while raw := f.readline(limit + 1):
            number += 1
            read += len(raw)
            if read >= _PROGRESS_STEP and self._progress is not None:
                self._done += read
                read = 0
                self._progress(self._done)
            if len(raw) > limit and not raw.endswith(b"\n"):
                while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
                self._error(path, number, f"line longer than {limit} bytes; skipped")
                continue
            yield number, raw

    def _transcript(self, source: Source) -> None:
        path = str(source.path)
        state = _File(path, cowork=events.COWORK_MARK in path)
        self._file_records = 0
        with open(path, "rb") as f:
            for number, raw in self._lines(f, path):
                if self._file_records >= BATCH_RECORDS:
                    self._flush()
                if not raw or raw.isspace():
                    continue
                try:
                    obj = json.loads(raw)
                except UnicodeDecodeError as e:
                    self._error(path, number, f"not UTF-8 text ({e.reason} at byte {e.start + 1})")
                    continue
                except RecursionError:
                    self._error(path, number, "JSON nests too deeply")
                    continue
                except json.JSONDecodeError as e:
                    self._error(path, number, f"not JSON: {e.msg} (character {e.pos + 1})")
                    continue
                except ValueError as e:
                    self._error(path, number, f"not JSON text ({e})")
                    continue
                if type(obj) is not dict:
                    self._error(path, number, f"expected a JSON object, got {_kind_of(obj)}")
                    continue
                try:
                    self._line(state, obj, number)
                except BadLine as e:
                    self._error(path, number, str(e))
        for use in list(state.pending.values()):
            self._tool_use(state, use, None, None, use.time)
        state.pending.clear()

    def _line(self, state: _File, obj: dict[str, Any], number: int) -> None:
        kind = obj.get("type")
        session = _str(obj, "sessionId") or _str(obj, "session_id")
        if session is not None:
            self.sessions.add(session)
        if "_audit_timestamp" in obj:
            state.cowork = True
        if kind != "assistant" and kind != "user":
            if kind == "system":
                state.cwd = _str(obj, "cwd") or state.cwd
            return
        state.cwd = _str(obj, "cwd") or state.cwd
        state.version = _str(obj, "version") or state.version
        state.permission_mode = _str(obj, "permissionMode") or state.permission_mode
        content = _content(obj)
        moment = self._time_of(state.path, obj, number)
        if kind == "assistant":
            if isinstance(content, list):
                self._assistant(state, obj, content, number, session, moment)
        else:
            self._user(state, obj, content, number, session, moment)

    def _time_of(self, path: str, obj: Mapping[str, Any], number: int) -> datetime | None:
        value = obj.get("timestamp") or obj.get("_audit_timestamp")
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise InputError(f"timestamp must be a string, not {_kind_of(value)}")
            return parse_time(value)
        except InputError as e:
            self._error(path, number, f"{e}; used the import time")
            return None

    def _assistant(
        self,
        state: _File,
        obj: dict[str, Any],
        content: list[Any],
        number: int,
        session: str | None,
        moment: datetime | None,
    ) -> None:
        agent_id = _str(obj, "agentId") if obj.get("isSidechain") is True else None
        for i, block in enumerate(content):
            if not isinstance(block, dict):
                self._error(state.path, number, f"message.content[{i}] is not an object")
                continue
            if block.get("type") != "tool_use":
                continue
            use_id, name, tool_input = block.get("id"), block.get("name"), block.get("input", {})
            if not isinstance(use_id, str) or not use_id or not isinstance(name, str) or not name:
                reason = f"message.content[{i}]: tool_use without a string id and name; skipped"
                self._error(state.path, number, reason)
                continue
            if not isinstance(tool_input, dict):
                tool_input = {}
                reason = f"message.content[{i}]: tool_use input is not an object; recorded without"
                self._error(state.path, number, reason)
            if len(state.pending) >= MAX_PENDING:
                oldest = state.pending.pop(next(iter(state.pending)))
                self._tool_use(state, oldest, None, None, oldest.time)
            state.pending[use_id] = _Use(
                use_id,
                name,
                tool_input,
                number,
                moment,
                session,
                state.cwd,
                state.version,
                agent_id,
                _str(obj, "promptId"),
                state.permission_mode,
            )

    def _user(
        self,
        state: _File,
        obj: dict[str, Any],
        content: str | list[Any] | None,
        number: int,
        session: str | None,
        moment: datetime | None,
    ) -> None:
        results = []
        if isinstance(content, list):
            results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if not results:
            text = self._prompt_text(obj, content)
            if text is not None:
                self._prompt(state, obj, text, number, session, moment)
            return
        response = obj.get("toolUseResult") if len(results) == 1 else None
        for block in results:
            use_id = block.get("tool_use_id")
            if not isinstance(use_id, str) or not use_id:
                self._error(state.path, number, "tool_result without a string tool_use_id")
                continue
            use = state.pending.pop(use_id, None)
            if use is None:
                continue  # its tool_use is in another file, or was never written
            self._tool_use(state, use, block, response, moment or use.time)

    @staticmethod
    def _prompt_text(obj: Mapping[str, Any], content: str | list[Any] | None) -> str | None:
        for flag in ("isMeta", "isCompactSummary", "isVisibleInTranscriptOnly", "isReplay"):
            if obj.get(flag) is True:
                return None
        if obj.get("isSidechain") is True or obj.get("parent_tool_use_id"):
            return None
        if "toolUseResult" in obj or content is None:
            return None
        text = _text_of(content)
        if not text.strip() or text.lstrip().startswith(NOISE):
            return None
        return text

    # -- mapping ----------------------------------------------------------------------------

    def _event(self, state: _File, session: str | None, **fields: Any) -> dict[str, Any]:
        base = {"session_id": session, "transcript_path": state.path, "cwd": state.cwd}
        base.update(fields)
        return {k: v for k, v in base.items() if v is not None}

    def _drafts(self, state: _File, event: dict[str, Any], version: str | None) -> list[Draft]:
        drafts = events.map_event(event, actor=self.actor, version=version)
        if state.cowork:
            for _, payload in drafts:
                payload["agent"].update(product="cowork", surface="desktop")
        return drafts

    def _tool_use(
        self,
        state: _File,
        use: _Use,
        result: Mapping[str, Any] | None,
        response: object,
        moment: datetime | None,
    ) -> None:
        extra: dict[str, Any] = {}
        if result is None:
            name = "PreToolUse"
        elif result.get("is_error") is True:
            name, extra = "PostToolUseFailure", {"error": _text_of(result.get("content"))}
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
        drafts = self._drafts(state, event, use.version)
        answered = result is not None
        group = (use.session or "", state.path, state.cowork)
        self._begin()
        held = self._claimed.get(use.id)
        if held is not None and (held != _INTENT or not answered):
            self.result.duplicates += 1
            return
        verdict, seqs, hook_intent, gap_done = self._classify(use.id, use.name, answered)
        if verdict == "duplicate":
            self.result.duplicates += 1
            return
        if verdict == "corroborated":
            kind = _CORROBORATION if answered else _INTENT
            self._corroborated.setdefault(group, []).append((seqs, use.id, kind))
            self._claimed[use.id] = kind
            self.result.corroborated += 1
            if self._covered is not None and use.session:
                self._covered.add(use.session)
            return
        if hook_intent:
            # The hook saw this call's PreToolUse: the record written now says so.
            drafts[0][1]["corroborated_by"] = [
                {"source": "claude-code.hook", "event": "PreToolUse", "seqs": seqs}
            ]
        covered = hook_intent or (use.session is not None and use.session in self._hooked())
        gap = not gap_done and covered
        if gap:
            reason = (
                "a hook saw the request (PreToolUse) but not its result"
                if hook_intent
                else "transcript shows a tool use no hook saw"
            )
            body = {
                "reason": reason,
                "tool_use_id": use.id,
                "transcript": state.path,
                "line": use.line,
            }
            agent = self._agent(state, use.session)
            agent.update(tool_use_id=use.id, tool=use.name)
            drafts.append(("capture.gap", {"actor": self.actor, "agent": agent, "gap": body}))
        if self._write(drafts, moment, state.path, use.line):
            self.result.gaps += int(gap)
            if not gap_done and not covered:
                self._uncovered[group] = self._uncovered.get(group, 0) + 1

    def _prompt(
        self,
        state: _File,
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
            prompt_id=_str(obj, "promptId"),
            permission_mode=state.permission_mode,
            transcript_line=number,
        )
        drafts = self._drafts(state, event, state.version)
        uuid = _str(obj, "uuid") or f"line-{number}"
        line_key = f"prompt:{session or ''}:{uuid}"
        self._begin()
        seen = writer.seen(self.store, line_key)
        if line_key in self._claimed or any(src == SOURCE for _, src, _ in seen):
            self.result.duplicates += 1
            return
        clean, _ = redact(drafts[0][1].get("prompt", {}).get("text", ""))
        text_key = writer.prompt_key(session, clean)
        rows = writer.seen(self.store, text_key)
        theirs = [seq for seq, src, _ in rows if src != SOURCE]
        claimed = sum(1 for _, src, _ in rows if src == SOURCE) + self._text_claims[text_key]
        if len(theirs) > claimed:
            group = (session or "", state.path, state.cowork)
            self._corroborated.setdefault(group, []).append(([theirs[claimed]], line_key, "prompt"))
            self._corroborated[group].append(([], text_key, "prompt"))
            self._claimed[line_key] = _CORROBORATION
            self._text_claims[text_key] += 1
            self.result.corroborated += 1
            return
        drafts[0][1]["dedup_key"] = line_key
        self._write(drafts, moment, state.path, number)

    def _session_record(self, source: Source) -> None:
        """A Cowork ``local_<id>.json``: one ``session.start`` record, deduplicated by id."""
        path = str(source.path)
        with open(path, "rb") as f:
            data = f.read(MAX_SESSION_FILE + 1)
        if len(data) > MAX_SESSION_FILE:
            self._error(path, 1, f"larger than {MAX_SESSION_FILE} bytes; not a session record")
            return
        try:
            obj = json.loads(data)
        except json.JSONDecodeError as e:
            self._error(path, e.lineno, f"not JSON ({e.msg})")
            return
        except (ValueError, RecursionError) as e:
            self._error(path, 1, f"not JSON text ({e})")
            return
        try:
            if type(obj) is not dict:
                raise BadLine(f"expected a JSON object, got {_kind_of(obj)}")
            session, cli_session = _str(obj, "sessionId"), _str(obj, "cliSessionId")
            cwd = _str(obj, "cwd")
            if session is None:
                raise BadLine("no 'sessionId': not a Cowork session record (local_<id>.json)")
        except BadLine as e:
            self._error(path, 1, str(e))
            return
        self.sessions.update(s for s in (session, cli_session) if s)
        state = _File(path, cowork=True, cwd=cwd)
        event = self._event(state, session, hook_event_name="SessionStart", cowork_session=obj)
        drafts = self._drafts(state, event, None)
        drafts[0][1]["dedup_key"] = f"cowork-session:{session}"
        created = obj.get("createdAt")
        moment = None
        if isinstance(created, int | float) and not isinstance(created, bool):
            try:
                moment = datetime.fromtimestamp(created / 1000, UTC)
            except (OverflowError, OSError, ValueError):
                self._error(
                    path, 1, "createdAt is not a time in milliseconds; used the import time"
                )
        self._begin()
        if writer.seen(self.store, f"cowork-session:{session}"):
            self.result.duplicates += 1
            return
        self._write(drafts, moment, path, 1)

    # -- deduplication ----------------------------------------------------------------------

    def _classify(
        self, use_id: str, tool: str, answered: bool
    ) -> tuple[str, list[int], bool, bool]:
        """(verdict, other sources' seqs, a hook saw only the intent, a gap is already logged)."""
        rows = [r for r in writer.seen(self.store, use_id) if self._same_tool(r[0], tool)]
        if not rows:
            return "new", [], False, False
        ours = {kind for _, src, kind in rows if src == SOURCE}
        if ours - _SILENT_TYPES or (ours and not answered):
            return "duplicate", [], False, False
        theirs = [(seq, kind) for seq, src, kind in rows if src != SOURCE]
        posts = [seq for seq, kind in theirs if kind != _INTENT]
        if posts or (theirs and not answered):
            return "corroborated", posts or [seq for seq, _ in theirs], False, False
        return "new", [seq for seq, _ in theirs], bool(theirs), "capture.gap" in ours

    def _same_tool(self, seq: int, tool: str) -> bool:
        row = self.store.record(seq)
        if row is None or row[4] is None:
            return True
        try:
            named = json.loads(row[4]).get("agent", {}).get("tool")
        except (ValueError, AttributeError):
            return True
        return named is None or named == tool

    def _hooked(self) -> set[str]:
        """Sessions in which a hook recorded any tool call: read once per import."""
        if self._covered is None:
            rows = self.store.connection.execute(
                "SELECT DISTINCT json_extract(CAST(r.payload AS TEXT), '$.agent.session_id') "
                "FROM tool_uses t JOIN records r ON r.seq = t.seq "
                "WHERE t.source = ? AND r.payload IS NOT NULL",
                (events.SOURCE_HOOK,),
            )
            self._covered = {s for (s,) in rows if isinstance(s, str)}
        return self._covered

    # -- writing ----------------------------------------------------------------------------

    def _agent(self, state: _File, session: str | None) -> dict[str, Any]:
        product, surface = events.product_and_surface({"transcript_path": state.path})
        if state.cowork:
            product, surface = "cowork", "desktop"
        agent = {"product": product, "surface": surface, "session_id": session}
        return {k: v for k, v in agent.items() if v}

    def _begin(self) -> None:
        if self._open_since is None:
            self.store.begin()
            self._open_since = time.monotonic()

    def _due(self) -> bool:
        since = self._open_since
        return since is not None and (
            self._batch_records >= BATCH_RECORDS or time.monotonic() - since >= BATCH_SECONDS
        )

    def _write(self, drafts: list[Draft], moment: datetime | None, path: str, line: int) -> bool:
        self._begin()
        try:
            seqs = writer.append_drafts(
                self.store, drafts, source=SOURCE, time=moment or self.clock()
            )
        except (InputError, ValueError, TypeError, RecursionError) as e:
            self._error(path, line, f"cannot be recorded: {e}")
            return False
        self.result.records += len(seqs)
        self._batch_records += len(seqs)
        self._file_records += len(seqs)
        return True

    def _summary(self, kind: str, payload: dict[str, Any], now: datetime, path: str) -> int | None:
        try:
            (seq,) = writer.append_drafts(self.store, [(kind, payload)], source=SOURCE, time=now)
        except (InputError, ValueError, TypeError, RecursionError) as e:
            self.result.error(f"{path}: cannot record its {kind}: {e}")
            return None
        self.result.records += 1
        return seq

    def _flush(self) -> None:
        """Write this batch's corroborations and session gaps, then commit."""
        if self._open_since is None:
            return
        now = self.clock()
        for (session, path, cowork), items in self._corroborated.items():
            state = _File(path, cowork)
            body = {
                "source": SOURCE,
                "transcript": path,
                "session_id": session or None,
                "seqs": sorted({s for seqs, _, _ in items for s in seqs}),
                "tool_use_ids": [key for _, key, kind in items if kind != "prompt"],
                "prompts": sum(1 for seqs, _, kind in items if kind == "prompt" and seqs),
            }
            payload = {
                "actor": self.actor,
                "agent": self._agent(state, session or None),
                "corroboration": {k: v for k, v in body.items() if v},
            }
            seq = self._summary(_CORROBORATION, payload, now, path)
            if seq is None:
                continue
            # Index every corroborated key to this record, so a re-import finds them; an
            # intent-only corroboration is indexed as an intent, so a later result still counts.
            self.store.connection.executemany(
                "INSERT INTO tool_uses (tool_use_id, seq, source, kind) VALUES (?, ?, ?, ?)",
                [
                    (key, seq, SOURCE, _CORROBORATION if kind == "prompt" else kind)
                    for _, key, kind in items
                ],
            )
        for (session, path, cowork), count in self._uncovered.items():
            reason = "session known only from its transcript"
            gap = {"reason": reason, "transcript": path, "tool_uses": count}
            agent = self._agent(_File(path, cowork), session or None)
            payload = {"actor": self.actor, "agent": agent, "gap": gap}
            if self._summary("capture.gap", payload, now, path) is not None:
                self.result.gaps += 1
        self.store.commit()
        self._corroborated.clear()
        self._claimed.clear()
        self._text_claims.clear()
        self._uncovered.clear()
        self._open_since = None
        self._batch_records = self._file_records = 0

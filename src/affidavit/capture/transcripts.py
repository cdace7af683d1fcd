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
  ``_audit_timestamp``; its records say product ``cowork``, surface ``vm`` (its cwd is in
  the VM) or ``host``.

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

Attribution: every record's ``actor`` is the session's owner as far as the file shows
(:mod:`affidavit.capture.attribution`: the transcript's location under an account's home,
else the session's ``cwd``, else ``unknown``); who ran the import, and when, is kept apart in
``imported_by`` and ``imported_at``. The importer is never recorded as the actor.

Errors: a line that is not UTF-8, not JSON, not an object, longer than ``max_line``, or has
the wrong type in a field used here, is reported as ``path:line: reason`` and skipped (or
recorded without the bad field, as the reason says), and leaves a ``capture.error`` record
naming the file, the line and its first characters (secrets masked), so the gap is visible
in the ledger, not only on the terminal; importing the file again does not repeat it. A last
line without its newline that is not yet a whole JSON object is *pending*: the agent is
still writing it, so it is reported as such, neither imported nor an error, and the next
import reads it whole. A file that cannot be read is reported and skipped. The import goes
on either way. Transactions and summaries: :mod:`affidavit.capture.transcript_batch`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from affidavit.capture import events, transcript_batch
from affidavit.capture.transcript_batch import SOURCE, ImportResult
from affidavit.capture.transcript_files import (
    MAX_LINE,
    BadLine,
    Source,
    content_of,
    decode,
    discover,
    excerpt,
    kind_of,
    read_lines,
    text_field,
    text_of,
)
from affidavit.capture.transcript_records import FileState, Recorder, Use
from affidavit.errors import InputError
from affidavit.record import parse_time
from affidavit.store.sqlite import SqliteStore

__all__ = ["SOURCE", "BadLine", "ImportResult", "Importer", "Source", "discover", "import_paths"]

MAX_PENDING = 10_000
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

Clock = Callable[[], datetime]
Progress = Callable[[int], None]


def importer_identity(store: SqliteStore) -> dict[str, Any]:
    """Who runs the import (OS user, host, Claude account): its ``imported_by``."""
    from affidavit.capture.hook import actor_of

    return actor_of(store)


def import_paths(
    store: SqliteStore,
    paths: Sequence[Path],
    *,
    imported_by: Mapping[str, Any],
    owner: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    clock: Clock | None = None,
    max_line: int = MAX_LINE,
) -> ImportResult:
    """Import every transcript and Cowork session record under ``paths`` into ``store``.

    ``owner`` (user, email), when given, is the importer's statement of whose sessions these
    are and replaces the inference from the files.
    """
    sources, errors = discover(paths)
    importer = Importer(store, imported_by=imported_by, owner=owner, clock=clock, max_line=max_line)
    for message in errors:
        importer.result.error(message)
    importer.run(sources, progress)
    return importer.result


class Importer(Recorder):
    """One import run over one store: reads files, hands what they hold to the recorder."""

    _progress: Progress | None = None
    _done = _unreported = 0

    # -- running ----------------------------------------------------------------------------

    def run(self, sources: Sequence[Source], progress: Progress | None = None) -> None:
        self._progress = progress
        done = 0
        try:
            for source in sources:
                try:
                    if source.kind == "cowork-session":
                        self.session_record(source)
                    else:
                        self._transcript(source)
                    self.result.files_read += 1
                except OSError as e:
                    self.result.error(f"{source.path}: cannot read: {e.strerror or e}")
                if self.batch.due():
                    self.flush()
                done += source.size
                self._done, self._unreported = done, 0
                if progress is not None:
                    progress(done)
            self.flush()
        except BaseException:
            self.store.rollback()
            raise
        self.result.sessions = len(self.sessions)

    def _read(self, size: int) -> None:
        self._unreported += size
        if self._unreported >= _PROGRESS_STEP and self._progress is not None:
            self._done += self._unreported
            self._unreported = 0
            self._progress(self._done)

    def _transcript(self, source: Source) -> None:
        path = str(source.path)
        state = FileState(path, cowork=events.COWORK_MARK in path)
        self.batch.file_records = 0
        with open(path, "rb") as f:
            for line in read_lines(f, self.max_line, self._read):
                if self.batch.file_records >= transcript_batch.BATCH_RECORDS:
                    self.flush()
                self.raw = line.raw
                number = line.number
                if line.pending:
                    self.result.pending.append(
                        f"{path}:{number}: last line has no newline yet (still being "
                        "written?); left for the next import"
                    )
                    continue
                if line.too_long:
                    reason = f"line longer than {self.max_line} bytes; skipped"
                    self.error(state, number, reason, excerpt(line.raw, line.size))
                    continue
                if not line.raw or line.raw.isspace():
                    continue
                try:
                    self._line(state, decode(line.raw), number)
                except BadLine as e:
                    self.error(state, number, str(e))
        for use in list(state.pending.values()):
            self.tool_use(state, use, None, None, use.time)
        state.pending.clear()

    def _line(self, state: FileState, obj: dict[str, Any], number: int) -> None:
        kind = obj.get("type")
        session = text_field(obj, "sessionId") or text_field(obj, "session_id")
        if session is not None:
            self.sessions.add(session)
        if "_audit_timestamp" in obj:
            state.cowork = True
        if kind != "assistant" and kind != "user":
            if kind == "system":
                state.cwd = text_field(obj, "cwd") or state.cwd
            return
        state.cwd = text_field(obj, "cwd") or state.cwd
        state.version = text_field(obj, "version") or state.version
        state.permission_mode = text_field(obj, "permissionMode") or state.permission_mode
        state.user_type = text_field(obj, "userType") or state.user_type
        content = content_of(obj)
        moment = self._time_of(state, obj, number)
        if kind == "assistant":
            if isinstance(content, list):
                self._assistant(state, obj, content, number, session, moment)
        else:
            self._user(state, obj, content, number, session, moment)

    def _time_of(self, state: FileState, obj: Mapping[str, Any], number: int) -> datetime | None:
        value = obj.get("timestamp") or obj.get("_audit_timestamp")
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise InputError(f"timestamp must be a string, not {kind_of(value)}")
            return parse_time(value)
        except InputError as e:
            self.error(state, number, f"{e}; used the import time")
            return None

    def _assistant(
        self,
        state: FileState,
        obj: dict[str, Any],
        content: list[Any],
        number: int,
        session: str | None,
        moment: datetime | None,
    ) -> None:
        agent_id = text_field(obj, "agentId") if obj.get("isSidechain") is True else None
        raw: dict[str, Any] | None = None
        for i, block in enumerate(content):
            if not isinstance(block, dict):
                self.error(state, number, f"message.content[{i}] is not an object")
                continue
            if block.get("type") != "tool_use":
                continue
            use_id, name, tool_input = block.get("id"), block.get("name"), block.get("input", {})
            if not isinstance(use_id, str) or not use_id or not isinstance(name, str) or not name:
                reason = f"message.content[{i}]: tool_use without a string id and name; skipped"
                self.error(state, number, reason)
                continue
            if not isinstance(tool_input, dict):
                tool_input = {}
                reason = f"message.content[{i}]: tool_use input is not an object; recorded without"
                self.error(state, number, reason)
            if len(state.pending) >= MAX_PENDING:
                oldest = state.pending.pop(next(iter(state.pending)))
                self.tool_use(state, oldest, None, None, oldest.time)
            raw = raw or excerpt(self.raw)
            state.pending[use_id] = Use(
                use_id,
                name,
                tool_input,
                number,
                moment,
                session,
                state.cwd,
                state.version,
                agent_id,
                text_field(obj, "promptId"),
                state.permission_mode,
                raw,
            )

    def _user(
        self,
        state: FileState,
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
                self.prompt(state, obj, text, number, session, moment)
            return
        response = obj.get("toolUseResult") if len(results) == 1 else None
        for block in results:
            use_id = block.get("tool_use_id")
            if not isinstance(use_id, str) or not use_id:
                self.error(state, number, "tool_result without a string tool_use_id")
                continue
            use = state.pending.pop(use_id, None)
            if use is None:
                continue  # its tool_use is in another file, or was never written
            self.tool_use(state, use, block, response, moment or use.time)

    @staticmethod
    def _prompt_text(obj: Mapping[str, Any], content: str | list[Any] | None) -> str | None:
        for flag in ("isMeta", "isCompactSummary", "isVisibleInTranscriptOnly", "isReplay"):
            if obj.get(flag) is True:
                return None
        if obj.get("isSidechain") is True or obj.get("parent_tool_use_id"):
            return None
        if "toolUseResult" in obj or content is None:
            return None
        text = text_of(content)
        if not text.strip() or text.lstrip().startswith(NOISE):
            return None
        return text

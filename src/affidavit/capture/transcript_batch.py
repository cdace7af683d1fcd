"""The writing half of a transcript import: transactions, deduplication and summaries.

Writes go through the store in transactions, each holding the records it summarizes: one
ends at a file boundary once it holds :data:`BATCH_RECORDS` records or :data:`BATCH_SECONDS`
of work, and inside a file after every :data:`BATCH_RECORDS` records of that file (a file
that long gets its summaries per part, at points that depend on the input only). So hooks
never wait long for the lock, memory stays bounded, and an interrupted import keeps what it
committed; running it again skips that as duplicates.

Every record written here carries ``imported_by`` (who ran the import: OS user, host,
Claude account) and ``imported_at``; its ``actor`` is the session's owner as
:mod:`affidavit.capture.attribution` infers it, never the importer.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from affidavit.capture import events, state, writer
from affidavit.errors import InputError
from affidavit.store.sqlite import SqliteStore

SOURCE = events.SOURCE_TRANSCRIPT
BATCH_RECORDS = 1000
BATCH_SECONDS = 0.5
MAX_ERRORS_LISTED = 1000
INTENT, CORROBORATION = "tool.intent", "capture.corroboration"
_SILENT_TYPES = {"tool.intent", "capture.gap"}

Draft = tuple[str, dict[str, Any]]
Group = tuple[str, str, bool]  # (session, transcript, cowork)


@dataclass(slots=True)
class ImportResult:
    """What an import did. ``records`` counts every record appended (gaps, corroborations
    and capture errors included); ``duplicates`` the tool uses and prompts already imported;
    ``corroborated`` those a hook had recorded; ``gaps`` the ``capture.gap`` records written;
    ``pending`` the last lines still being written, left for the next import."""

    sessions: int = 0
    records: int = 0
    duplicates: int = 0
    corroborated: int = 0
    gaps: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    files_read: int = 0
    pending: list[str] = field(default_factory=list)

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
            "pending": len(self.pending),
        }


class Batch:
    """The open transaction of one import run, and the summaries it will end with."""

    def __init__(
        self,
        store: SqliteStore,
        result: ImportResult,
        *,
        clock: Callable[[], datetime],
        imported_by: dict[str, Any],
    ) -> None:
        self.store = store
        self.result = result
        self.clock = clock
        self.stamp = {"imported_by": imported_by, "imported_at": clock().isoformat()}
        self.file_records = 0
        self._records = 0
        self._open_since: float | None = None
        self._covered: set[str] | None = None
        # group → corroborated (hook seqs, key, index kind) / tool uses no hook saw / owner
        self.corroborated: dict[Group, list[tuple[list[int], str, str]]] = {}
        self.uncovered: dict[Group, int] = {}
        self.owners: dict[Group, dict[str, Any]] = {}
        # keys corroborated or written in this batch, not yet indexed: key → index kind
        self.claimed: dict[str, str] = {}
        self.text_claims: Counter[str] = Counter()

    def begin(self) -> None:
        if self._open_since is None:
            self.store.begin()
            self._open_since = time.monotonic()

    def due(self) -> bool:
        since = self._open_since
        return since is not None and (
            self._records >= BATCH_RECORDS or time.monotonic() - since >= BATCH_SECONDS
        )

    def write(
        self, drafts: list[Draft], moment: datetime | None, path: str, line: int
    ) -> str | None:
        """Append ``drafts`` stamped with who imported them; None, or why they could not be."""
        self.begin()
        for _, payload in drafts:
            payload.update(self.stamp)
        try:
            seqs = writer.append_drafts(
                self.store, drafts, source=SOURCE, time=moment or self.clock()
            )
        except (InputError, ValueError, TypeError, RecursionError) as e:
            return f"cannot be recorded: {e}"
        self.result.records += len(seqs)
        self._records += len(seqs)
        self.file_records += len(seqs)
        return None

    def error_record(
        self, owner: dict[str, Any], message: str, *, path: str, line: int, raw: dict[str, Any]
    ) -> None:
        """A ``capture.error`` for a line that could not be imported (whole or in part), once:
        its key is the file, line, reason and the line's hash, so a re-import finds it."""
        digest = raw.get("sha256") or raw.get("head_sha256") or ""
        key = f"capture.error:{path}:{line}:{digest}:{message}"
        self.begin()
        if key in self.claimed or writer.seen(self.store, key):
            return
        error = {"message": message, "stage": "import", "file": path, "line": line}
        payload = {"actor": owner, "error": error, "input": raw, "dedup_key": key}
        if self.write([("capture.error", payload)], None, path, line) is None:
            self.claimed[key] = "capture.error"

    # -- deduplication ----------------------------------------------------------------------

    def classify(self, use_id: str, tool: str, answered: bool) -> tuple[str, list[int], bool, bool]:
        """(verdict, other sources' seqs, a hook saw only the intent, a gap is already logged)."""
        rows = [r for r in writer.seen(self.store, use_id) if self._same_tool(r[0], tool)]
        if not rows:
            return "new", [], False, False
        ours = {kind for _, src, kind in rows if src == SOURCE}
        if ours - _SILENT_TYPES or (ours and not answered):
            return "duplicate", [], False, False
        theirs = [(seq, kind) for seq, src, kind in rows if src != SOURCE]
        posts = [seq for seq, kind in theirs if kind != INTENT]
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

    def hooked(self) -> set[str]:
        """Sessions in which a hook recorded any tool call: read once per import."""
        if self._covered is None:
            self._covered = state.sessions_seen_by(self.store.connection, events.SOURCE_HOOK)
        return self._covered

    def cover(self, session: str | None) -> None:
        if self._covered is not None and session:
            self._covered.add(session)

    # -- summaries and commit ---------------------------------------------------------------

    def _summary(self, kind: str, payload: dict[str, Any], now: datetime, path: str) -> int | None:
        payload.update(self.stamp)
        try:
            (seq,) = writer.append_drafts(self.store, [(kind, payload)], source=SOURCE, time=now)
        except (InputError, ValueError, TypeError, RecursionError) as e:
            self.result.error(f"{path}: cannot record its {kind}: {e}")
            return None
        self.result.records += 1
        return seq

    def flush(self, agent_of: Callable[[Group], dict[str, Any]]) -> None:
        """Write this batch's corroborations and session gaps, then commit."""
        if self._open_since is None:
            return
        now = self.clock()
        for group, items in self.corroborated.items():
            session, path, _ = group
            body = {
                "source": SOURCE,
                "transcript": path,
                "session_id": session or None,
                "seqs": sorted({s for seqs, _, _ in items for s in seqs}),
                "tool_use_ids": [key for _, key, kind in items if kind != "prompt"],
                "prompts": sum(1 for seqs, _, kind in items if kind == "prompt" and seqs),
            }
            payload = {
                "actor": self.owners[group],
                "agent": agent_of(group),
                "corroboration": {k: v for k, v in body.items() if v},
            }
            seq = self._summary(CORROBORATION, payload, now, path)
            if seq is None:
                continue
            # Index every corroborated key to this record, so a re-import finds them; an
            # intent-only corroboration is indexed as an intent, so a later result still counts.
            state.index_keys(
                self.store.connection,
                [
                    (key, seq, SOURCE, CORROBORATION if kind == "prompt" else kind)
                    for _, key, kind in items
                ],
            )
        for group, count in self.uncovered.items():
            reason = "session known only from its transcript"
            gap = {"reason": reason, "transcript": group[1], "tool_uses": count}
            payload = {"actor": self.owners[group], "agent": agent_of(group), "gap": gap}
            if self._summary("capture.gap", payload, now, group[1]) is not None:
                self.result.gaps += 1
        self.store.commit()
        for pending in (self.corroborated, self.uncovered, self.owners, self.claimed):
            pending.clear()
        self.text_claims.clear()
        self._open_since = None
        self._records = self.file_records = 0

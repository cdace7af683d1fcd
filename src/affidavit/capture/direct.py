"""Direct mode: the hook writes the ledger itself, in one short transaction.

Used when no recorder service answers and the ledger is the user's own (see the README,
"Capture modes"): file reads and workspace scans happen before the write lock is taken, and
the lock is held for one SQLite transaction. A run killed while it holds an event leaves an
in-flight marker (:mod:`affidavit.capture.inflight`); integration and publishing never run
here: when the oldest unpublished record is older than the seal interval, or at
Stop/SessionEnd, it starts a detached ``affidavit seal``. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
from datetime import datetime

from affidavit.capture import conventions, inflight, spool, stage, state, writer
from affidavit.capture.events import SOURCE_HOOK
from affidavit.capture.intake import actor_of, decode, error_draft
from affidavit.capture.observe import ConnLookup, Observation
from affidavit.capture.replay import replay_spool
from affidavit.store.damage import explain
from affidavit.store.sqlite import SqliteStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from affidavit.capture import policy
    from affidavit.capture.options import Options

    Draft = tuple[str, dict[str, Any]]
    Failure = Callable[[Options, bytes, str], None]


class Capture:
    """One hook run in direct mode: observe the disk, then write everything in one transaction."""

    def __init__(self, opts: Options, report_failure: Failure | None = None) -> None:
        self.opts = opts
        if report_failure is None:
            report_failure = self.spool_event
        self.report_failure: Failure = report_failure
        self.obs = Observation(opts.max_file_bytes, opts.manifest_cap)
        self.claimed: list[str] = []
        self.orphans: list[str] = []  # in-flight markers of killed runs, recorded here
        self.marker: inflight.Marker | None = None
        self.verdict: policy.Verdict | None = None  # policy: findings, masks, block

    def run(self, raw: bytes, *, close: bool = True, marker: inflight.Marker | None = None) -> None:
        """Record the event, or spool it; the in-flight marker (``marker``, made by the
        caller, else made here) spans exactly that."""
        event, problem = decode(raw)
        if marker is None:
            sha = hashlib.sha256(raw).hexdigest()
            marker = inflight.Marker.create(
                self.opts.ledger, inflight.facts_of(event, len(raw), sha)
            )
        self.marker = marker
        try:
            self.record(raw, event, problem, close=close)
        except Exception as e:
            self.report_failure(self.opts, raw, f"{type(e).__name__}: {e}")
        finally:
            self.release()

    def spool_event(self, opts: Options, raw: bytes, reason: str) -> None:
        """The hook's failure path, the spool entry naming this run's marker."""
        from affidavit.capture.failure import report_failure

        name = os.path.basename(self.marker.path) if self.marker is not None else ""
        report_failure(opts, raw, reason, marker=name)

    def release(self) -> None:
        if self.marker is not None:
            self.marker.remove()
            self.marker = None

    def record(
        self, raw: bytes, event: dict[str, Any] | None, problem: str | None, *, close: bool
    ) -> None:
        try:
            # A full page check reads the whole file, too slow for every tool call: the hook
            # relies on SQLite's checks of the pages it touches, the WAL header check, and the
            # damage note that a full check elsewhere (the detached seal) leaves.
            store = SqliteStore.open(self.opts.ledger, check_pages=False)
            # Another writer holding the lock longer than this means something is wrong
            # (a stuck process, a full disk): spool the event rather than keep the agent
            # waiting until Claude Code kills the hook and the event is lost unrecorded.
            store.connection.execute(f"PRAGMA busy_timeout = {int(self.opts.busy_timeout * 1000)}")
        except Exception as e:
            self.report_failure(self.opts, raw, f"ledger unavailable: {e}")
            return
        try:
            self.write(store, raw, event, problem)
        except Exception as e:
            store.rollback()
            spool.settle(self.claimed, committed=False)
            if isinstance(e, sqlite3.DatabaseError):  # name the ledger, note any damage
                e = explain(self.opts.ledger, e)
            self.report_failure(self.opts, raw, f"{type(e).__name__}: {e}")
        finally:
            if close:
                store.close()

    def begin(self, store: SqliteStore) -> None:
        """Take the write lock; wait on while other writers keep committing.

        The busy timeout is for a stuck writer (see :meth:`record`). Many hooks at once (a
        team of subagents) queue for the lock, and SQLite's busy handler polls rather than
        queues: under that load one hook could wait past the timeout while the others went
        ahead, and spool an event for no fault. So a timeout counts only when no other
        connection committed while it ran (``PRAGMA data_version``), up to four timeouts in
        all, well inside the hook's own 30 s."""
        conn = store.connection
        give_up = time.monotonic() + 4 * self.opts.busy_timeout
        while True:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            try:
                store.begin()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= give_up:
                    raise
                if conn.execute("PRAGMA data_version").fetchone()[0] == version:
                    raise  # nobody committed for a whole timeout: stuck, spool the event

    def write(
        self, store: SqliteStore, raw: bytes, event: dict[str, Any] | None, problem: str | None
    ) -> None:
        obs = self.obs
        if event is not None:
            obs.observe(event, ConnLookup(store.connection))
        self.begin(store)
        stage.drop_unkept_reads(store, obs, self.opts.config)
        actor = actor_of(store)
        prefix, self.claimed = replay_spool(self.opts.ledger, actor, store)
        prefix += self.lost_events(store, actor)
        prefix += [error_draft(actor, f"hook options: {p}", b"") for p in self.opts.problems]
        bad_input = error_draft(actor, "", raw)[1]["input"]
        drafts, self.verdict = stage.event_drafts(
            store, obs, event, problem, bad_input, actor, self.opts.config
        )
        if event is not None:
            drafts += conventions.check(
                store.connection, store, event, actor, self.opts.max_file_bytes
            )
        if prefix:
            stage.append_storable(store, prefix)
        seqs = stage.append_storable(store, drafts)
        if self.marker is not None and seqs:  # killed after the commit: recorded, no gap
            name = f"inflight:{os.path.basename(self.marker.path)}"
            state.index_keys(store.connection, [(name, seqs.start, SOURCE_HOOK, drafts[0][0])])
        stage.keep(store, obs, self.verdict, seqs)
        spawn = self.seal_due(store, event)
        store.commit()
        spool.settle(self.claimed, committed=True)
        inflight.discard(self.opts.ledger, self.orphans)
        self.release()  # first: a kill from here on loses nothing
        spool.keep_reserve(self.opts.ledger)
        if spawn:
            start_seal(self.opts.ledger)

    def lost_events(self, store: SqliteStore, actor: dict[str, Any]) -> list[Draft]:
        """A ``capture.gap`` for each killed run's marker (call under the write lock, after
        the spool was claimed): none for a run that was killed after it spooled its event."""
        out: list[Draft] = []
        found = inflight.orphans(self.opts.ledger, own=self.marker)
        spooled = _markers_in(self.claimed) if found else set()
        for name, facts in found:
            self.orphans.append(name)
            if name in spooled or writer.seen(store, f"inflight:{name}"):
                continue  # its event is in the spool, or it was recorded, not yet deleted
            out.append(inflight.gap_draft(name, facts, actor))
        return out

    def seal_due(self, store: SqliteStore, event: dict[str, Any] | None) -> bool:
        """Whether to start a detached seal now (and note that one was started)."""
        now = time.time()
        last = float(store.meta("seal_spawned") or 0)
        name = event.get("hook_event_name") if event else None
        if name in ("Stop", "SessionEnd"):
            due = True
        else:
            if now - last < min(10.0, self.opts.seal_interval / 2):
                return False
            latest = store.latest_checkpoint()
            row = store.record(latest[0] if latest else 0)
            if row is None:
                return False
            stamp = json.loads(row[1]).get("time", "")
            try:
                age = now - datetime.fromisoformat(stamp).timestamp()
            except ValueError:
                age = float("inf")
            due = age >= self.opts.seal_interval
        if due:
            store.set_meta("seal_spawned", str(now))
        return due


def _markers_in(claimed: list[str]) -> set[str]:
    """The markers the claimed spool files name (each replayed now or before)."""
    out: set[str] = set()
    for path in claimed:
        try:
            marker = spool.read(path).get("marker")
        except (OSError, ValueError):
            continue
        if isinstance(marker, str):
            out.add(marker)
    return out


def start_seal(ledger: str) -> None:
    """A detached ``affidavit seal``: the agent never waits for signing."""
    import subprocess

    try:
        with spool.open_error_log(ledger) as log:
            subprocess.Popen(
                [sys.executable, "-m", "affidavit", "--ledger", ledger, "seal", "--json"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
    except OSError as e:
        print(f"affidavit hook: could not start a seal: {e}", file=sys.stderr)

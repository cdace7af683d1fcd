"""``affidavit hook``: record one Claude Code / Cowork hook event, durably, in one transaction.

Runs inside the agent on every tool call, so:

* standard library and the pure record code only; click, rich and cryptography never load;
* file reads and workspace scans happen before the write lock is taken, and the lock is
  held for one short SQLite transaction;
* it exits 0, or 2 when an enforced policy rule blocks the tool call
  (:mod:`affidavit.capture.policy`). Whatever goes wrong is one line on stderr and a line
  in ``<ledger>.errors.log``; the event, redacted, is spooled beside the ledger when the
  ledger cannot take it (:mod:`affidavit.capture.spool`; on a disk without a free byte,
  into the space ``<ledger>.reserve`` kept for that), and the next run replays the spool
  and records the failure as a ``capture.error`` record, so a gap is never silent;
* a run killed while it holds an event leaves an in-flight marker, and the next run records
  the lost event as a ``capture.gap`` (:mod:`affidavit.capture.inflight`);
* integration and publishing never run here: when the oldest unpublished record is older
  than the seal interval (default 60 s), or at Stop/SessionEnd, it starts a detached
  ``affidavit seal``.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import re
import sqlite3
import sys
import time
import zlib
from datetime import UTC, datetime

from affidavit.capture import (
    conventions,
    events,
    inflight,
    policy,
    reads,
    snapshots,
    spool,
    state,
    writer,
)
from affidavit.capture.redact import redact_text
from affidavit.errors import InputError
from affidavit.store.damage import explain
from affidavit.store.sqlite import SqliteStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Draft = tuple[str, dict[str, Any]]

MAX_STDIN = 32 * 2**20
# A surrogate escaped in JSON, or UTF-8-encoded (json.loads decodes bytes with surrogatepass).
_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")
BUSY_TIMEOUT = 5.0  # seconds; the hook command's own timeout in settings is 30 s
SEAL_INTERVAL = 60.0


class Options:
    __slots__ = (
        "busy_timeout",
        "config",
        "ledger",
        "manifest_cap",
        "max_file_bytes",
        "problems",
        "seal_interval",
    )

    def __init__(self) -> None:
        self.ledger = os.environ.get("AFFIDAVIT_LEDGER") or ""
        self.config: str | None = None  # policy: --config, else $AFFIDAVIT_CONFIG, else default
        self.max_file_bytes = snapshots.DEFAULT_MAX_FILE_BYTES
        self.manifest_cap = snapshots.DEFAULT_MANIFEST_CAP
        self.seal_interval = SEAL_INTERVAL
        self.busy_timeout = BUSY_TIMEOUT
        self.problems: list[str] = []


_OPTIONS: dict[str, tuple[str, Callable[[str], object]]] = {
    "--ledger": ("ledger", str),
    "--busy-timeout": ("busy_timeout", float),
    "--max-file-bytes": ("max_file_bytes", int),
    "--manifest-cap": ("manifest_cap", int),
    "--seal-interval": ("seal_interval", float),
    "--config": ("config", str),  # policy (affidavit.capture.policy)
}


def parse_options(argv: list[str]) -> Options:
    """``--ledger PATH --max-file-bytes N --manifest-cap N --seal-interval SECONDS
    --config PATH``.

    An unknown option or a bad value is noted in ``problems`` and recorded as a
    ``capture.error`` beside the event, never raised: the hook command line is fixed in the
    agent's settings, so raising would lose every event it ever sends, without a record.
    """
    opts = Options()
    it = iter(argv)
    for arg in it:
        name, eq, value = arg.partition("=")
        if name not in _OPTIONS:
            opts.problems.append(f"unknown option {arg!r} ignored")
            continue
        if not eq:
            value = next(it, "")
        attr, convert = _OPTIONS[name]
        try:
            setattr(opts, attr, convert(value))
        except ValueError:
            opts.problems.append(f"bad value {value!r} for {name} ignored")
    if not opts.ledger:
        from affidavit.locations import default_ledger_path

        opts.ledger = str(default_ledger_path())
    return opts


def run_hook(argv: list[str], *, close: bool = True) -> int:
    """Entry point. Returns the exit code: 0, or 2 when a policy blocks the tool call.

    ``close=False`` leaves the SQLite connection open for a caller that ends the process
    right after (see :func:`affidavit.cli.main`).
    """
    raw = b""
    opts = Options()
    capture: Capture | None = None
    try:
        raw = sys.stdin.buffer.read(MAX_STDIN + 1)
        if len(raw) > MAX_STDIN:
            # Drain the rest so the agent's write completes instead of failing with EPIPE.
            while sys.stdin.buffer.read(1 << 20):
                pass
        opts = parse_options(argv)
        capture = Capture(opts)
        capture.run(raw, close=close)
    except Exception as e:  # the agent must never be broken by its audit trail
        report_failure(opts, raw, f"{type(e).__name__}: {e}")
    # -- policy: an enforced rule blocks the tool call ---------------------------------------
    # Claude Code blocks a PreToolUse call when its hook exits 2 and shows the model stderr.
    # The verdict stands even if the ledger write failed (the event is then spooled).
    block = capture.verdict.block if capture is not None and capture.verdict else None
    if block:
        print(block, file=sys.stderr)
        return policy.EXIT_BLOCK
    # -- end policy --
    return 0


def now_text() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def report_failure(opts: Options, raw: bytes, reason: str) -> None:
    """One stderr line; the event, redacted, spooled for the next run; the error log.

    On a full disk the spool gives up the reserve (:func:`spool.release_reserve`) and tries
    again, so the event is kept even when the disk has not one byte left.
    """
    line = redact_text(reason.splitlines()[0] if reason else "unknown error")[0]
    print(f"affidavit hook: {line[:300]}", file=sys.stderr)
    if not opts.ledger:
        return
    stamp = now_text()
    entry = spool_entry(raw, line, stamp)
    try:
        try:
            spool.write(opts.ledger, entry)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT) or not spool.release_reserve(
                opts.ledger
            ):
                raise
            spool.write(opts.ledger, entry)
    except OSError as e:
        print(f"affidavit hook: could not spool the event either: {e}", file=sys.stderr)
    spool.append_error_log(opts.ledger, {"time": stamp, "error": line})


def spool_entry(raw: bytes, line: str, stamp: str) -> dict[str, Any]:
    """What the spool keeps of an event: its drafts as the ledger would hold them (redacted),
    and the input's size and hash; never the raw input (see :mod:`affidavit.capture.spool`)."""
    head = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    entry: dict[str, Any] = {"format": spool.FORMAT, "time": stamp, "error": line, "input": head}
    try:
        event, problem = decode(raw)
        if event is not None:
            drafts = events.map_event(event, actor=actor_of(None))
            entry["records"] = [[kind, writer.redacted(payload)] for kind, payload in drafts]
            return entry
    except Exception as e:  # the same bug would fail the replay: keep what names the input
        problem = f"{type(e).__name__}: {e}"
    _, error = error_draft({}, problem or "unreadable event", raw)
    entry["input"] = writer.redacted(error["input"])
    entry["problem"] = redact_text(problem or "")[0]
    return entry


def actor_of(store: SqliteStore | None) -> dict[str, Any]:
    """OS user and host, plus the Claude account in ~/.claude.json (cached by its stat in
    the store's meta table; read afresh without a store)."""
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if not user:
        try:
            import pwd

            user = pwd.getpwuid(os.getuid()).pw_name
        except (ImportError, KeyError, OSError):
            user = None
    uname = getattr(os, "uname", None)  # not on Windows
    host = uname().nodename if uname else os.environ.get("COMPUTERNAME")
    actor: dict[str, Any] = {"user": user, "host": host}
    config_dir = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.expanduser("~")
    path = os.path.join(config_dir, ".claude.json")
    st = snapshots.stat_of(path)
    if st is not None:
        key = f"actor:{path}:{st[0]}:{st[1]}"
        cached = store.meta("actor_cache") if store is not None else None
        if cached is not None and cached.startswith(key + "\n"):
            actor.update(json.loads(cached[len(key) + 1 :]))
        else:
            account: dict[str, Any] = {}
            try:
                with open(path, "rb") as f:
                    oauth = json.load(f).get("oauthAccount") or {}
                account = {
                    "email": oauth.get("emailAddress"),
                    "account_uuid": oauth.get("accountUuid"),
                    "org_uuid": oauth.get("organizationUuid"),
                }
            except (OSError, ValueError, AttributeError):
                account = {}
            account = {k: v for k, v in account.items() if isinstance(v, str)}
            if store is not None:
                store.set_meta("actor_cache", key + "\n" + json.dumps(account))
            actor.update(account)
    return {k: v for k, v in actor.items() if v}


class Capture:
    """One hook run: observe the disk, then write everything in one transaction."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.blobs: list[snapshots.Snapshot] = []
        self.remembered: list[tuple[str, snapshots.Stat, str]] = []
        self.pending: tuple[str, bytes] | None = None
        self.done_pending: str | None = None
        self.claimed: list[str] = []
        self.orphans: list[str] = []  # in-flight markers of killed runs, recorded here
        self.reads: list[tuple[str, str | None, snapshots.Snapshot]] = []  # files only read
        self.marker: inflight.Marker | None = None
        self.verdict: policy.Verdict | None = None  # policy: findings, masks, block

    def run(self, raw: bytes, *, close: bool = True) -> None:
        """Record the event, or spool it; the in-flight marker spans exactly that."""
        event, problem = decode(raw)
        sha = hashlib.sha256(raw).hexdigest()
        self.marker = inflight.Marker.create(
            self.opts.ledger, inflight.facts_of(event, len(raw), sha)
        )
        try:
            self.record(raw, event, problem, close=close)
        except Exception as e:
            report_failure(self.opts, raw, f"{type(e).__name__}: {e}")
        finally:
            self.release()

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
            report_failure(self.opts, raw, f"ledger unavailable: {e}")
            return
        try:
            self.write(store, raw, event, problem)
        except Exception as e:
            store.rollback()
            spool.settle(self.claimed, committed=False)
            if isinstance(e, sqlite3.DatabaseError):  # name the ledger, note any damage
                e = explain(self.opts.ledger, e)
            report_failure(self.opts, raw, f"{type(e).__name__}: {e}")
        finally:
            if close:
                store.close()

    def write(
        self, store: SqliteStore, raw: bytes, event: dict[str, Any] | None, problem: str | None
    ) -> None:
        conn = store.connection
        observed: dict[str, Any] = {}
        extra: list[Draft] = []
        if event is not None:
            observed, extra = self.observe(conn, event)
        store.begin()
        if self.reads:
            rule = reads.load(store, self.opts.config)
            unkept = {id(s) for path, cwd, s in self.reads if not rule.keeps(path, cwd, s.size)}
            self.blobs = [b for b in self.blobs if id(b) not in unkept]
        actor = actor_of(store)
        drafts, self.claimed = replay_spool(self.opts.ledger, actor, store)
        drafts += self.lost_events(store, actor)
        drafts += [error_draft(actor, f"hook options: {p}", b"") for p in self.opts.problems]
        if event is None:
            drafts.append(error_draft(actor, problem or "unreadable event", raw))
        else:
            first = len(drafts)
            drafts += events.map_event(event, actor=actor, observed=observed)
            for kind, payload in extra:
                payload["actor"] = actor
                drafts.append((kind, payload))
            # -- policy: judge this event's records, drafts[first:]; mask forbidden data --
            self.verdict = policy.review(
                store, self.opts.config, event, drafts, first, actor=actor, blobs=self.blobs
            )
            # -- end policy --
            drafts += conventions.check(conn, store, event, actor, self.opts.max_file_bytes)
        self.commit(store, drafts, event)

    def lost_events(self, store: SqliteStore, actor: dict[str, Any]) -> list[Draft]:
        """A ``capture.gap`` for each killed run's marker (call under the write lock)."""
        out: list[Draft] = []
        for name, facts in inflight.orphans(self.opts.ledger, own=self.marker):
            self.orphans.append(name)
            if not writer.seen(store, f"inflight:{name}"):  # else recorded, not yet deleted
                out.append(inflight.gap_draft(name, facts, actor))
        return out

    def observe(
        self, conn: sqlite3.Connection, event: dict[str, Any]
    ) -> tuple[dict[str, Any], list[Draft]]:
        """Read the disk before taking the lock: snapshots and Bash manifests."""
        name = event.get("hook_event_name")
        tool = event.get("tool_name")
        use_id = event.get("tool_use_id")
        tool_input = event.get("tool_input")
        if not isinstance(tool, str) or not isinstance(use_id, str):
            return {}, []
        tool_input = tool_input if isinstance(tool_input, dict) else {}
        if tool in events.FILE_WRITERS:
            path = events.file_path_of(tool_input)
            if path is None:
                return {}, []
            snap = snapshots.snapshot(path, self.opts.max_file_bytes)
            self.track(path, snap)
            if name == "PreToolUse":
                seen = {"before": snap.sha256, "known": snap.exists}
                self.pending = (use_id, json.dumps(seen).encode())
                return {"before_sha256": snap.sha256, "before_known": snap.exists}, []
            before = state.load_pending(conn, use_id)
            self.done_pending = use_id
            observed: dict[str, Any] = {}
            if before is not None:
                observed["before_sha256"] = before.get("before")
                observed["before_known"] = before.get("known")
            if snap.exists:
                observed["after_sha256"] = snap.sha256
                observed["size"] = snap.size
            return {k: v for k, v in observed.items() if v is not None}, []
        if tool == "Read" and name == "PostToolUse":
            # Keep what the agent read, where the config allows (capture/reads.py): a later
            # shell `rm` of it can then be rolled back.
            path = events.file_path_of(tool_input)
            if path is not None:
                snap = snapshots.snapshot(path, self.opts.max_file_bytes)
                self.track(path, snap)
                cwd = event.get("cwd")
                self.reads.append((path, cwd if isinstance(cwd, str) else None, snap))
                if snap.sha256 is not None:
                    return {"before_sha256": snap.sha256, "size": snap.size}, []
            return {}, []
        if tool in ("Bash", "PowerShell"):
            cwd = event.get("cwd")
            if not isinstance(cwd, str) or not os.path.isdir(cwd):
                return {}, []
            manifest, capped = snapshots.scan([cwd], self.opts.manifest_cap)
            if name == "PreToolUse":
                from affidavit.capture import preimages  # shell pre-images, for rollback

                pre = preimages.take(tool, tool_input, cwd, self.opts.max_file_bytes)
                packed = zlib.compress(json.dumps([manifest, capped, pre.state()]).encode(), 1)
                self.pending = (use_id, packed)
                return {"preimages": pre.summary()}, []
            kept = state.load_pending(conn, use_id, packed=True)
            self.done_pending = use_id
            if kept is None:
                return {}, []
            return {}, self.side_effects(conn, event, kept, manifest, capped)
        return {}, []

    def track(self, path: str, snap: snapshots.Snapshot) -> None:
        if snap.sha256 is None:
            return
        self.blobs.append(snap)
        st = snapshots.stat_of(path)
        if st is not None:
            self.remembered.append((path, st, snap.sha256))

    def side_effects(
        self,
        conn: sqlite3.Connection,
        event: dict[str, Any],
        state: Any,
        after: dict[str, snapshots.Stat],
        capped_after: bool,
    ) -> list[Draft]:
        """File records for what a shell command changed, attributed to its tool_use_id."""
        before = {p: tuple(v) for p, v in state[0].items()}
        from affidavit.capture.preimages import Before

        recall = Before(conn, state, self.blobs).recall  # shell pre-images first
        created, updated, deleted, renamed = snapshots.diff(before, after)
        product, surface = events.product_and_surface(event)
        agent = {
            k: v
            for k, v in {
                "product": product,
                "surface": surface,
                "session_id": event.get("session_id"),
                "prompt_id": event.get("prompt_id"),
                "tool_use_id": event.get("tool_use_id"),
                "tool": event.get("tool_name"),
                "event": event.get("hook_event_name"),
                "cwd": event.get("cwd"),
            }.items()
            if isinstance(v, str)
        }
        tool_input = event.get("tool_input")
        text = tool_input.get("command") if isinstance(tool_input, dict) else None
        command = {"text": text} if isinstance(text, str) else {}
        out: list[Draft] = []

        def add(kind: str, file: dict[str, Any]) -> None:
            body = {k: v for k, v in file.items() if v is not None}
            out.append(
                (
                    kind,
                    {
                        "agent": dict(agent),
                        "command": command,
                        "file": body,
                        "via": "command-side-effect",
                    },
                )
            )

        for path in created + updated:
            snap = snapshots.snapshot(path, self.opts.max_file_bytes)
            self.track(path, snap)
            prior = recall(path, before[path]) if path in before else None
            kind = "file.create" if path in created else "file.update"
            add(
                kind,
                {
                    "path": path,
                    "before_sha256": prior,
                    "after_sha256": snap.sha256,
                    "size": snap.size if snap.exists else None,
                },
            )
        for path in deleted:
            prior = recall(path, before[path])
            add("file.delete", {"path": path, "before_sha256": prior})
        for old, new in renamed:
            prior = recall(old, before[old])
            if prior is None:  # never hashed: a rename keeps the content, so hash it where it is
                snap = snapshots.snapshot(new, self.opts.max_file_bytes)
                self.track(new, snap)
                prior = snap.sha256
            add(
                "file.rename",
                {"path": new, "old_path": old, "before_sha256": prior, "after_sha256": prior},
            )
        if state[1] or capped_after:
            out.append(
                (
                    "capture.gap",
                    {
                        "agent": dict(agent),
                        "command": command,
                        "gap": {
                            "reason": "workspace manifest hit its cap; changes past it unseen",
                            "cap": self.opts.manifest_cap,
                        },
                    },
                )
            )
        return out

    def commit(self, store: SqliteStore, drafts: list[Draft], event: dict[str, Any] | None) -> None:
        conn = store.connection
        seqs = append_storable(store, drafts)
        # -- policy: findings right after their actions, same transaction; masked contents --
        if self.verdict is not None:
            append_storable(store, self.verdict.records(seqs))
            self.blobs = [b for b in self.blobs if b.sha256 not in self.verdict.unkept]
        # -- end policy --
        for snap in self.blobs:
            snapshots.keep(conn, snap)
        for path, st, sha in self.remembered:
            snapshots.remember(conn, path, st, sha)
        if self.pending is not None:
            state.keep_pending(conn, self.pending[0], now_text(), self.pending[1])
        if self.done_pending is not None:
            state.drop_pending(conn, self.done_pending)
        spawn = self.seal_due(store, event)
        store.commit()
        spool.settle(self.claimed, committed=True)
        inflight.discard(self.opts.ledger, self.orphans)
        self.release()  # first: a kill from here on loses nothing
        spool.keep_reserve(self.opts.ledger)
        if spawn:
            start_seal(self.opts.ledger)

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


def append_storable(store: SqliteStore, drafts: list[Draft]) -> range:
    """Append the drafts; if one cannot be canonical JSON, append storable copies instead.

    An event can parse and still hold what no record can: a lone surrogate, a number beyond
    JSON's range, a file name that is not UTF-8. Spooling it would fail the same way on every
    replay and hold up every later event behind it, so it is kept as
    :func:`events.storable` writes it. Nothing is written before the first attempt fails.
    """
    try:
        return writer.append_drafts(
            store, drafts, source=events.SOURCE_HOOK, time=datetime.now(UTC)
        )
    except InputError:
        stored = [(kind, events.storable(payload)) for kind, payload in drafts]
        return writer.append_drafts(
            store, stored, source=events.SOURCE_HOOK, time=datetime.now(UTC)
        )


def decode(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if len(raw) > MAX_STDIN:
        return None, f"hook input is larger than {MAX_STDIN} bytes; kept its first 4 KiB"
    if not raw.strip():
        return None, "hook input is empty"
    try:
        value = json.loads(raw)
    except RecursionError:
        return None, "hook input nests too deeply"
    except (ValueError, UnicodeDecodeError) as e:
        return None, f"hook input is not JSON: {e}"
    if not isinstance(value, dict):
        return None, f"hook input is a JSON {type(value).__name__}, not an object"
    if _LONE_SURROGATE.search(raw):
        # JavaScript cut a string between the two halves of a pair. A lone surrogate can be
        # neither canonical JSON nor SQLite text, so it is written as its escape at once.
        value = events.storable(value)
    return value, None


def error_draft(actor: dict[str, Any], message: str, raw: bytes) -> Draft:
    excerpt = raw[:4096].decode("utf-8", "replace")
    return (
        "capture.error",
        {
            "actor": actor,
            "error": {"message": message, "stage": "hook"},
            "input": {
                "bytes": len(raw),
                "sha256": hashlib.sha256(raw).hexdigest(),
                "excerpt": excerpt,
            },
        },
    )


def replay_spool(
    ledger: str, actor: dict[str, Any], store: SqliteStore
) -> tuple[list[Draft], list[str]]:
    """Records for events that earlier runs could not write, and the spool files claimed.

    Call inside the write transaction; the caller settles the claims after it
    (:func:`spool.settle`). Each replay is indexed as ``spool:<name>`` in the same
    transaction as its records, so an event is replayed exactly once, and a claimed file a
    killed run left behind is deleted without being recorded twice.
    """
    drafts: list[Draft] = []
    claimed: list[str] = []
    for key, path in spool.claim(ledger):
        claimed.append(path)
        if writer.seen(store, key):
            continue  # recorded by a run that ended before deleting the file
        try:
            entry = spool.read(path)
            records, head = _spooled(entry, actor)
        except (OSError, ValueError, KeyError, TypeError) as e:
            error = error_draft(actor, f"unreadable spool file {key[6:]}: {e}", b"")
            error[1]["dedup_key"] = key
            drafts.append(error)
            continue
        message = f"delayed capture from {entry.get('time')}: {entry.get('error')}"
        drafts.append(
            (
                "capture.error",
                {
                    "actor": actor,
                    "error": {"message": message, "stage": "hook"},
                    "input": head,
                    "dedup_key": key,
                },
            )
        )
        drafts += records
    return drafts, claimed


def _spooled(entry: dict[str, Any], actor: dict[str, Any]) -> tuple[list[Draft], dict[str, Any]]:
    """(records, input facts) of a spool entry; the raw form older versions wrote too."""
    if "stdin" in entry:  # written before the spool was redacted: map it now
        raw = base64.b64decode(entry["stdin"])
        _, error = error_draft({}, "", raw)
        event, _ = decode(raw)
        return ([] if event is None else events.map_event(event, actor=actor)), error["input"]
    records = [(str(kind), dict(payload)) for kind, payload in entry.get("records", [])]
    if not all(isinstance(p.get("actor", {}), dict) for _, p in records):
        raise ValueError("a spooled record's actor is not an object")
    return records, dict(entry["input"])


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

"""Turn hook requests into records: the service's side of :mod:`affidavit.capture.client`.

Every method but :meth:`Recorder.sync` runs on the service's one writer thread
(:mod:`.server`), which owns the ledger's connection. :meth:`Recorder.record` stages a batch
of events in one transaction; with ``synced=False`` it returns once the commit is written,
before its fsync, and the server acknowledges the batch only after a later
:meth:`Recorder.sync` (another thread, so the next batch is staged meanwhile): an ack always
means durable. The actor of each record is the socket's peer (:class:`.peer.Peer`); what the hook
says about its user is kept under ``actor.claimed``.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from affidavit.capture import events, inflight, stage, state, writer
from affidavit.capture.intake import error_draft
from affidavit.capture.observe import Observation
from affidavit.capture.replay import spooled
from affidavit.capture.snapshots import Snapshot
from affidavit.capture.wire import FrameError
from affidavit.ledger import Ledger
from affidavit.service import checks
from affidavit.service.peer import Peer

SOURCE_SPOOL = "claude-code.spool"
"""Source of records drained from a user's spool: for a while they were in the user's hands."""

Reply = dict[str, Any]


class Recorder:
    def __init__(self, ledger: Ledger, *, config: str | None = None) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.config = config
        uname = getattr(os, "uname", None)
        self.host = uname().nodename if uname else ""

    def close(self) -> None:
        self.ledger.close()

    # -- questions only the ledger can answer ----------------------------------------------

    def answer(self, peer: Peer, msg: dict[str, Any]) -> Reply:
        op = msg["op"]
        conn = self.store.connection
        if op == "pending":
            use_id = checks.text(msg, "tool_use_id")
            raw = state.pending_bytes(conn, f"{peer.uid}:{use_id}")
            data = None if raw is None else base64.b64encode(raw).decode()
            return {"ok": True, "state": data}
        if op == "recall":
            items = checks.recall_items(msg)
            user = peer.user()  # scoped: a peer learns only hashes its own records hold
            return {"ok": True, "hashes": [state.recall_for(conn, user, p, st) for p, st in items]}
        if op == "meta":
            key = checks.text(msg, "key")
            if not key.startswith("conventions:"):
                raise FrameError("field 'key': only conventions fingerprints are asked")
            return {"ok": True, "value": self.store.meta(key)}
        raise FrameError(f"field 'op': {op!r} is not a question")

    # -- events ------------------------------------------------------------------------------

    def record(
        self, batch: list[tuple[Peer, dict[str, Any]]], *, synced: bool = True
    ) -> list[Reply]:
        """Stage every request in one transaction; after a failure, each in its own.

        ``synced=False``: the commit returns before its fsync; nothing here is durable, and
        no reply may be sent, until :meth:`sync` returned.
        """
        if not synced:
            with self.store.unsynced():
                return self.record(batch)
        store = self.store
        store.begin()
        try:
            replies = [self._stage(peer, msg) for peer, msg in batch]
            store.commit()
            return replies
        except Exception:
            store.rollback()
            if len(batch) == 1:
                raise
        return [self._alone(peer, msg) for peer, msg in batch]

    def _alone(self, peer: Peer, msg: dict[str, Any]) -> Reply:
        try:
            return self.record([(peer, msg)])[0]
        except Exception as e:
            return {"ok": False, "error": f"not recorded: {type(e).__name__}: {e}"}

    def _stage(self, peer: Peer, msg: dict[str, Any]) -> Reply:
        store = self.store
        delivery = msg.get("delivery") or ""
        if delivery:
            done = writer.seen(store, f"delivery:{delivery}")
            if done:  # sent again after a lost ack: recorded once
                return {"ok": True, "seqs": [done[0][0], done[0][0]], "again": True}
        actor = peer.actor(self.host, msg.get("claims") or {})
        obs = observation_of(msg)
        self.merge_pending(peer, msg.get("event"), obs)
        stage.drop_unkept_reads(store, obs, self.config)
        prefix = [error_draft(actor, f"hook options: {p}", b"") for p in msg.get("problems", [])]
        event = msg.get("event")
        drafts, verdict = stage.event_drafts(
            store, obs, event, msg.get("problem"), msg.get("input") or {}, actor, self.config
        )
        conv = msg.get("conventions")
        if conv is not None and event is not None:
            kind, payload = conv["draft"]
            drafts.append((kind, {**payload, "actor": actor}))
            store.set_meta(conv["key"], conv["print"])
        if prefix:
            stage.append_storable(store, prefix)
        seqs = stage.append_storable(store, drafts)
        stage.keep(store, obs, verdict, seqs, pending_key=f"{peer.uid}:")
        if delivery and seqs:  # indexed under its first record, which tool_uses checks
            row = (f"delivery:{delivery}", seqs.start, events.SOURCE_HOOK, drafts[0][0])
            state.index_keys(store.connection, [row])
        block = verdict.block if verdict is not None else None
        return {"ok": True, "seqs": [seqs.start, seqs.stop], "block": block}

    def merge_pending(self, peer: Peer, event: object, obs: Observation) -> None:
        """What this tool call's PreToolUse saw, for a Write/Edit's PostToolUse (the hook
        leaves it to the service: see RemoteLookup.pending)."""
        if not isinstance(event, dict) or obs.done_pending is None:
            return
        if event.get("tool_name") not in events.FILE_WRITERS:
            return
        before = state.load_pending(self.store.connection, f"{peer.uid}:{obs.done_pending}")
        if not isinstance(before, dict):
            return
        found = {"before_sha256": before.get("before"), "before_known": before.get("known")}
        for key, value in found.items():
            if value is not None:
                obs.observed.setdefault(key, value)

    def sync(self) -> None:
        """Make every commit so far durable (any thread; see the module docstring)."""
        self.store.sync()

    # -- a user's spool ------------------------------------------------------------------------

    def drain(self, peer: Peer, msg: dict[str, Any]) -> Reply:
        """Record spool entries a hook hands over, once each, as ``claude-code.spool``."""
        entries = checks.drain_entries(msg)
        store = self.store
        store.begin()
        try:
            recorded = 0
            for item in entries:
                recorded += self._drain_one(peer, item)
            store.commit()
        except BaseException:
            store.rollback()
            raise
        return {"ok": True, "recorded": recorded}

    def _drain_one(self, peer: Peer, item: dict[str, Any]) -> int:
        store = self.store
        name = item["key"][len("spool:") :]
        key = f"spool:{peer.uid}:{name}"
        if writer.seen(store, key):
            return 0
        entry = item.get("entry") or {}
        delivery = entry.get("delivery")
        if isinstance(delivery, str) and delivery and writer.seen(store, f"delivery:{delivery}"):
            return 0  # the service committed it before it died; the hook never heard
        actor = peer.actor(self.host, {})
        try:
            records, head = spooled(entry, actor)
            for _, payload in records:
                claimed = payload.get("actor")
                payload["actor"] = peer.actor(self.host, claimed if claimed else {})
            message = f"delayed capture from {entry.get('time')}: {entry.get('error')}"
        except (ValueError, KeyError, TypeError) as e:
            records, head = [], {}
            message = f"unreadable spool file {name}: {item.get('unreadable') or e}"
        error = {"message": message, "stage": "hook", "custody": "user spool"}
        note = ("capture.error", {"actor": actor, "error": error, "input": head, "dedup_key": key})
        seqs = stage.append_storable(store, [note, *records], source=SOURCE_SPOOL)
        if isinstance(delivery, str) and delivery:  # arrived after all: no gap for its marker
            row = (f"delivery:{delivery}", seqs.start, SOURCE_SPOOL, "capture.error")
            state.index_keys(store.connection, [row])
        return 1

    # -- hook runs killed while they held an event ------------------------------------------

    def gaps(self, peer: Peer, msg: dict[str, Any]) -> Reply:
        """A ``capture.gap`` for each reported marker whose event is not here; the names
        settled (recorded now or before, or their event recorded after all), for the hook
        to delete. Its delivery id says whether the event arrived: the record itself or,
        spooled, its drained copy (the server lets a killed hook's connection finish first)."""
        store = self.store
        settled = []
        actor = peer.actor(self.host, {})
        store.begin()
        try:
            for marker in msg["markers"]:
                name, facts = marker["name"], marker["facts"]
                key = f"inflight:{peer.uid}:{name}"
                delivery = facts.get("delivery")
                arrived = bool(delivery) and writer.seen(store, f"delivery:{delivery}")
                if not arrived and not writer.seen(store, key):
                    draft = inflight.gap_draft(f"{peer.uid}:{name}", facts, actor)
                    stage.append_storable(store, [draft])
                settled.append(name)
            store.commit()
        except BaseException:
            store.rollback()
            raise
        return {"ok": True, "settled": settled}

    # -- sealing -------------------------------------------------------------------------------

    def unpublished(self) -> bool:
        latest = self.store.latest_checkpoint()
        return self.store.size() > (latest[0] if latest else 0)

    def seal(self) -> Reply:
        self.ledger.seal()
        latest = self.store.latest_checkpoint()
        return {"ok": True, "size": latest[0] if latest else 0}


def observation_of(msg: dict[str, Any]) -> Observation:
    """The hook's observation, rebuilt from a checked ``record`` request."""
    obs = Observation(0, 0)
    obs.observed = dict(msg.get("observed") or {})
    obs.extra = [(str(k), dict(p)) for k, p in msg.get("extra", [])]
    by_sha = {sha: Snapshot(True, sha, size, data) for sha, size, data in msg.get("blobs", [])}
    obs.blobs = list(by_sha.values())
    obs.remembered = [(p, (st[0], st[1], st[2]), sha) for p, st, sha in msg.get("remembered", [])]
    for path, cwd, sha, size in msg.get("reads", []):
        snap = by_sha.get(sha) if sha else None
        obs.reads.append((path, cwd, snap if snap is not None else Snapshot(True, sha, size, None)))
    pending = msg.get("pending")
    if pending is not None:
        obs.pending = (pending[0], pending[1])
    obs.done_pending = msg.get("done_pending") or None
    return obs

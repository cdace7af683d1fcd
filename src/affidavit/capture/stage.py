"""Stage one hook event in an open ledger transaction: its records, findings and contents.

The same steps whoever writes: the hook in direct mode (:mod:`affidavit.capture.direct`) and
the recorder service for an event a hook sent it (:mod:`affidavit.service.recorder`). The
caller holds the transaction (``store.begin()`` ... ``store.commit()``) and says who the
actor is: the hook's own view of its user in direct mode, the socket's peer credentials in
service mode. Standard library only: the hook uses it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from affidavit.capture import events, policy, reads, snapshots, state, writer
from affidavit.errors import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from affidavit.capture.observe import Observation
    from affidavit.store.sqlite import SqliteStore

    Draft = tuple[str, dict[str, Any]]


def drop_unkept_reads(store: SqliteStore, obs: Observation, config: str | None) -> None:
    """Keep the contents of files the agent only read where the config says so."""
    if not obs.reads:
        return
    rule = reads.load(store, config)
    unkept = {id(s) for path, cwd, s in obs.reads if not rule.keeps(path, cwd, s.size)}
    obs.blobs = [b for b in obs.blobs if id(b) not in unkept]


def event_drafts(
    store: SqliteStore,
    obs: Observation,
    event: dict[str, Any] | None,
    problem: str | None,
    bad_input: dict[str, Any],
    actor: dict[str, Any],
    config: str | None,
) -> tuple[list[Draft], policy.Verdict | None]:
    """The event's records (or a ``capture.error`` for input that is none), policy applied."""
    if event is None:
        message = problem or "unreadable event"
        error = {"message": message, "stage": "hook"}
        return [("capture.error", {"actor": actor, "error": error, "input": bad_input})], None
    drafts = events.map_event(event, actor=actor, observed=obs.observed)
    for kind, payload in obs.extra:
        payload["actor"] = actor
        drafts.append((kind, payload))
    # -- policy: judge this event's records; mask forbidden data --
    verdict = policy.review(
        store,
        config,
        event,
        drafts,
        0,
        actor=actor,
        known=lambda fid: policy.finding_in_ledger(store, fid),
        blobs=obs.blobs,
    )
    # -- end policy --
    return drafts, verdict


def keep(
    store: SqliteStore,
    obs: Observation,
    verdict: policy.Verdict | None,
    seqs: range,
    *,
    pending_key: str = "",
    source: str = events.SOURCE_HOOK,
) -> None:
    """After the event's records: findings, kept contents, file hashes, pending state.

    ``pending_key`` prefixes the tool call id in ``pending``: the service keeps each peer's
    pending state under its uid, so no user can read what another user's PreToolUse saw.
    """
    conn = store.connection
    # -- policy: findings right after their actions, same transaction; masked contents --
    if verdict is not None:
        append_storable(store, verdict.records(seqs), source=source)
        obs.blobs = [b for b in obs.blobs if b.sha256 not in verdict.unkept]
    # -- end policy --
    for snap in obs.blobs:
        snapshots.keep(conn, snap)
    for path, st, sha in obs.remembered:
        snapshots.remember(conn, path, st, sha)
    if obs.pending is not None:
        state.keep_pending(conn, pending_key + obs.pending[0], now_text(), obs.pending[1])
    if obs.done_pending is not None:
        state.drop_pending(conn, pending_key + obs.done_pending)


def append_storable(
    store: SqliteStore, drafts: list[Draft], *, source: str = events.SOURCE_HOOK
) -> range:
    """Append the drafts; if one cannot be canonical JSON, append storable copies instead.

    An event can parse and still hold what no record can: a lone surrogate, a number beyond
    JSON's range, a file name that is not UTF-8. Spooling it would fail the same way on every
    replay and hold up every later event behind it, so it is kept as
    :func:`events.storable` writes it. Nothing is written before the first attempt fails.
    """
    try:
        return writer.append_drafts(store, drafts, source=source, time=datetime.now(UTC))
    except InputError:
        stored = [(kind, events.storable(payload)) for kind, payload in drafts]
        return writer.append_drafts(store, stored, source=source, time=datetime.now(UTC))


def now_text() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

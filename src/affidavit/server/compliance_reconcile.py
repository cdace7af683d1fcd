"""Reconciliation of the sessions the Compliance API lists with the hook records shipped.

A local ``cowork`` or ``claude_code`` session (they run on users' machines, where the hooks
run; remote sessions have none) older than the grace period (default 10 minutes) is
*captured* when a hook record of the same person (the record's ``actor.email``, or an
``identity.link`` naming the hook record's session) was shipped within the grace period of
the session's first inference call; otherwise a ``capture.gap`` goes on the org log: the
platform saw a session no hook recorded. A session without a person is ``unattributed``.
The session object names no Claude Code session id, hence person and time. Each session is
judged once (``compliance_items.reconciled``), in the same transaction as its gap record.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import psycopg

from affidavit.record import Kind, Record, format_time, parse_time
from affidavit.server import orglog
from affidavit.server.schema import Collector

SOURCE = "affidavit.compliance"
RECONCILED_PRODUCTS = ("cowork", "claude_code")


def reconcile(
    conn: psycopg.Connection[Any],
    c: Collector,
    name: str,
    *,
    now: datetime,
    grace: timedelta,
) -> Counter[str]:
    """Judge the sessions of source ``name`` old enough to judge; returns how many of each
    verdict (``captured``, ``gap``, ``unattributed``)."""
    pending = conn.execute(
        f'SELECT item_id, created_at, email, product, org_seq FROM "{c.schema}".compliance_items '
        "WHERE source = %s AND family = 'local' AND reconciled IS NULL AND product = ANY(%s) "
        "AND created_at <= %s ORDER BY created_at",
        (name, list(RECONCILED_PRODUCTS), format_time(now - grace)),
    ).fetchall()
    if not pending:
        return Counter()
    times = [parse_time(str(p[1])) for p in pending]
    seen = _hook_times(conn, c, min(times) - grace, max(times) + grace)
    verdicts: list[tuple[str, str]] = []
    gaps: list[Record] = []
    for (ident, _, email, product, seq), at in zip(pending, times, strict=True):
        if not email:
            verdicts.append(("unattributed", str(ident)))
        elif any(abs(t - at) <= grace for t in seen.get(str(email), ())):
            verdicts.append(("captured", str(ident)))
        else:
            verdicts.append(("gap", str(ident)))
            reason = (
                f"the Compliance API lists {product} session {ident} of {email} at "
                f"{format_time(at)}, and no hook record of that person was shipped within "
                f"{int(grace.total_seconds() // 60)} minutes of it: the hook did not fire, "
                "was removed, or the device does not ship"
            )
            gap = {"source": name, "session": ident, "product_surface": product, "evidence": seq}
            gap |= {"created_at": format_time(at), "reason": reason}
            payload = {"gap": gap, "actor": {"email": email}}
            gaps.append(Record.create(Kind.CAPTURE_GAP, SOURCE, payload, time=now))

    def mark(seqs: range) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                f'UPDATE "{c.schema}".compliance_items SET reconciled = %s '
                "WHERE source = %s AND family = 'local' AND item_id = %s",
                [(verdict, name, ident) for verdict, ident in verdicts],
            )

    orglog.append_direct(conn, c, gaps, then=mark)
    return Counter(verdict for verdict, _ in verdicts)


def _hook_times(
    conn: psycopg.Connection[Any], c: Collector, start: datetime, end: datetime
) -> dict[str, list[datetime]]:
    """email -> times of the shipped records attributed to that person in [start, end]."""
    links = _links(conn, c)
    out: dict[str, list[datetime]] = defaultdict(list)
    rows = conn.execute(
        f'SELECT origin, time, payload FROM "{c.schema}".entries '
        "WHERE time >= %s AND time <= %s AND payload IS NOT NULL",
        (format_time(start), format_time(end)),
    )
    for origin, stamp, payload in rows:
        body = _json(payload)
        actor, agent = body.get("actor"), body.get("agent")
        email = actor.get("email") if isinstance(actor, dict) else None
        if not isinstance(email, str) and isinstance(agent, dict):
            email = links.get((str(origin), str(agent.get("session_id"))))
        if isinstance(email, str) and email:
            out[email.lower()].append(parse_time(str(stamp)))
    return out


def _links(conn: psycopg.Connection[Any], c: Collector) -> dict[tuple[str, str], str]:
    """(hook origin, session id) -> email, from the org log's ``identity.link`` records."""
    # Through the links' index (:mod:`.identity`), not a read of the whole org log; in org
    # seq order, so a hook session's newest link names its person.
    rows = conn.execute(
        f'SELECT r.payload FROM "{c.schema}".identity_links l JOIN "{c.org_schema}".records r '
        "ON r.seq = l.link_seq WHERE r.payload IS NOT NULL ORDER BY l.link_seq"
    )
    out: dict[tuple[str, str], str] = {}
    for (payload,) in rows:
        body = _json(payload)
        hook, user = body.get("hook"), body.get("user")
        if isinstance(hook, dict) and isinstance(user, dict) and user.get("email"):
            out[(str(hook.get("origin")), str(body.get("session_id")))] = str(user["email"])
    return out


def _json(raw: bytes | memoryview | None) -> dict[str, Any]:
    try:
        value = json.loads(bytes(raw or b"{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

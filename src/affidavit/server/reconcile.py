"""Reconciliation of OpenTelemetry against hooks: the completeness check no one source gives.

Two independent witnesses see each tool use: the endpoint's hook (a record shipped from the
device, or an ``http`` hook the collector received) and Claude Code's or Cowork's own
OpenTelemetry ``tool_result`` event. After a grace period (default 10 minutes, the
collector's ``--gap-grace``), a ``tool_result`` whose session and ``tool_use_id`` no hook
record carries becomes a ``capture.gap`` record on the org log: the hook did not fire, or
was removed, on that device. The other direction is reported by :func:`listing`: hook
records whose session sent telemetry but not that tool use, and hook sessions that sent no
telemetry at all although the collector receives OpenTelemetry (so it is configured).

A hook record that arrives after its gap was recorded does not erase the gap (records are
never changed); the listing marks it ``late_hook``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import psycopg

from affidavit.record import Kind, Record
from affidavit.server import identity, twins
from affidavit.server.identity import append_marked
from affidavit.server.orglog import SOURCE
from affidavit.server.schema import Collector

DEFAULT_GRACE_S = 600.0
LIST_LIMIT = 1000


def grace_seconds() -> float:
    """The grace period from ``AFFIDAVIT_SERVER_GAP_GRACE`` (seconds), default 10 minutes."""
    text = os.environ.get("AFFIDAVIT_SERVER_GAP_GRACE", "")
    try:
        return max(0.0, float(text)) if text else DEFAULT_GRACE_S
    except ValueError:
        return DEFAULT_GRACE_S


def record_gaps(conn: psycopg.Connection[Any], c: Collector, *, grace_s: float) -> int:
    """Mark tool results a hook record now matches; record the rest past the grace as gaps."""
    s = f'"{c.schema}"'
    conn.execute(
        f"UPDATE {s}.otel_seen o SET matched = true FROM {s}.hook_seen h "
        "WHERE o.kind = 'otel.tool_result' AND NOT o.matched AND o.tool_use_id IS NOT NULL "
        "AND h.session_id = o.session_id AND h.tool_use_id = o.tool_use_id"
    )
    rows = conn.execute(
        "SELECT org_seq, session_id, tool_use_id, prompt_id, tool, device, email, account_uuid, "
        f"organization_id FROM {s}.otel_seen WHERE kind = 'otel.tool_result' AND NOT matched "
        "AND gap_seq IS NULL AND tool_use_id IS NOT NULL AND session_id IS NOT NULL "
        "AND seen_at < now() - make_interval(secs => %s) ORDER BY org_seq LIMIT 5000",
        (grace_s,),
    ).fetchall()
    if not rows:
        return 0
    now = datetime.now(UTC)
    records = [
        Record.create(
            Kind.CAPTURE_GAP,
            SOURCE,
            {
                "direction": "otel_without_hook",
                "reason": (
                    f"OpenTelemetry reported a {tool or 'tool'} result that no endpoint hook "
                    f"recorded within {grace_s:g} s: the hook did not fire or was removed "
                    f"on device {device}"
                ),
                "agent": {"session_id": session, "tool_use_id": tool_use, "prompt_id": prompt,
                          "tool": tool},
                "device": device,
                "otel_seq": int(seq),
                "user": {"email": email, "account_uuid": account, "organization_id": org},
                "grace_s": grace_s,
            },
            time=now,
        )
        for seq, session, tool_use, prompt, tool, device, email, account, org in rows
    ]  # fmt: skip

    def mark(first: int) -> None:
        conn.execute(
            f"UPDATE {s}.otel_seen o SET gap_seq = v.gap FROM unnest(%b::bigint[], "
            "%b::bigint[]) AS v(org_seq, gap) WHERE o.org_seq = v.org_seq",
            ([int(r[0]) for r in rows], list(range(first, first + len(rows)))),
        )

    append_marked(conn, c, records, mark)
    return len(rows)


def listing(conn: psycopg.Connection[Any], schema: str, *, grace_s: float) -> dict[str, Any]:
    """Every gap in both directions, with counts per device and per person."""
    s = f'"{schema}"'
    recorded = conn.execute(
        "SELECT gap_seq, org_seq, device, coalesce(email, account_uuid, 'unattributed'), "
        f"session_id, tool_use_id, tool, matched FROM {s}.otel_seen WHERE gap_seq IS NOT NULL "
        "ORDER BY gap_seq"
    ).fetchall()
    missing = conn.execute(
        "SELECT h.origin, h.seq, coalesce(h.email, h.account_uuid, 'unattributed'), "
        f"h.session_id, h.tool_use_id FROM {s}.hook_seen h "
        "WHERE h.tool_use_id IS NOT NULL AND h.twin_seq IS NULL "
        "AND h.seen_at < now() - make_interval(secs => %s) "
        f"AND EXISTS (SELECT 1 FROM {s}.otel_seen o WHERE o.session_id = h.session_id) "
        f"AND NOT EXISTS (SELECT 1 FROM {s}.otel_seen o WHERE o.session_id = h.session_id "
        "AND o.tool_use_id = h.tool_use_id) ORDER BY h.origin, h.seq",
        (grace_s,),
    ).fetchall()
    unseen = conn.execute(
        f"SELECT h.origin, h.session_id, count(*) FROM {s}.hook_seen h "
        f"WHERE h.twin_seq IS NULL AND EXISTS (SELECT 1 FROM {s}.otel_seen) "
        f"AND NOT EXISTS (SELECT 1 FROM {s}.otel_seen o WHERE o.session_id = h.session_id) "
        "GROUP BY h.origin, h.session_id HAVING max(h.seen_at) < now() - make_interval(secs => %s) "
        "ORDER BY h.origin, h.session_id",
        (grace_s,),
    ).fetchall()
    gaps: list[dict[str, Any]] = [
        {"direction": "otel_without_hook", "gap_seq": int(g), "otel_seq": int(o), "device": d,
         "person": p, "session_id": sid, "tool_use_id": t, "tool": tool, "late_hook": bool(m)}
        for g, o, d, p, sid, t, tool, m in recorded
    ] + [
        {"direction": "hook_without_otel", "device": origin, "seq": int(seq), "person": p,
         "session_id": sid, "tool_use_id": t}
        for origin, seq, p, sid, t in missing
    ] + [
        {"direction": "session_without_otel", "device": origin, "person": "unattributed",
         "session_id": sid, "records": int(n)}
        for origin, sid, n in unseen
    ]  # fmt: skip
    return {
        "grace_s": grace_s,
        "total": len(gaps),
        "by_device": _count(gaps, "device"),
        "by_person": _count(gaps, "person"),
        "gaps": gaps[:LIST_LIMIT],
    }


def _count(gaps: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, Any]] = {}
    for gap in gaps:
        row = counts.setdefault(
            gap[key],
            {key: gap[key], "otel_without_hook": 0, "hook_without_otel": 0,
             "session_without_otel": 0},
        )  # fmt: skip
        row[gap["direction"]] += 1
    return [counts[k] for k in sorted(counts)]


def run(conn: psycopg.Connection[Any], c: Collector, *, grace_s: float, wait: bool = False) -> bool:
    """One turn of the join and the reconciliation (scan, link, gaps); False when another
    worker holds the turn and ``wait`` is false."""
    key = f"affidavit.join:{c.schema}"
    if wait:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
    else:
        got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,))
        row = got.fetchone()
        if row is None or not row[0]:
            return False
    try:
        identity.scan(conn, c)
        twins.pair(conn, c)
        identity.link(conn, c)
        record_gaps(conn, c, grace_s=grace_s)
        return True
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

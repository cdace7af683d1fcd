"""The compliance dashboard: what the collector's own data can show, the open findings with
resolve, and the monthly governance review signed into the org log.

Computed here, from the records the collector holds: actions per business function per week,
capture completeness (``capture.error`` and ``capture.gap`` records per device), the policy
findings still open, and the review months (held, missed, due). The eight checklist items and
the eight regimes are scored per device in :mod:`.posture`.

A resolution is a ``policy.finding`` record holding ``{"resolution": {...}}`` (the contract
of :mod:`affidavit.compliance.findings`); a review is a ``review.signoff`` whose payload is
signed with the org key (:func:`affidavit.signing.sign_payload`, the contract of
:mod:`affidavit.compliance.review`). Both go into the org log through
:func:`affidavit.server.orglog.append_direct`.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from affidavit.errors import InputError
from affidavit.query.rules import function_of
from affidavit.record import Kind, Record, format_time
from affidavit.server import orglog
from affidavit.server.schema import Collector
from affidavit.signing import sign_payload

SOURCE = "affidavit.console"
WEEKS = 8
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True, slots=True)
class FindingRow:
    id: str
    origin: str
    org_seq: int
    time: str
    type: str
    rule: str
    path: str
    detail: str


def _json(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(bytes(raw)) if raw is not None else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def direct_records(
    conn: psycopg.Connection[Any], c: Collector, kind: str
) -> list[tuple[int, str, dict[str, Any]]]:
    """(org seq, time, payload) of records of ``kind`` the collector appended itself."""
    rows = conn.execute(
        "SELECT seq, convert_from(leaf, 'UTF8')::jsonb ->> 'time', payload "
        f'FROM "{c.org_schema}".records WHERE position(%s::bytea in leaf) > 0 ORDER BY seq',
        (f'"kind":"{kind}"'.encode(),),
    ).fetchall()
    return [(int(s), str(t), _json(p)) for s, t, p in rows]


def findings(conn: psycopg.Connection[Any], c: Collector) -> list[FindingRow]:
    """Findings shipped by endpoints that no resolution (shipped or made here) closes."""
    rows = conn.execute(
        f'SELECT org_seq, origin, time, leaf_hash, payload FROM "{c.schema}".entries '
        "WHERE kind = 'policy.finding' AND org_seq IS NOT NULL ORDER BY org_seq"
    ).fetchall()
    closed: set[str] = set()
    found: dict[str, FindingRow] = {}
    payloads = [(int(s), o, t, bytes(h).hex(), _json(p)) for s, o, t, h, p in rows]
    payloads += [(s, "", t, "", p) for s, t, p in direct_records(conn, c, Kind.POLICY_FINDING)]
    for org_seq, origin, time, leaf_hex, p in payloads:
        resolution = p.get("resolution")
        if isinstance(resolution, dict):
            closed.add(str(resolution.get("finding_id")))
        f = p.get("finding")
        if isinstance(f, dict):
            fid = str(f.get("id") or leaf_hex[:12])
            found.setdefault(
                fid,
                FindingRow(
                    fid,
                    origin,
                    org_seq,
                    time,
                    str(f.get("type") or ""),
                    str(f.get("rule") or f.get("data_class") or ""),
                    str(f.get("path") or f.get("where") or ""),
                    str(f.get("detail") or ""),
                ),
            )
    return [f for fid, f in found.items() if fid not in closed]


def console_resolutions(conn: psycopg.Connection[Any], c: Collector) -> set[str]:
    """The finding ids an admin resolved in the console (org log records)."""
    out = set()
    for _, _, p in direct_records(conn, c, Kind.POLICY_FINDING):
        resolution = p.get("resolution")
        if isinstance(resolution, dict):
            out.add(str(resolution.get("finding_id")))
    return out


def resolve(
    conn: psycopg.Connection[Any],
    c: Collector,
    finding_id: str,
    reason: str,
    by: dict[str, str],
    now: datetime,
) -> int:
    if not reason.strip() or len(reason) > 2000:
        raise InputError("a resolution needs a reason (1-2000 characters)")
    if finding_id not in {f.id for f in findings(conn, c)}:
        raise InputError(f"no open finding {finding_id!r}")
    payload = {
        "resolution": {"finding_id": finding_id, "reason": reason.strip(), "by": by["user"]},
        "actor": by,
    }
    record = Record.create(Kind.POLICY_FINDING, SOURCE, payload, time=now)
    return orglog.append_direct(conn, c, [record]).start


def weekly(
    conn: psycopg.Connection[Any], schema: str, rules: list[tuple[str, str]], today: date
) -> tuple[list[str], dict[str, list[int]]]:
    """Actions per business function (else per top folder) per ISO week, the last weeks."""
    start = today - timedelta(days=today.weekday() + 7 * (WEEKS - 1))
    weeks = [(start + timedelta(weeks=i)).isoformat() for i in range(WEEKS)]
    rows = conn.execute(
        "SELECT time, convert_from(payload, 'UTF8')::jsonb #>> '{file,path}' "
        f'FROM "{schema}".entries WHERE time >= %s AND payload IS NOT NULL',
        (format_time(datetime.combine(start, datetime.min.time(), UTC)),),
    ).fetchall()
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    for time, path in rows:
        day = date.fromisoformat(time[:10])
        week = (day - start).days // 7
        if not 0 <= week < WEEKS:
            continue
        name = (function_of(path, rules) if rules else None) or (
            path.split("/")[0] if path else "(no file)"
        )
        counts[name or "(none)"][week] += 1
    top = sorted(counts.items(), key=lambda kv: -sum(kv[1]))[:8]
    return weeks, dict(top)


def completeness(conn: psycopg.Connection[Any], schema: str) -> list[tuple[str, int, int, str]]:
    """(device, records held, capture gaps and errors, last gap time) per enrolled endpoint."""
    gaps = {
        o: (int(n), str(t))
        for o, n, t in conn.execute(
            f'SELECT origin, count(*), max(time) FROM "{schema}".entries '
            "WHERE kind IN ('capture.gap', 'capture.error') GROUP BY origin"
        ).fetchall()
    }
    held = conn.execute(f'SELECT origin, size FROM "{schema}".endpoints ORDER BY origin').fetchall()
    return [(o, int(n), *gaps.get(o, (0, ""))) for o, n in held]


def months(
    conn: psycopg.Connection[Any], c: Collector, today: date
) -> list[tuple[str, str, list[tuple[int, dict[str, Any]]]]]:
    """(YYYY-MM, held/missed/due, its sign-offs) from the first record's month to today's."""
    reviews: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for seq, _, p in direct_records(conn, c, Kind.REVIEW_SIGNOFF):
        review = p["review"] if isinstance(p.get("review"), dict) else {}
        reviews[str(review.get("period"))].append((seq, p))
    first = conn.execute(f'SELECT min(time) FROM "{c.schema}".entries').fetchone()
    names = set(reviews)
    if first and first[0]:
        y, m = int(first[0][:4]), int(first[0][5:7])
        while (y, m) <= (today.year, today.month):
            names.add(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    current = f"{today.year:04d}-{today.month:02d}"
    out = []
    for name in sorted((n for n in names if _PERIOD.fullmatch(n)), reverse=True):
        status = "held" if reviews.get(name) else "due" if name == current else "missed"
        out.append((name, status, reviews.get(name, [])))
    return out


def sign_review(
    conn: psycopg.Connection[Any],
    c: Collector,
    *,
    period: str,
    attendees: list[str],
    decisions: list[str],
    by: dict[str, str],
    now: datetime,
) -> int:
    """Record the signed ``review.signoff`` of ``period``; returns its org seq."""
    if not _PERIOD.fullmatch(period):
        raise InputError("period: a month as YYYY-MM")
    names = [a.strip() for a in attendees if a.strip()]
    if not names:
        raise InputError("a review sign-off names its attendees (one per line)")
    latest = orglog.org_ledger(conn, c).latest_checkpoint()
    open_findings = len(findings(conn, c))
    gaps = sum(g for _, _, g, _ in completeness(conn, c.schema))
    body = {
        "review": {
            "period": period,
            "at": format_time(now),
            "attendees": names[:100],
            "decisions": [d.strip() for d in decisions if d.strip()][:100],
            "findings_open": open_findings,
            "gaps": gaps,
            "verified": "org log checkpoint of size "
            + (str(latest[0]) if latest else "0 (none yet)")
            + "; not re-verified by the console",
        },
        "actor": by,
    }
    record = Record.create(
        Kind.REVIEW_SIGNOFF, SOURCE, sign_payload(body, c.org_signer()), time=now
    )
    return orglog.append_direct(conn, c, [record]).start


def counts_by(items: list[FindingRow]) -> Counter[str]:
    return Counter(f.rule or f.type for f in items)

"""The collector's pull of the Anthropic Compliance API, and its reconciliation with the hooks.

``affidavit server sources add anthropic-compliance NAME --key-file F`` stores a source in
``compliance_sources`` (the key's *reference*, never the key, which is read from its
owner-only file, the environment or the OS keyring at each pull: :mod:`affidavit.sources.
secrets`). Every worker runs :func:`run_due` every few seconds; a pull takes the advisory
lock ``affidavit.compliance:<schema>:<name>``, so one worker pulls a source at a time.

A pull lists the Activity Feed and the local and remote session lists
(:mod:`.compliance_feed`) from each family's cursor, the newest ``created_at`` of its last
complete listing (less :data:`LAG`, for items that become listable late), and appends
through :func:`.orglog.append_direct` one ``compliance.activity`` or ``compliance.session``
record per item not held before (``compliance_items`` keys them by id), oldest first, with
the items and the cursor in the same transaction: a crash leaves both or neither, and a
pull that stopped part way (429 for longer than :data:`~affidavit.sources.http.MAX_WAIT`,
a refused key) keeps the old cursor and resumes, recording nothing twice.

Then it reconciles the sessions with the hook records (:mod:`.compliance_reconcile`); a
``compliance.pull`` record closes every pull with its counts, cursors and what stopped it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from affidavit.errors import InputError
from affidavit.record import Kind, Record, format_time, parse_time
from affidavit.server import orglog
from affidavit.server.compliance_feed import FAMILIES, Item, list_since
from affidavit.server.compliance_reconcile import SOURCE, reconcile
from affidavit.server.schema import Collector
from affidavit.sources.http import Client, SourceError
from affidavit.sources.secrets import SecretRef, read_secret

PROVIDER = "anthropic-compliance"
EVERY = timedelta(hours=1)
GRACE = timedelta(minutes=10)
LAG = timedelta(minutes=5)

_DDL = """
CREATE TABLE IF NOT EXISTS {s}.compliance_sources (
    name TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    api_url TEXT NOT NULL,
    key_ref TEXT NOT NULL,
    every_s INTEGER NOT NULL,
    grace_s INTEGER NOT NULL,
    next_due TIMESTAMPTZ NOT NULL,
    cursors TEXT NOT NULL DEFAULT '{{}}',
    last_pull TEXT
);
CREATE TABLE IF NOT EXISTS {s}.compliance_items (
    source TEXT NOT NULL,
    family TEXT NOT NULL,
    item_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    email TEXT,
    product TEXT,
    org_seq BIGINT NOT NULL,
    reconciled TEXT,
    PRIMARY KEY (source, family, item_id)
)
"""


@dataclass(frozen=True, slots=True)
class ComplianceSource:
    name: str
    api_url: str
    key_ref: str
    every: timedelta = EVERY
    grace: timedelta = GRACE

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": PROVIDER,
            "api_url": self.api_url,
            "key": self.key_ref,
            "every_s": int(self.every.total_seconds()),
            "grace_s": int(self.grace.total_seconds()),
        }


@dataclass
class PullReport:
    source: str
    fetched: dict[str, int] = field(default_factory=dict)
    new: dict[str, int] = field(default_factory=dict)
    captured: int = 0
    gaps: int = 0
    unattributed: int = 0
    waited: list[float] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)
    """Family (or ``key``) -> why it stopped; what came before is recorded."""

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fetched": self.fetched,
            "new": self.new,
            "captured": self.captured,
            "gaps": self.gaps,
            "unattributed": self.unattributed,
            "waited": self.waited,
            "stopped": self.stopped,
        }


def ensure_tables(conn: psycopg.Connection[Any], schema: str) -> None:
    with conn.transaction():
        for statement in _DDL.format(s=f'"{schema}"').split(";"):
            conn.execute(statement)


def add(
    conn: psycopg.Connection[Any], c: Collector, src: ComplianceSource, *, now: datetime
) -> int:
    """Store (or replace) the source and record it as ``source.config``; returns its org seq.

    The key is read once here (owner-only file, env or keyring) so a source that could
    never pull is refused now; it is not stored."""
    read_secret(src.key_ref, private=True)
    Client(src.name, src.api_url, "", "")  # refuses an API URL that is not http(s)://
    if src.every < timedelta(minutes=1) or src.grace < timedelta(0):
        raise InputError("--every-minutes must be at least 1 and --grace-minutes not negative")
    ensure_tables(conn, c.schema)
    body = {"source": {**src.to_json(), "added": format_time(now)}}
    record = Record.create(Kind.SOURCE_CONFIG, SOURCE, body, time=now)

    def store(seqs: range) -> None:
        conn.execute(
            f'INSERT INTO "{c.schema}".compliance_sources '
            "(name, provider, api_url, key_ref, every_s, grace_s, next_due) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "api_url = EXCLUDED.api_url, key_ref = EXCLUDED.key_ref, "
            "every_s = EXCLUDED.every_s, grace_s = EXCLUDED.grace_s, next_due = EXCLUDED.next_due",
            (src.name, PROVIDER, src.api_url, src.key_ref, *_seconds(src), now),
        )

    return orglog.append_direct(conn, c, [record], then=store).start


def remove(conn: psycopg.Connection[Any], c: Collector, name: str, *, now: datetime) -> int:
    """Stop pulling ``name`` (its records and seen items stay); recorded as ``source.config``."""
    ensure_tables(conn, c.schema)
    body = {"source": {"name": name, "provider": PROVIDER, "removed": format_time(now)}}
    record = Record.create(Kind.SOURCE_CONFIG, SOURCE, body, time=now)

    def delete(seqs: range) -> None:
        gone = conn.execute(
            f'DELETE FROM "{c.schema}".compliance_sources WHERE name = %s', (name,)
        ).rowcount
        if gone != 1:
            raise InputError(f"no source {name!r}; `affidavit server sources list` shows them")

    return orglog.append_direct(conn, c, [record], then=delete).start


def sources(conn: psycopg.Connection[Any], schema: str) -> list[dict[str, Any]]:
    """Every source with its cursors and last pull (never a key)."""
    ensure_tables(conn, schema)
    rows = conn.execute(
        "SELECT name, provider, api_url, key_ref, every_s, grace_s, next_due, cursors, "
        f'last_pull FROM "{schema}".compliance_sources ORDER BY name'
    ).fetchall()
    return [
        {
            "name": r[0],
            "provider": r[1],
            "api_url": r[2],
            "key": r[3],
            "every_s": r[4],
            "grace_s": r[5],
            "next_due": format_time(r[6]),
            "cursors": json.loads(r[7]),
            "last_pull": json.loads(r[8]) if r[8] else None,
        }
        for r in rows
    ]


def run_due(
    conn: psycopg.Connection[Any],
    c: Collector,
    *,
    now: datetime,
    sleep: Callable[[float], None] | None = None,
) -> list[PullReport]:
    """Pull every source whose time has come (one worker per source; others skip it)."""
    ensure_tables(conn, c.schema)
    names = conn.execute(
        f'SELECT name FROM "{c.schema}".compliance_sources WHERE next_due <= %s ORDER BY name',
        (now,),
    ).fetchall()
    done = [pull(conn, c, str(n), now=now, sleep=sleep) for (n,) in names]
    return [r for r in done if r is not None]


def pull(
    conn: psycopg.Connection[Any],
    c: Collector,
    name: str,
    *,
    now: datetime,
    sleep: Callable[[float], None] | None = None,
) -> PullReport | None:
    """Pull ``name`` now; None when another worker is pulling it."""
    ensure_tables(conn, c.schema)
    key = f"affidavit.compliance:{c.schema}:{name}"
    got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
    if got is None or not got[0]:
        return None
    try:
        return _pull_locked(conn, c, name, now=now, sleep=sleep)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))


def _pull_locked(
    conn: psycopg.Connection[Any],
    c: Collector,
    name: str,
    *,
    now: datetime,
    sleep: Callable[[float], None] | None,
) -> PullReport:
    row = conn.execute(
        f'SELECT api_url, key_ref, every_s, grace_s, cursors FROM "{c.schema}".compliance_sources '
        "WHERE name = %s",
        (name,),
    ).fetchone()
    if row is None:
        raise InputError(f"no source {name!r}; `affidavit server sources list` shows them")
    api_url, key_ref, every_s, grace_s = str(row[0]), str(row[1]), int(row[2]), int(row[3])
    cursors: dict[str, str] = json.loads(row[4])
    report = PullReport(name)
    ref = SecretRef.parse(key_ref)
    try:
        client: Client | None = Client(
            name, api_url, read_secret(ref, private=True), ref.describe(), key_header="x-api-key"
        )
    except InputError as e:
        report.stopped["key"] = str(e)
        client = None
    if client is not None and sleep is not None:
        client.sleep = sleep
    for family in FAMILIES if client is not None else ():
        assert client is not None
        # Back by LAG: an item can become listable after a newer one was (the Activity Feed
        # promises "within 1 minute"); what is listed again is skipped by its id.
        since = parse_time(cursors[family]) - LAG if family in cursors else None
        try:
            items = list_since(client, family, since)
        except SourceError as e:
            report.stopped[family] = str(e)
            continue
        report.fetched[family] = len(items)
        report.new[family] = _store_items(conn, c, name, family, items, cursors)
    if client is not None:
        report.waited = list(client.waited)
    verdicts = reconcile(conn, c, name, now=now, grace=timedelta(seconds=grace_s))
    report.captured, report.gaps = verdicts["captured"], verdicts["gap"]
    report.unattributed = verdicts["unattributed"]
    summary = {**report.to_json(), "at": format_time(now), "cursors": cursors}
    record = Record.create(Kind.COMPLIANCE_PULL, SOURCE, {"pull": summary}, time=now)

    def close(seqs: range) -> None:
        conn.execute(
            f'UPDATE "{c.schema}".compliance_sources SET last_pull = %s, next_due = %s '
            "WHERE name = %s",
            (json.dumps({**summary, "seq": seqs.start}), now + timedelta(seconds=every_s), name),
        )

    orglog.append_direct(conn, c, [record], then=close)
    return report


def _store_items(
    conn: psycopg.Connection[Any],
    c: Collector,
    name: str,
    family: str,
    items: list[Item],
    cursors: dict[str, str],
) -> int:
    """Append the items not held before, oldest first, and move the cursor, in one go."""
    held = {
        str(i)
        for (i,) in conn.execute(
            f'SELECT item_id FROM "{c.schema}".compliance_items '
            "WHERE source = %s AND family = %s AND item_id = ANY(%s)",
            (name, family, [i.id for i in items]),
        ).fetchall()
    }
    fresh: dict[str, Item] = {}
    for item in sorted(items, key=lambda i: i.created_at):
        if item.id not in held:
            fresh.setdefault(item.id, item)
    newest = max((i.created_at for i in items), default=None)
    if newest is not None and (family not in cursors or newest > parse_time(cursors[family])):
        cursors[family] = format_time(newest)
    new = list(fresh.values())

    def keep(seqs: range) -> None:
        with conn.cursor() as cur:
            cur.executemany(
                f'INSERT INTO "{c.schema}".compliance_items '
                "(source, family, item_id, created_at, email, product, org_seq) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (name, family, i.id, format_time(i.created_at), i.email, i.product, seq)
                    for i, seq in zip(new, seqs, strict=True)
                ],
            )
        conn.execute(
            f'UPDATE "{c.schema}".compliance_sources SET cursors = %s WHERE name = %s',
            (json.dumps(cursors), name),
        )

    orglog.append_direct(conn, c, [_record(name, i) for i in new], then=keep)
    return len(new)


def _record(name: str, item: Item) -> Record:
    about = {"source": name, "family": item.family, "id": item.id}
    if item.family == "activities":
        about["type"] = str(item.raw.get("type"))
        payload: dict[str, Any] = {"compliance": about, "activity": item.raw}
        kind = Kind.COMPLIANCE_ACTIVITY
    else:
        about["product_surface"] = str(item.product)
        payload = {"compliance": about, "session": item.raw}
        payload["agent"] = {"product": item.product, "session_id": item.id}
        kind = Kind.COMPLIANCE_SESSION
    if item.email:
        payload["actor"] = {"email": item.email}
    return Record.create(kind, SOURCE, payload, time=item.created_at)


def _seconds(src: ComplianceSource) -> Iterable[int]:
    return (int(src.every.total_seconds()), int(src.grace.total_seconds()))

"""Connector-side logs in the ledger, and the agent's MCP calls matched against them.

``read_export`` parses and checks an export (:mod:`.connectors`) without touching the ledger,
so a command given several files refuses them all when one is malformed. ``import_export``
then appends it as ``connector.*`` records, one per entry not imported before (the entry's
key decides, so importing a file twice, or two overlapping exports, records each entry
once), plus one ``connector.import`` record with the time the export covers and the cursor
(the latest time covered so far). The time covered is the window the export was asked for
when the importer declares it (``window``: the Purview search range, the Event Log File's
day), else only its first to its last entry, since a file cannot say more; a declared window
lets a call after the last entry count as missing from the log rather than as uncovered, and
an empty export count as evidence. When an export starts after the previous one ended, the
interval between is recorded as a ``capture.gap``: no imported log covers it. All in one
transaction: nothing partial.

``match`` pairs each ``mcp__<server>__…`` tool call of the agent with an entry of that
connector's log within a time window (and the same user where both name one); a call
inside the covered time with no entry is reported: the source holds no trace of it.
``record_match`` appends that result as one ``connector.match`` record (every pair by seq,
every unmatched call with its time, tool and user, the uncovered calls), so the check an
auditor relies on is itself in the log, covered by its checkpoints, not a screen output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from affidavit import query
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record, format_time, parse_time
from affidavit.sources.cloud import records
from affidavit.sources.connectors import FORMATS, Entry, parse, read

SOURCE = "affidavit.connectors"
WINDOW = timedelta(minutes=5)


@dataclass
class ImportReport:
    entries: int
    imported: int
    gap: str | None = None
    seqs: range = field(default_factory=lambda: range(0))


@dataclass(frozen=True, slots=True)
class Export:
    """One export file, parsed and checked, not yet imported."""

    fmt: str
    path: Path
    sha256: str
    entries: tuple[Entry, ...]
    window: tuple[datetime, datetime] | None = None
    """The time range the export was asked for, as declared (None: not declared)."""

    @property
    def span(self) -> tuple[datetime, datetime]:
        """The time the export covers: its declared window, else first to last entry."""
        if self.window is not None:
            return self.window
        return min(e.time for e in self.entries), max(e.time for e in self.entries)


def read_export(fmt: str, path: Path, *, window: tuple[datetime, datetime] | None = None) -> Export:
    """Parse ``path``; InputError naming the file and line when it is malformed, or when an
    entry lies outside the declared ``window`` (the wrong file, or the wrong window)."""
    data = read(path)
    entries = tuple(parse(fmt, path, data))
    if window is not None:
        start, end = window
        if start >= end:
            raise InputError(
                f"the window {format_time(start)} to {format_time(end)} is empty; "
                "--from must come before --to"
            )
        for e in entries:
            if not start <= e.time <= end:
                raise InputError(
                    f"{e.where}: the entry at {format_time(e.time)} lies outside the declared "
                    f"window {format_time(start)} to {format_time(end)} (wrong file or window?)"
                )
    elif not entries:
        raise InputError(
            f"{path}: no entries to import (declare the window it covers, --from and --to, "
            "to record an empty export)"
        )
    return Export(fmt, path, hashlib.sha256(data).hexdigest(), entries, window)


def import_log(
    ledger: Ledger,
    fmt: str,
    path: Path,
    *,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
) -> ImportReport:
    return import_export(ledger, read_export(fmt, path, window=window), now=now)


def import_export(ledger: Ledger, export: Export, *, now: datetime) -> ImportReport:
    fmt, path, entries = export.fmt, export.path, export.entries
    connector, kind = FORMATS[fmt]
    known = {p.get("key") for _, p in records(ledger, kind, SOURCE)}
    new, seen = [], set()
    for e in sorted(entries, key=lambda e: e.time):
        if e.key not in known and e.key not in seen:
            seen.add(e.key)
            new.append(e)
    first, last = export.span
    previous = _last_import(ledger, fmt)
    out: list[Record] = []
    gap = None
    if previous is not None and first > parse_time(previous["cursor"]):
        gap = f"no imported {fmt} export covers {previous['cursor']} to {format_time(first)}"
        body = {"connector": connector, "format": fmt, "from": previous["cursor"]}
        body |= {"to": format_time(first), "reason": gap}
        out.append(Record.create(Kind.CAPTURE_GAP, SOURCE, {"gap": body}, time=now))
    declared = (
        None
        if export.window is None
        else {"from": format_time(export.window[0]), "to": format_time(export.window[1])}
    )
    if not new and not out and (declared is None or _imported(ledger, export, declared)):
        return ImportReport(len(entries), 0)
    out += [Record.create(kind, SOURCE, e.payload(fmt), time=e.time) for e in new]
    cursor = max(last, parse_time(previous["cursor"])) if previous else last
    summary = {
        "connector": connector,
        "format": fmt,
        "file": path.name,
        "sha256": export.sha256,
        "entries": len(entries),
        "covers": "declared window" if declared else "first to last entry",
        **({"window": declared} if declared else {}),
        "imported": len(new),
        "from": format_time(first),
        "to": format_time(
            max(last, parse_time(previous["to"])) if gap is None and previous else last
        ),
        "cursor": format_time(cursor),
    }
    out.append(Record.create(Kind.CONNECTOR_IMPORT, SOURCE, {"import": summary}, time=now))
    return ImportReport(len(entries), len(new), gap, ledger.append(out))


def _imported(ledger: Ledger, export: Export, window: dict[str, str]) -> bool:
    """Whether this very file was imported before for this very window."""
    for _, payload in records(ledger, Kind.CONNECTOR_IMPORT, SOURCE):
        body = payload.get("import")
        if (
            isinstance(body, dict)
            and body.get("format") == export.fmt
            and body.get("sha256") == export.sha256
            and body.get("window") == window
        ):
            return True
    return False


def _last_import(ledger: Ledger, fmt: str) -> dict[str, Any] | None:
    latest = None
    for _, payload in records(ledger, Kind.CONNECTOR_IMPORT, SOURCE):
        body = payload.get("import")
        if isinstance(body, dict) and body.get("format") == fmt:
            latest = body
    return latest


@dataclass(frozen=True, slots=True)
class Call:
    seq: int
    time: datetime
    tool: str
    user: str | None


@dataclass
class MatchReport:
    matched: list[tuple[Call, int]] = field(default_factory=list)
    """(call, seq of the connector entry)."""
    unmatched: list[Call] = field(default_factory=list)
    uncovered: list[Call] = field(default_factory=list)
    """Calls at times no imported export covers: neither matched nor missing."""


def match(
    ledger: Ledger,
    server: str,
    connector: str,
    *,
    window: timedelta = WINDOW,
    users: Mapping[str, str] | None = None,
) -> MatchReport:
    """Pair the agent's calls to MCP ``server`` with ``connector``'s imported log entries.

    ``users`` maps a call's user (its e-mail, else its OS login) to the name the source's
    log gives that person (a Salesforce username or user id, a Microsoft 365 UPN), case
    ignored: without it, a login never equals an e-mail, and each of that user's calls is
    reported as missing from the log."""
    mapped = {k.lower(): v.lower() for k, v in (users or {}).items()}
    kinds = [k for c, k in FORMATS.values() if c == connector]
    if not kinds:
        raise InputError(f"unknown connector log {connector!r}; salesforce or microsoft365")
    spans: list[tuple[datetime, datetime]] = []
    for _, payload in records(ledger, Kind.CONNECTOR_IMPORT, SOURCE):
        body = payload.get("import")
        if isinstance(body, dict) and body.get("connector") == connector:
            spans.append((parse_time(body["from"]) - window, parse_time(body["to"]) + window))
    entries: list[tuple[datetime, str | None, int]] = []
    for kind in kinds:
        for seq, p in records(ledger, kind, SOURCE):
            user = p.get("entry", {}).get("user")
            entries.append((parse_time(p["entry"]["time"]), user.lower() if user else None, seq))
    entries.sort()
    used: set[int] = set()
    report = MatchReport()
    for call in _calls(ledger, server):
        if not any(a <= call.time <= b for a, b in spans):
            report.uncovered.append(call)
            continue
        found = next(
            (
                seq
                for t, user, seq in entries
                if seq not in used
                and abs(t - call.time) <= window
                and (user is None or call.user is None or user == mapped.get(call.user, call.user))
            ),
            None,
        )
        if found is None:
            report.unmatched.append(call)
        else:
            used.add(found)
            report.matched.append((call, found))
    return report


def record_match(
    ledger: Ledger,
    report: MatchReport,
    *,
    server: str,
    connector: str,
    window: timedelta,
    now: datetime,
    users: Mapping[str, str] | None = None,
) -> int:
    """Append ``report`` as a ``connector.match`` record; returns its seq. The user mapping
    the match used goes in with it: a reader of the record sees whose calls were paired with
    whose entries."""
    body = {
        "server": server,
        "connector": connector,
        "window_s": int(window.total_seconds()),
        **({"users": {k.lower(): v.lower() for k, v in users.items()}} if users else {}),
        "matched": [{"call": c.seq, "entry": e} for c, e in report.matched],
        "unmatched": [
            {"call": c.seq, "time": format_time(c.time), "tool": c.tool, "user": c.user}
            for c in report.unmatched
        ],
        "uncovered": [c.seq for c in report.uncovered],
        "counts": {
            "matched": len(report.matched),
            "unmatched": len(report.unmatched),
            "uncovered": len(report.uncovered),
        },
    }
    record = Record.create(Kind.CONNECTOR_MATCH, SOURCE, {"match": body}, time=now)
    return ledger.append([record])[0]


def _calls(ledger: Ledger, server: str) -> list[Call]:
    prefix = f"mcp__{server}__"
    # Filters match a tool exactly; the server's tools are picked here by prefix.
    _, rows = query.actions(ledger.store, query.Filters())
    out = []
    for row in rows:
        seq, stamp, kind, tool = row[0], row[1], row[2], row[9]
        if (
            isinstance(seq, int)
            and isinstance(tool, str)
            and tool.startswith(prefix)
            and kind != Kind.TOOL_INTENT
        ):
            user = row[5] or row[4]
            out.append(Call(seq, parse_time(str(stamp)), tool, str(user).lower() if user else None))
    return out

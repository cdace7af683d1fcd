"""Connector-side audit logs, parsed strictly: Salesforce and Microsoft 365 exports.

Formats (the columns each export documents; other columns are kept, unknown ones ignored):

* ``salesforce-audit``: Setup Audit Trail, "Download setup audit trail" CSV: ``Date``,
  ``User``, ``Action``, ``Section`` (also ``Source Namespace Prefix``, ``Delegate User``).
  ``Date`` must carry its zone: ISO 8601 with an offset, or ``M/D/YYYY h:mm:ss AM`` followed
  by ``UTC``/``GMT`` or an offset (a zone abbreviation such as PST is ambiguous: refused).
* ``salesforce-event``: an Event Log File (EventLogFile ``LogFile`` CSV): ``EVENT_TYPE``,
  ``TIMESTAMP_DERIVED`` (ISO 8601, UTC), ``USER_ID``; ``REQUEST_ID``, ``USER_NAME``,
  ``URI``, ``METHOD_NAME``, ``ENTITY_NAME`` when present.
* ``unified-audit``: Microsoft 365 unified audit log: the Purview audit search CSV export
  (``CreationDate``, ``UserIds`` or ``UserId``, ``Operations`` or ``Operation``,
  ``AuditData`` holding the record as JSON), or JSON (an array, or JSON Lines) of
  ``AuditData`` records (``Id``, ``CreationTime``, ``Operation``, ``UserId``, ``Workload``).

A malformed file (truncated, a row with the wrong number of fields, a missing column, a row
over :data:`MAX_ROW` bytes, a time without a zone) raises InputError naming the file and the
line; nothing is returned, so nothing of it is imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from affidavit.errors import InputError
from affidavit.record import Kind, canonical_json, format_time

MAX_ROW = 1 << 20
"""Largest row or entry accepted, in bytes (an audit entry is well under a kilobyte)."""

FORMATS = {
    "salesforce-audit": ("salesforce", Kind.CONNECTOR_SALESFORCE_AUDIT),
    "salesforce-event": ("salesforce", Kind.CONNECTOR_SALESFORCE_EVENT),
    "unified-audit": ("microsoft365", Kind.CONNECTOR_UNIFIED_AUDIT),
}
_US_TIME = re.compile(
    r"(\d{1,2}/\d{1,2}/\d{4},? \d{1,2}:\d{2}(?::\d{2})? [AP]M) (UTC|GMT|Z|[+-]\d{2}:?\d{2})"
)


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    """SHA-256 of the format and the entry's id (or its canonical row): the dedup key."""
    time: datetime
    user: str | None
    action: str
    object: str | None
    raw: dict[str, Any]
    where: str = ""
    """``file:line`` (or ``file: entry N`` of a JSON array), for messages."""

    def payload(self, fmt: str) -> dict[str, Any]:
        connector = FORMATS[fmt][0]
        actor = {"email" if self.user and "@" in self.user else "user": self.user}
        return {
            "connector": connector,
            "format": fmt,
            "key": self.key,
            "entry": {
                "time": format_time(self.time),
                "user": self.user,
                "action": self.action,
                "object": self.object,
                "raw": self.raw,
            },
            **({"actor": actor} if self.user else {}),
        }


def read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from e


def parse(fmt: str, path: Path, data: bytes | None = None) -> list[Entry]:
    """Every entry of the export at ``path`` (its bytes ``data`` when already read), or
    InputError naming the file and line."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if data is None:
        data = read(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text") from e
    if fmt == "unified-audit" and text.lstrip()[:1] in ("[", "{"):
        return list(_unified_json(path, text))
    rows = _csv(path, text)
    if fmt == "salesforce-audit":
        return [_sf_audit(path, line, row) for line, row in rows]
    if fmt == "salesforce-event":
        return [_sf_event(path, line, row) for line, row in rows]
    return [_unified_csv(path, line, row) for line, row in rows]


def _csv(path: Path, text: str) -> list[tuple[int, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    # The limit is process-wide in the csv module: set it for this read, then put it back.
    saved = csv.field_size_limit(MAX_ROW)
    try:
        return _rows(path, text, reader)
    finally:
        csv.field_size_limit(saved)


def _rows(path: Path, text: str, reader: Any) -> list[tuple[int, dict[str, str]]]:
    out: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, None)
        if not header:
            raise InputError(f"{path}:1: empty; expected a header row")
        start = reader.line_num
        for row in reader:
            line = start + 1
            start = reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{path}:{line}: {len(row)} fields where the header has {len(header)} "
                    "(truncated or shifted row)"
                )
            if sum(len(v) for v in row) > MAX_ROW:
                raise InputError(f"{path}:{line}: row over {MAX_ROW} bytes")
            out.append((line, dict(zip(header, row, strict=True))))
    except csv.Error as e:
        if "field limit" in str(e):  # the csv module's own words for a field over the limit
            raise InputError(f"{path}:{reader.line_num}: a field over {MAX_ROW} bytes") from e
        raise InputError(f"{path}:{reader.line_num}: {e} (truncated or malformed CSV)") from e
    if text and not text.endswith(("\n", "\r")) and out:
        # A complete export ends its last row with a newline; without one it was cut off.
        raise InputError(f"{path}:{out[-1][0]}: the file ends inside a row (truncated)")
    return out


def _need(path: Path, line: int, row: dict[str, str], *names: str) -> str:
    for name in names:
        if name in row:
            return row[name]
    raise InputError(f"{path}:{line}: no column {' or '.join(names)} (wrong columns?)")


def _time(path: Path, line: int, field: str, text: str) -> datetime:
    text = text.strip()
    m = _US_TIME.fullmatch(text)
    try:
        if m:
            stamp = datetime.strptime(m.group(1).replace(",", ""), "%m/%d/%Y %I:%M:%S %p")
            zone = m.group(2)
            if zone in ("UTC", "GMT", "Z"):
                return stamp.replace(tzinfo=UTC)
            return datetime.fromisoformat(stamp.isoformat() + zone[:3] + ":" + zone[-2:])
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InputError(
            f"{path}:{line}: {field} {text[:40]!r} is not a time with a zone "
            "(ISO 8601 with an offset, or M/D/YYYY h:mm:ss AM UTC)"
        )
    return moment.astimezone(UTC)


def _key(fmt: str, ident: str | None, row: dict[str, Any]) -> str:
    body = ident if ident else canonical_json(row).decode("utf-8")
    return hashlib.sha256(f"{fmt}\n{body}".encode()).hexdigest()


def _sf_audit(path: Path, line: int, row: dict[str, str]) -> Entry:
    moment = _time(path, line, "Date", _need(path, line, row, "Date"))
    user = _need(path, line, row, "User") or None
    action = _need(path, line, row, "Action")
    key = _key("salesforce-audit", None, row)
    return Entry(key, moment, user, action, row.get("Section"), row, f"{path}:{line}")


def _sf_event(path: Path, line: int, row: dict[str, str]) -> Entry:
    kind = _need(path, line, row, "EVENT_TYPE")
    moment = _time(path, line, "TIMESTAMP_DERIVED", _need(path, line, row, "TIMESTAMP_DERIVED"))
    user = row.get("USER_NAME") or _need(path, line, row, "USER_ID") or None
    ident = row.get("REQUEST_ID")
    action = row.get("METHOD_NAME") or row.get("API_TYPE") or kind
    obj = row.get("ENTITY_NAME") or row.get("URI") or None
    key_id = f"{kind}\n{ident}\n{row.get('TIMESTAMP_DERIVED')}" if ident else None
    key = _key("salesforce-event", key_id, row)
    return Entry(key, moment, user, action, obj, row, f"{path}:{line}")


def _unified_csv(path: Path, line: int, row: dict[str, str]) -> Entry:
    raw = _need(path, line, row, "AuditData")
    try:
        audit = json.loads(raw)
    except ValueError as e:
        raise InputError(f"{path}:{line}: AuditData is not JSON ({e})") from e
    if not isinstance(audit, dict):
        raise InputError(f"{path}:{line}: AuditData is not a JSON object")
    when = _need(path, line, row, "CreationDate")
    user = row.get("UserIds") or row.get("UserId") or audit.get("UserId")
    action = row.get("Operations") or row.get("Operation") or audit.get("Operation")
    return _unified(path, line, audit, when if when else None, user, action)


def _unified(
    path: Path,
    line: int,
    audit: dict[str, Any],
    when: str | None = None,
    user: object = None,
    action: object = None,
) -> Entry:
    stamp = when or audit.get("CreationTime")
    if not isinstance(stamp, str):
        raise InputError(f"{path}:{line}: no CreationTime")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+", stamp):
        stamp += "Z"  # the Management Activity API writes UTC times without a zone
    moment = _time(path, line, "CreationTime", stamp)
    user = user or audit.get("UserId")
    action = action or audit.get("Operation")
    if not isinstance(action, str) or not action:
        raise InputError(f"{path}:{line}: no Operation")
    ident = audit.get("Id")
    obj = audit.get("ObjectId")
    return Entry(
        _key("unified-audit", ident if isinstance(ident, str) else None, audit),
        moment,
        str(user) if user else None,
        action,
        str(obj) if obj else None,
        audit,
        f"{path}:{line}",
    )


def _unified_json(path: Path, text: str) -> Iterator[Entry]:
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError as e:
            raise InputError(f"{path}:{getattr(e, 'lineno', 1)}: not JSON ({e})") from e
        numbered = [(i + 1, item) for i, item in enumerate(items)]
        where = "entry"
    else:
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except ValueError as e:
                raise InputError(f"{path}:{number}: not JSON ({e}; truncated?)") from e
        where = "line"
    for number, item in numbered:
        if isinstance(item, dict) and isinstance(item.get("AuditData"), str):
            try:  # Search-UnifiedAuditLog output: the record is a JSON string inside
                item = json.loads(item["AuditData"])
            except ValueError as e:
                raise InputError(f"{path}: {where} {number}: AuditData is not JSON") from e
        if not isinstance(item, dict):
            raise InputError(f"{path}: {where} {number}: not an audit record object")
        if len(canonical_json(item)) > MAX_ROW:
            raise InputError(f"{path}: {where} {number}: entry over {MAX_ROW} bytes")
        try:
            entry = _unified(path, number, item)
        except InputError as e:
            text = str(e).replace(f"{path}:{number}:", f"{path}: {where} {number}:")
            raise InputError(text) from e
        yield replace(entry, where=f"{path}: {where} {number}") if where == "entry" else entry

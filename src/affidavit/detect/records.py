"""The data scan over the ledger: regulated data in recorded payloads, and the
``policy.finding`` records a scan appends (each finding once)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from affidavit.detect.detectors import canonical, detect
from affidavit.detect.scan import (
    SOURCE,
    Finding,
    ProgressFn,
    ScanReport,
    folder_of,
    hmac_key,
    hmac_of,
)

if TYPE_CHECKING:
    from affidavit.config import Config
    from affidavit.ledger import Ledger
    from affidavit.store.sqlite import SqliteStore

_OWN_KINDS = frozenset(("policy.finding", "erasure"))
_HASH_KEYS = ("sha256", "hash", "digest", "_id", "uuid", "salt")


def _strings(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, list) and depth < 64:
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]", depth + 1)
    elif isinstance(value, dict) and depth < 64:
        for name, item in value.items():
            if not str(name).lower().endswith(_HASH_KEYS):  # our own hashes and ids
                yield from _strings(item, f"{where}.{name}", depth + 1)


def payload_texts(payload: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """``(field, text)`` for the free text a payload holds: prompt.text, command.text, every
    string in tool.input and raw or raw_rest (except hashes and ids)."""
    for section in ("prompt", "command"):
        part = payload.get(section)
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            yield f"{section}.text", part["text"]
    tool = payload.get("tool")
    if isinstance(tool, dict) and "input" in tool:
        yield from _strings(tool["input"], "tool.input")
    # raw: the whole source event (older records); raw_rest: the part of it kept nowhere else.
    for name in ("raw", "raw_rest"):
        if name in payload:
            yield from _strings(payload[name], name)


def scan_ledger(
    ledger: Ledger,
    *,
    since_seq: int = 0,
    cfg: Config | None = None,
    key: bytes | None = None,
    report: ScanReport | None = None,
    include_low: bool = False,
    progress: ProgressFn | None = None,
) -> Iterator[Finding]:
    """Findings in the payloads of records ``since_seq`` onwards (erased ones have none).

    One finding per value per record: the same value in ``tool.input`` and ``raw`` is
    reported once, at the first field.
    """
    import json

    key = key if key is not None else hmac_key(ledger, cfg)
    report = ScanReport() if report is None else report
    for seq, leaf, _, _, body in ledger.rows(since_seq):
        if progress is not None and seq % 4096 == 0:
            progress(seq - since_seq)
        if body is None or json.loads(leaf).get("kind") in _OWN_KINDS:
            continue
        report.records += 1
        payload = json.loads(body)
        file = payload.get("file")
        path = file.get("path") if isinstance(file, dict) else None
        path = path if isinstance(path, str) else None
        seen: set[tuple[str, str]] = set()
        for field, text in payload_texts(payload):
            for m in detect(text):
                if m.confidence == "low" and not include_low:
                    continue
                digest = hmac_of(canonical(m, text), key)
                if (m.rule, digest) not in seen:
                    seen.add((m.rule, digest))
                    yield Finding("record", f"record {seq} {field}", m.data_class, m.rule,
                                  m.masked, digest, folder_of(path, cfg), m.confidence, seq,
                                  path)  # fmt: skip


# -- recording ------------------------------------------------------------------------------


def _recorded(store: SqliteStore) -> set[tuple[str, str]]:
    """(where, hmac) of every data finding in the ledger: the ``actions`` index says which
    records are policy findings, and records it has not indexed yet are read directly."""
    import json

    from affidavit import query

    last = query.last_indexed(store)
    kinds = query.Filters(kinds=("policy.finding",))
    seqs = [seq for (seq,) in query.select(store, ("seq",), kinds)]
    bodies = [row[4] for row in map(store.record, seqs) if row is not None and row[4] is not None]
    for _, leaf, _, _, body in store.records(last + 1):
        if body is not None and b'"kind":"policy.finding"' in leaf:
            bodies.append(body)
    keys: set[tuple[str, str]] = set()
    for body in bodies:
        finding = json.loads(body).get("finding")
        if isinstance(finding, dict) and finding.get("type") == "data":
            keys.add((str(finding.get("where")), str(finding.get("hmac"))))
    return keys


def record_findings(
    ledger: Ledger,
    findings: Iterable[Finding],
    *,
    actor: dict[str, Any] | None = None,
    now: Any = None,
) -> range:
    """Append one ``policy.finding`` per finding not already recorded; returns their seqs.

    A finding with the same ``where`` and ``hmac`` as one in the ledger is not recorded
    again (checked inside the write transaction, so two scans at once cannot both add it).
    The payload is ``{"finding": Finding.payload(), "actor": ..., "file": {"path"}}``: the
    masked value and the HMAC, never the raw value. ``findings`` is read in full before the
    write lock is taken, so a slow scan never holds up the capture hook.
    """
    import getpass
    import socket
    from datetime import UTC, datetime

    from affidavit import merkle
    from affidavit.record import Kind, Record

    items = list(findings)
    if actor is None:
        actor = {"user": getpass.getuser(), "host": socket.gethostname()}
    time = now if now is not None else datetime.now(UTC)
    store = ledger.store
    store.begin()
    try:
        done = _recorded(store)
        rows = []
        for f in items:
            if (f.where, f.hmac) in done:
                continue
            done.add((f.where, f.hmac))
            payload: dict[str, Any] = {"finding": f.payload(), "actor": actor}
            if f.path is not None:
                payload["file"] = {"path": f.path}
            record = Record.create(Kind.POLICY_FINDING, SOURCE, payload, time=time)
            rows.append((record.leaf, merkle.leaf_hash(record.leaf), record.salt,
                         record.payload_json))  # fmt: skip
        first = store.add_records(rows) if rows else store.size()
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return range(first, first + len(rows))

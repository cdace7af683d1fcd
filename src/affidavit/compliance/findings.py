"""Findings: what the folder policy and the data scan flagged, and who resolved them, why.

A finding is any record whose payload holds ``{"finding": {"id", "type", ...}}``: the
``policy.finding`` records the hook writes (:mod:`affidavit.capture.policy`, type
``policy``, ``rule`` one of its three rules) and the data findings of ``affidavit scan``
(type ``data``; :attr:`Finding.rule` is then the data class). Fields read: ``id``,
``type``, ``rule``, ``data_class``, ``path`` (else ``where``), ``folder``, ``detail``
(else one made of ``data_class``, ``masked`` and ``where``), ``action_seq`` (else
``seq``), ``enforced``; the rest stays in the record. A finding without an ``id`` is known
by the first 12 hex digits of its leaf hash, which never change; when two records carry
the same id, the first is the finding.

Resolving one appends a ``policy.finding`` record holding
``{"resolution": {"finding_id", "reason", "by"}}``: the kind says the record is about a
finding, the payload that it closes one. Resolutions are records, so who closed what and
why is as tamper-evident as the finding itself; nothing is ever edited. Erasing a
resolution's payload reopens its finding; erasing a finding's payload removes it from the
list (its envelope stays, and the erasure is a record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from affidavit import merkle
from affidavit.errors import InputError
from affidavit.record import Kind, Record
from affidavit.store.sqlite import SqliteStore

SOURCE = "affidavit"
MIN_PREFIX = 4
ROW_FIELDS = (
    "id",
    "status",
    "type",
    "rule",
    "path",
    "folder",
    "action_seq",
    "enforced",
    "detail",
    "seq",
    "time",
    "resolved_seq",
    "resolved_time",
    "resolved_by",
    "reason",
)


@dataclass(frozen=True, slots=True)
class Resolution:
    seq: int
    time: str
    reason: str
    by: str | None


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    seq: int
    time: str
    type: str
    rule: str | None
    path: str | None
    folder: str | None
    detail: str | None
    action_seq: int | None
    enforced: bool
    resolution: Resolution | None = None

    @property
    def open(self) -> bool:
        return self.resolution is None

    def row(self) -> dict[str, Any]:
        """One flat row for listings."""
        r = self.resolution
        return {
            "id": self.id,
            "status": "open" if r is None else "resolved",
            "type": self.type,
            "rule": self.rule,
            "path": self.path,
            "folder": self.folder,
            "action_seq": self.action_seq,
            "enforced": self.enforced,
            "detail": self.detail,
            "seq": self.seq,
            "time": self.time,
            "resolved_seq": r.seq if r else None,
            "resolved_time": r.time if r else None,
            "resolved_by": r.by if r else None,
            "reason": r.reason if r else None,
        }


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _finding(seq: int, time: str, leaf_hash: bytes, body: dict[str, Any]) -> Finding:
    f = body["finding"]
    kind = _text(f.get("type")) or "policy"
    rule, data_class = _text(f.get("rule")), _text(f.get("data_class"))
    action = f.get("action_seq", f.get("seq"))  # a data finding in a record: that record
    return Finding(
        id=_text(f.get("id")) or leaf_hash.hex()[:12],
        seq=seq,
        time=time,
        type=kind,
        rule=(data_class or rule) if kind == "data" else (rule or data_class),
        path=_text(f.get("path")) or _text(f.get("where")),
        folder=_text(f.get("folder")),
        detail=_text(f.get("detail")) or _describe(f),
        action_seq=action if isinstance(action, int) and not isinstance(action, bool) else None,
        enforced=f.get("enforced") is True,
    )


def _describe(f: dict[str, Any]) -> str | None:
    """A data finding's line: ``card 411111******1111 (visa) at /srv/a.csv:B4``."""
    parts = [_text(f.get("data_class")), _text(f.get("masked"))]
    rule, where = _text(f.get("rule")), _text(f.get("where"))
    text = " ".join(p for p in parts if p)
    text += f" ({rule})" if rule and rule != f.get("data_class") else ""
    text += f" at {where}" if where else ""
    return text or None


def findings(store: SqliteStore) -> list[Finding]:
    """Every finding in the ledger, oldest first, each with its resolution if it has one.

    One pass over the records through the log store; only payloads that mention a finding
    or a resolution are parsed (a byte search, as JCS writes ``"finding":{`` without spaces).
    """
    found: dict[str, Finding] = {}
    resolutions: dict[str, Resolution] = {}
    for seq, leaf, leaf_hash, _, payload in store.records():
        if payload is None or (b'"finding":{' not in payload and b'"resolution":{' not in payload):
            continue
        body = json.loads(payload)
        envelope = json.loads(leaf)
        if isinstance(body.get("finding"), dict):
            item = _finding(seq, envelope["time"], leaf_hash, body)
            found.setdefault(item.id, item)  # the first record under an id is the finding
        elif envelope["kind"] == Kind.POLICY_FINDING and isinstance(body.get("resolution"), dict):
            r = body["resolution"]
            fid = r.get("finding_id")
            if isinstance(fid, str) and fid not in resolutions:
                reason = str(r.get("reason") or "")
                resolutions[fid] = Resolution(seq, envelope["time"], reason, _text(r.get("by")))
    ordered = sorted(found.values(), key=lambda f: f.seq)
    return [replace(f, resolution=resolutions.get(f.id)) for f in ordered]


def lookup(items: list[Finding], finding_id: str) -> Finding:
    """The finding with this id, or the only one whose id starts with it."""
    wanted = finding_id.strip().lower()
    exact = [f for f in items if f.id == wanted]
    if exact:
        return exact[0]
    if len(wanted) < MIN_PREFIX:
        raise InputError(f"no finding {finding_id!r} (give the id, or at least 4 characters)")
    matches = [f for f in items if f.id.startswith(wanted)]
    if not matches:
        raise InputError(f"no finding {finding_id!r}; `affidavit findings --all` lists them")
    if len(matches) > 1:
        ids = ", ".join(f.id for f in matches[:5])
        raise InputError(f"{finding_id!r} is ambiguous: {ids}; give more characters")
    return matches[0]


def resolve(
    store: SqliteStore,
    finding_id: str,
    *,
    reason: str,
    by: str | None,
    actor: dict[str, Any],
    time: datetime,
) -> tuple[Finding, int]:
    """Record that a finding is resolved, and why; returns it and the resolution's seq.

    The check and the append share one write transaction, so two people resolving the same
    finding at once cannot both succeed. MUST NOT return before the record is committed.
    """
    if not reason.strip():
        raise InputError("a resolution needs a reason (--reason)")
    store.begin()
    try:
        finding = lookup(findings(store), finding_id)
        if finding.resolution is not None:
            r = finding.resolution
            raise InputError(
                f"finding {finding.id} was already resolved in record {r.seq}"
                + (f" by {r.by}" if r.by else "")
                + f": {r.reason}"
            )
        resolution = {"finding_id": finding.id, "reason": reason, "by": by}
        payload = {"resolution": {k: v for k, v in resolution.items() if v}, "actor": actor}
        record = Record.create(Kind.POLICY_FINDING, SOURCE, payload, time=time)
        leaf = record.leaf
        seq = store.add_records([(leaf, merkle.leaf_hash(leaf), record.salt, record.payload_json)])
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return finding, seq

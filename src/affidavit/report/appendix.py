"""What the review pack shows beside the scores: capture completeness and the file appendix.

:func:`capture_completeness` counts the records per capture source and lists every capture
gap (``capture.error`` and ``capture.gap`` records): a reviewer must see where the trail
has holes, never only where it has none.

:func:`file_actions` is the appendix "who did what to which file, when": every file action
of the ledger (``file.*`` records from the hook, imports and scans; not the rollback drill's
scratch folder), grouped by business function and by folder, newest first, at most
:data:`PER_GROUP` rows a group. A longer group says how many rows it left out and the
``affidavit log`` command that lists them all.

Both read the ``actions`` index, which :func:`~affidavit.compliance.gather.gather` brought
up to date.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from affidavit import query
from affidavit.compliance.drill import SOURCE as DRILL_SOURCE
from affidavit.ledger import Ledger
from affidavit.record import Kind

PER_GROUP = 60
GAPS = query.Filters(kinds=(Kind.CAPTURE_ERROR.value, Kind.CAPTURE_GAP.value))
NO_FUNCTION = "(no function)"


@dataclass(frozen=True, slots=True)
class Gap:
    seq: int
    time: str
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Completeness:
    by_source: tuple[tuple[str, int], ...]
    gaps: tuple[Gap, ...]


@dataclass(frozen=True, slots=True)
class FileAction:
    seq: int
    time: str
    actor: str
    agent: str
    session: str
    action: str
    path: str


@dataclass(frozen=True, slots=True)
class FileGroup:
    """One function's or one folder's file actions, newest first."""

    by: str
    """``function`` or ``folder``."""
    name: str
    total: int
    rows: tuple[FileAction, ...]
    command: str
    """The ``affidavit log`` command that lists every row of the group."""


def capture_completeness(ledger: Ledger) -> Completeness:
    store = ledger.store
    by_source = tuple((str(source), count) for source, count in query.count_by(store, "source"))
    gaps = []
    for seq, time, kind in query.select(store, ("seq", "time", "kind"), GAPS):
        gaps.append(Gap(seq, time, kind, gap_detail(ledger.record(seq).payload or {})))
    return Completeness(by_source, tuple(gaps))


def gap_detail(payload: Mapping[str, Any]) -> str:
    for key, field in (("error", "message"), ("gap", "reason")):
        part = payload.get(key)
        if isinstance(part, dict) and part.get(field):
            return str(part[field])
    return "(no detail recorded)"


def drilled(ledger: Ledger) -> list[int]:
    """Seqs of the rollback drills' restores: scratch-folder work, not the agents'."""
    out: list[int] = []
    attestations = query.Filters(kinds=(Kind.ATTESTATION.value,))
    for (seq,) in query.select(
        ledger.store, ("seq",), attestations, source=DRILL_SOURCE, live_only=True
    ):
        body = (ledger.record(seq).payload or {}).get("drill")
        if isinstance(body, dict) and isinstance(body.get("restore_seq"), int):
            out.append(body["restore_seq"])
    return out


def file_actions(ledger: Ledger) -> tuple[FileGroup, ...]:
    """Per function, then per folder; erased rows show as erased, not as their path."""
    store = ledger.store
    skip = drilled(ledger)
    groups: list[FileGroup] = []
    for by in ("function", "folder"):
        for name, total in query.file_totals(store, by, not_source=DRILL_SOURCE, skip=skip):
            rows = query.file_rows(
                store, by, name, not_source=DRILL_SOURCE, skip=skip, limit=PER_GROUP
            )
            shown = NO_FUNCTION if name is None and by == "function" else name or "(none)"
            groups.append(
                FileGroup(by, shown, int(total), tuple(_action(r) for r in rows), _log(by, name))
            )
    return tuple(groups)


def _action(row: Sequence[Any]) -> FileAction:
    seq, time, actor, agent, session, kind, tool, path, erased = row
    return FileAction(
        int(seq),
        str(time)[:19].replace("T", " "),
        actor or "-",
        agent or "-",
        session or "-",
        f"{kind} ({tool})" if tool else str(kind),
        "(erased)" if erased else str(path),
    )


def _log(by: str, name: str | None) -> str:
    if name is None:
        return "affidavit log --kind file"
    flag = "--function" if by == "function" else "--path"
    return f"affidavit log --kind file {flag} {shlex.quote(name)}"

"""The compliance dashboard's checklist (eight items) and regimes (eight), per device and for
the organisation, each with its evidence, linked to the record pages, and its dates.

Each enrolled device is scored by the endpoint's own scorers
(:func:`affidavit.compliance.checklist.score_checklist`,
:func:`affidavit.compliance.regimes.score_posture`) on the evidence its shipped records hold
(:mod:`.evidence`) and the organisation's ``affidavit.toml`` the console was given
(``AFFIDAVIT_CONSOLE_POLICY``: plan, DPA, connectors, documents...; without it every declared
fact is missing). The organisation's row of an item or regime is the worst of its devices,
and names each device that falls short and why.

Unknown is never green. An item the scorer calls red because nothing backs it (a fact
``affidavit.toml`` lacks, no drill recorded, no folders or connectors declared) is shown as
**missing evidence**, never as met; with no device enrolled, every item is missing evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from affidavit.compliance.checklist import CHECKLIST, GREEN, YELLOW, Item, score_checklist
from affidavit.compliance.regimes import (
    CONDITIONAL,
    NOT_YET,
    REGIMES,
    WORKABLE,
    RegimeRow,
    score_posture,
)
from affidavit.config import Config
from affidavit.server.console import evidence as device_evidence
from affidavit.server.console.evidence import DeviceEvidence

MET, PARTLY, NOT_MET, MISSING = "met", "partly met", "not met", "missing evidence"
ITEM_RANK = {NOT_MET: 0, MISSING: 1, PARTLY: 2, MET: 3}
REGIME_RANK = {NOT_YET: 0, CONDITIONAL: 1, WORKABLE: 2}
_ABSENT = re.compile(r"^(no |affidavit\.toml lacks )")
_SEQ = re.compile(r"\bseq (\d+)")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of evidence and the records it names: (endpoint seq, org seq, date)."""

    text: str
    records: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    title: str
    status: str
    reason: str
    evidence: tuple[Line, ...]
    change: str
    dated: str
    """The date of the newest record its evidence names ("" when it names none)."""


@dataclass(frozen=True, slots=True)
class RegimeView:
    regime: str
    status: str
    reason: str
    unmet: tuple[tuple[str, Line, str], ...]
    """(condition, its evidence, the fix) of each condition not met."""
    evidence: tuple[Line, ...]
    as_of: str
    stale: bool


@dataclass(frozen=True, slots=True)
class DeviceView:
    origin: str
    records: int
    first_live: str
    items: tuple[ItemView, ...]
    regimes: tuple[RegimeView, ...]
    unsigned: Line
    """The signed-kind records ignored because their signature is not the device's."""


@dataclass(frozen=True, slots=True)
class OrgRow:
    """An item or regime for the organisation: the worst device's status, and every device
    that falls short with its own view."""

    id: str
    title: str
    status: str
    short: tuple[tuple[str, ItemView | RegimeView], ...]


@dataclass(frozen=True, slots=True)
class Posture:
    devices: tuple[DeviceView, ...]
    items: tuple[OrgRow, ...]
    regimes: tuple[OrgRow, ...]
    policy: bool
    """Whether the console was given the organisation's affidavit.toml."""


def item_status(item: Item) -> str:
    if item.status == GREEN:
        return MET
    if item.status == YELLOW:
        return PARTLY
    return MISSING if _ABSENT.match(item.reason) else NOT_MET


def _line(text: str, dev: DeviceEvidence) -> Line:
    named = []
    for found in _SEQ.finditer(text):
        seq = int(found[1])
        if seq in dev.org_seqs:
            named.append((seq, dev.org_seqs[seq], dev.times.get(seq, "")[:10]))
    return Line(text, tuple(named))


def _dated(lines: tuple[Line, ...]) -> str:
    return max((d for line in lines for _, _, d in line.records), default="")


def device_view(dev: DeviceEvidence, cfg: Config, today: date) -> DeviceView:
    checklist = score_checklist(cfg, dev.evidence, today)
    items = []
    for item in checklist:
        lines = tuple(_line(t, dev) for t in item.evidence)
        if item.id == "backup_rollback":
            lines += (Line(device_evidence.UNSEEN),)
        items.append(
            ItemView(
                item.id,
                item.title,
                item_status(item),
                item.reason,
                lines,
                item.change,
                _dated(lines),
            )
        )
    regimes = [_regime(r, dev) for r in score_posture(cfg, dev.evidence, checklist, today)]
    ev = dev.evidence
    return DeviceView(
        dev.origin,
        ev.records,
        ev.first_live.date().isoformat() if ev.first_live else "",
        tuple(items),
        tuple(regimes),
        _line(" ".join(f"seq {s}" for s in ev.unsigned), dev),
    )


def _regime(row: RegimeRow, dev: DeviceEvidence) -> RegimeView:
    unmet = tuple((c.text, _line(c.evidence, dev), c.fix) for c in row.conditions if not c.met)
    lines = tuple(_line(c.evidence, dev) for c in row.conditions if c.evidence)
    return RegimeView(
        row.regime, row.status, row.reason, unmet, lines, row.as_of.isoformat(), row.stale
    )


def score(
    conn: psycopg.Connection[Any],
    schema: str,
    cfg: Config | None,
    resolved: set[str],
    today: date,
) -> Posture:
    """Every enrolled device's view and the organisation's rows (see the module doc)."""
    policy = cfg if cfg is not None else Config()
    enrolled = conn.execute(f'SELECT origin, vkey FROM "{schema}".endpoints ORDER BY origin')
    devices = tuple(
        device_view(device_evidence.read(conn, schema, o, v, resolved), policy, today)
        for o, v in enrolled.fetchall()
    )
    items = []
    for n, (item_id, title) in enumerate(CHECKLIST.items()):
        views = [(d.origin, d.items[n]) for d in devices]
        worst = min((v.status for _, v in views), key=ITEM_RANK.__getitem__, default=MISSING)
        short = tuple((o, v) for o, v in views if v.status != MET)
        items.append(OrgRow(item_id, title, worst, short))
    regimes = []
    for n, name in enumerate(REGIMES):
        rviews = [(d.origin, d.regimes[n]) for d in devices]
        worst = min((v.status for _, v in rviews), key=REGIME_RANK.__getitem__, default=NOT_YET)
        rshort = tuple((o, v) for o, v in rviews if v.status != WORKABLE)
        regimes.append(OrgRow(name, name, worst, rshort))
    return Posture(devices, tuple(items), tuple(regimes), cfg is not None)

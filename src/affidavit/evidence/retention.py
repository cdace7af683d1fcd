"""Retention: which payloads the policy keeps, which it lets go, and erasing those.

The policy lives in ``affidavit.toml`` (:mod:`affidavit.config`)::

    [retention] minimum_days, maximum_days, [retention.functions] <function> = days
    [[folders]] path, function, retention_days, legal_hold

The limit for one record, from its file path (the ``actions`` index, :mod:`affidavit.query`):

1. a folder with ``legal_hold`` that holds the path: never erased, whatever its age;
2. else the first ``[[folders]]`` entry that holds the path: its ``retention_days``, else
   the ``[retention.functions]`` days of its function, else ``maximum_days``;
3. a path in no folder (or no path at all: prompts, commands): ``maximum_days``.

No limit (no ``maximum_days`` and no override) keeps the record. A record is **eligible**
when its time is older than its limit and older than the minimum. The minimum is never below
:data:`~affidavit.config.MIN_RETENTION_DAYS` (90 days of history, which the checklist asks
for); a limit below the minimum is refused, not silently raised. Erasure records are never
erased: they are what proves an erasure was authorised. Erasing goes through
:meth:`Ledger.erase`, so the payloads are gone for good, each batch is recorded as an
``erasure`` record, and the ledger still verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from affidavit import query
from affidavit.config import MIN_RETENTION_DAYS, Config, Folder
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Kind, parse_time

BATCH = 10_000
"""Seqs named by one erasure record."""


@dataclass(frozen=True, slots=True)
class Scope:
    """One line of the policy: a configured folder (or none) and the limit in force there."""

    folder: str | None
    function: str | None
    days: int | None
    """Retention in days; None keeps records until a maximum is set."""
    rule: str
    """Where the limit comes from: ``legal hold``, ``folder``, ``function``, ``maximum_days``
    (``--max-days`` when overridden) or ``none``."""

    @property
    def held(self) -> bool:
        return self.rule == "legal hold"


@dataclass(frozen=True, slots=True)
class Row:
    scope: Scope
    kept: int
    eligible: int
    held: int


@dataclass(frozen=True, slots=True)
class Plan:
    now: datetime
    minimum_days: int
    maximum_days: int | None
    rows: tuple[Row, ...]
    eligible: tuple[int, ...]
    """Seqs whose payloads the policy lets go, ascending."""
    erasure_records: int
    """Erasure records, always kept."""
    erased: int
    """Payloads erased before (their folder is erased with them)."""


def lock_days(cfg: Config) -> int:
    """How long an archived copy must stay locked: the longest any record may be kept.

    Every limit the policy sets (the minimum, each ``[[folders]]`` ``retention_days``, each
    ``[retention.functions]`` entry) can be some record's, and the snapshot holds them all,
    so none of them may lose its immutable copy sooner.
    """
    days = [_minimum(cfg), *cfg.function_retention_days.values()]
    return max(days + [f.retention_days for f in cfg.folders if f.retention_days is not None])


def _minimum(cfg: Config) -> int:
    return max(MIN_RETENTION_DAYS, cfg.minimum_retention_days)


def check_policy(cfg: Config, maximum_days: int | None = None) -> tuple[int, int | None]:
    """(minimum, maximum) in force; raises InputError for a limit below the minimum."""
    minimum = _minimum(cfg)
    maximum = cfg.maximum_retention_days if maximum_days is None else maximum_days
    where = "--max-days" if maximum_days is not None else "retention.maximum_days"
    limits = [(where, maximum)]
    limits += [(f"folders {f.path} retention_days", f.retention_days) for f in cfg.folders]
    limits += [(f"retention.functions.{n}", d) for n, d in cfg.function_retention_days.items()]
    for name, days in limits:
        if days is not None and days < minimum:
            raise InputError(
                f"{name} is {days} days, below the {minimum}-day minimum retention: "
                "nothing younger than the minimum is ever erased; raise it"
            )
    return minimum, maximum


def scope_of(path: str | None, cfg: Config, maximum: tuple[int | None, str]) -> Scope:
    """The limit for a record with this file path (see the module docstring)."""
    folder: Folder | None = None
    if path:
        matches = [f for f in cfg.folders if query.path_matches(path, f.path)]
        held = [f for f in matches if f.legal_hold]
        if held:
            return Scope(held[0].path, held[0].function, None, "legal hold")
        folder = matches[0] if matches else None
    if folder is None:
        days, rule = maximum
        return Scope(None, None, days, rule if days is not None else "none")
    if folder.retention_days is not None:
        return Scope(folder.path, folder.function, folder.retention_days, "folder")
    if folder.function in cfg.function_retention_days:
        days = cfg.function_retention_days[folder.function]
        return Scope(folder.path, folder.function, days, "function")
    days, rule = maximum
    return Scope(folder.path, folder.function, days, rule if days is not None else "none")


def plan(ledger: Ledger, cfg: Config, *, now: datetime, maximum_days: int | None = None) -> Plan:
    """What the policy keeps and lets go, as of ``now``; erases nothing.

    ``maximum_days`` overrides ``retention.maximum_days`` (never below the minimum).
    """
    minimum, maximum = check_policy(cfg, maximum_days)
    rule = "--max-days" if maximum_days is not None else "maximum_days"
    floor = now - timedelta(days=minimum)
    counts: dict[Scope, list[int]] = {}
    scopes: dict[str | None, Scope] = {}
    eligible: list[int] = []
    erasures = erased_before = 0
    query.refresh(ledger.store, cfg.function_rules)
    cursor = query.select(ledger.store, ("seq", "time", "kind", "path", "erased"))
    for seq, stamp, kind, path, erased in cursor:
        if kind == Kind.ERASURE:
            erasures += 1
            continue
        if erased:
            erased_before += 1
            continue
        if path not in scopes:
            scopes[path] = scope_of(path, cfg, (maximum, rule))
        scope = scopes[path]
        row = counts.setdefault(scope, [0, 0, 0])  # kept, eligible, held
        if scope.held:
            row[2] += 1
        elif scope.days is not None and _older(stamp, now - timedelta(days=scope.days), floor):
            row[1] += 1
            eligible.append(seq)
        else:
            row[0] += 1
    rows = tuple(
        Row(scope, *values)
        for scope, values in sorted(counts.items(), key=lambda kv: _order(cfg, kv[0]))
    )
    return Plan(now, minimum, maximum, rows, tuple(eligible), erasures, erased_before)


def _older(stamp: str, cutoff: datetime, floor: datetime) -> bool:
    """Older than the limit and than the minimum; a time that cannot be read is kept."""
    try:
        moment = parse_time(stamp)
    except InputError:
        return False
    return moment < cutoff and moment < floor


def _order(cfg: Config, scope: Scope) -> tuple[int, str]:
    paths = [f.path for f in cfg.folders]
    return (paths.index(scope.folder) if scope.folder in paths else len(paths), scope.rule)


def apply(ledger: Ledger, seqs: Sequence[int], *, reason: str) -> tuple[int, ...]:
    """Erase the payloads of ``seqs`` (from :func:`plan`) in batches; returns the seqs of the
    erasure records. Each batch is one transaction: an interrupted run keeps what it erased
    and the next run finds the rest."""
    return tuple(
        ledger.erase(list(seqs[i : i + BATCH]), reason) for i in range(0, len(seqs), BATCH)
    )


def ranges(seqs: Sequence[int]) -> str:
    """``0-4, 7, 9-12``: ascending seqs for people."""
    parts: list[str] = []
    i = 0
    while i < len(seqs):
        j = i
        while j + 1 < len(seqs) and seqs[j + 1] == seqs[j] + 1:
            j += 1
        parts.append(str(seqs[i]) if i == j else f"{seqs[i]}-{seqs[j]}")
        i = j + 1
    return ", ".join(parts)

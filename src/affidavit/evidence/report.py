"""What :func:`~affidavit.evidence.check_pack` found: per record, per file, per check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from affidavit.errors import VerificationError
from affidavit.note import Checkpoint


@dataclass(frozen=True, slots=True)
class Problem:
    where: str
    error: str


@dataclass(frozen=True, slots=True)
class RecordCheck:
    seq: int
    ok: bool
    error: str | None
    erased: bool
    kind: str | None
    time: str | None


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """What ``window.jsonl`` showed: how many records have a time (and kind) in the window,
    and which of them the pack left out. ``envelope_filters_only`` means every filter could
    be checked on envelopes, so a left-out record is a failure, not a choice."""

    envelopes: int
    in_window: int
    withheld: tuple[int, ...]
    envelope_filters_only: bool


@dataclass(frozen=True, slots=True)
class PackReport:
    path: Path
    vkey: str | None
    key_pinned: bool
    checkpoint: Checkpoint | None
    filters: dict[str, Any]
    records: tuple[RecordCheck, ...]
    erasures: int
    content_files: int
    content_missing: tuple[str, ...]
    window: WindowCheck | None
    consistency_from: tuple[int, ...]
    from_size: int | None
    problems: tuple[Problem, ...]
    endpoint_records: int | None = None
    """An org-log pack: the endpoint records checked against the entries naming them."""

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.ok for r in self.records)

    def failures(self) -> list[str]:
        """Every failure as ``where: error``, pack-level problems first."""
        lines = [f"{p.where}: {p.error}" for p in self.problems]
        return lines + [f"record {r.seq}: {r.error}" for r in self.records if not r.ok]


class PackVerificationError(VerificationError):
    """The pack does not verify; ``report`` says what broke."""

    def __init__(self, report: PackReport) -> None:
        failures = report.failures()
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(
            f"evidence pack {report.path} does not verify: {failures[0]}{more}",
            where=failures[0].split(":", 1)[0],
        )
        self.report = report

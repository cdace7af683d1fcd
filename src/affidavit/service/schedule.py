"""The recorder service's archive schedule: ``affidavit archive`` by itself, once a month.

``[archive]`` in affidavit.toml (:mod:`affidavit.config`) names where (``to``: a folder, or
``s3://bucket/prefix`` with Object Lock) and how often (``every_days``, default 30, at most
the checklist's 31). The service's writer thread calls :meth:`ArchiveSchedule.tick` when it
is idle; the archive is due when the newest signed archive record of the ledger (the one
the checklist scores, written by either the command or this schedule) is ``every_days``
old, or there is none. A due archive runs the same code as the command
(:func:`affidavit.evidence.archive.archive`, :func:`affidavit.evidence.s3.archive`), then
appends an ``archive.run`` record: ``archived`` with the archive record's seq, or ``failed``
with the reason. After a failure it waits :data:`RETRY` before trying again, so a full disk
or an unreachable bucket is recorded once an hour, not at every tick.

The clock is passed in (``now``), so the schedule is tested over months without waiting.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from affidavit import config as configuration
from affidavit import query
from affidavit.errors import AffidavitError, VerificationError
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record, parse_time
from affidavit.signing import verify_payload

SOURCE = "affidavit.service"
RETRY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ArchiveSchedule:
    to: str
    every: timedelta
    endpoint_url: str | None = None
    lock_days: int = configuration.MIN_RETENTION_DAYS
    """Object Lock retention for s3:// (:func:`affidavit.evidence.retention.lock_days`)."""

    @classmethod
    def from_config(cls, cfg: configuration.Config) -> ArchiveSchedule | None:
        if cfg.archive_to is None:
            return None
        from affidavit.evidence.retention import lock_days

        return cls(
            cfg.archive_to,
            timedelta(days=cfg.archive_every_days),
            cfg.archive_endpoint_url,
            lock_days(cfg),
        )

    def due(self, ledger: Ledger, now: datetime) -> bool:
        last = last_archive(ledger)
        if last is not None and now - last < self.every:
            return False
        failed = _last_failure(ledger)
        return failed is None or now - failed >= RETRY

    def tick(
        self,
        ledger: Ledger,
        now: datetime,
        *,
        s3_connect: Callable[[str | None], Any] | None = None,
    ) -> int | None:
        """Archive if due; returns the ``archive.run`` record's seq (None: not due)."""
        if not self.due(ledger, now):
            return None
        body: dict[str, Any] = {"to": self.to, "every_days": self.every.days}
        try:
            seq = self._archive(ledger, now, s3_connect)
        except (AffidavitError, OSError) as e:
            body |= {"outcome": "failed", "error": f"{type(e).__name__}: {e}".splitlines()[0]}
        else:
            body |= {"outcome": "archived", "archive": seq}
        record = Record.create(Kind.ARCHIVE_RUN, SOURCE, {"run": body}, time=now)
        run = ledger.append([record])[0]
        ledger.seal()
        return run

    def _archive(
        self, ledger: Ledger, now: datetime, s3_connect: Callable[[str | None], Any] | None
    ) -> int | None:
        from affidavit.signing import ledger_signer

        actor = {"user": getpass.getuser(), "host": socket.gethostname(), "schedule": True}
        signer = ledger_signer(ledger)
        if self.to.startswith("s3://"):
            from affidavit.evidence import s3
            from affidavit.evidence.s3_client import Location, connect

            client = (s3_connect or connect)(self.endpoint_url)
            done = s3.archive(
                ledger,
                Location.parse(self.to),
                client=client,
                signer=signer,
                now=now,
                retain_until=now + timedelta(days=self.lock_days),
                actor=actor,
            )
            return done.record_seq
        from affidavit.evidence import archive

        folder = Path(self.to) / now.strftime("%Y%m%dT%H%M%SZ")
        folder.parent.mkdir(parents=True, exist_ok=True)
        return archive.archive(ledger, folder, signer=signer, now=now, actor=actor).record_seq


def last_archive(ledger: Ledger) -> datetime | None:
    """Time of the newest archive record signed by the ledger's key (what the checklist counts)."""
    return _latest(ledger, lambda p: isinstance(p.get("archive"), dict), signed=True)


def _last_failure(ledger: Ledger) -> datetime | None:
    def failed(p: dict[str, Any]) -> bool:
        run = p.get("run")
        return isinstance(run, dict) and run.get("outcome") == "failed"

    return _latest(ledger, failed, kind=Kind.ARCHIVE_RUN)


def _latest(
    ledger: Ledger,
    wanted: Callable[[dict[str, Any]], bool],
    *,
    kind: str = Kind.ATTESTATION,
    signed: bool = False,
) -> datetime | None:
    latest: datetime | None = None
    rows = query.select(ledger.store, ("seq", "time"), query.Filters(kinds=(kind,)), live_only=True)
    for seq, stamp in list(rows):
        payload = ledger.record(int(seq)).payload
        if payload is None or not wanted(payload):
            continue
        if signed:
            try:
                verify_payload(payload, ledger.verifier)
            except VerificationError:
                continue
        moment = parse_time(str(stamp))
        if latest is None or moment > latest:
            latest = moment
    return latest

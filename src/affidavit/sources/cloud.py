"""Cloud-sync version history as evidence: link each agent edit to the provider revision.

A source is added once (``affidavit sources add``), as a ``source.config`` record: provider,
the local folder the sync client mirrors, the remote folder it maps to, where its token is
(a file, ``env:NAME`` or ``keyring:SERVICE:USER``, :mod:`.secrets`) and
the provider's retention in days (declared: no API states it; Drive's default purge and
Dropbox's Basic plan keep 30 days). ``affidavit sources pull`` then reads, for every agent
write (``file.create``/``file.update``) under the local folder, the file's revision list
and records per edit one of:

* ``source.revision``: the first revision at or after the edit (less :data:`SKEW` of clock
  difference) holding the bytes the agent wrote, when both the provider and the snapshot
  store give a hash (``match: "hash"``); without hashes, the first revision within
  :data:`SYNC_WINDOW` (``match: "time"``).
* ``capture.gap``: no such revision, and why (deleted at the provider, older than its
  retention, never synced); a gap older than the retention is marked ``expired``.

and one ``source.pull`` record carrying the cursor (the last edit seq judged) and running
totals per remote folder, which the checklist scores. All of a pull's records are appended
in one transaction, so a pull either lands with its cursor or not at all: running it again
resumes from the cursor and never records an edit twice. Edits younger than ``settle`` are
left for the next pull, since the sync client may not have uploaded them yet.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from affidavit import query
from affidavit.capture import content
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record, format_time, parse_time
from affidavit.sources.http import Client, SourceError
from affidavit.sources.providers import PROVIDERS, History, Provider, Revision
from affidavit.sources.secrets import SecretRef, read_secret

SOURCE = "affidavit.sources"
SKEW = timedelta(minutes=5)
SYNC_WINDOW = timedelta(days=1)
SETTLE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    provider: str
    local_root: str
    remote_root: str
    token: str
    """A secret reference (:class:`.secrets.SecretRef`): a file path, env:NAME or keyring:..."""
    api_url: str
    retention_days: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "local_root": self.local_root,
            "remote_root": self.remote_root,
            "token": self.token,
            "api_url": self.api_url,
            "retention_days": self.retention_days,
        }


@dataclass
class PullReport:
    source: str
    judged: int = 0
    linked: int = 0
    gaps: int = 0
    cursor: int = -1
    pending: int = 0
    """Edits younger than the settle time, left for the next pull."""
    waited: list[float] = field(default_factory=list)
    seqs: Sequence[int] = ()
    stopped: str | None = None
    """Why the pull stopped early (what was judged before is recorded)."""


def records(
    ledger: Ledger, kind: str, source: str = SOURCE
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(seq, payload) of every unerased record of ``kind`` written by ``source``."""
    _, rows = query.actions(ledger.store, query.Filters(kinds=(kind,)))
    for row in rows:
        seq = row[0]
        if row[3] == source and isinstance(seq, int):
            payload = ledger.record(seq).payload
            if payload is not None:
                yield seq, payload


def configs(ledger: Ledger) -> dict[str, SourceConfig]:
    """Every source by name, as its latest ``source.config`` record has it."""
    out: dict[str, SourceConfig] = {}
    for _, payload in records(ledger, Kind.SOURCE_CONFIG):
        c = payload.get("source")
        if isinstance(c, dict) and c.get("provider") in PROVIDERS:
            days = c.get("retention_days")
            out[str(c["name"])] = SourceConfig(
                str(c["name"]),
                str(c["provider"]),
                str(c["local_root"]),
                str(c.get("remote_root") or ""),
                str(c.get("token") or c["token_file"]),  # token_file: before keyring
                str(c["api_url"]),
                days if isinstance(days, int) else None,
            )
    return out


def add(ledger: Ledger, cfg: SourceConfig, *, now: datetime) -> int:
    if cfg.provider not in PROVIDERS:
        raise InputError(f"unknown provider {cfg.provider!r}; one of {', '.join(PROVIDERS)}")
    if cfg.retention_days is not None and cfg.retention_days < 1:
        raise InputError("--retention-days must be a positive number of days")
    read_secret(cfg.token)  # refuse a source that could never pull
    Client(cfg.name, cfg.api_url, "", "")  # and one whose API URL is not http(s)://
    body = {"source": {**cfg.to_json(), "added": format_time(now)}}
    return ledger.append([Record.create(Kind.SOURCE_CONFIG, SOURCE, body, time=now)])[0]


def last_pull(ledger: Ledger, name: str) -> dict[str, Any]:
    """The latest ``source.pull`` body of source ``name`` (empty before the first)."""
    latest: dict[str, Any] = {}
    for _, payload in records(ledger, Kind.SOURCE_PULL):
        body = payload.get("pull")
        if isinstance(body, dict) and body.get("source") == name:
            latest = body
    return latest


def pull(
    ledger: Ledger,
    cfg: SourceConfig,
    *,
    now: datetime,
    settle: timedelta = SETTLE,
    sleep: Callable[[float], None] | None = None,
) -> PullReport:
    """Judge every agent edit under the source's folder after its cursor; record them."""
    provider = PROVIDERS[cfg.provider]
    ref = SecretRef.parse(cfg.token)
    client = Client(cfg.name, cfg.api_url, read_secret(ref), ref.describe())
    if sleep is not None:
        client.sleep = sleep
    previous = last_pull(ledger, cfg.name)
    cursor = int(previous.get("cursor", -1))
    folders: dict[str, dict[str, Any]] = {
        k: dict(v) for k, v in (previous.get("folders") or {}).items()
    }
    report = PullReport(cfg.name, cursor=cursor)
    out: list[Record] = []
    histories: dict[str, History] = {}
    for seq, moment, path, after in _edits(ledger, cfg.local_root, cursor):
        if moment > now - settle:
            report.pending += 1
            break  # later edits wait too: the cursor is a seq, it never skips one
        remote = _remote(cfg, path)
        try:
            if remote not in histories:
                histories[remote] = provider.history(client, remote)
        except SourceError as e:
            report.stopped = str(e)
            break
        data = _content(ledger, after)
        judged = judge(provider, histories[remote], moment, data, now, cfg.retention_days)
        folder = posixpath.dirname("/" + remote.strip("/"))
        totals = folders.setdefault(folder, {"linked": 0, "gaps": 0, "expired": 0})
        edit = {"seq": seq, "time": format_time(moment), "sha256": after}
        base = {"source": cfg.name, "provider": cfg.provider, "remote": remote, "edit": edit}
        if isinstance(judged, Revision):
            link = {**base, "match": "hash" if data and judged.hash else "time"}
            link["revision"] = _revision_json(judged)
            out.append(_record(Kind.SOURCE_REVISION, {"link": link, "file": {"path": path}}, now))
            totals["linked"] += 1
            report.linked += 1
            first = totals.get("first_link")
            if first is None or format_time(moment) < first:
                totals["first_link"] = format_time(moment)
        else:
            reason, expired = judged
            gap = {**base, "reason": reason, "expired": expired}
            out.append(_record(Kind.CAPTURE_GAP, {"gap": gap, "file": {"path": path}}, now))
            totals["expired" if expired else "gaps"] += 1
            report.gaps += 1
        report.judged += 1
        report.cursor = seq
    report.waited = list(client.waited)
    if out:
        body = {
            "source": cfg.name,
            "provider": cfg.provider,
            "at": format_time(now),
            "cursor": report.cursor,
            "retention_days": cfg.retention_days,
            "judged": report.judged,
            "folders": folders,
            "throttled_seconds": sum(report.waited),
        }
        out.append(_record(Kind.SOURCE_PULL, {"pull": body}, now))
        report.seqs = ledger.append(out)
    return report


def judge(
    provider: Provider,
    history: History,
    moment: datetime,
    data: bytes | None,
    now: datetime,
    retention_days: int | None,
) -> Revision | tuple[str, bool]:
    """The revision that captured an edit made at ``moment`` writing ``data``, or
    (why there is none, whether the edit is older than the provider keeps history)."""
    later = sorted((r for r in history.revisions if r.time >= moment - SKEW), key=lambda r: r.time)
    wanted = provider.content_hash(data) if data is not None else None
    hashed = [r for r in later if r.hash]
    if wanted is not None and hashed:
        for r in hashed:
            if r.hash == wanted:
                return r
        reason = "no revision holds the bytes the agent wrote"
    else:
        for r in later:
            if r.time <= moment + SYNC_WINDOW:
                return r
        reason = f"no revision within {SYNC_WINDOW.days} day(s) after the edit"
    if history.deleted:
        reason = f"{history.deleted}; {reason}"
    expired = retention_days is not None and moment < now - timedelta(days=retention_days)
    return reason, expired


def _edits(
    ledger: Ledger, root: str, cursor: int
) -> Iterator[tuple[int, datetime, str, str | None]]:
    filters = query.Filters(kinds=(Kind.FILE_CREATE, Kind.FILE_UPDATE), path=root)
    _, rows = query.actions(ledger.store, filters)
    for row in rows:
        seq, stamp, path, after = row[0], row[1], row[10], row[14]
        if isinstance(seq, int) and seq > cursor and isinstance(path, str):
            yield seq, parse_time(str(stamp)), path, after if isinstance(after, str) else None


def _remote(cfg: SourceConfig, path: str) -> str:
    rel = posixpath.relpath(path.replace("\\", "/"), cfg.local_root.replace("\\", "/"))
    return posixpath.join(cfg.remote_root.strip("/"), rel).strip("/")


def _content(ledger: Ledger, sha: str | None) -> bytes | None:
    if sha is None:
        return None
    try:
        return content.get(ledger.store, sha)
    except ValueError:
        return None  # a damaged blob: judge by time, `affidavit verify` reports the damage


def _revision_json(r: Revision) -> dict[str, Any]:
    return {
        "id": r.id,
        "time": format_time(r.time),
        "size": r.size,
        "hash": r.hash,
        "keep_forever": r.keep_forever,
    }


def _record(kind: str, body: Mapping[str, Any], now: datetime) -> Record:
    return Record.create(kind, SOURCE, body, time=now)


# -- evidence for the checklist -------------------------------------------------------------

HISTORY_DAYS = 90
PULL_DAYS = 31
"""A pull older than this shows how the folder was, not how it is: the edits since are unjudged."""


@dataclass(frozen=True, slots=True)
class CloudHistory:
    """What one source's pulls show for one remote folder (running totals)."""

    seq: int
    """The ``source.pull`` record it comes from."""
    source: str
    provider: str
    folder: str
    retention_days: int | None
    linked: int
    gaps: int
    """Edits inside the retention with no revision: history the provider does not hold."""
    pulled: datetime | None = None
    """When that pull ran."""

    def short(self, today: date) -> str | None:
        """Why this folder falls short of :data:`HISTORY_DAYS` of history on ``today`` (None:
        it does not)."""
        if self.retention_days is None:
            return "retention unknown (declare it: sources add --retention-days)"
        if self.retention_days < HISTORY_DAYS:
            return f"keeps {self.retention_days} days, under {HISTORY_DAYS}"
        if self.gaps:
            return f"{self.gaps} agent edit(s) with no revision"
        if not self.linked:
            return "no agent edit linked to a revision yet"
        age = None if self.pulled is None else (today - self.pulled.date()).days
        if age is None or age > PULL_DAYS:
            when = "never dated" if age is None else f"{age} days ago"
            return f"last pulled {when}, over {PULL_DAYS} (run `affidavit sources pull`)"
        return None

    def describe(self) -> str:
        days = "unknown" if self.retention_days is None else f"{self.retention_days} days"
        when = "" if self.pulled is None else f" on {self.pulled.date()}"
        return (
            f"{self.provider} {self.source} {self.folder}: retention {days}, {self.linked} "
            f"edit(s) linked, {self.gaps} gap(s) (pull seq {self.seq}{when})"
        )


def history_evidence(ledger: Ledger) -> tuple[CloudHistory, ...]:
    """Per source and folder, the latest pull's totals."""
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for seq, payload in records(ledger, Kind.SOURCE_PULL):
        body = payload.get("pull")
        if isinstance(body, dict):
            latest[str(body.get("source"))] = (seq, body)
    out = []
    for name, (seq, body) in sorted(latest.items()):
        days = body.get("retention_days")
        try:
            pulled: datetime | None = parse_time(str(body.get("at")))
        except InputError:
            pulled = None  # scored as never dated: stale
        for folder, t in sorted((body.get("folders") or {}).items()):
            out.append(
                CloudHistory(
                    seq,
                    name,
                    str(body.get("provider")),
                    folder,
                    days if isinstance(days, int) else None,
                    int(t.get("linked", 0)),
                    int(t.get("gaps", 0)),
                    pulled,
                )
            )
    return tuple(out)

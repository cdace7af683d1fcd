"""Vendor facts: what the vendor offers, as data with a date, and who re-checked them when.

The facts the regimes rest on (a SOC 2 report, a BAA on Enterprise only, no FedRAMP
authorization...) are statements on the vendor's trust center, not something this tool can
check. They ship as a dated TOML file (``data/vendor_facts.toml``); an admin replaces them
with their own copy through ``[vendor] facts_file`` in ``affidavit.toml``. The file::

    as_of = 2026-11-01                 # the day the statements were read at the source
    source = "where they were read"
    [facts.<key>]                      # one table per key in REQUIRED
    statement = "the vendor ..."
    holds = true

``affidavit facts verify --by NAME`` records that a person re-checked these exact facts
today, as a signed record (the contract :mod:`.gather` reads)::

    kind "attestation", source "affidavit.facts"
    payload {"facts": {"by", "note", "at": RFC 3339, "as_of", "sha256", "file"},
             "actor": {...}, "signature": {...}}

``sha256`` is the hash of the facts file's bytes: a check counts only for the file it
checked, so editing the facts needs a new check. The facts are current for
:data:`STALE_DAYS` after the later of ``as_of`` and the last matching check.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.note import NoteSigner
from affidavit.record import Kind, Record, format_time
from affidavit.signing import sign_payload

SOURCE = "affidavit.facts"
STALE_DAYS = 31
REQUIRED = (
    "soc2_type2",
    "iso27001",
    "baa_enterprise_only",
    "fedramp",
    "dpa_commercial",
    "service_provider",
)
SHIPPED = "the facts shipped with Affidavit"


@dataclass(frozen=True, slots=True)
class VendorFact:
    key: str
    statement: str
    holds: bool


@dataclass(frozen=True, slots=True)
class FactSheet:
    as_of: date
    source: str
    facts: Mapping[str, VendorFact]
    sha256: str
    path: Path | None = None
    """None: the file shipped in the package."""

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else SHIPPED


@dataclass(frozen=True, slots=True)
class FactsCheck:
    """A recorded re-verification: who checked which facts file, when."""

    seq: int
    time: datetime
    by: str
    sha256: str


def load(path: Path | None = None) -> FactSheet:
    """The admin's facts file at ``path``, or the shipped one; InputError naming the field."""
    if path is None:
        data = resources.files("affidavit.compliance").joinpath("data/vendor_facts.toml")
        raw = data.read_bytes()
    else:
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise InputError(f"{path}: cannot read the vendor facts: {e.strerror or e}") from e
    return parse(raw, path)


def parse(raw: bytes, path: Path | None = None) -> FactSheet:
    where = str(path) if path is not None else SHIPPED
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"{where}: not a valid TOML facts file: {e}") from e
    as_of = table.get("as_of")
    if not isinstance(as_of, date) or isinstance(as_of, datetime):
        raise InputError(f"{where}: field as_of must be a date (2026-11-01)")
    facts_table = table.get("facts")
    if not isinstance(facts_table, dict):
        raise InputError(f"{where}: needs a [facts.<key>] table per fact")
    facts: dict[str, VendorFact] = {}
    for key in REQUIRED:
        entry = facts_table.get(key)
        statement = entry.get("statement") if isinstance(entry, dict) else None
        holds = entry.get("holds") if isinstance(entry, dict) else None
        if not isinstance(statement, str) or not statement.strip():
            raise InputError(f"{where}: field facts.{key}.statement is missing")
        if not isinstance(holds, bool):
            raise InputError(f"{where}: field facts.{key}.holds must be true or false")
        facts[key] = VendorFact(key, statement.strip(), holds)
    source = table.get("source")
    return FactSheet(
        as_of,
        source if isinstance(source, str) else "",
        facts,
        hashlib.sha256(raw).hexdigest(),
        path,
    )


def last_checked(sheet: FactSheet, checks: Sequence[FactsCheck]) -> tuple[date, FactsCheck | None]:
    """The day the facts were last known to hold: ``as_of``, or a later check of this file."""
    matching = [c for c in checks if c.sha256 == sheet.sha256]
    latest = max(matching, key=lambda c: (c.time, c.seq), default=None)
    if latest is not None and latest.time.date() > sheet.as_of:
        return latest.time.date(), latest
    return sheet.as_of, None


def verify(
    ledger: Ledger,
    signer: NoteSigner,
    sheet: FactSheet,
    *,
    by: str,
    note: str,
    now: datetime,
    actor: Mapping[str, Any] | None = None,
) -> int:
    """Record that ``by`` re-checked ``sheet`` at its source on ``now``; returns the seq."""
    if not by.strip():
        raise InputError("a re-verification names the person who checked (--by NAME)")
    body = {
        "facts": {
            "by": by.strip(),
            "note": note.strip(),
            "at": format_time(now),
            "as_of": sheet.as_of.isoformat(),
            "sha256": sheet.sha256,
            "file": sheet.where,
        },
        "actor": dict(actor or {}),
    }
    record = Record.create(Kind.ATTESTATION, SOURCE, sign_payload(body, signer), time=now)
    return ledger.append([record])[0]

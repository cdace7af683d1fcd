"""``affidavit verify`` on a damaged ledger file: what is still provable, and from which
checkpoint (:mod:`affidavit.salvage`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from affidavit.cli.common import Paths, b64, emit_json
from affidavit.errors import LedgerCorruptError, VerificationError
from affidavit.ledger import Ledger
from affidavit.note import Verifier
from affidavit.salvage import Salvage, describe, salvage
from affidavit.store.damage import explain


@contextmanager
def salvaging(
    paths: Paths, *, kept: str | None, key: Verifier | None, as_json: bool
) -> Iterator[Ledger]:
    """The ledger, opened read-only; if the file turns out damaged, print what it still
    proves and fail (exit 1), or exit 2 when nothing of a ledger is readable."""
    try:
        with paths.open(readonly=True) as ledger:
            yield ledger
    except sqlite3.DatabaseError as e:
        error = explain(paths.ledger, e)
        if not isinstance(error, LedgerCorruptError):
            raise error from e
        _report(paths, str(error), kept=kept, key=key, as_json=as_json)
    except LedgerCorruptError as e:
        _report(paths, str(e), kept=kept, key=key, as_json=as_json)


def _report(
    paths: Paths, damage: str, *, kept: str | None, key: Verifier | None, as_json: bool
) -> None:
    found = salvage(paths.ledger, key=key, kept=kept, damage=damage)
    summary = _summary(found)
    if as_json:
        emit_json(_as_json(found, summary))
    else:
        _print(found)
    raise VerificationError(summary, where="ledger file")


def _summary(found: Salvage) -> str:
    head = f"ledger {found.path} is damaged"
    if found.checkpoint is None:
        advice = f"; {found.advice}" if found.advice else ""
        return f"{head}: no checkpoint holds against the readable data{advice}"
    size = found.checkpoint.size
    parts = [
        f"records {describe(found.provable)} are still provable against the checkpoint of "
        f"size {size}"
        if found.provable
        else f"no record is provable against the checkpoint of size {size}"
    ]
    if found.unreadable:
        parts.append(f"records {describe(found.unreadable)} are unreadable")
    return f"{head}: " + "; ".join(parts)


def _print(found: Salvage) -> None:
    def line(label: str, text: str) -> None:
        click.echo(f"{label + ':' if label else '':<17}{text}")

    click.echo(f"DAMAGED: {found.path}")
    for i, problem in enumerate(found.damage):
        line("damage" if i == 0 else "", problem)
    line("records", f"{found.records} known")
    line("unreadable", describe(found.unreadable) or "none")
    if found.checkpoint is None:
        line("last good", "none: no checkpoint holds against the readable data")
    else:
        line(
            "last good",
            f"checkpoint of size {found.checkpoint.size} (its signature verifies and its "
            f"root is rebuilt from readable data), root {b64(found.checkpoint.root)}",
        )
    line("provable", describe(found.provable) or "none")
    if found.unproven:
        line("not provable", f"{describe(found.unproven)} (readable, but not covered or cut off)")
    if found.payload_damaged:
        line("payload damaged", f"{describe(found.payload_damaged)} (envelope provable)")
    for size, why in found.rejected:
        line("passed over", why if size < 0 else f"size {size}: {why}")
    if found.advice:
        line("to prove more", found.advice)


def _pairs(ranges: Sequence[range]) -> list[list[int]]:
    return [[r.start, r[-1]] for r in ranges]


def _as_json(found: Salvage, summary: str) -> dict[str, Any]:
    cp = found.checkpoint
    return {
        "ok": False,
        "damaged": True,
        "where": "ledger file",
        "error": summary,
        "damage": list(found.damage),
        "records": found.records,
        "checkpoint": None
        if cp is None
        else {"size": cp.size, "root": b64(cp.root), "note": found.note},
        "provable": _pairs(found.provable),
        "unreadable": _pairs(found.unreadable),
        "unproven": _pairs(found.unproven),
        "payload_damaged": _pairs(found.payload_damaged),
        "rejected": [{"size": s, "why": why} for s, why in found.rejected],
        "advice": found.advice or None,
    }

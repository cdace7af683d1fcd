"""Compliance commands: ``posture``, ``checklist``, ``attest``, ``drill``, ``review``.

Each reads ``affidavit.toml`` (``--config``, else ``$AFFIDAVIT_CONFIG``, else the user config
folder), gathers the evidence from the ledger, scores it with the pure functions in
:mod:`affidavit.compliance` against today's date (UTC), and prints. Exit 1 means a finding:
a red checklist item or an unmet minimum, a regime blocked by what the ledger shows, a
failed drill, a ledger that does not verify, a missed review month.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from affidavit import config
from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, say
from affidavit.cli.query import output_options, write_rows
from affidavit.compliance import attest as attesting
from affidavit.compliance import checklist as scoring
from affidavit.compliance import drill as drilling
from affidavit.compliance import regimes
from affidavit.compliance import review as reviewing
from affidavit.compliance.gather import gather
from affidavit.compliance.minimum import score_minimum
from affidavit.errors import VerificationError
from affidavit.signing import ledger_signer

F = TypeVar("F", bound=Callable[..., Any])
COLOURS = {
    "green": "green",
    "met": "green",
    "workable": "green",
    "held": "green",
    "ok": "green",
    "yellow": "yellow",
    "conditional": "yellow",
    "due": "yellow",
    "red": "red",
    "not met": "red",
    "not yet": "red",
    "missed": "red",
    "FAILED": "red",
}


def config_option(fn: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="affidavit.toml. Default: $AFFIDAVIT_CONFIG, else affidavit.toml in the user "
        "config folder.",
    )(fn)


def _today() -> date:
    return datetime.now(UTC).date()


def _actor() -> dict[str, str]:
    return {"user": getpass.getuser(), "host": socket.gethostname()}


def _flat(value: object) -> object:
    """A CSV cell: lists joined with "; ", conditions as "[x] text (evidence)"."""
    if isinstance(value, list):
        return "; ".join(str(_flat(v)) for v in value)
    if isinstance(value, dict) and "condition" in value:
        mark = "[x]" if value.get("met") else "[ ]"
        return f"{mark} {value['condition']} ({value.get('evidence')})"
    return value


def _emit(
    names: list[str], rows: Sequence[tuple[object, ...]], fmt: str | None, title: str
) -> None:
    fmt = fmt or ("table" if sys.stdout.isatty() else "jsonl")
    if fmt == "table":
        _table(names, rows, title)
        return
    if fmt == "csv":
        rows = [tuple(_flat(v) for v in row) for row in rows]
    write_rows(names, iter(rows), fmt)


def _table(names: list[str], rows: Sequence[tuple[object, ...]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, header_style="bold", show_lines=True)
    for name in names:
        table.add_column(name, overflow="fold")
    for row in rows:
        cells = []
        for value in row:
            # Text, not markup: evidence such as "[ ] a condition" must print as written.
            if isinstance(value, list):
                cells.append(Text("\n".join(str(_flat(v)) for v in value)))
            elif isinstance(value, str) and value in COLOURS:
                cells.append(Text(value, style=COLOURS[value]))
            else:
                cells.append(Text("" if value is None else str(value)))
        table.add_row(*cells)
    tty = sys.stdout.isatty()
    Console(width=shutil.get_terminal_size().columns if tty else 160).print(table)


def _item_rows(section: str, items: Sequence[scoring.Item]) -> list[tuple[object, ...]]:
    return [(section, i.id, i.title, i.status, i.reason, list(i.evidence), i.change) for i in items]


ITEM_COLUMNS = ["section", "id", "title", "status", "reason", "evidence", "change"]


@cli.command()
@config_option
@output_options
@pass_paths
def checklist(paths: Paths, config_path: Path | None, fmt: str | None) -> None:
    """The eight-item checklist and the mid-market minimum, each scored from evidence.

    Checklist items are green, yellow or red; the four minimum items met or not met. Each
    row gives the reason, the evidence it rests on (affidavit.toml fields, record seqs,
    attestations) and what would change it. Items the ledger can see (folder policy,
    connectors, backup and rollback) are scored from it; the others from affidavit.toml and
    `affidavit attest`.

    Exit 1 when any checklist item is red or any minimum item is not met, else 0.
    """
    cfg = config.load(config_path)
    today = _today()
    with paths.open() as ledger:
        evidence = gather(ledger, cfg)
    items = scoring.score_checklist(cfg, evidence, today)
    minimum = score_minimum(cfg, evidence, today)
    rows = _item_rows("checklist", items) + _item_rows("minimum", minimum)
    _emit(ITEM_COLUMNS, rows, fmt, f"Checklist and mid-market minimum, {today}")
    red = [i.id for i in items if i.status == scoring.RED]
    unmet = [i.id for i in minimum if i.status != scoring.MET]
    if evidence.unsigned:
        say(f"ignored unsigned compliance records: {', '.join(map(str, evidence.unsigned))}")
    summary = f"red: {', '.join(red) or 'none'}; minimum not met: {', '.join(unmet) or 'none'}"
    if red or unmet:
        raise VerificationError(summary)
    say(summary)


@cli.command()
@config_option
@output_options
@pass_paths
def posture(paths: Paths, config_path: Path | None, fmt: str | None) -> None:
    """Per regime: workable, conditional or not yet, each condition with its evidence.

    Regimes: SOC 2 Type II, GDPR, UK GDPR, HIPAA, ISO 27001, PCI-DSS, FedRAMP, CCPA/CPRA.
    Each row lists its conditions, met or not, the evidence each rests on (affidavit.toml
    fields, vendor facts, findings by seq) and what would change the answer.

    Vendor facts are data with a date (`affidavit facts show`); re-check them monthly at the
    vendor's trust center and record it with `affidavit facts verify --by NAME`. More than
    31 days after the last check they are stale, and no regime is workable on stale facts.

    Exit 1 when a regime is "not yet" because of what the ledger shows (cardholder data
    found, PHI outside the regulated workspace); a vendor fact alone (FedRAMP) is not a
    finding. Else 0.
    """
    cfg = config.load(config_path)
    today = _today()
    with paths.open() as ledger:
        evidence = gather(ledger, cfg)
    scored = regimes.score_posture(
        cfg, evidence, scoring.score_checklist(cfg, evidence, today), today
    )
    names = ["regime", "status", "reason", "conditions", "change", "as_of", "stale"]
    rows = [
        (
            r.regime,
            r.status,
            r.reason,
            [{"condition": c.text, "met": c.met, "evidence": c.evidence} for c in r.conditions],
            r.change,
            r.as_of.isoformat(),
            r.stale,
        )
        for r in scored
    ]
    checked = scored[0].as_of
    _emit(names, rows, fmt, f"Regime posture, {today} (vendor facts last checked {checked})")
    if any(r.stale for r in scored):
        say(
            f"STALE: the vendor facts were last checked on {checked}; re-check them, then "
            "run `affidavit facts verify --by NAME`"
        )
    blocked = [r.regime for r in scored if r.blocked_by_ledger]
    if blocked:
        raise VerificationError(f"blocked by findings in the ledger: {', '.join(blocked)}")


@cli.command()
@click.argument("item")
@click.option("--by", "by", required=True, help="Who vouches (a name).")
@click.option("--note", required=True, help="What was checked, and where the proof lives.")
@click.option("--days", type=int, help="How long it counts. Default: attestations.expiry_days.")
@config_option
@json_option
@pass_paths
def attest(
    paths: Paths,
    item: str,
    by: str,
    note: str,
    days: int | None,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """Record a signed attestation of checklist ITEM by a person; it expires.

    ITEM: plan_dpa, training_opt_out, memory_hygiene, backup_rollback (stands in for the
    archive, never the drill), joiner_mover_leaver, incident_response, acceptable_use,
    version_history (the cloud-sync setting). Signed with the ledger's key.
    """
    attesting.check_item(item)
    cfg = config.load(config_path)
    period = cfg.attestation_days if days is None else days
    now = datetime.now(UTC)
    with paths.open_privileged("affidavit attest") as ledger:
        seq = attesting.attest(
            ledger,
            ledger_signer(ledger),
            item,
            by=by,
            note=note,
            days=period,
            now=now,
            actor=_actor(),
        )
    until = attesting.expiry(now, period).isoformat()
    if as_json:
        emit_json({"seq": seq, "item": item, "by": by, "expires": until})
    else:
        say(f"attested {item} by {by}, counts until {until}; recorded as record {seq}")


@cli.command()
@json_option
@pass_paths
def drill(paths: Paths, as_json: bool) -> None:
    """Rollback drill on a scratch copy: snapshot, change, roll back, compare the bytes.

    Runs in a new temporary folder (never your files), through the same content store and
    rollback as `affidavit rollback`, and records the signed result; a passed drill within
    90 days is what turns "backup and rollback tested" green. Exit 1 if the drill failed
    (the failure is recorded too).
    """
    with paths.open_privileged("affidavit drill") as ledger:
        result = drilling.run_drill(
            ledger, ledger_signer(ledger), now=datetime.now(UTC), actor=_actor()
        )
    if as_json:
        emit_json(
            {
                "seq": result.seq,
                "ok": result.ok,
                "detail": result.detail,
                "update_seq": result.update_seq,
                "restore_seq": result.restore_seq,
            }
        )
    if not result.ok:
        raise VerificationError(f"rollback drill failed: {result.detail} (record {result.seq})")
    if not as_json:
        say(f"drill passed: {result.detail}; recorded as record {result.seq}")


REPORT_COLUMNS = ["section", "name", "value", "detail"]


@cli.group(invoke_without_command=True)
@click.option("--period", help="The month under review, YYYY-MM. Default: this month.")
@click.option("--attendee", "attendees", multiple=True, help="Who attended (repeatable).")
@click.option("--decision", "decisions", multiple=True, help="A decision taken (repeatable).")
@config_option
@output_options
@click.pass_context
def review(
    ctx: click.Context,
    period: str | None,
    attendees: tuple[str, ...],
    decisions: tuple[str, ...],
    config_path: Path | None,
    fmt: str | None,
) -> None:
    """The monthly governance review: the period's report, and with --attendee its sign-off.

    The report: activity per function and folder, top actors and agents, policy findings,
    capture gaps, the checklist, minimum and posture with their changes since the last
    review, and the ledger's verification. With --attendee NAME (repeatable) and --decision
    TEXT it is recorded as a signed review.signoff record; without, it is a draft.
    `affidavit review list` shows past reviews and flags missed months.

    Exit 1 when the ledger does not verify.
    """
    if ctx.invoked_subcommand is not None:
        return
    if decisions and not attendees:
        raise click.UsageError("a decision needs the review's attendees (--attendee NAME)")
    paths = ctx.ensure_object(Paths)
    cfg = config.load(config_path)
    today = _today()
    with paths.open_privileged("affidavit review") if attendees else paths.open() as ledger:
        report = reviewing.build_report(ledger, cfg, reviewing.Period.parse(period, today), today)
        seq = None
        if attendees:
            seq = reviewing.sign_off(
                ledger,
                ledger_signer(ledger),
                report,
                attendees=attendees,
                decisions=decisions,
                now=datetime.now(UTC),
                actor=_actor(),
            )
    _emit(
        REPORT_COLUMNS,
        reviewing.report_rows(report),
        fmt,
        f"Governance review {report.period.name}",
    )
    if seq is None:
        say("draft: not signed off; add --attendee NAME (repeatable) and --decision TEXT")
    else:
        say(f"review {report.period.name} signed off by {', '.join(attendees)}: record {seq}")
    if not report.verified.ok:
        raise VerificationError(f"the ledger does not verify: {report.verified.detail}")


@review.command("list")
@config_option
@output_options
@pass_paths
def review_list(paths: Paths, config_path: Path | None, fmt: str | None) -> None:
    """Every month since the start: held (with its sign-offs), missed, or due.

    The start is governance.start in affidavit.toml, else the first record captured live
    (imported transcripts never count: no review was due before Affidavit ran). Exit 1 when
    a past month has no review sign-off.
    """
    cfg = config.load(config_path)
    with paths.open() as ledger:
        evidence = gather(ledger, cfg)
    months = reviewing.months(evidence, _today(), start=cfg.review_start)
    rows = [
        (
            m.period,
            m.status,
            [r.seq for r in m.reviews],
            sorted({a for r in m.reviews for a in r.attendees}),
            [d for r in m.reviews for d in r.decisions],
        )
        for m in months
    ]
    _emit(["period", "status", "seqs", "attendees", "decisions"], rows, fmt, "Governance reviews")
    missed = [m.period for m in months if m.status == reviewing.MISSED]
    if missed:
        raise VerificationError(f"no review signed off for {', '.join(missed)}")

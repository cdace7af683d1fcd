"""The regime posture: can the organisation use the AI coworker under each regime, and why.

The vendor facts (what the vendor offers) are data, not code: :mod:`.facts` loads them with
their date, and a posture judged more than :data:`~.facts.STALE_DAYS` after the later of
that date and the last recorded re-check (``affidavit facts verify``) is stale. A stale
fact is unknown, and unknown is never workable: every regime then carries an unmet
condition "vendor facts re-checked within 31 days".

:func:`score_posture` is pure: one :class:`RegimeRow` per regime, from the configuration,
the :class:`~affidavit.compliance.gather.Evidence`, the checklist and the fact sheet. Each
row lists its conditions, each met or not with the evidence it rests on. The status:

* **not yet**: a blocking condition fails: the vendor does not offer what the regime needs
  (FedRAMP), or the ledger shows a violation (cardholder data found: PCI-DSS; PHI or a
  regulated-workspace finding outside the regulated workspace: HIPAA);
* **conditional**: every blocker holds, some condition on the organisation's side does not;
* **workable**: every condition holds.

The conditions, by regime:

* GDPR, UK GDPR: the vendor offers a DPA; an Enterprise plan, a signed DPA
  (``org.dpa_signed``), a DPO sign-off (``org.dpo_signoff``).
* HIPAA: an Enterprise plan (the vendor offers its BAA there only), a signed BAA
  (``org.baa_signed``), PHI folders declared as ``regulated = ["HIPAA"]`` (used from the
  separate regulated workspace), and, blocking, no open PHI finding outside them (from the
  hook, an import or the scan alike) and no open regulated-workspace finding.
* PCI-DSS: every granted folder forbids card data (so the scan and the hook flag it), and,
  blocking, no open card finding at all, whoever raised it (hook, import, scan).
* SOC 2 Type II, ISO 27001: the vendor's published report or certificate, and no red item
  among the checklist items that map to their controls (access, connectors, joiner/mover/
  leaver, incident response, backup); yellow items are listed, not blocking.
* CCPA/CPRA: a commercial plan (the vendor acts as a service provider under its commercial
  terms) and the training opt-out item green (off, and verified or attested recently).
* FedRAMP: the vendor lists no authorization for these products: not yet, whatever else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from affidavit.compliance import facts as vendor
from affidavit.compliance.checklist import COMMERCIAL_PLANS, GREEN, RED, YELLOW, Item
from affidavit.compliance.facts import STALE_DAYS, FactSheet
from affidavit.compliance.gather import Evidence, Finding, describe
from affidavit.config import Config
from affidavit.query import path_matches

WORKABLE, CONDITIONAL, NOT_YET = "workable", "conditional", "not yet"
REGIMES = (
    "SOC 2 Type II",
    "GDPR",
    "UK GDPR",
    "HIPAA",
    "ISO 27001",
    "PCI-DSS",
    "FedRAMP",
    "CCPA/CPRA",
)

SOC2_ITEMS = (
    "folder_policy",
    "connectors",
    "joiner_mover_leaver",
    "incident_response",
    "backup_rollback",
)
ISO_ITEMS = (*SOC2_ITEMS, "memory_hygiene")


@dataclass(frozen=True, slots=True)
class Condition:
    text: str
    met: bool
    evidence: str
    fix: str
    blocking: bool = False
    """A failure makes the row "not yet" instead of "conditional"."""
    from_ledger: bool = False
    """The condition is judged on records (findings), not on declared facts."""


@dataclass(frozen=True, slots=True)
class RegimeRow:
    regime: str
    status: str
    reason: str
    conditions: tuple[Condition, ...]
    change: str
    as_of: date
    """The day the vendor facts were last known to hold (their date, or a later re-check)."""
    stale: bool

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(c.evidence for c in self.conditions if c.evidence)

    @property
    def blocked_by_ledger(self) -> bool:
        """Not yet because of what the ledger shows: a finding (the CLI's exit 1)."""
        return any(c.blocking and c.from_ledger and not c.met for c in self.conditions)


def score_posture(
    cfg: Config,
    evidence: Evidence,
    checklist: Sequence[Item],
    today: date,
    *,
    facts: FactSheet | None = None,
) -> list[RegimeRow]:
    """Score every regime; ``facts`` defaults to the sheet ``cfg`` names (else the shipped)."""
    sheet = facts if facts is not None else vendor.load(cfg.vendor_facts)
    checked, check = vendor.last_checked(sheet, evidence.facts_checks)
    age = (today - checked).days
    fresh = _fresh(sheet, checked, age, check)
    items = {i.id: i for i in checklist}

    def fact(key: str) -> Condition:
        return _fact(sheet, key)

    gdpr = [fact("dpa_commercial"), _enterprise(cfg), _dpa(cfg, today), _dpo(cfg), fresh]
    rows = {
        "SOC 2 Type II": [fact("soc2_type2"), _checklist(items, SOC2_ITEMS, "SOC 2"), fresh],
        "GDPR": gdpr,
        "UK GDPR": gdpr,
        "HIPAA": [
            fact("baa_enterprise_only"),
            _enterprise(cfg),
            _baa(cfg, today),
            *_phi(cfg, evidence),
            fresh,
        ],
        "ISO 27001": [fact("iso27001"), _checklist(items, ISO_ITEMS, "ISO 27001"), fresh],
        "PCI-DSS": [*_pci(cfg, evidence), fresh],
        "FedRAMP": [fact("fedramp"), fresh],
        "CCPA/CPRA": [
            fact("service_provider"),
            _commercial(cfg),
            _training(cfg, items.get("training_opt_out")),
            fresh,
        ],
    }
    return [_row(name, tuple(rows[name]), checked, age > STALE_DAYS) for name in REGIMES]


def _row(regime: str, conditions: tuple[Condition, ...], checked: date, stale: bool) -> RegimeRow:
    failed = [c for c in conditions if not c.met]
    blockers = [c for c in failed if c.blocking]
    status = NOT_YET if blockers else CONDITIONAL if failed else WORKABLE
    if failed:
        reason = "; ".join(f"not met: {c.text}" for c in blockers or failed)
        change = "; ".join(c.fix for c in blockers or failed)
    else:
        reason = "every condition holds"
        change = "stays workable while every condition holds; re-check the vendor facts monthly"
    return RegimeRow(regime, status, reason, conditions, change, checked, stale)


def _fresh(sheet: FactSheet, checked: date, age: int, check: vendor.FactsCheck | None) -> Condition:
    how = (
        f"re-checked by {check.by} on {checked} (record seq {check.seq})"
        if check is not None
        else f"as of {sheet.as_of} ({sheet.where}); no later re-check recorded"
    )
    return Condition(
        f"vendor facts re-checked within {STALE_DAYS} days",
        0 <= age <= STALE_DAYS,
        f"vendor facts {how}; {age} days ago",
        "re-check the vendor facts at the vendor's trust center, then: affidavit facts "
        "verify --by NAME",
    )


# -- conditions -----------------------------------------------------------------------------


def _fact(sheet: FactSheet, key: str) -> Condition:
    f = sheet.facts[key]
    return Condition(
        f.statement if f.holds else f"not offered: {f.statement}",
        f.holds,
        f"vendor fact {key} as of {sheet.as_of}",
        "re-check it at the vendor's trust center monthly"
        if f.holds
        else "the vendor would have to offer it; re-check its trust center monthly",
        blocking=True,
    )


def _enterprise(cfg: Config) -> Condition:
    return Condition(
        "an Enterprise plan",
        cfg.plan == "enterprise",
        f"org.plan = {cfg.plan or '(not set)'}",
        'move to the Enterprise plan and set org.plan = "enterprise"',
    )


def _commercial(cfg: Config) -> Condition:
    return Condition(
        "a commercial plan (Team or Enterprise)",
        cfg.plan in COMMERCIAL_PLANS,
        f"org.plan = {cfg.plan or '(not set)'}",
        "move to Team or Enterprise and set org.plan",
    )


def _signed(what: str, field: str, day: date | None, today: date) -> Condition:
    ok = day is not None and day <= today
    return Condition(
        f"a signed {what}",
        ok,
        f"{field} = {day or '(not set)'}",
        f"sign the {what} and set {field} to its date",
    )


def _dpa(cfg: Config, today: date) -> Condition:
    return _signed("DPA", "org.dpa_signed", cfg.dpa_signed, today)


def _baa(cfg: Config, today: date) -> Condition:
    return _signed("BAA", "org.baa_signed", cfg.baa_signed, today)


def _dpo(cfg: Config) -> Condition:
    ok = bool(cfg.dpo_name) and cfg.dpo_signed is not None
    return Condition(
        "a DPO sign-off",
        ok,
        f"org.dpo_signoff = {cfg.dpo_name or '(no name)'}, {cfg.dpo_signed or '(no date)'}",
        "have the DPO sign off and set org.dpo_signoff = { name, date }",
    )


def _training(cfg: Config, item: Item | None) -> Condition:
    # The checklist item holds the rule (off, and verified or attested recently): an opt-out
    # that nobody has looked at for months is not evidence that it is still off.
    shown = (
        "org.training_opt_out = "
        + {True: "true", False: "false", None: "(not set)"}[cfg.training_opt_out]
    )
    return Condition(
        "model training on your data is off, verified recently",
        item is not None and item.status == GREEN,
        shown + (f"; checklist training_opt_out = {item.status}" if item else ""),
        item.change if item is not None else "set org.training_opt_out and verify it",
    )


def _checklist(items: dict[str, Item], ids: Sequence[str], regime: str) -> Condition:
    red = [items[i] for i in ids if i in items and items[i].status == RED]
    yellow = [items[i].id for i in ids if i in items and items[i].status == YELLOW]
    shown = f"checklist: {', '.join(f'{i}={items[i].status}' for i in ids if i in items)}"
    return Condition(
        f"no red item among the checklist items {regime} maps to"
        + (f" (to improve: {', '.join(yellow)})" if yellow else ""),
        not red,
        shown,
        "; ".join(f"{i.id}: {i.change}" for i in red) or "keep those items green",
    )


def _in(finding: Finding, folders: Sequence[str]) -> bool:
    return any(
        p is not None and any(p == f or path_matches(p, f) for f in folders)
        for p in (finding.path, finding.folder)
    )


def _phi(cfg: Config, evidence: Evidence) -> list[Condition]:
    hipaa = [f.path for f in cfg.folders if "HIPAA" in f.regulated]
    stray = [
        f
        for f in evidence.open_findings
        if (f.data_class == "phi" and not _in(f, hipaa))
        or (f.type != "data" and f.rule == "regulated_workspace" and _in(f, hipaa))
    ]
    return [
        Condition(
            'PHI folders declared (regulated = ["HIPAA"]) for the separate regulated workspace',
            bool(hipaa),
            "HIPAA folders: " + (", ".join(hipaa) or "(none)"),
            'declare the PHI folders with regulated = ["HIPAA"] and use them only from the '
            "regulated workspace ([workspace] regulated = true there)",
        ),
        Condition(
            "PHI confined to the regulated workspace (no open PHI or regulated-workspace "
            "finding outside it)",
            not stray,
            "; ".join(describe(f) for f in stray[:5]) or "no such open finding",
            "move the PHI into the regulated workspace and resolve the findings",
            blocking=True,
            from_ledger=True,
        ),
    ]


def _pci(cfg: Config, evidence: Evidence) -> list[Condition]:
    cards = [f for f in evidence.open_findings if f.data_class == "card"]
    lax = [f.path for f in cfg.folders if "card" not in f.forbidden_data]
    return [
        Condition(
            'every granted folder forbids card data (forbidden_data includes "card")',
            bool(cfg.folders) and not lax,
            "folders without it: " + ", ".join(lax)
            if lax
            else "no [[folders]] declared"
            if not cfg.folders
            else "all granted folders forbid card data",
            'add "card" to forbidden_data of every [[folders]] entry',
        ),
        Condition(
            "no open card-data finding (hook, import or scan)",
            not cards,
            "; ".join(describe(f) for f in cards[:5]) or "no open card finding",
            "remove the cardholder data, resolve the findings, keep agents out of the CDE",
            blocking=True,
            from_ledger=True,
        ),
    ]

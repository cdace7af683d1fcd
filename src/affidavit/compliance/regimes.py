"""The regime posture: can the organisation use the AI coworker under each regime, and why.

:data:`VENDOR_FACTS` are what the vendor offers, as the vendor's trust center and commercial
terms stated them on their ``as_of`` date. They are assertions to re-verify monthly at the
vendor's trust center, not facts this tool can check; a posture judged more than
:data:`STALE_DAYS` after them is marked stale ("re-verify monthly"). Edit the table when
the vendor's offer changes, and move ``as_of``.

:func:`score_posture` is pure: one :class:`RegimeRow` per regime, from the configuration,
the :class:`~affidavit.compliance.gather.Evidence` and the checklist. Each row lists its
conditions, each met or not with the evidence it rests on. The status:

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
  separate regulated workspace), and, blocking, no open PHI data finding outside them and
  no open regulated-workspace finding.
* PCI-DSS: every granted folder forbids card data (so the scan and the hook flag it), and,
  blocking, no open card finding in a granted folder or a recorded payload.
* SOC 2 Type II, ISO 27001: the vendor's published report or certificate, and no red item
  among the checklist items that map to their controls (access, connectors, joiner/mover/
  leaver, incident response, backup); yellow items are listed, not blocking.
* CCPA/CPRA: a commercial plan (the vendor acts as a service provider under its commercial
  terms) and training on your data off.
* FedRAMP: the vendor lists no authorization for these products: not yet, whatever else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from affidavit.compliance.checklist import COMMERCIAL_PLANS, RED, YELLOW, Item
from affidavit.compliance.gather import Evidence, Finding, describe
from affidavit.config import Config
from affidavit.query import path_matches

WORKABLE, CONDITIONAL, NOT_YET = "workable", "conditional", "not yet"
AS_OF = date(2026, 11, 1)
STALE_DAYS = 31
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


@dataclass(frozen=True, slots=True)
class VendorFact:
    statement: str
    holds: bool
    as_of: date = AS_OF


VENDOR_FACTS = {
    "soc2_type2": VendorFact("the vendor's trust center lists a SOC 2 Type II report", True),
    "iso27001": VendorFact("the vendor's trust center lists ISO/IEC 27001 certification", True),
    "baa_enterprise_only": VendorFact("the vendor offers a BAA on the Enterprise plan only", True),
    "fedramp": VendorFact(
        "the vendor lists no FedRAMP authorization for Claude Team/Enterprise, Claude Code or "
        "Cowork",
        False,
    ),
    "dpa_commercial": VendorFact(
        "the vendor's DPA is part of its commercial terms (Team, Enterprise)", True
    ),
    "service_provider": VendorFact(
        "under its commercial terms the vendor processes customer data as a service provider",
        True,
    ),
}
"""Assertions as of ``as_of``, sourced from the vendor's trust center; re-verify monthly."""

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
    stale: bool

    @property
    def evidence(self) -> tuple[str, ...]:
        return tuple(c.evidence for c in self.conditions if c.evidence)

    @property
    def blocked_by_ledger(self) -> bool:
        """Not yet because of what the ledger shows: a finding (the CLI's exit 1)."""
        return any(c.blocking and c.from_ledger and not c.met for c in self.conditions)


def score_posture(
    cfg: Config, evidence: Evidence, checklist: Sequence[Item], today: date
) -> list[RegimeRow]:
    items = {i.id: i for i in checklist}
    gdpr = [_fact("dpa_commercial"), _enterprise(cfg), _dpa(cfg, today), _dpo(cfg)]
    rows = {
        "SOC 2 Type II": [_fact("soc2_type2"), _checklist(items, SOC2_ITEMS, "SOC 2")],
        "GDPR": gdpr,
        "UK GDPR": gdpr,
        "HIPAA": [
            _fact("baa_enterprise_only"),
            _enterprise(cfg),
            _baa(cfg, today),
            *_phi(cfg, evidence),
        ],
        "ISO 27001": [_fact("iso27001"), _checklist(items, ISO_ITEMS, "ISO 27001")],
        "PCI-DSS": _pci(cfg, evidence),
        "FedRAMP": [_fact("fedramp")],
        "CCPA/CPRA": [_fact("service_provider"), _commercial(cfg), _training(cfg)],
    }
    return [_row(name, tuple(rows[name]), today) for name in REGIMES]


def _row(regime: str, conditions: tuple[Condition, ...], today: date) -> RegimeRow:
    failed = [c for c in conditions if not c.met]
    blockers = [c for c in failed if c.blocking]
    status = NOT_YET if blockers else CONDITIONAL if failed else WORKABLE
    if failed:
        reason = "; ".join(f"not met: {c.text}" for c in blockers or failed)
        change = "; ".join(c.fix for c in blockers or failed)
    else:
        reason = "every condition holds"
        change = "stays workable while every condition holds; re-verify vendor facts monthly"
    as_of = min(VENDOR_FACTS[k].as_of for k in VENDOR_FACTS)
    age = (today - as_of).days
    stale = age > STALE_DAYS
    if stale:
        reason += f" (STALE: regime facts as of {as_of}, {age} days old; re-verify monthly)"
    return RegimeRow(regime, status, reason, conditions, change, as_of, stale)


# -- conditions -----------------------------------------------------------------------------


def _fact(key: str) -> Condition:
    f = VENDOR_FACTS[key]
    return Condition(
        f.statement if f.holds else f"not offered: {f.statement}",
        f.holds,
        f"vendor fact {key} as of {f.as_of}",
        "re-verify at the vendor's trust center monthly"
        if f.holds
        else "the vendor would have to offer it; re-verify at its trust center monthly",
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


def _training(cfg: Config) -> Condition:
    return Condition(
        "model training on your data is off",
        cfg.training_opt_out is True,
        "org.training_opt_out = "
        + {True: "true", False: "false", None: "(not set)"}[cfg.training_opt_out],
        "turn training off in the admin console and set org.training_opt_out = true",
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
        if (f.type == "data" and f.data_class == "phi" and not _in(f, hipaa))
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
    cards = [f for f in evidence.open_findings if f.type == "data" and f.data_class == "card"]
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
            "no cardholder data in a granted folder or a recorded payload",
            not cards,
            "; ".join(describe(f) for f in cards[:5]) or "no open card finding",
            "remove the cardholder data, resolve the findings, keep agents out of the CDE",
            blocking=True,
            from_ledger=True,
        ),
    ]

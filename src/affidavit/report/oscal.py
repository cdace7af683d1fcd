"""The review pack's results as OSCAL assessment results and as OCSF Compliance Findings.

Both are pure functions of a :class:`~affidavit.report.model.Report`.

**OSCAL** (NIST OSCAL 1.2.1, assessment-results model; the tests validate the output
against NIST's published JSON schema). One ``result`` holds:

* one ``finding`` per posture row, checklist item and minimum item. Its target is an
  objective (``type`` ``objective-id``; ids ``affidavit-posture-gdpr``,
  ``affidavit-checklist-plan_dpa``, ``affidavit-minimum-folder_policy``); ``status.state``
  is ``satisfied`` for green / met / workable, else ``not-satisfied``, with ``reason``
  ``pass``, ``other`` (yellow, conditional) or ``fail``; the Affidavit status is the prop
  ``affidavit-status``;
* one ``observation`` per finding, its ``relevant-evidence`` the evidence lines (config
  fields, record seqs, attestations, vendor facts), plus one for the ledger's verification
  (method ``TEST``) pointing at the latest signed checkpoint, which ``back-matter`` embeds,
  and one per policy or data finding in the ledger (type ``finding``), linked from the
  posture rows whose evidence names it.

There is no separate assessment plan: ``import-ap`` points at a back-matter resource that
describes the method (Affidavit's scoring rules). UUIDs are version 5, derived from the
ledger origin, the report's time and the item, so one report always serialises the same.

**OCSF** (1.8.0, class 2003 Compliance Finding, category 2 Findings, activity 1 Create,
``type_uid`` 200301): one event per posture row, checklist item, minimum item and the ledger
verification. ``compliance.status_id`` is 1 Pass (green, met, workable), 2 Warning (yellow,
conditional: a result held back by missing or unconfirmed information) or 3 Fail;
``severity_id`` is 1 Informational for a pass, 2 Low for a warning or a blocker on the
vendor's side (FedRAMP), 3 Medium for a failed item, 4 High for a regime blocked by what the
ledger shows, 5 Critical for a ledger that does not verify. ``finding_info.uid`` is the
OSCAL finding's UUID, so the two outputs join.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from affidavit.compliance.checklist import Item
from affidavit.record import format_time
from affidavit.report.model import Report
from affidavit.report.wording import (
    checkpoint_line,
    finding_status,
    finding_what,
    tone,
    verified_line,
)

OSCAL_VERSION = "1.2.1"
OCSF_VERSION = "1.8.0"
NS = "urn:affidavit:report"
"""The namespace of Affidavit's own OSCAL props."""
_UUIDS = uuid.UUID("5b0c3a54-5c1e-4f5e-9d1f-3a8b6a0f2c71")

PASS, WARNING, FAIL = 1, 2, 3
STATUS = {PASS: "Pass", WARNING: "Warning", FAIL: "Fail"}
SEVERITY = {1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}


@dataclass(frozen=True, slots=True)
class Assessed:
    """One scored thing, in the shape both formats need."""

    section: str
    key: str
    title: str
    status: str
    reason: str
    evidence: tuple[str, ...]
    change: str
    standards: tuple[str, ...]
    requirements: tuple[str, ...]
    severity_if_failed: int = 3

    @property
    def objective(self) -> str:
        return f"affidavit-{self.section}-{_token(self.key)}"


def _token(text: str) -> str:
    """An NCName-safe token: ``SOC 2 Type II`` -> ``soc-2-type-ii``."""
    return re.sub(r"[^a-z0-9_.]+", "-", text.lower()).strip("-") or "_"


def assessed(report: Report) -> list[Assessed]:
    out = [
        Assessed(
            "posture",
            r.regime,
            f"{r.regime} posture",
            r.status,
            r.reason,
            tuple(
                f"[{'met' if c.met else 'not met'}] {c.text}: {c.evidence}" for c in r.conditions
            ),
            r.change,
            (r.regime,),
            tuple(c.text for c in r.conditions),
            4 if r.blocked_by_ledger else 2 if r.status == "not yet" else 3,
        )
        for r in report.posture
    ]

    def items(section: str, standard: str, group: Sequence[Item]) -> list[Assessed]:
        return [
            Assessed(
                section,
                i.id,
                i.title,
                i.status,
                i.reason,
                i.evidence,
                i.change,
                (standard,),
                (i.title,),
            )
            for i in group
        ]

    out += items("checklist", "Affidavit deployment checklist", report.checklist)
    out += items("minimum", "Mid-market minimum", report.minimum)
    return out


def _ledger(report: Report) -> Assessed:
    ok = report.verified.ok
    return Assessed(
        "ledger",
        "verification",
        "Audit trail integrity (RFC 9162 Merkle log, signed C2SP checkpoints)",
        "ok" if ok else "FAILED",
        verified_line(report),
        (f"latest checkpoint: {checkpoint_line(report)}", f"verifier key {report.vkey}"),
        "keep verifying; ship checkpoints off the machine"
        if ok
        else "find what changed: affidavit verify names the first record or checkpoint that fails",
        ("RFC 9162", "C2SP tlog-checkpoint"),
        ("every record, subtree hash and checkpoint verifies from the stored bytes",),
        5,
    )


def _state(status: str) -> tuple[str, str, int]:
    """OSCAL state and reason, OCSF compliance status_id."""
    t = tone(status)
    if t == "good":
        return "satisfied", "pass", PASS
    if t == "warn":
        return "not-satisfied", "other", WARNING
    return "not-satisfied", "fail", FAIL


class _Ids:
    def __init__(self, report: Report) -> None:
        self.base = f"{report.origin}\n{format_time(report.generated)}"

    def __call__(self, *parts: str) -> str:
        return str(uuid.uuid5(_UUIDS, "\n".join((self.base, *parts))))


def _prop(name: str, value: object) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": _line(value)}


def _line(value: object) -> str:
    """OSCAL strings: one line, no leading or trailing space, never empty."""
    return " ".join(str(value).split()) or "-"


def oscal_assessment_results(report: Report) -> dict[str, Any]:
    ids = _Ids(report)
    now = format_time(report.generated)
    things = [*assessed(report), _ledger(report)]
    cp = report.checkpoint
    method, checkpoint_res = ids("resource", "method"), ids("resource", "checkpoint")
    ledger_obs = ids("observation", "ledger", "verification")
    finding_obs = {f.id: ids("observation", "finding", f.id) for f in report.findings}
    observations: list[dict[str, Any]] = []
    for a in things:
        evidence: list[dict[str, str]] = [{"description": e} for e in a.evidence if e.strip()]
        if a.section == "ledger" and cp is not None:
            signed = f"signed checkpoint of size {cp.size}"
            evidence.insert(0, {"href": f"#{checkpoint_res}", "description": signed})
        observations.append(
            {
                "uuid": ids("observation", a.section, a.key),
                "title": _line(a.title),
                "description": a.reason or "-",
                "props": [_prop("affidavit-status", a.status)],
                "methods": ["TEST" if a.section == "ledger" else "EXAMINE"],
                **({"relevant-evidence": evidence} if evidence else {}),
                "collected": now,
            }
        )
    observations += [
        {
            "uuid": finding_obs[f.id],
            "title": _line(f"{finding_what(f)} {f.id}"),
            "description": f"{finding_what(f)} at {f.path or f.folder or '-'}: {finding_status(f)}",
            "methods": ["EXAMINE"],
            "types": ["finding"],
            "relevant-evidence": [{"description": f"ledger record seq {f.seq} at {f.time}"}],
            "collected": now,
        }
        for f in report.findings
    ]
    findings = []
    for a in things:
        state, reason, _ = _state(a.status)
        related = [ids("observation", a.section, a.key)]
        if a.section != "ledger":
            related.append(ledger_obs)
        related += [u for fid, u in finding_obs.items() if any(fid in e for e in a.evidence)]
        findings.append(
            {
                "uuid": ids("finding", a.section, a.key),
                "title": _line(f"{a.title}: {a.status}"),
                "description": a.reason or "-",
                "props": [
                    _prop("affidavit-status", a.status),
                    _prop("affidavit-section", a.section),
                ],
                "target": {
                    "type": "objective-id",
                    "target-id": a.objective,
                    "title": _line(a.title),
                    "status": {"state": state, "reason": reason},
                },
                "related-observations": [{"observation-uuid": u} for u in related],
                "remarks": f"What would change it: {a.change}",
            }
        )
    resources: list[dict[str, Any]] = [
        {
            "uuid": method,
            "title": "Assessment method: Affidavit compliance scoring",
            "description": "No separate OSCAL assessment plan: the objectives are Affidavit's "
            "regime posture, deployment checklist and mid-market minimum, scored from the "
            "organisation's affidavit.toml, signed attestations and the verified audit ledger "
            f"{report.origin} (verifier key {report.vkey}).",
        }
    ]
    if cp is not None:
        resources.append(
            {
                "uuid": checkpoint_res,
                "title": f"Signed checkpoint of {report.origin} at tree size {cp.size}",
                "description": "A C2SP tlog-checkpoint signed note (Ed25519); check it with the "
                "verifier key in the metadata.",
                "base64": {
                    "filename": f"checkpoint-{cp.size}.txt",
                    "media-type": "text/plain",
                    "value": base64.b64encode(cp.note.encode("utf-8")).decode("ascii"),
                },
            }
        )
    result = {
        "uuid": ids("result"),
        "title": _line(f"Security review of {report.org} on {report.today}"),
        "description": f"Regime posture, deployment checklist and mid-market minimum judged on "
        f"{report.today} from the audit ledger {report.origin} ({report.records} records). "
        f"{verified_line(report)}.",
        "start": format_time(report.first_time or report.generated),
        "end": now,
        "props": [
            _prop("ledger-origin", report.origin),
            _prop("ledger-verified", "true" if report.verified.ok else "false"),
            *([_prop("checkpoint-size", cp.size), _prop("checkpoint-root", cp.root)] if cp else []),
        ],
        "reviewed-controls": {
            "description": "Affidavit's objectives; no control catalog is imported.",
            "control-selections": [{"include-all": {}}],
        },
        "observations": observations,
        "findings": findings,
    }
    return {
        "assessment-results": {
            "uuid": ids("document"),
            "metadata": {
                "title": _line(f"Affidavit security review pack: {report.org}"),
                "last-modified": now,
                "version": report.today.isoformat(),
                "oscal-version": OSCAL_VERSION,
                "props": [_prop("verifier-key", report.vkey)],
            },
            "import-ap": {"href": f"#{method}"},
            "results": [result],
            "back-matter": {"resources": resources},
        }
    }


def _version() -> str:
    try:
        return metadata.version("affidavit")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def ocsf_compliance_findings(report: Report) -> Iterator[dict[str, Any]]:
    """One OCSF 1.8.0 Compliance Finding (2003) per scored item and the ledger check."""
    ids = _Ids(report)
    ms = int(report.generated.timestamp() * 1000)
    product = {"name": "Affidavit", "vendor_name": "Affidavit", "version": _version()}
    cp = report.checkpoint
    for a in [*assessed(report), _ledger(report)]:
        _, _, status_id = _state(a.status)
        severity = 1 if status_id == PASS else 2 if status_id == WARNING else a.severity_if_failed
        uid = ids("finding", a.section, a.key)
        yield {
            "class_uid": 2003,
            "class_name": "Compliance Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200301,
            "type_name": "Compliance Finding: Create",
            "severity_id": severity,
            "severity": SEVERITY[severity],
            "time": ms,
            "message": f"{a.title}: {a.status}: {a.reason}",
            "metadata": {
                "version": OCSF_VERSION,
                "product": product,
                "log_name": report.origin,
                "uid": uid,
            },
            "finding_info": {
                "uid": uid,
                "title": f"{a.title}: {a.status}",
                "desc": a.reason,
                "types": [a.section],
                "created_time": ms,
            },
            "compliance": {
                "standards": list(a.standards),
                "control": a.objective,
                "requirements": list(a.requirements),
                "status": STATUS[status_id],
                "status_id": status_id,
                "status_code": a.status,
                "status_details": [a.reason],
            },
            "remediation": {"desc": a.change},
            "unmapped": {
                "affidavit": {
                    "section": a.section,
                    "id": a.key,
                    "evidence": list(a.evidence),
                    "judged_on": report.today.isoformat(),
                    **({"checkpoint": {"size": cp.size, "root": cp.root}} if cp else {}),
                }
            },
        }

"""``affidavit report``: write the security review pack into a new folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from affidavit import config
from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, say
from affidavit.cli.compliance import _actor, config_option
from affidavit.errors import VerificationError
from affidavit.report import model as reporting
from affidavit.report.pack import write_pack
from affidavit.signing import ledger_signer


@cli.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to create (it must not exist, or be empty).",
)
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (no affidavit[report] extra needed).")
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
@config_option
@json_option
@pass_paths
def report(
    paths: Paths,
    out: Path,
    no_pdf: bool,
    force: bool,
    config_path: Path | None,
    as_json: bool,
) -> None:
    """The security review pack for a client, and the admin's worklist, in folder --out.

    First records a signed report sign-off and seals, so the checkpoint the pack cites
    covers every record it counts, its own sign-off included. The client pack holds the
    summary, the regime posture, the checklist, the mid-market minimum, file actions per
    business function and folder per week (charts), the findings, the governance review
    history, capture completeness with its gaps, the ledger's verification with the
    covering checkpoint verbatim, and an appendix: who did what to which file, when.
    Files: report.html (self-contained: no script, nothing fetched), report.pdf (needs the
    affidavit[report] extra; --no-pdf skips it), report.md, worklist.md (for the admin:
    what to do to turn each item green), oscal-assessment-results.json (NIST OSCAL 1.2.1
    assessment results) and ocsf-compliance-findings.jsonl (OCSF 1.8.0 Compliance
    Finding, class 2003).

    The folder is written whole or not at all. Exit 1 when the ledger does not verify (the
    pack is still written, and says so), else 0.
    """
    cfg = config.load(config_path)
    now = datetime.now(UTC)
    with paths.open() as ledger:
        built = reporting.issue(
            ledger, ledger_signer(ledger), cfg, now.date(), now=now, actor=_actor()
        )
    files = write_pack(built, out, pdf=not no_pdf, force=force)
    if as_json:
        emit_json(
            {
                "out": str(out),
                "files": [str(f) for f in files],
                "verified": built.verified.ok,
                "checkpoint_size": built.checkpoint.size if built.checkpoint else None,
            }
        )
    else:
        for f in files:
            click.echo(str(f))
        say(f"review pack for {built.org} in {out}: {len(files)} files")
    if not built.verified.ok:
        raise VerificationError(f"the ledger does not verify: {built.verified.detail}")

""":func:`write_pack`: every format of the pack written into a new folder, built in a
temporary folder beside it and renamed into place, so a folder that exists is complete."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from affidavit.errors import InputError
from affidavit.report.html import render_html
from affidavit.report.markdown import render_markdown
from affidavit.report.model import Report
from affidavit.report.oscal import ocsf_compliance_findings, oscal_assessment_results
from affidavit.report.pdf import render_pdf
from affidavit.report.worklist import render_worklist

FILES = (
    "report.html",
    "report.pdf",
    "report.md",
    "worklist.md",
    "oscal-assessment-results.json",
    "ocsf-compliance-findings.jsonl",
)


def write_pack(report: Report, out: Path, *, pdf: bool = True, force: bool = False) -> list[Path]:
    """Write every format into the new folder ``out``; returns the files written.

    ``out`` must not exist or be empty (``force`` replaces a non-empty one). The files are
    written into a temporary folder beside ``out`` and renamed into place.
    """
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not force)):
        raise InputError(f"{out} exists and is not an empty folder (--force replaces it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would otherwise stay on the pack
        page = render_html(report)
        (tmp / "report.html").write_text(page, "utf-8")
        if pdf:
            render_pdf(page, tmp / "report.pdf")
        (tmp / "report.md").write_text(render_markdown(report), "utf-8")
        (tmp / "worklist.md").write_text(render_worklist(report), "utf-8")
        oscal = json.dumps(oscal_assessment_results(report), indent=2, ensure_ascii=False)
        (tmp / "oscal-assessment-results.json").write_text(oscal + "\n", "utf-8")
        with (tmp / "ocsf-compliance-findings.jsonl").open("w", encoding="utf-8") as f:
            for event in ocsf_compliance_findings(report):
                f.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        for path in tmp.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / name for name in FILES if (out / name).exists()]

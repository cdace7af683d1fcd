"""``affidavit report``: the security review pack, as HTML, PDF and Markdown.

Two documents, for two readers. The **client pack** (``report.*``) is what a client's
security reviewer reads: summary, posture, checklist, mid-market minimum, findings,
governance history since the start, capture completeness with its gaps, the ledger's
verification with the covering checkpoint verbatim, and the appendix "who did what to which
file, when". It states facts and their evidence; it gives no instructions. The **admin
worklist** (``worklist.md``, :mod:`.worklist`) is for the admin: what to do to turn each
red (or yellow) item green.

:func:`.model.issue` is what ``affidavit report`` runs: it records a signed ``report`` sign-off,
seals, and only then reads, so the checkpoint the pack cites covers every record it
counts, its own sign-off included. :func:`.model.build_report` reads everything once (the evidence,
with the ledger verified, activity, completeness and the appendix) into a :class:`.model.Report`;
the renderers are pure functions of that value, so every format says the same thing:

* :func:`.html.render_html`: one self-contained page: inline CSS, charts as inline SVG drawn here,
  no script, no external URL (document references are printed as text, never linked);
* :func:`.markdown.render_markdown`: the same sections as tables;
* :func:`.pdf.render_pdf`: the HTML laid out by WeasyPrint (the ``affidavit[report]`` extra);
* :mod:`.oscal`: the same results as OSCAL assessment results and OCSF Compliance Findings.

:func:`.pack.write_pack` writes all of them into a new folder: built in a temporary folder
beside it, then renamed into place, so a folder that exists is complete.
"""

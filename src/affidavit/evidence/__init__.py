"""Evidence packs: selected records with their proofs, in one ZIP file an auditor checks offline.

Format ``affidavit-evidence/1`` (the pack's own README.md explains it to the auditor):

=====================  =====================================================================
``README.md``          what the pack proves and does not; a stand-alone verification recipe
``manifest.json``      ``{"files": {name: SHA-256 hex}, "format"}`` of every other member
``selection.json``     filters, counts and options; ``created`` (the builder's clock)
``checkpoint.txt``     the latest C2SP checkpoint, byte for byte as signed
``vkey.txt``           the log's verifier key, one line
``records.jsonl``      per selected record, by seq: ``seq``, ``leaf`` (base64 envelope bytes),
                       ``salt`` (base64), ``payload_json`` (the exact canonical text committed
                       to), ``proof`` (RFC 9162 audit path to the checkpoint); salt and
                       payload_json are null for an erased record
``erasures.jsonl``     the erasure records naming erased records of the selection, same form
``window.jsonl``       ``--window-complete``: every leaf of the checkpoint's tree, in order
``consistency.jsonl``  ``--from``: a kept checkpoint and the consistency proof from it
``content/<sha256>``   ``--with-content``: before/after file contents the payloads name
``endpoints.jsonl``    org-log packs (selection.json ``"log": "org"``, the console's export):
                       per ``org.entry``, the endpoint record it names (:mod:`.org`)
=====================  =====================================================================

What checks what: the checkpoint's signature (pin the key); each record's proof to the
checkpoint's root and its payload against the envelope's commitment; each erased record
against a proven erasure record; each content file against its name and a record that
names it; the window's leaves against the root (so none is missing, added or reordered);
the manifest against every member. The manifest is not signed, so a change that rewrites it
consistently is caught only by those cryptographic checks, which is why every part of
substance has one.
"""

from __future__ import annotations

from affidavit.evidence.build import BuildResult, build_pack
from affidavit.evidence.layout import FORMAT, Limits, PackRefusedError
from affidavit.evidence.readme import RECIPE
from affidavit.evidence.report import (
    PackReport,
    PackVerificationError,
    Problem,
    RecordCheck,
    WindowCheck,
)
from affidavit.evidence.verify import check_pack, verify_pack

__all__ = [
    "FORMAT",
    "RECIPE",
    "BuildResult",
    "Limits",
    "PackRefusedError",
    "PackReport",
    "PackVerificationError",
    "Problem",
    "RecordCheck",
    "WindowCheck",
    "build_pack",
    "check_pack",
    "verify_pack",
]

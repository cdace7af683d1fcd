"""The mid-market minimum: the four things most mid-market audits ask for, met or not met.

Pure, like :mod:`.checklist`, whose rules it reuses:

* **acceptable_use**: a written acceptable-use policy (``documents.acceptable_use``),
  reviewed within a year or covered by a current attestation;
* **folder_policy**: met when the checklist's folder-policy item is green;
* **version_history**: 90 days of file version history: Affidavit's own snapshots, kept
  since a first live record at least 90 days old under ``retention.minimum_days`` >= 90,
  or a current ``version_history`` attestation naming the cloud-sync provider and its
  retention setting (OneDrive, Google Drive, Dropbox version history), with who and when;
* **governance_review**: a review signed off with attendees (``affidavit review``) within
  ``governance.cadence_days``.
"""

from __future__ import annotations

from datetime import date

from affidavit.compliance.checklist import (
    GREEN,
    MET,
    MINIMUM,
    NOT_MET,
    Item,
    cloud_history,
    document_item,
    folder_policy_item,
    history_kept,
)
from affidavit.compliance.gather import Evidence
from affidavit.config import Config


def score_minimum(cfg: Config, evidence: Evidence, today: date) -> list[Item]:
    aup = document_item("acceptable_use", cfg, evidence, today)
    folders = folder_policy_item(cfg, evidence)
    history_ok, history = history_kept(cfg, evidence, today)
    cloud, cloud_shown, cloud_short = cloud_history(evidence, today)
    review = next((r for r in reversed(evidence.reviews) if r.attendees), None)
    age = None if review is None else (today - review.time.date()).days
    items = [
        Item(
            "acceptable_use",
            MINIMUM["acceptable_use"],
            MET if aup.status == GREEN else NOT_MET,
            aup.reason,
            aup.evidence,
            aup.change,
        ),
        Item(
            "folder_policy",
            MINIMUM["folder_policy"],
            MET if folders.status == GREEN else NOT_MET,
            folders.reason,
            folders.evidence,
            folders.change,
        ),
        Item(
            "version_history",
            MINIMUM["version_history"],
            MET if history_ok or cloud else NOT_MET,
            history
            if history_ok or not (cloud or cloud_short)
            else f"cloud-sync history {'held' if cloud else 'short: ' + '; '.join(cloud_short)}; "
            f"{history}",
            (history, *cloud_shown),
            "keep file contents (the hook's snapshot store) and retention.minimum_days >= 90, "
            "or pull the cloud-sync provider's version history (affidavit sources pull), or "
            "attest its retention setting: affidavit attest version_history --by NAME --note TEXT",
        ),
        Item(
            "governance_review",
            MINIMUM["governance_review"],
            MET if age is not None and age <= cfg.review_cadence_days else NOT_MET,
            "no review signed off with attendees"
            if review is None or age is None
            else f"last review {review.period} signed off {age} days ago "
            f"(due every {cfg.review_cadence_days} days)",
            ()
            if review is None
            else (f"review.signoff seq {review.seq}: attendees {', '.join(review.attendees)}",),
            "hold the review: affidavit review --attendee NAME --decision TEXT",
        ),
    ]
    return items

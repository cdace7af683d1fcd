"""External trails: what the systems around the agent recorded themselves.

* :mod:`.cloud`: cloud-sync version history (Google Drive, OneDrive, Dropbox), each agent
  edit linked to the provider revision that captured it; :mod:`.providers` and :mod:`.http`
  speak the providers' documented APIs.
* :mod:`.connectors`: connector-side audit logs (Salesforce Setup Audit Trail and Event Log
  Files, Microsoft 365 unified audit log) imported as ``connector.*`` records, matched
  against the agent's MCP connector calls.

Every source records a cursor with its records, in the same transaction, so it resumes
where it stopped and never records an entry twice; what it could not match is a gap
record, never silence.
"""

from __future__ import annotations

PROVIDER_NAMES = ("dropbox", "google-drive", "onedrive")
"""The keys of :data:`.providers.PROVIDERS`, here so the CLI lists them without importing it."""
FORMAT_NAMES = ("salesforce-audit", "salesforce-event", "unified-audit")
"""The keys of :data:`.connectors.FORMATS`, likewise."""

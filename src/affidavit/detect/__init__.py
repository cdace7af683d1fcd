"""Regulated-data detection.

:mod:`.detectors` (and the rule modules it gathers) are pure functions over text, low in the
tree: the capture-time folder policy runs them inside the agent's hook. :mod:`.scan` reads
folders and ledger records and sits high, above the ledger and the query index.
"""

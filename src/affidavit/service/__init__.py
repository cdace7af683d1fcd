"""The recorder service: the one writer of a ledger, under its own account.

``affidavit service`` owns the ledger and its signing key; hooks, running as the users the
agents run as, send it events over a Unix socket (:mod:`affidavit.capture.wire`). It records
who sent each event from the socket's peer credentials (:mod:`.peer`), never from what the
peer says, commits before it acknowledges, and seals on a schedule (:mod:`.server`).
:mod:`.recorder` turns requests into records; :mod:`.checks` refuses malformed ones.
"""

"""Capture: turn what an agent did (hook payloads, transcripts) into ledger records.

The hook path (:mod:`affidavit.capture.hook`) imports only the standard library and the
pure record code: it runs inside the agent on every tool call.
"""

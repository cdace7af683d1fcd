"""The starter ``affidavit.toml`` that ``affidavit config init`` writes: every field, commented.

Kept apart from :mod:`affidavit.config` (which parses and validates it) because it is text for
people, not code; a test parses it with :func:`affidavit.config.parse` so the two cannot drift.
"""

from __future__ import annotations

STARTER = """# affidavit.toml: the organisation's profile and policies.
# `affidavit config check` validates it; `affidavit checklist` and `affidavit posture` score it.
#
# This starter asserts nothing. Every fact below is commented out, and a fact that is absent
# scores red (unknown is never green). Uncomment a line only when you hold the evidence its
# comment names, and keep that evidence where a reviewer can ask for it.
# Dates are TOML dates (2026-03-01).

[org]
# name = "Your Company Ltd"          # printed on the review pack
# plan = "team"                      # pro | max | team | enterprise: the plan on your invoice
# dpa_signed = 2026-01-31            # the date on your countersigned Data Processing Addendum
# baa_signed = 2026-01-31            # the date on your signed Business Associate Agreement
#                                    # (HIPAA; the vendor offers it on Enterprise only)
# training_opt_out = true            # as the admin console shows it today
# training_opt_out_verified = 2026-01-31  # the day someone looked at the console
# dpo_signoff = { name = "Full Name", date = 2026-01-31 }  # your DPO's written sign-off

[workspace]
regulated = false                    # true only on the separate workspace for regulated folders

# One [[folders]] per folder granted to agents; paths outside every granted folder become
# findings. Until one is declared, the folder-policy item is red.
# [[folders]]
# path = "/srv/work/finance"
# function = "finance"               # the business function, for per-function logs
# forbidden_data = ["card", "ssn"]   # card ssn iban nhs phi email phone secret
# regulated = ["HIPAA"]              # HIPAA PCI GDPR SOX FERPA GLBA: regulated workspace only
# retention_days = 2555              # at least 90
# legal_hold = false

# The connector inventory: one [[connectors]] per connector from the admin console, with its
# OAuth scopes, an owner and the day it was last reviewed. If none is enabled, say so with
#   connectors = []
# (an absent inventory is unknown, so red).
# [[connectors]]
# name = "Google Drive"
# scopes = ["https://www.googleapis.com/auth/drive.readonly"]
# owner = "IT"
# reviewed = 2026-01-31

# Written policies: where each lives and the day it was last reviewed (yearly).
[documents]
# acceptable_use = { ref = "where the policy lives", reviewed = 2026-01-31 }
# memory_hygiene = { ref = "where the policy lives", reviewed = 2026-01-31 }
# joiner_mover_leaver = { ref = "where the procedure lives", reviewed = 2026-01-31 }

# Who answers when an agent does damage; confirm it answers with `affidavit attest
# incident_response --by NAME --note TEXT`.
[incident_response]
# name = "Security on-call"
# channel = "the channel or phone number"

[governance]
cadence_days = 31                    # the governance review is due this often
# start = 2026-01-01                 # review months count from here (default: the first
#                                    # record captured live; imported history never counts)

[retention]
minimum_days = 90                    # never erase anything younger (at least 90)
# maximum_days = 730                 # `affidavit retention --apply` erases payloads older
# [retention.functions]
# finance = 2555

[enforce]                            # true: the PreToolUse hook blocks the tool call (exit 2)
outside_granted = false
regulated_workspace = false
forbidden_data = false

[attestations]
expiry_days = 90                     # an `affidavit attest` counts this long

# The vendor facts in force ship with Affidavit (`affidavit facts show`); point at your own
# copy to replace them, and record each monthly re-check with `affidavit facts verify --by NAME`.
# [vendor]
# facts_file = "vendor-facts.toml"   # relative to this file

[capture]
# Contents of files the agent only READS are kept in the ledger (for rollback and diffs)
# only under these folders; elsewhere the ledger keeps their hash. "workspace" is the
# session's own folder. [] keeps no read contents at all.
keep_read_contents = ["workspace"]
keep_read_max_bytes = 1048576        # larger files read are hashed, not kept

# The recorder service (`affidavit service`) archives the ledger by itself every
# every_days (1-31; the checklist asks for one at least every 31 days), into a folder or
# S3 Object Lock, as the archive command does, and records each run.
# [archive]
# to = "s3://audit-archive/affidavit"   # or a folder, relative to this file
# every_days = 30
# endpoint_url = "https://s3.example.com"   # an S3-compatible store (default: AWS)
"""

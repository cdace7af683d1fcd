"""Who did what to which file, when: the ``actions`` table and the filters over it.

``actions`` is derived data: one row per record, flattened from the envelope and the payload
(see :data:`COLUMNS`), written by SQLite triggers in the same transaction as the record
(:mod:`affidavit.store.derived`) and checked row by row by ``affidavit verify``
(:mod:`affidavit.views`). The tree never covers it; its rows carry ``seq`` and
``leaf_hash`` so any row can be traced back to its proof. Erasing a record blanks every
payload-derived column of its row and sets ``erased``; the row stays.

The package: :mod:`~affidavit.query.rules` (folder rules, path matching, the ``function``
column), :mod:`~affidavit.query.filters` (filters, listings, read-only SQL) and
:mod:`~affidavit.query.reads` (what compliance, the report, evidence and export read).
"""

from __future__ import annotations

from affidavit.query.filters import COLUMNS as COLUMNS
from affidavit.query.filters import GROUPS as GROUPS
from affidavit.query.filters import PERSONAL as PERSONAL
from affidavit.query.filters import Filters as Filters
from affidavit.query.filters import actions as actions
from affidavit.query.filters import parse_moment as parse_moment
from affidavit.query.filters import reader as reader
from affidavit.query.filters import run_sql as run_sql
from affidavit.query.filters import totals as totals
from affidavit.query.reads import content_versions as content_versions
from affidavit.query.reads import count as count
from affidavit.query.reads import count_by as count_by
from affidavit.query.reads import file_activity as file_activity
from affidavit.query.reads import file_rows as file_rows
from affidavit.query.reads import file_totals as file_totals
from affidavit.query.reads import first_time as first_time
from affidavit.query.reads import last_indexed as last_indexed
from affidavit.query.reads import mcp_tools as mcp_tools
from affidavit.query.reads import select as select
from affidavit.query.rules import Rule as Rule
from affidavit.query.rules import function_of as function_of
from affidavit.query.rules import path_clause as path_clause
from affidavit.query.rules import path_matches as path_matches
from affidavit.query.rules import refresh as refresh
from affidavit.query.rules import rule_globs as rule_globs
from affidavit.query.rules import rules_in_force as rules_in_force

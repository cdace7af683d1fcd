"""Business functions from folder rules, and paths matched against folders and globs.

Rules are ``(glob, function)`` pairs matched against a record's path, first match wins. The
``actions`` index keeps a ``function`` column derived from them in SQL (the rules are copied
into ``function_rules`` as GLOB patterns: :func:`refresh`); :func:`path_matches` is the same
match in Python.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Sequence

from affidavit.errors import InputError
from affidavit.store import derived
from affidavit.store.sqlite import SqliteStore

Rule = tuple[str, str]


def _dirname(path: str) -> str:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut] if cut > 0 else path[: cut + 1]


def function_of(path: str | None, rules: Sequence[Rule]) -> str | None:
    if not path:
        return None
    for pattern, function in rules:
        if path_matches(path, pattern):
            return function
    return None


def path_matches(path: str, pattern: str) -> bool:
    """A folder or glob: ``finance`` and ``finance/**`` match any path under a ``finance``
    folder; an absolute pattern matches from the root."""
    path = path.replace("\\", "/")
    pattern = pattern.replace("\\", "/").rstrip("/")
    if not any(c in pattern for c in "*?["):
        pattern += "/**"
    pattern = pattern.replace("**", "*")
    if pattern.startswith("/"):
        return fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern)


def _glob(pattern: str) -> str:
    """fnmatch syntax (``**`` and ``*`` alike, ``[!x]``) as SQLite GLOB syntax."""
    return pattern.replace("**", "*").replace("[!", "[^")


def path_clause(pattern: str) -> tuple[str, list[object]]:
    """The SQL for :func:`path_matches`, evaluated by SQLite's GLOB in C (a million rows in
    a fraction of a second, where a Python callback per row takes seconds). Windows paths
    are matched by the same pattern with backslashes, as GLOB has no escape character."""
    pattern = pattern.replace("\\", "/").rstrip("/")
    if not any(c in pattern for c in "*?["):
        pattern += "/**"
    globs = [_glob(pattern)] if pattern.startswith("/") else [_glob(pattern), "*/" + _glob(pattern)]
    globs += [g.replace("/", "\\") for g in globs if "/" in g]
    return "(" + " OR ".join(["path GLOB ?"] * len(globs)) + ")", list(globs)


# The distinct folders of the index, one index seek each (a loose index scan): a ledger of
# millions of records has thousands of folders at most.
_FOLDERS = (
    "WITH RECURSIVE f(x) AS (SELECT min(folder) FROM actions UNION ALL "
    "SELECT (SELECT min(folder) FROM actions WHERE folder > f.x) FROM f WHERE f.x IS NOT NULL) "
    "SELECT x FROM f WHERE "
)


def folder_clause(globs: Sequence[object]) -> tuple[str, list[object]] | None:
    """A condition on ``folder`` that every row :func:`path_clause` matches also meets, so
    SQLite reads the matching folders through their index instead of every row; None when a
    glob leaves the folder open (``*.xlsx``: any folder may hold a match).

    A path matches ``X/*`` exactly when it has a ``/`` after a prefix matching ``X``; every
    such ``/`` lies within the path's folder plus its last separator, so the folder plus ``/``
    matches ``X/*`` too (the same for ``\\``). The path clause still decides each row."""
    tests: list[str] = []
    args: list[object] = []
    for glob in globs:
        text = str(glob)
        if len(text) < 2 or text[-1] != "*" or text[-2] not in "/\\":
            return None
        tests.append("x || ? GLOB ?")
        args += [text[-2], text]
    return f"folder IN ({_FOLDERS}{' OR '.join(tests)})", args


def rules_in_force(store: SqliteStore) -> list[Rule]:
    """The folder → function rules of the affidavit.toml in force; if it cannot be read
    now, the rules the index was last built with (so a broken file never blanks them)."""
    from affidavit import config

    try:
        return config.load().function_rules
    except InputError:
        stored = store.meta("actions_rules")
        return [(str(a), str(b)) for a, b in json.loads(stored)] if stored else []


def rule_globs(rules: Sequence[Rule]) -> list[tuple[int, str, str]]:
    """The ``function_rules`` rows for ``rules``: (rule number, GLOB, function)."""
    out: list[tuple[int, str, str]] = []
    for number, (pattern, function) in enumerate(rules):
        _, globs = path_clause(pattern)
        out += [(number, str(g), function) for g in globs]
    return out


def refresh(store: SqliteStore, rules: Sequence[Rule] | None = None) -> int:
    """Bring the ``function`` column in line with the folder rules in force; returns the
    number of rows whose function was re-derived (0 when the rules did not change).

    The rows themselves need no refresh: SQLite triggers derive each one when its record
    is written (:mod:`affidavit.store.derived`). ``rules`` default to
    :func:`rules_in_force`, so every command sees the same ``function`` column.
    """
    if rules is None:
        rules = rules_in_force(store)
    fingerprint = json.dumps(list(rules))
    if store.meta("actions_rules") == fingerprint:
        return 0
    conn = store.connection
    store.begin()
    try:
        conn.execute("DELETE FROM function_rules")
        conn.executemany("INSERT INTO function_rules VALUES (?, ?, ?)", rule_globs(rules))
        changed = conn.execute(
            f"UPDATE actions SET function = {derived.function_sql('actions.path')} "
            "WHERE path IS NOT NULL OR function IS NOT NULL"
        ).rowcount
        store.set_meta("actions_rules", fingerprint)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    return int(changed)

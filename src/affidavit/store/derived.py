"""SQL that keeps the derived tables a function of the records, inside every write.

The ``actions`` index (one flattened row per record), ``tool_uses``, ``file_state`` and
``blobs`` are not covered by the tree. So that none of them can say more than the records
do, SQLite maintains them with triggers in the very transaction that writes a record:

* a record appended: its ``actions`` row is derived from its leaf and payload (and a
  ``capture.corroboration`` record marks the rows it names as corroborated);
* a record deleted (never by Affidavit; by hand or by damage): its rows go with it;
* a payload erased: its ``actions`` row loses every payload-derived column, and its
  ``tool_uses`` rows, the ``file_state`` rows of its path, the content blobs no live
  record refers to any more, the convention memo of its folder and the cached account
  (the hook reads it again) are deleted.

Triggers fire for every writer (the ledger, the hook, the importer, a plain ``sqlite3``
session), so no caller can forget them. They use only SQLite's built-in JSON functions: the
hook's connections register no Python functions. :mod:`affidavit.views` holds the same
derivation in Python and checks every stored row against it (``affidavit verify``).

Column semantics, the contract both sides implement: a text column holds the payload value
at its path when that value is a JSON string (up to its first NUL, as SQLite's JSON
functions return it), else NULL; ``size`` an integer likewise;
``folder`` is the path up to its last ``/`` or ``\\``; ``function`` the first folder rule in
``function_rules`` whose glob matches the path.
"""

from __future__ import annotations

# (column, JSON path in the payload, JSON type it must have)
PAYLOAD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("actor_user", "$.actor.user", "text"),
    ("actor_email", "$.actor.email", "text"),
    ("agent", "$.agent.product", "text"),
    ("session_id", "$.agent.session_id", "text"),
    ("tool_use_id", "$.agent.tool_use_id", "text"),
    ("tool", "$.agent.tool", "text"),
    ("path", "$.file.path", "text"),
    ("before_sha256", "$.file.before_sha256", "text"),
    ("after_sha256", "$.file.after_sha256", "text"),
    ("size", "$.file.size", "integer"),
    ("command", "$.command.text", "text"),
)
ENVELOPE_COLUMNS = ("time", "kind", "source")

ACTIONS_DDL = """
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    actor_user TEXT,
    actor_email TEXT,
    agent TEXT,
    session_id TEXT,
    tool_use_id TEXT,
    tool TEXT,
    path TEXT,
    folder TEXT,
    function TEXT,
    before_sha256 TEXT,
    after_sha256 TEXT,
    size INTEGER,
    command TEXT,
    corroborated INTEGER NOT NULL,
    erased INTEGER NOT NULL,
    leaf_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_time ON actions (time);
CREATE INDEX IF NOT EXISTS actions_folder ON actions (folder, time);
CREATE INDEX IF NOT EXISTS actions_function ON actions (function, time);
CREATE INDEX IF NOT EXISTS actions_kind ON actions (kind, time);
CREATE INDEX IF NOT EXISTS actions_actor ON actions (actor_email, actor_user, time);
CREATE INDEX IF NOT EXISTS actions_session ON actions (session_id, time);
CREATE TABLE IF NOT EXISTS function_rules (
    rule INTEGER NOT NULL,
    glob TEXT NOT NULL,
    function TEXT NOT NULL
);
"""


def folder_sql(path: str) -> str:
    """``path`` up to (not including) its last separator; the root separator stays."""
    head = f"rtrim({path}, replace(replace({path}, '/', ''), '\\', ''))"
    return (
        f"CASE WHEN {path} IS NULL OR {path} = '' THEN NULL "
        f"WHEN length({head}) > 1 THEN substr({head}, 1, length({head}) - 1) "
        f"ELSE {head} END"
    )


def function_sql(path: str) -> str:
    return f"(SELECT function FROM function_rules WHERE {path} GLOB glob ORDER BY rule LIMIT 1)"


def _typed(payload: str, json_path: str, json_type: str) -> str:
    return (
        f"CASE json_type({payload}, '{json_path}') WHEN '{json_type}' "
        f"THEN json_extract({payload}, '{json_path}') END"
    )


def derive_select(seq: str, leaf: str, leaf_hash: str, payload: str, source: str = "") -> str:
    """A SELECT of ``actions`` rows (all columns, in order) from a record's columns;
    ``source`` is the FROM clause they come from (none in a trigger: NEW.*)."""
    text_leaf, text_payload = f"CAST({leaf} AS TEXT)", f"CAST({payload} AS TEXT)"
    inner = ", ".join(
        [
            f"{seq} AS seq",
            *(f"json_extract({text_leaf}, '$.{c}') AS {c}" for c in ENVELOPE_COLUMNS),
            *(f"{_typed(text_payload, p, t)} AS {c}" for c, p, t in PAYLOAD_COLUMNS),
            f"({payload} IS NULL) AS erased",
            f"lower(hex({leaf_hash})) AS leaf_hash",
        ]
    )
    return (
        "SELECT seq, time, kind, source, actor_user, actor_email, agent, session_id, "
        f"tool_use_id, tool, path, {folder_sql('path')} AS folder, "
        f"{function_sql('path')} AS function, before_sha256, after_sha256, size, command, "
        f"0 AS corroborated, erased, leaf_hash FROM (SELECT {inner}{source})"
    )


_CLEARED = ", ".join(
    [f"{c} = NULL" for c, _, _ in PAYLOAD_COLUMNS] + ["folder = NULL", "function = NULL"]
)

# The content hashes a payload refers to: a file record's before/after, a convention
# snapshot's files.
_OLD_HASHES = """
    SELECT json_extract(CAST(OLD.payload AS TEXT), '$.file.before_sha256')
    UNION SELECT json_extract(CAST(OLD.payload AS TEXT), '$.file.after_sha256')
    UNION SELECT json_extract(j.value, '$.sha256')
        FROM json_each(CAST(OLD.payload AS TEXT), '$.conventions.files') AS j
        WHERE json_valid(CAST(OLD.payload AS TEXT)) AND j.type = 'object'
"""

# No index on before_sha256 / after_sha256: their keys are random, so each batch of appends
# rewrote a page of such an index per record, a cost that grew with the ledger (1,000 records
# into 1M cost 1.9x what they cost into 10k). What needs the lookup is rare: erasing a record
# whose content is still stored scans ``actions`` once for that blob, and ``verify`` checks
# all blobs in one scan (LIVE_HASHES_SQL).
DROPPED_INDEXES = ("actions_before", "actions_after")

LIVE_HASH_SQL = """
    EXISTS (SELECT 1 FROM actions a WHERE a.erased = 0
        AND (a.before_sha256 = {h} OR a.after_sha256 = {h}))
    OR EXISTS (
        SELECT 1 FROM actions c JOIN records r ON r.seq = c.seq,
            json_each(CAST(r.payload AS TEXT), '$.conventions.files') AS j
        WHERE c.kind = 'convention.snapshot' AND r.payload IS NOT NULL
            AND j.type = 'object' AND json_extract(j.value, '$.sha256') = {h}
    )
"""

LIVE_HASHES_SQL = """
    SELECT before_sha256 FROM actions WHERE erased = 0 AND before_sha256 IS NOT NULL
    UNION ALL SELECT after_sha256 FROM actions WHERE erased = 0 AND after_sha256 IS NOT NULL
    UNION ALL SELECT json_extract(j.value, '$.sha256')
        FROM actions c JOIN records r ON r.seq = c.seq,
            json_each(CAST(r.payload AS TEXT), '$.conventions.files') AS j
        WHERE c.kind = 'convention.snapshot' AND r.payload IS NOT NULL
            AND j.type = 'object' AND json_extract(j.value, '$.sha256') IS NOT NULL
"""
"""Every content hash a live record refers to (the set form of LIVE_HASH_SQL, no NULLs, so
``NOT IN`` it is exact)."""

_NEW_ROW = derive_select("NEW.seq", "NEW.leaf", "NEW.leaf_hash", "NEW.payload")

TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS records_derive AFTER INSERT ON records BEGIN
    INSERT OR REPLACE INTO actions {_NEW_ROW};
    UPDATE actions SET corroborated = 1
        WHERE NEW.payload IS NOT NULL
        AND json_extract(CAST(NEW.leaf AS TEXT), '$.kind') = 'capture.corroboration'
        AND seq IN (
            SELECT value FROM json_each(CAST(NEW.payload AS TEXT), '$.seqs')
            WHERE type = 'integer' AND value < NEW.seq
        );
END;
CREATE TRIGGER IF NOT EXISTS records_erase AFTER UPDATE OF payload ON records
WHEN OLD.payload IS NOT NULL AND NEW.payload IS NULL BEGIN
    UPDATE actions SET {_CLEARED}, erased = 1 WHERE seq = NEW.seq;
    UPDATE actions SET corroborated = (
        SELECT count(*) > 0 FROM actions c JOIN records r ON r.seq = c.seq,
            json_each(CAST(r.payload AS TEXT), '$.seqs') AS j
        WHERE c.kind = 'capture.corroboration' AND r.payload IS NOT NULL
            AND j.type = 'integer' AND j.value = actions.seq AND c.seq > actions.seq
    ) WHERE json_extract(CAST(OLD.leaf AS TEXT), '$.kind') = 'capture.corroboration'
        AND seq IN (
            SELECT value FROM json_each(CAST(OLD.payload AS TEXT), '$.seqs')
            WHERE type = 'integer'
        );
    DELETE FROM tool_uses WHERE seq = NEW.seq;
    DELETE FROM file_state
        WHERE path = json_extract(CAST(OLD.payload AS TEXT), '$.file.path')
        OR path = json_extract(CAST(OLD.payload AS TEXT), '$.file.old_path')
        OR sha256 IN ({_OLD_HASHES});
    DELETE FROM meta WHERE key = 'actor_cache' OR key = 'conventions:'
        || json_extract(CAST(OLD.payload AS TEXT), '$.agent.cwd');
    DELETE FROM blobs WHERE sha256 IN ({_OLD_HASHES})
        AND NOT ({LIVE_HASH_SQL.format(h="blobs.sha256")});
END;
CREATE TRIGGER IF NOT EXISTS records_delete AFTER DELETE ON records BEGIN
    DELETE FROM actions WHERE seq = OLD.seq;
    DELETE FROM tool_uses WHERE seq = OLD.seq;
END;
"""

TRIGGER_NAMES = ("records_derive", "records_erase", "records_delete")


def statements(script: str) -> list[str]:
    """Split a script of DDL into statements; trigger bodies hold ``;`` of their own."""
    out: list[str] = []
    current: list[str] = []
    depth = 0
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        current.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER"):
            depth = 1
        if depth and upper == "END;":
            depth = 0
        if not depth and stripped.endswith(";"):
            out.append("\n".join(current).rstrip(";"))
            current = []
    return out


REBUILD = [
    "DELETE FROM actions",
    "INSERT INTO actions "
    + derive_select(
        "r.seq", "r.leaf", "r.leaf_hash", "r.payload", " FROM records r ORDER BY r.seq"
    ),
    """UPDATE actions SET corroborated = 1 WHERE seq IN (
        SELECT j.value FROM actions c JOIN records r ON r.seq = c.seq,
            json_each(CAST(r.payload AS TEXT), '$.seqs') AS j
        WHERE c.kind = 'capture.corroboration' AND r.payload IS NOT NULL
            AND j.type = 'integer' AND j.value < c.seq
    )""",
]
"""Re-derive the whole ``actions`` table from the records (a ledger made before the triggers,
or one whose index was dropped)."""

"""Verified views: every derived table checked against the verified records.

``log``, ``sql``, the exports, the report and the compliance scoring read the ``actions``
index; rollback reads ``blobs``; capture deduplicates through ``tool_uses`` and hashes
through ``file_state``. None of them is covered by the tree, so ``affidavit verify`` checks
each one against the records it has just verified, in the same read snapshot, and names the
first row that disagrees, e.g. ``actions row for seq 812: path differs from the committed
payload``.

The ``actions`` check is two-stage so it costs little beside the tree check: one SQL pass
compares every stored row with its record through SQLite's JSON functions (one parse per
payload), and each row it flags is rederived in Python (:func:`expected_actions_row`, an
implementation of the contract in :mod:`affidavit.store.derived` independent of the
triggers' SQL) before it is called a failure.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import zlib
from binascii import b2a_base64
from collections.abc import Callable, Sequence
from typing import Any

from affidavit import merkle
from affidavit.errors import InputError, VerificationError
from affidavit.query import COLUMNS
from affidavit.record import read_leaf
from affidavit.store import derived
from affidavit.store.sqlite import SqliteStore
from affidavit.verify.beside import Part, SplitCheck

ViewCheck = Callable[[SqliteStore], int]


def _dirname(path: str) -> str:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut] if cut > 0 else path[: cut + 1]


def _at(value: Any, json_path: str) -> Any:
    for key in json_path[2:].split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


_fast_loads: Callable[[bytes], Any] | None
try:  # the [fast] extra; never on the hook's path (the hook does not import this module)
    from orjson import JSONDecodeError as _FastError
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - json alone gives the same values, slower
    _fast_loads = None


def load_payload(payload: bytes) -> Any:
    """A committed payload parsed, by orjson when it is installed (several times faster).

    The value is always json's: what orjson refuses (a lone surrogate escape, a number past
    the float range) or reads differently (an integer past 64 bits) is parsed by json, so the
    answer never depends on which is installed (tests/test_payload_values.py)."""
    # orjson reads an integer past 64 bits as a float, silently: a payload with 19 digits in
    # a row (a number that long, or digits inside a string) is left to json.
    if _fast_loads is not None and not _LONG_DIGITS(payload):
        try:
            return _fast_loads(payload)
        except _FastError:
            pass
    return json.loads(payload)


_LONG_DIGITS = re.compile(rb"[0-9]{19}").search


def _typed(value: Any, json_type: str) -> Any:
    if json_type == "text":
        # SQLite's JSON functions end a string at its first NUL (C strings).
        return value.split("\x00", 1)[0] if type(value) is str else None
    return value if type(value) is int else None


def expected_actions_row(
    store: SqliteStore, seq: int, leaf: bytes, leaf_hash: bytes, payload: bytes | None
) -> dict[str, Any]:
    """The ``actions`` row the contract gives for one record (``corroborated`` aside)."""
    env = json.loads(leaf)
    body: Any = {}
    if payload is not None:
        try:
            body = json.loads(payload)
        except ValueError:
            body = {}
    row: dict[str, Any] = {"seq": seq, **{c: env.get(c) for c in derived.ENVELOPE_COLUMNS}}
    for column, json_path, json_type in derived.PAYLOAD_COLUMNS:
        row[column] = None if payload is None else _typed(_at(body, json_path), json_type)
    path = row["path"]
    row["folder"] = _dirname(path) if path else None
    row["function"] = None
    if path is not None:
        found = store.connection.execute(
            "SELECT function FROM function_rules WHERE ? GLOB glob ORDER BY rule LIMIT 1", (path,)
        ).fetchone()
        row["function"] = None if found is None else found[0]
    row["erased"] = 1 if payload is None else 0
    row["leaf_hash"] = leaf_hash.hex()
    return row


def committed_row(
    seq: int,
    leaf: object,
    leaf_hash: object,
    salt: object,
    payload: object,
    function_of: Callable[[str], str | None],
) -> tuple[tuple[Any, ...], Any]:
    """The ``actions`` columns of one record (``corroborated`` as 0), taken from its leaf and
    committed payload after checking both: leaf hash, envelope, commitment; and the payload
    parsed (None once erased), so an exporter need not parse it again. What an export
    writes comes from here, never from the index, so an edited index cannot change it.

    Raises :class:`VerificationError` naming the record when a check fails.
    """
    where = f"record {seq}"
    if type(leaf) is not bytes or type(leaf_hash) is not bytes:
        raise VerificationError(
            f"{where} is listed in the index but its row does not read back; "
            "run `affidavit verify`",
            where=where,
        )
    if merkle.leaf_hash(leaf) != leaf_hash:
        raise VerificationError(f"{where}: its leaf does not hash to its leaf hash", where=where)
    try:
        b64, kind, source, time = read_leaf(leaf)
    except InputError as e:
        raise VerificationError(f"{where}: {e}", where=where) from e
    body: Any = None
    values: list[Any]
    if payload is not None:
        if (
            type(payload) is not bytes
            or type(salt) is not bytes
            or b2a_base64(hashlib.sha256(salt + payload).digest(), newline=False) != b64
        ):
            raise VerificationError(
                f"{where}: its payload does not match its commitment; run `affidavit verify`",
                where=where,
            )
        body = load_payload(payload)
        values = _payload_values(body)
    else:
        values = [None] * len(derived.PAYLOAD_COLUMNS)
    path = values[_PATH]
    columns = (
        seq,
        time,
        kind,
        source,
        *values[: _PATH + 1],
        (_dirname(path) if path else None),
        (function_of(path) if path is not None else None),
        *values[_PATH + 1 :],
        0,
        1 if payload is None else 0,
        leaf_hash.hex(),
    )
    return columns, body


_PATH = [c for c, _, _ in derived.PAYLOAD_COLUMNS].index("path")
# The payload columns by section, in column order: ``(section, ((key, is_text), ...))``. Each
# section is looked up once per record, not once per column (the export's hottest loop).
_SECTIONS: list[tuple[str, tuple[tuple[str, bool], ...]]] = []
for _column, _path, _type in derived.PAYLOAD_COLUMNS:
    _head, _key = _path[2:].split(".")  # every payload column is $.section.key
    if not _SECTIONS or _SECTIONS[-1][0] != _head:
        _SECTIONS.append((_head, ()))
    _SECTIONS[-1] = (_head, (*_SECTIONS[-1][1], (_key, _type == "text")))


def _payload_values(body: Any) -> list[Any]:
    """The payload columns of one parsed payload, as :func:`_typed` of :func:`_at` gives."""
    values: list[Any] = []
    for name, fields in _SECTIONS:
        part = body.get(name) if type(body) is dict else None
        if type(part) is not dict:
            values += [None] * len(fields)
            continue
        for key, is_text in fields:
            value = part.get(key)
            if is_text:
                if type(value) is not str:
                    value = None
                elif "\x00" in value:  # SQLite's JSON functions end a string at a NUL
                    value = value.split("\x00", 1)[0]
            elif type(value) is not int:
                value = None
            values.append(value)
    return values


def _folder_of_sql(folder: str, path: str) -> str:
    """1 when ``folder`` is ``path``'s folder (:func:`_dirname`, the contract), else 0 or NULL.

    Checks the stored folder against the path instead of deriving it again: the derivation
    (:func:`affidavit.store.derived.folder_sql`) trims with a character set as long as the
    path, which cost as much as parsing the payload. Here: a folder is a prefix of the path
    followed by a separator, with no separator after it; the root separator is its own
    folder; a path without separators has the empty folder. SQLite's text functions stop at
    a NUL, which no derived path holds (the triggers cut values there), so a path with one
    is always flagged and the row rechecked in Python.
    """
    seps = "instr({x}, '/') = 0 AND instr({x}, '\\') = 0"
    rest = f"substr({path}, length({folder}) + 2)"
    return (
        f"CASE WHEN {path} IS NULL OR {path} = '' THEN {folder} IS NULL "
        f"WHEN instr(CAST({path} AS BLOB), x'00') > 0 THEN 0 "
        f"WHEN {folder} = '' THEN {seps.format(x=path)} "
        f"WHEN {folder} IN ('/', '\\') AND substr({path}, 1, 1) = {folder} "
        f"AND {seps.format(x=f'substr({path}, 2)')} THEN 1 "
        f"ELSE substr({path}, 1, length({folder})) = {folder} "
        f"AND substr({path}, length({folder}) + 1, 1) IN ('/', '\\') "
        f"AND {seps.format(x=rest)} END"
    )


_PAYLOAD_PATHS = ", ".join(f"'{p}'" for _, p, _ in derived.PAYLOAD_COLUMNS)
_PAYLOAD_STORED = ", ".join(f"a.{c}" for c, _, _ in derived.PAYLOAD_COLUMNS)
_ENVELOPE_PATHS = ", ".join(f"'$.{c}'" for c in derived.ENVELOPE_COLUMNS)
_ENVELOPE_STORED = ", ".join(f"a.{c}" for c in derived.ENVELOPE_COLUMNS)


def _json_differs(stored: str, json_text: str, paths: str, *, guarded: bool) -> str:
    """``json_array(stored) IS NOT json_extract(json_text, paths)``: SQLite's JSON functions
    raise on a BLOB, so the guarded form flags a row holding one before comparing."""
    compare = f"json_array({stored}) IS NOT json_extract({json_text}, {paths})"
    if not guarded:
        return compare
    blobs = ", ".join(f"typeof({c})" for c in stored.split(", "))
    return f"(CASE WHEN 'blob' IN ({blobs}) THEN 1 ELSE {compare} END)"


def _flagged_sql(*, guarded: bool) -> str:
    """The rows of seqs ``:start <= seq < :end`` that may disagree with their record, for
    the Python recheck."""
    leaf = _json_differs(_ENVELOPE_STORED, "CAST(r.leaf AS TEXT)", _ENVELOPE_PATHS, guarded=guarded)
    payload = _json_differs(
        _PAYLOAD_STORED, "CAST(r.payload AS TEXT)", _PAYLOAD_PATHS, guarded=guarded
    )
    return f"""
SELECT r.seq, r.leaf, r.leaf_hash, r.payload, a.seq IS NOT NULL
FROM records r LEFT JOIN actions a ON a.seq = r.seq
WHERE r.seq >= :start AND r.seq < :end AND (a.seq IS NULL
    OR a.leaf_hash IS NOT lower(hex(r.leaf_hash))
    OR {leaf}
    OR a.erased IS NOT (r.payload IS NULL)
    OR CASE WHEN r.payload IS NULL
        THEN coalesce({_PAYLOAD_STORED}, a.folder, a.function) IS NOT NULL
        ELSE {payload} END
    OR ({_folder_of_sql("a.folder", "a.path")}) IS NOT 1
    OR a.function IS NOT (CASE WHEN EXISTS (SELECT 1 FROM function_rules)
        THEN {derived.function_sql("a.path")} END))
ORDER BY r.seq
"""


_FLAGGED = _flagged_sql(guarded=False)
# Only when the fast form meets a BLOB (a hand edit): typeof() on every column costs.
_FLAGGED_GUARDED = _flagged_sql(guarded=True)
_SEQS = (-(2**63), 2**63 - 1)  # every seq SQLite can store; ``end`` excluded, so none is >


def _recheck_flagged(store: SqliteStore, flagged: str, part: Part) -> None:
    """Rederive each flagged row in Python; raise naming the first that truly differs."""
    conn = store.connection
    start, end = part
    bounds = {"start": _SEQS[0] if start is None else start, "end": end}
    if end is None:  # the last part: up to the largest seq, which ``<`` would leave out
        flagged = flagged.replace("r.seq < :end", "r.seq <= :end")
        bounds["end"] = _SEQS[1]
    for seq, leaf, leaf_hash, payload, present in conn.execute(flagged, bounds):
        where = f"actions row for seq {seq}"
        if not present:
            raise VerificationError(f"{where} is missing from the index", where=where)
        found = conn.execute("SELECT * FROM actions WHERE seq = ?", (seq,)).fetchone()
        stored = dict(zip(COLUMNS, found, strict=True))
        want = expected_actions_row(store, seq, leaf, leaf_hash, payload)
        for column, value in want.items():
            if stored[column] != value or type(stored[column]) is not type(value):
                source = (
                    "envelope"
                    if column in derived.ENVELOPE_COLUMNS
                    else "record"
                    if column in ("leaf_hash", "erased", "seq")
                    else "committed payload"
                )
                raise VerificationError(f"{where}: {column} differs from the {source}", where=where)


def _actions_part(store: SqliteStore, part: Part) -> None:
    """Check the ``actions`` rows of the records in one range of seqs."""
    try:
        _recheck_flagged(store, _FLAGGED, part)
    except sqlite3.OperationalError as e:
        if "BLOB" not in str(e):
            raise
        _recheck_flagged(store, _FLAGGED_GUARDED, part)


def _actions_finish(store: SqliteStore) -> int:
    """What spans the parts: rows without a record, the corroborated marks; the row count."""
    conn = store.connection
    extra = conn.execute(
        "SELECT a.seq FROM actions a WHERE NOT EXISTS "
        "(SELECT 1 FROM records r WHERE r.seq = a.seq) LIMIT 1"
    ).fetchone()
    if extra is not None:
        where = f"actions row for seq {extra[0]}"
        raise VerificationError(f"{where} has no record", where=where)
    _check_corroborated(store)
    return int(conn.execute("SELECT count(*) FROM actions").fetchone()[0])


def actions_check(*, part_size: int = 16_384) -> SplitCheck[SqliteStore]:
    """The check of the ``actions`` index, in parts of ``part_size`` seqs that
    ``affidavit verify`` shares between its two threads (:mod:`affidavit.verify.beside`)."""
    if part_size < 1:
        raise ValueError(f"part_size {part_size} is not a positive number of seqs")

    def parts(store: SqliteStore) -> list[Part]:
        low, high = store.connection.execute("SELECT min(seq), max(seq) FROM records").fetchone()
        if type(low) is not int or type(high) is not int:  # no records (or a damaged seq)
            return [(None, None)]
        cuts = list(range(low + part_size, high + 1, part_size))
        return list(zip([None, *cuts], [*cuts, None], strict=True))

    return SplitCheck(parts, _actions_part, _actions_finish)


check_actions = actions_check()
"""Check the ``actions`` index row by row; returns the number of rows checked."""


def _check_corroborated(store: SqliteStore) -> None:
    conn = store.connection
    named: set[int] = set()
    rows = conn.execute(
        "SELECT r.seq, r.payload FROM actions c JOIN records r ON r.seq = c.seq "
        "WHERE c.kind = 'capture.corroboration' AND r.payload IS NOT NULL"
    )
    for seq, payload in rows:
        try:
            seqs = json.loads(payload).get("seqs")
        except (ValueError, AttributeError):
            continue
        if isinstance(seqs, list):
            named.update(s for s in seqs if type(s) is int and s < seq)
    marked: set[int] = set()
    for seq, value in conn.execute(
        "SELECT seq, corroborated FROM actions WHERE corroborated IS NOT 0"
    ):
        if value != 1 or type(value) is not int:
            where = f"actions row for seq {seq}"
            raise VerificationError(f"{where}: corroborated is not 0 or 1", where=where)
        marked.add(int(seq))
    wrong = sorted(marked ^ (named & _existing(store, named)))
    if wrong:
        where = f"actions row for seq {wrong[0]}"
        state = "marked" if wrong[0] in marked else "not marked"
        raise VerificationError(
            f"{where}: {state} corroborated, unlike the corroboration records", where=where
        )


def _existing(store: SqliteStore, seqs: set[int]) -> set[int]:
    size = store.size()
    return {s for s in seqs if 0 <= s < size}


def _table_check(store: SqliteStore, table: str, first_bad: str, where: str, why: str) -> int:
    """Raise naming the first row ``first_bad`` selects (its columns fill ``where`` and
    ``why``); else return how many rows ``table`` holds."""
    conn = store.connection
    bad = conn.execute(first_bad + " LIMIT 1").fetchone()
    if bad is not None:
        place = where.format(*bad)
        raise VerificationError(f"{place}: {why.format(*bad)}", where=place)
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def check_tool_uses(store: SqliteStore) -> int:
    """Each ``tool_uses`` row points at a live record of the same source and kind."""
    return _table_check(
        store,
        "tool_uses",
        "SELECT t.tool_use_id, t.seq FROM tool_uses t LEFT JOIN actions a "
        "ON a.seq = t.seq WHERE a.seq IS NULL OR a.erased OR a.source IS NOT t.source "
        "OR a.kind IS NOT t.kind",
        "tool_uses row {0!r}",
        "no live record {1} of that source and kind",
    )


def check_file_state(store: SqliteStore) -> int:
    """Each cached (path, hash) is one a live record committed to for that path."""
    return _table_check(
        store,
        "file_state",
        "SELECT f.path FROM file_state f WHERE NOT EXISTS (SELECT 1 FROM actions a "
        "WHERE a.path = f.path AND a.erased = 0 "
        "AND (a.after_sha256 = f.sha256 OR a.before_sha256 = f.sha256))",
        "file_state row for {0!r}",
        "no live record commits to its hash for that path",
    )


def check_blobs(store: SqliteStore) -> int:
    """Each content blob hashes to its name and is referred to by a live record."""
    conn = store.connection
    # One scan of the index for all blobs (the hashes have no index of their own).
    orphan = conn.execute(
        f"SELECT sha256 FROM blobs WHERE sha256 NOT IN ({derived.LIVE_HASHES_SQL}) "
        "ORDER BY sha256 LIMIT 1"
    ).fetchone()
    if orphan is not None:
        where = f"blob {_shown(orphan[0])}"
        raise VerificationError(
            f"{where}: no live record refers to it (left behind by an erasure?)", where=where
        )
    count = 0
    for sha, size, codec, data in conn.execute("SELECT sha256, size, codec, data FROM blobs"):
        where = f"blob {_shown(sha)}"
        if codec not in ("zlib", "raw") or type(data) is not bytes:
            raise VerificationError(f"{where}: its codec {codec!r} is not zlib or raw", where=where)
        try:
            content = zlib.decompress(data) if codec == "zlib" else data
        except (zlib.error, TypeError) as e:
            raise VerificationError(f"{where}: its content does not decompress", where=where) from e
        if hashlib.sha256(content).hexdigest() != sha:
            raise VerificationError(f"{where}: its content does not hash to its name", where=where)
        if size != len(content):
            raise VerificationError(f"{where}: its size is not its content's", where=where)
        count += 1
    return count


def _shown(name: object) -> str:
    """A blob's name as it reads in a one-line message (an odd one quoted)."""
    return name if isinstance(name, str) and name.isalnum() and name.isascii() else repr(name)


VIEWS: Sequence[tuple[str, ViewCheck]] = (
    ("actions", check_actions),
    ("tool_uses", check_tool_uses),
    ("file_state", check_file_state),
    ("blobs", check_blobs),
)
"""Every derived table and its check, in the order ``affidavit verify`` runs them."""

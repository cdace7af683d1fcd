"""ArcSight Common Event Format (CEF:0): one line per record.

``CEF:0|Affidavit|Affidavit|<version>|<kind>|<name>|<severity>|<extension>``: the record
kind is the Signature ID, the Name says what happened ("File updated"), severity is 1, or 3
for a failed action. Header fields escape ``\\`` and ``|`` with a backslash; extension values
escape ``\\`` and ``=`` and write a newline as ``\\n`` and a carriage return as ``\\r``, as the
CEF specification asks; a pipe needs no escape there.

Extension keys, standard where CEF has one:

========================  =================================================================
key                       value
========================  =================================================================
rt                        record time, epoch milliseconds
externalId                seq
cs1 / cs1Label=leafHash   leaf hash (hex): with externalId, the way back to the proof
deviceExternalId          ledger origin
deviceFacility            record source (claude-code.hook, ...)
cat / act                 kind family and verb (file / update)
outcome                   success or failure
suser / suid              OS user / Claude account uuid
cs5 / cs5Label=userEmail  account email
dvchost                   the capturing machine
cs2 / cs2Label=sessionId  agent session
cs3 / cs3Label=tool       tool name (Edit, Bash, mcp__server__tool...)
cs6 / cs6Label=agent      agent product (claude-code, cowork)
fname, filePath, fsize    the file (after the action; before it for a delete)
fileHash / oldFileHash    SHA-256 after / before the action
oldFilePath, oldFileName  a rename's old path
cs4 / cs4Label=command    the shell command line; cn1 / cn1Label=exitCode its exit code
request, requestMethod    web.fetch URL, GET
msg                       the prompt (prompt.submit), else the error; erased records say so
========================  =================================================================

Kinds without a Name of their own (capture, policy, review, erasure records...) get their
kind as the Name and are counted as unmapped. Erased records carry the envelope keys only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

from affidavit.export import (
    EpochMs,
    ExportReport,
    Lines,
    Row,
    basename,
    file_action,
    int_of,
    section,
    text_of,
)

NAMES = {
    "file.create": "File created",
    "file.read": "File read",
    "file.update": "File updated",
    "file.delete": "File deleted",
    "file.rename": "File renamed",
    "file.restore": "File restored",
    "command.exec": "Command executed",
    "tool.call": "Tool called",
    "tool.intent": "Tool call requested",
    "web.fetch": "Web page fetched",
    "web.search": "Web searched",
    "agent.spawn": "Subagent started",
    "prompt.submit": "Prompt submitted",
    "session.start": "Agent session started",
    "session.end": "Agent session ended",
    "permission.decision": "Permission decision",
    "convention.snapshot": "Agent instructions recorded",
}
OUTCOMES = {"ok": "success", "failed": "failure"}
_EXT = str.maketrans({"\\": "\\\\", "=": "\\=", "\n": "\\n", "\r": "\\r"})
_HEAD = str.maketrans({"\\": "\\\\", "|": "\\|", "\n": " ", "\r": " "})


def escape_header(value: str) -> str:
    if "\\" in value or "|" in value or "\n" in value or "\r" in value:
        return value.translate(_HEAD)
    return value


def escape_value(value: str) -> str:
    # Most values need no escape; four substring tests are far cheaper than a translate.
    if "\\" in value or "=" in value or "\n" in value or "\r" in value:
        return value.translate(_EXT)
    return value


class CefExporter:
    name = "cef"
    suffix = ".cef"

    def __init__(self, *, origin: str, version: str) -> None:
        self.origin = escape_value(origin)
        self.prefix = f"CEF:0|Affidavit|Affidavit|{escape_header(version)}|"
        self._ms = EpochMs()

    def write(self, rows: Iterable[Row], out: IO[bytes]) -> ExportReport:
        unmapped: Counter[str] = Counter()
        lines = Lines(out)
        written = erased = 0
        for row in rows:
            if row.payload is None:
                erased += 1
            elif row.kind not in NAMES:
                unmapped[row.kind] += 1
            lines.add(self.line(row) + "\n")
            written += 1
        lines.flush()
        return ExportReport(written, dict(unmapped), erased)

    def line(self, row: Row) -> str:
        """The CEF line of one record, without its newline."""
        name = NAMES.get(row.kind, row.kind)
        family, _, verb = row.kind.partition(".")
        ext: list[tuple[str, object]] = [
            ("rt", self._ms(row.time)),
            ("externalId", row.seq),
            ("cs1Label", "leafHash"),
            ("cs1", row.leaf_hash),
            ("deviceFacility", row.source),
            ("cat", family),
            ("act", verb or family),
        ]
        severity = 1
        if row.payload is None:
            name += " (payload erased)"
            ext.append(("msg", "payload erased; envelope only"))
        else:
            p: dict[str, Any] = json.loads(row.payload)
            outcome = OUTCOMES.get(text_of(p, "outcome") or "")
            if outcome:
                ext.append(("outcome", outcome))
                severity = 3 if outcome == "failure" else 1
            self._fill(row, p, ext)
        head = f"{escape_header(row.kind)}|{escape_header(name)}|{severity}|"
        body = " ".join(
            f"{key}={escape_value(value) if isinstance(value, str) else value}"
            for key, value in ext
        )
        return f"{self.prefix}{head}deviceExternalId={self.origin} {body}"

    def _fill(self, row: Row, p: dict[str, Any], ext: list[tuple[str, object]]) -> None:
        actor = section(p, "actor")
        pairs: list[tuple[str, object | None]] = [
            ("suser", row.actor_user),
            ("suid", text_of(actor, "account_uuid")),
            ("dvchost", text_of(actor, "host")),
            ("cs5Label", "userEmail" if row.actor_email else None),
            ("cs5", row.actor_email),
            ("cs2Label", "sessionId" if row.session_id else None),
            ("cs2", row.session_id),
            ("cs3Label", "tool" if row.tool else None),
            ("cs3", row.tool),
            ("cs6Label", "agent" if row.agent else None),
            ("cs6", row.agent),
        ]
        if row.path:
            file = section(p, "file")
            action = file_action(row.kind, file)
            before, after = row.before_sha256, row.after_sha256
            old = text_of(file, "old_path")
            pairs += [
                ("fname", basename(row.path)),
                ("filePath", row.path),
                ("fsize", row.size),
                ("fileHash", before if action == "delete" else after or before),
                ("oldFileHash", before if after is not None and action != "delete" else None),
                ("oldFilePath", old),
                ("oldFileName", basename(old) if old else None),
            ]
        if row.kind == "command.exec":
            code = int_of(section(p, "command"), "exit")
            pairs += [
                ("cs4Label", "command" if row.command else None),
                ("cs4", row.command),
                ("cn1Label", "exitCode" if code is not None else None),
                ("cn1", code),
            ]
        elif row.kind == "web.fetch":
            url = text_of(section(section(p, "tool"), "input"), "url")
            pairs += [("request", url), ("requestMethod", "GET" if url else None)]
        message = text_of(section(p, "prompt"), "text") or text_of(p, "error")
        pairs.append(("msg", message))
        ext += [(k, v) for k, v in pairs if v is not None and v != ""]

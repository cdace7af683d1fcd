"""OCSF 1.8.0 JSON Lines: one event per record (schema.ocsf.io, release 1.8.0).

Every event carries the base attributes the schema requires (``class_uid``, ``category_uid``,
``activity_id``, ``type_uid`` = class_uid * 100 + activity_id, ``severity_id`` 1
Informational, ``time`` in epoch milliseconds, ``metadata.version`` and ``metadata.product``)
and their captions. Traceability: ``metadata.sequence`` and ``metadata.original_event_uid``
hold the seq, ``metadata.uid`` the leaf hash (hex), ``metadata.log_name`` the ledger origin,
``metadata.event_code`` the record kind; ``unmapped.affidavit`` is ``{seq, leaf_hash,
source}`` (and ``erased: true``), for people who look for them there. ``metadata.correlation_uid``
is the agent session, so one session's events group together; ``metadata.tenant_uid`` the
Claude organisation.

==================  ==============================  ==========================================
record kind         OCSF class                      activity
==================  ==============================  ==========================================
file.create         1001 File System Activity (1)   1 Create
file.read           1001                            2 Read
file.update         1001                            3 Update
file.delete         1001                            4 Delete
file.rename         1001                            5 Rename
file.restore        1001                            by its effect: Create, Update, Delete, Rename
command.exec        1007 Process Activity (1)       1 Launch
web.fetch           4002 HTTP Activity (4)          3 Get
tool.call           6003 API Activity (6)           99 Other "Tool Call"
tool.intent         6003                            99 Other "Tool Intent"
agent.spawn         6003                            1 Create (a subagent)
prompt.submit       6003                            99 Other "Prompt Submit"
web.search          6003                            2 Read
session.start/end   6002 Application Lifecycle (6)  3 Start / 4 Stop (of the agent app)
anything else       0 Base Event (0)                99 Other; counted as unmapped
erased record       0 Base Event                    99 Other; envelope only, labelled erased
==================  ==============================  ==========================================

Why these: a file action is exactly File System Activity; ``file`` is the target (before
the change, SHA-256 in ``hashes`` with algorithm_id 3) and ``file_result`` the result (after
an update or a rename); a created or read file is in ``file`` with its content hash. A shell
command is a process launch (``process.cmd_line``; ``process.uid`` is the tool call id,
since no pid is captured). A tool call has no OCSF class of its own; API Activity is the
generic "an actor invoked an operation" class (``api.operation`` = tool name,
``api.service.name`` = MCP server, ``api.request.data`` = its capped input, the prompt text
for a prompt). WebFetch is one HTTP GET. An agent session start/end is the agent
application starting/stopping; it is neither an authentication nor a logon, so IAM classes
would mislead. Permission decisions, conventions, capture errors and gaps, policy,
review, attestation and erasure records have no fitting class yet: they are Base Events
with their payload in ``unmapped`` and are counted in the export report.

The actor is ``actor.user`` (OS user ``name``, Claude account ``email_addr`` and ``uid``),
``actor.app_name`` (the agent product, else the record source) and ``actor.session.uid``;
``device.hostname`` is the capturing machine (``device.name`` "unknown" when the record does
not say, as for files a shell command changed). Classes outside System Activity get actor
and device through the ``host`` profile, named in ``metadata.profiles``. ``status_id`` and
``status_detail`` come from the record's outcome and error.

Left out, as source detail the ledger and the jsonl export keep: the payload's ``raw``
or ``raw_rest`` source event, and the tool input of file and command records (their
arguments again).
Every other payload field without an OCSF attribute goes to ``unmapped`` (the agent's
``cwd``, ``permission_mode``, ``tool_use_id``...; a command's description).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from typing import IO, Any
from urllib.parse import urlsplit

from affidavit.export import (
    VENDORS,
    EpochMs,
    ExportReport,
    Lines,
    Row,
    basename,
    file_action,
    int_of,
    payload_copy,
    section,
    text_of,
)

VERSION = "1.8.0"

SYSTEM = (1, "System Activity")
NETWORK = (4, "Network Activity")
APPLICATION = (6, "Application Activity")
OTHER = (0, "Uncategorized")
FILE_KINDS = (
    "file.create",
    "file.read",
    "file.update",
    "file.delete",
    "file.rename",
    "file.restore",
)
FILE_ACTIVITIES = {"create": 1, "read": 2, "update": 3, "delete": 4, "rename": 5}
API_ACTIVITIES = {
    "tool.call": (99, "Tool Call"),
    "tool.intent": (99, "Tool Intent"),
    "agent.spawn": (1, "Create"),
    "prompt.submit": (99, "Prompt Submit"),
    "web.search": (2, "Read"),
}
STATUS = {  # as JSON members, to splice
    "ok": ',"status_id":1,"status":"Success"',
    "failed": ',"status_id":2,"status":"Failure"',
}
SHA256 = 3
_quote = encode_basestring  # a str as JSON text, quotes included
_encode = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode

Event = dict[str, Any]
# (class_uid, class_name, (category_uid, category_name), activity_id, activity_name)
Class = tuple[int, str, tuple[int, str], int, str]
# (row, payload, unmapped) → the class and its own attributes as JSON members; a builder
# may add to unmapped what its class has no attribute for
Builder = Callable[[Row, dict[str, Any], dict[str, Any]], tuple[Class, str]]


def _file(path: str | None, sha256: object, size: object = None, *, named: str = "") -> str:
    """An OCSF file object as JSON text (written out: the hottest object of an export).

    ``named`` is :func:`_named` of ``path`` when the caller has it already."""
    text = "{" + (named or _named(path))
    if isinstance(sha256, str):
        text += f',"hashes":[{{{_SHA256},"value":{_quote(sha256)}}}]'
    if type(size) is int:
        text += f',"size":{size}'
    return text + "}"


def _named(path: str | None) -> str:
    if path:
        return f'"name":{_quote(basename(path))},"path":{_quote(path)},{_REGULAR}'
    return '"name":"(unknown)","type_id":0,"type":"Unknown"'


_REGULAR = '"type_id":1,"type":"Regular File"'
_SHA256 = f'"algorithm_id":{SHA256},"algorithm":"SHA-256"'


class OcsfExporter:
    name = "ocsf"
    suffix = ".ocsf.jsonl"

    def __init__(self, *, origin: str, version: str) -> None:
        self.origin = origin
        self.product = {"name": "Affidavit", "vendor_name": "Affidavit", "version": version}
        self._ms = EpochMs()
        self._heads: dict[Class, str] = {}
        self._whos: dict[tuple[str | None, ...], str] = {}
        # kind → (builder, the payload sections it maps; the rest go to ``unmapped``).
        # A file or command record's tool input is its arguments again (also in raw): not
        # exported, like raw.
        files = (self._file_activity, _taken("file", "tool"))
        api = (self._api, _taken("tool", "prompt"))
        lifecycle = (self._lifecycle, _taken())
        self._builders: dict[str, tuple[Builder, frozenset[str]]] = {
            **dict.fromkeys(FILE_KINDS, files),
            **dict.fromkeys(API_ACTIVITIES, api),
            "command.exec": (self._process, _taken("command", "tool")),
            "web.fetch": (self._http, _taken("tool")),
            "session.start": lifecycle,
            "session.end": lifecycle,
        }

    def write(self, rows: Iterable[Row], out: IO[bytes]) -> ExportReport:
        unmapped: Counter[str] = Counter()
        lines = Lines(out)
        written = erased = 0
        for row in rows:
            line, cls = self._line(row)
            if row.payload is None:
                erased += 1
            elif cls[0] == 0:
                unmapped[row.kind] += 1
            lines.add(line + "\n")
            written += 1
        lines.flush()
        return ExportReport(written, dict(unmapped), erased)

    def event(self, row: Row) -> Event:
        """The OCSF event of one record, as written."""
        event: Event = json.loads(self._line(row)[0])
        return event

    def _line(self, row: Row) -> tuple[str, Class]:
        """One event as JSON text, and its class.

        Written in parts, for speed: the classification and the constant metadata are
        encoded once per class (the head, which ends inside ``metadata``), actor and device
        once per distinct actor (consecutive records mostly share one), and only the rest
        per record. JSON allows the splice: an object's text is ``{`` + members + ``}``.
        """
        p: dict[str, Any] = {} if row.payload is None else payload_copy(row)
        actor = section(p, "actor")
        meta = (
            f'"uid":"{row.leaf_hash}","original_event_uid":"{row.seq}","sequence":{row.seq},'
            f'"event_code":{_quote(row.kind)},"original_time":{_quote(row.time)}'
        )
        if row.session_id:
            meta += f',"correlation_uid":{_quote(row.session_id)}'
        tenant = text_of(actor, "org_uuid")
        if tenant:
            meta += f',"tenant_uid":{_quote(tenant)}'
        trace = f'"seq":{row.seq},"leaf_hash":"{row.leaf_hash}","source":{_quote(row.source)}'
        members = f'"time":{self._ms(row.time)}'
        unmapped: dict[str, Any] = {}  # after unmapped.affidavit
        if row.payload is not None:
            outcome = STATUS.get(text_of(p, "outcome") or "")
            if outcome:
                members += outcome
            error = text_of(p, "error")
            if error:
                members += f',"status_detail":{_quote(error)}'
            members += "," + self._who(row, actor)
        found = self._builders.get(row.kind) if row.payload is not None else None
        if found is None:
            cls: Class = (0, "Base Event", OTHER, 99, row.kind)
            if row.payload is None:
                trace += ',"erased":true'
                meta += ',"labels":["erased"]'
                members += ',"message":"payload erased; envelope only"'
            else:
                meta += ',"profiles":["host"]'  # device and actor from the host profile
            taken = _BASE_TAKEN
        else:
            build, taken = found
            cls, own = build(row, p, unmapped)
            members += "," + own
            if cls[0] != 1001 and cls[0] != 1007:
                meta += ',"profiles":["host"]'
        for key in taken:
            p.pop(key, None)
        agent = p.get("agent")
        if type(agent) is dict:  # what is mapped already is not repeated: app_name, session
            p["agent"] = {k: v for k, v in agent.items() if k not in _AGENT_MAPPED}
        unmapped.update(p)
        rest = f",{_encode(unmapped)[1:-1]}" if unmapped else ""
        head = self._heads.get(cls) or self._head(cls)
        return f'{head},{meta}}},{members},"unmapped":{{"affidavit":{{{trace}}}{rest}}}}}', cls

    def _head(self, cls: Class) -> str:
        uid, name, (category, category_name), activity, label = cls
        head = {
            "class_uid": uid,
            "class_name": name,
            "category_uid": category,
            "category_name": category_name,
            "activity_id": activity,
            "activity_name": label,
            "type_uid": uid * 100 + activity,
            "type_name": f"{name}: {'Other' if activity == 99 else label}",
            "severity_id": 1,
            "severity": "Informational",
            "metadata": {"version": VERSION, "product": self.product, "log_name": self.origin},
        }
        text = self._heads[cls] = _encode(head)[:-2]  # open: inside metadata
        return text

    def _who(self, row: Row, actor: dict[str, Any]) -> str:
        """``"actor":{...},"device":{...}`` as JSON members, cached per distinct actor."""
        account, host = text_of(actor, "account_uuid"), text_of(actor, "host")
        key = (
            row.actor_user,
            row.actor_email,
            account,
            row.agent or row.source,
            row.session_id,
            host,
        )
        text = self._whos.get(key)
        if text is not None:
            return text
        user = {}
        if row.actor_user:
            user["name"] = row.actor_user
        if row.actor_email:
            user["email_addr"] = row.actor_email
        if account:
            user["uid"] = account
        if row.actor_email and not (row.actor_user or account):
            # OCSF's User needs one of account, name, uid: a person known only by email (a
            # connector log entry, a Compliance API activity) is named by it.
            user["name"] = row.actor_email
        who: dict[str, Any] = {"user": user} if user else {}
        who["app_name"] = row.agent or row.source
        if row.session_id:
            who["session"] = {"uid": row.session_id}
        device: dict[str, Any] = {"hostname": host} if host else {"name": "unknown"}
        device.update(type_id=0, type="Unknown")
        if len(self._whos) >= 4096:  # bounded: memory stays flat on any ledger
            self._whos.clear()
        text = self._whos[key] = f'"actor":{_encode(who)},"device":{_encode(device)}'
        return text

    def _file_activity(
        self, row: Row, p: dict[str, Any], unmapped: dict[str, Any]
    ) -> tuple[Class, str]:
        file = section(p, "file")
        action = file_action(row.kind, file)
        before, after = file.get("before_sha256"), file.get("after_sha256")
        path, size = row.path, file.get("size")
        if action in ("create", "read"):
            own = f'"file":{_file(path, after if after is not None else before, size)}'
        elif action == "delete":
            own = f'"file":{_file(path, before)}'
        elif action == "rename":
            old = text_of(file, "old_path")
            own = f'"file":{_file(old, before)},"file_result":{_file(path, after, size)}'
        else:  # update: the same file before and after
            named = _named(path)
            own = (
                f'"file":{_file(path, before, named=named)},'
                f'"file_result":{_file(path, after, size, named=named)}'
            )
        return _FILE_CLASSES[action], own

    def _process(self, row: Row, p: dict[str, Any], unmapped: dict[str, Any]) -> tuple[Class, str]:
        command = section(p, "command")
        process: dict[str, Any] = {"cmd_line": row.command or ""}
        process["uid"] = row.tool_use_id or str(row.seq)
        cwd = text_of(section(p, "agent"), "cwd")
        if cwd:
            process["working_directory"] = cwd
        own = f'"process":{_encode(process)}'
        code = int_of(command, "exit")
        if code is not None:
            own += f',"exit_code":{code}'
        rest = {k: v for k, v in command.items() if k not in ("text", "exit")}
        if rest:
            unmapped["command"] = rest
        return (1007, "Process Activity", SYSTEM, 1, "Launch"), own

    def _api(self, row: Row, p: dict[str, Any], unmapped: dict[str, Any]) -> tuple[Class, str]:
        tool = section(p, "tool")
        agent = section(p, "agent")
        request: dict[str, Any] = {
            "uid": row.tool_use_id or text_of(agent, "prompt_id") or str(row.seq)
        }
        if row.kind == "prompt.submit":
            operation = text_of(agent, "event") or row.kind
            prompt = text_of(section(p, "prompt"), "text")
            if prompt:
                request["data"] = {"prompt": prompt}
        else:
            operation = row.tool or row.kind
            if isinstance(tool.get("input"), dict):
                request["data"] = tool["input"]
        api: dict[str, Any] = {"operation": operation, "request": request}
        server = text_of(tool, "server")
        if server:
            api["service"] = {"name": server}
        cls = (6003, "API Activity", APPLICATION, *API_ACTIVITIES[row.kind])
        return cls, f'"api":{_encode(api)},"src_endpoint":{_endpoint(p)}'

    def _http(self, row: Row, p: dict[str, Any], unmapped: dict[str, Any]) -> tuple[Class, str]:
        url = text_of(section(section(p, "tool"), "input"), "url")
        request: dict[str, Any] = {"http_method": "GET"}
        own = ""
        if url:
            request["url"] = {"url_string": url}
            try:
                host = urlsplit(url).hostname
            except ValueError:
                host = None
            if host:
                request["url"]["hostname"] = host
                own = f',"dst_endpoint":{_encode({"hostname": host})}'
        own = f'"http_request":{_encode(request)},"src_endpoint":{_endpoint(p)}{own}'
        return (4002, "HTTP Activity", NETWORK, 3, "Get"), own

    def _lifecycle(
        self, row: Row, p: dict[str, Any], unmapped: dict[str, Any]
    ) -> tuple[Class, str]:
        app: dict[str, Any] = {"name": row.agent or row.source}
        vendor = VENDORS.get(app["name"])
        if vendor:
            app["vendor_name"] = vendor
        version = text_of(section(p, "agent"), "version")
        if version:
            app["version"] = version
        start = row.kind == "session.start"
        return (6002, "Application Lifecycle", APPLICATION, *_START_STOP[start]), (
            f'"app":{_encode(app)}'
        )


_START_STOP = {True: (3, "Start"), False: (4, "Stop")}
_FILE_CLASSES: dict[str, Class] = {
    action: (1001, "File System Activity", SYSTEM, activity, action.capitalize())
    for action, activity in FILE_ACTIVITIES.items()
}


def _endpoint(p: dict[str, Any]) -> str:
    host = text_of(section(p, "actor"), "host")
    return f'{{"hostname":{_quote(host)}}}' if host else '{"name":"unknown"}'


def _taken(*sections: str) -> frozenset[str]:
    # raw and raw_rest (the source event) are left out of SIEM exports; actor, outcome and
    # error always map.
    return frozenset({"raw", "raw_rest", "actor", "outcome", "error", *sections})


_BASE_TAKEN = _taken()
# actor.app_name; actor.session.uid and metadata.correlation_uid
_AGENT_MAPPED = ("product", "session_id")

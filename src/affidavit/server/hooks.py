"""``POST /v1/hooks``: a Claude Code / Cowork ``http`` hook, straight to the collector.

Claude Code's ``http`` hook handler POSTs the hook input, the same JSON object a ``command``
hook reads on stdin, to a URL, with headers whose ``$VAR`` values come only from the
handler's ``allowedEnvVars`` (code.claude.com/docs/en/hooks, "HTTP hook fields" and "HTTP
response handling"). A 2xx answer with a JSON object is read as the hook's output; a non-2xx
answer, a refused connection or a timeout is a non-blocking error: the agent goes on, and
the event is not recorded here (OTLP reconciliation shows the gap later). A hook can deny a
tool call only through its output, ``hookSpecificOutput.permissionDecision``, never through
a status code.

So, per request:

* the capture token (role ``device`` or ``admin``) comes in ``Authorization: Bearer``; a
  missing or wrong token is answered 401 and logged without the token;
* the body is decoded as the command hook decodes stdin (:func:`affidavit.capture.intake.
  decode`) and mapped by the command hook's mapper (:func:`affidavit.capture.events.
  map_event`), with nothing observed on disk: the collector cannot read the user's files. An
  event name nobody knows yet is an ``agent.event``, kept like any other; a body that is
  not an event is a ``capture.error`` record (and a 4xx), so the gap shows;
* a cloud session's variables, which a command hook reads from its environment, come as
  headers (:data:`affidavit.capture.settings_merge.SESSION_HEADERS`, filled by Claude Code
  from ``allowedEnvVars``) and are added to the event the same way
  (:func:`affidavit.capture.intake.with_env`), so the records say ``surface: remote``;
* the folder policy (:mod:`affidavit.capture.policy`) judges the event, as in the hook; a
  PreToolUse that an enforced rule blocks is answered with a deny decision;
* the records, redacted and sealed as the endpoint seals them
  (:func:`affidavit.capture.writer.seal_drafts`), are appended to the org log with
  :func:`affidavit.server.orglog.append_direct`, then the answer is sent.

What differs from the command hook is only the transport: the source
(:data:`SOURCE`), the actor (the token's name as ``actor.device``: there is no OS account to
read) and, for file edits, the ``evidence`` the payload carries in place of the endpoint's
content store (:mod:`affidavit.server.hook_evidence`); and for a shell command, the files the
command names as ``file.claim`` records (:mod:`affidavit.server.hook_claims`) in place of the
files the hook sees change on disk.

The whole answer has :data:`DEADLINE_S` seconds; past it the client gets a 503 (a
non-blocking error for Claude Code) and the append may still complete.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from affidavit.capture import events, intake, policy, writer
from affidavit.capture.settings_merge import SESSION_HEADERS
from affidavit.errors import InputError
from affidavit.server import orglog
from affidavit.server.hook_claims import claim_drafts
from affidavit.server.hook_evidence import evidence_of
from affidavit.server.ingest import Refused
from affidavit.server.schema import Collector
from affidavit.server.tokens import AuthError, Principal

Draft = tuple[str, dict[str, Any]]
T = TypeVar("T")

SOURCE = "claude-code.http-hook"
ROLES = ("device", "admin")
DEADLINE_S = float(os.environ.get("AFFIDAVIT_HOOK_DEADLINE", "5"))
log = logging.getLogger("affidavit.server.hooks")


class PolicyCache:
    """Where this worker keeps the compiled folder policy (the hook keeps it in its ledger's
    meta table); recompiled when the config file's stat changes, as in the hook."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def meta(self, key: str) -> str | None:
        return self._values.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self._values[key] = value


_POLICY = PolicyCache()


class Server(Protocol):
    """What this route needs of :class:`affidavit.server.app.Server`."""

    @property
    def collector(self) -> Collector: ...

    def run(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T: ...

    def authenticate(self, header: str | None, roles: tuple[str, ...]) -> Principal: ...


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send back: the status, the JSON body, and the org seqs written."""

    status: int
    body: dict[str, Any]
    seqs: range


def actor_of(who: Principal) -> dict[str, Any]:
    return {"device": who.name}


def drafts_of(
    raw: bytes, actor: dict[str, Any]
) -> tuple[dict[str, Any] | None, str | None, list[Draft]]:
    """The event, the problem with the body (if any), and the records it implies."""
    event, problem = intake.decode(raw)
    if event is None:
        return None, problem, [intake.error_draft(actor, problem or "unreadable event", raw)]
    drafts = events.map_event(event, actor=actor)
    evidence = evidence_of(event)
    if evidence and drafts and "file" in drafts[0][1]:
        drafts[0][1]["evidence"] = evidence
    drafts += claim_drafts(event, drafts)  # what the hook would observe on disk, claimed
    return event, None, drafts


def _drop_unkept(payload: dict[str, Any], unkept: set[str]) -> None:
    """Keep no copy of a text the policy says must not be kept (it held forbidden data, or
    was too long to check), as the hook keeps no content of it."""
    evidence = payload.get("evidence")
    if not isinstance(evidence, dict) or "after" not in evidence:
        return
    if (payload.get("file") or {}).get("after_sha256") in unkept:
        del evidence["after"]
        evidence["cut"] = [*evidence.get("cut", []), "after"]


def seal(drafts: list[Draft], now: datetime) -> list[Any]:
    """Records of the drafts; a payload canonical JSON cannot hold is kept as
    :func:`events.storable` writes it, as the hook does."""
    try:
        return [r for r, _ in writer.seal_drafts(drafts, source=SOURCE, time=now)]
    except InputError:
        stored = [(kind, events.storable(payload)) for kind, payload in drafts]
        return [r for r, _ in writer.seal_drafts(stored, source=SOURCE, time=now)]


def session_env(headers: Mapping[str, str]) -> dict[str, str]:
    """The session variables the hook forwarded (:data:`SESSION_HEADERS`), as a command hook
    reads them from its environment; an empty header is an unset variable."""
    return {name: headers.get(header, "") for header, name in SESSION_HEADERS.items()}


def record(
    server: Server,
    who: Principal,
    raw: bytes,
    *,
    config: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Answer:
    """Map, judge and append one hook body; returns the answer for Claude Code. ``env``
    holds the session variables the hook forwarded, added to the event as the command hook
    adds its own (:func:`affidavit.capture.intake.with_env`)."""
    actor = actor_of(who)
    event, problem, drafts = drafts_of(intake.with_env(raw, env or {}), actor)
    verdict = None
    if event is not None:
        verdict = policy.review(
            _POLICY,
            config,
            event,
            drafts,
            0,
            actor=actor,
            # Each event is judged alone: findings are not looked up across requests here,
            # so a write flagged at PreToolUse is flagged again at PostToolUse.
            known=lambda fid: False,
        )
    if verdict is not None and verdict.unkept and drafts:
        _drop_unkept(drafts[0][1], verdict.unkept)
    now = datetime.now(UTC)

    def append(conn: psycopg.Connection[Any]) -> range:
        seqs = orglog.append_direct(conn, server.collector, seal(drafts, now))
        if verdict is not None:
            extra = verdict.records(seqs)
            if extra:
                orglog.append_direct(conn, server.collector, seal(extra, now))
        return seqs

    seqs = server.run(append)
    if problem is not None:
        return Answer(400, {"error": problem, "recorded": seqs.start}, seqs)
    block = verdict.block if verdict is not None else None
    if block and event is not None and event.get("hook_event_name") == "PreToolUse":
        output = {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": block,
        }
        return Answer(200, {"hookSpecificOutput": output}, seqs)
    return Answer(200, {}, seqs)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > intake.MAX_STDIN:
        raise Refused(413, f"the hook body is over {intake.MAX_STDIN} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > intake.MAX_STDIN:
            raise Refused(413, f"the hook body is over {intake.MAX_STDIN} bytes")
    return bytes(body)


async def post_hook(request: Request) -> Response:
    """The route: authenticate, read, record, answer within the deadline."""
    server: Server = request.app.state.server
    peer = request.client.host if request.client else "?"
    try:
        who = await run_in_threadpool(
            server.authenticate, request.headers.get("authorization"), ROLES
        )
        raw = await _body(request)
        env = session_env(request.headers)
        answer = await asyncio.wait_for(
            run_in_threadpool(record, server, who, raw, env=env), DEADLINE_S
        )
    except AuthError as e:
        log.warning("http hook refused from %s: %s", peer, e)  # the reason, never the token
        return JSONResponse({"error": str(e)}, 401, headers={"WWW-Authenticate": "Bearer"})
    except Refused as e:
        log.warning("http hook refused from %s: %s", peer, e)
        return JSONResponse({"error": str(e)}, e.status)
    except TimeoutError:
        log.warning("http hook from %s: not answered within %s s", peer, DEADLINE_S)
        late = f"no answer within {DEADLINE_S} s; it may still be recorded"
        return JSONResponse({"error": late}, 503)
    return JSONResponse(answer.body, answer.status)

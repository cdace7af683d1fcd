"""Claude Code and Cowork OpenTelemetry events as records.

Event names and attributes follow Claude Code's monitoring documentation
(code.claude.com/docs/en/monitoring-usage, "Events" and "Standard attributes"): every log
record's body is the event name (``claude_code.tool_result``) and its ``event.name``
attribute the short form (``tool_result``); the standard attributes ``session.id``,
``prompt.id``, ``user.email``, ``user.account_uuid``, ``user.id``, ``organization.id`` and
``app.version`` name who and which session; ``event.timestamp`` (ISO 8601) and
``event.sequence`` order them. Tool events carry ``tool_name``, ``tool_use_id``,
``success``, ``decision``/``decision_source`` and, with ``OTEL_LOG_TOOL_DETAILS=1``,
``tool_parameters``.

The five documented events get their own kinds; events Cowork adds (permission mode
changes, MCP server connections, hook and plugin events, skill activation) are matched by
the words in their names, because their exact names are not published in one place; every
other event becomes ``otel.event``. Nothing is dropped: the full attribute set (and a body
that is not the event name) is kept in the payload under ``otel``, strings past 4,096
characters cut as the hook cuts them. ``product`` is ``cowork`` when the resource's
``service.name`` names Cowork, else ``claude-code``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from affidavit.capture.events import cap
from affidavit.record import Kind, Record
from affidavit.server.otlp_decode import LogEvent

_EXACT = {
    "user_prompt": Kind.OTEL_USER_PROMPT,
    "tool_result": Kind.OTEL_TOOL_RESULT,
    "tool_decision": Kind.OTEL_TOOL_DECISION,
    "api_request": Kind.OTEL_API_REQUEST,
    "api_error": Kind.OTEL_API_ERROR,
}
# Cowork's extra events, matched by a word in the event name (first match wins).
_WORDS = (
    ("permission_mode", Kind.OTEL_PERMISSION_MODE),
    ("mcp", Kind.OTEL_MCP_CONNECTION),
    ("plugin", Kind.OTEL_PLUGIN),
    ("skill", Kind.OTEL_SKILL),
    ("hook", Kind.OTEL_HOOK),
)
_STANDARD = {
    "session.id", "prompt.id", "user.email", "user.account_uuid", "user.account_id",
    "organization.id", "app.version", "event.name", "event.timestamp",
    "terminal.type",
}  # fmt: skip


def event_name(event: LogEvent) -> str:
    """The event's full name: ``claude_code.tool_result`` (or whatever the exporter sent)."""
    if isinstance(event.body, str) and event.body:
        return event.body[:200]
    short = event.event_name or _text(event.attributes.get("event.name")) or ""
    return short if "." in short or not short else f"claude_code.{short}"


def kind_of(name: str) -> Kind:
    short = name.rsplit(".", 1)[-1]
    if name.startswith(("claude_code.", "cowork.")) and short in _EXACT:
        return _EXACT[short]
    for word, kind in _WORDS:
        if word in short:
            return kind
    return Kind.OTEL_EVENT


def product_of(event: LogEvent) -> str:
    service = str(event.resource.get("service.name") or "").lower()
    return "cowork" if "cowork" in service else "claude-code"


def to_record(event: LogEvent, *, sender: str, now: datetime) -> Record:
    """The record for one event; ``sender`` is the name of the token that sent it.

    Raises :class:`~affidavit.errors.InputError` when a value cannot be canonical JSON
    (a lone surrogate, say); the receiver counts that record as rejected.
    """
    name = event_name(event)
    attrs = event.attributes
    product = product_of(event)
    agent = _prune(
        {
            "product": product,
            "version": _text(attrs.get("app.version")),
            "session_id": _text(attrs.get("session.id")),
            "prompt_id": _text(attrs.get("prompt.id")),
            "tool_use_id": _text(attrs.get("tool_use_id")),
            "tool": _text(attrs.get("tool_name")),
            "event": name,
        }
    )
    # The same actor fields as a hook record's (affidavit.capture.events), so exports and
    # the collector's queries read both alike.
    actor = _prune(
        {
            "email": _text(attrs.get("user.email")),
            "account_uuid": _text(attrs.get("user.account_uuid") or attrs.get("user.account_id")),
            "org_uuid": _text(attrs.get("organization.id")),
        }
    )
    device = _text(event.resource.get("host.name")) or f"token:{sender}"
    otel = _prune(
        {
            "event": name,
            "sequence": attrs.get("event.sequence"),
            # Long values are cut as the hook cuts them (length and SHA-256 kept).
            "attributes": cap({k: v for k, v in attrs.items() if k not in _STANDARD}),
            "body": None if isinstance(event.body, str) else cap(event.body),
            "resource": cap(event.resource),
            "scope": event.scope or None,
            "severity": event.severity or None,
            "trace_id": event.trace_id or None,
            "span_id": event.span_id or None,
        }
    )
    payload = {"actor": actor, "agent": agent, "device": device, "otel": otel}
    return Record.create(kind_of(name), f"{product}.otel", payload, time=_time(event, attrs, now))


def _time(event: LogEvent, attrs: dict[str, Any], now: datetime) -> datetime:
    stamp = attrs.get("event.timestamp")
    if isinstance(stamp, str):
        try:
            moment = datetime.fromisoformat(stamp)
            if moment.tzinfo is not None:
                return moment
        except ValueError:
            pass
    nanos = event.time_unix_nano or event.observed_unix_nano
    if nanos:
        try:
            return datetime.fromtimestamp(nanos / 1e9, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return now


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[:500] or None


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {}}

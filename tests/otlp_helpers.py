"""Claude-Code-shaped OpenTelemetry events for the OTLP receiver's tests and benchmark.

Shapes follow Claude Code's monitoring documentation (code.claude.com/docs/en/
monitoring-usage, "Events" and "Standard attributes"): the body is the event name, the
``event.name`` attribute its short form, and every event carries ``session.id``,
``prompt.id``, ``user.email``, ``user.account_uuid``, ``organization.id`` and
``event.timestamp``; tool events add ``tool_name``, ``tool_use_id``, ``success``,
``decision``/``decision_source``. The JSON bodies follow the OTLP specification's JSON
Protobuf Encoding (opentelemetry.io/docs/specs/otlp/, "JSON Protobuf Encoding").
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

ORG_ID = "8c2d3a0e-0000-4000-8000-00000000c0de"
SCOPE = "com.anthropic.claude_code.events"


def person(email: str) -> dict[str, str]:
    return {
        "user.email": email,
        "user.account_uuid": f"acct-{email.split('@')[0]}",
        "organization.id": ORG_ID,
        "user.id": "f0e1d2c3b4a5",
    }


def event(
    name: str, session: str, email: str, *, prompt: str = "p1", **extra: object
) -> dict[str, object]:
    """The attributes of one event (the body is ``claude_code.<name>``)."""
    return {
        "event.name": name,
        "event.timestamp": "2026-11-26T10:00:00.000Z",
        "session.id": session,
        "prompt.id": prompt,
        "app.version": "2.1.0",
        **person(email),
        **extra,
    }


def tool_result(
    session: str, email: str, tool_use_id: str, tool: str = "Edit"
) -> dict[str, object]:
    return event(
        "tool_result", session, email, tool_name=tool, tool_use_id=tool_use_id,
        success="true", duration_ms=12, decision_type="accept", decision_source="config",
    )  # fmt: skip


def _any_json(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # OTLP JSON: int64 as a decimal string
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def json_body(
    events: list[dict[str, object]], *, service: str = "claude-code", host: str = "laptop-0"
) -> dict[str, Any]:
    """An OTLP JSON ExportLogsServiceRequest."""
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": service}},
                        {"key": "host.name", "value": {"stringValue": host}},
                    ]
                },
                "scopeLogs": [
                    {
                        "scope": {"name": SCOPE},
                        "logRecords": [
                            {
                                "timeUnixNano": "1795687200000000000",
                                "body": {"stringValue": f"claude_code.{e['event.name']}"},
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "attributes": [
                                    {"key": k, "value": _any_json(v)} for k, v in e.items()
                                ],
                            }
                            for e in events
                        ],
                    }
                ],
            }
        ]
    }


def _any_pb(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    return AnyValue(string_value=str(value))


def protobuf_body(
    events: list[dict[str, object]], *, service: str = "claude-code", host: str = "laptop-0"
) -> bytes:
    """A binary ExportLogsServiceRequest, built with the opentelemetry-proto classes."""
    records = [
        LogRecord(
            time_unix_nano=1795687200000000000,
            body=AnyValue(string_value=f"claude_code.{e['event.name']}"),
            attributes=[KeyValue(key=k, value=_any_pb(v)) for k, v in e.items()],
        )
        for e in events
    ]
    resource = Resource(
        attributes=[
            KeyValue(key="service.name", value=AnyValue(string_value=service)),
            KeyValue(key="host.name", value=AnyValue(string_value=host)),
        ]
    )
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource,
                scope_logs=[ScopeLogs(scope=InstrumentationScope(name=SCOPE), log_records=records)],
            )
        ]
    )
    return request.SerializeToString()

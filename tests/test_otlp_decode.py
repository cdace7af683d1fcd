"""The OTLP body decoder on its own: any bytes in either encoding decode or raise BadOtlp
with a reason naming the place, never anything else (OTLP specification, "OTLP/HTTP" and
"JSON Protobuf Encoding"); the two encodings of one request decode to the same events."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit.errors import InputError
from affidavit.server.otlp_decode import BadOtlp, decode
from affidavit.server.otlp_events import kind_of, to_record
from otlp_helpers import event, json_body, protobuf_body, tool_result

PB, JS = "application/x-protobuf", "application/json"


def test_protobuf_and_json_of_one_request_decode_alike() -> None:
    events = [
        tool_result("s1", "a@example.com", "tu1"),
        event("user_prompt", "s1", "a@example.com"),
    ]
    from_pb = decode(protobuf_body(events), PB)
    from_json = decode(json.dumps(json_body(events)).encode(), JS)
    assert [e.attributes for e in from_pb] == [e.attributes for e in from_json]
    assert [e.body for e in from_pb] == ["claude_code.tool_result", "claude_code.user_prompt"]
    assert from_json[0].trace_id == "5b8efff798038103d269b633813fc60c"
    assert from_pb[0].attributes["duration_ms"] == 12  # an int64, in both encodings
    assert from_pb[0].resource == {"service.name": "claude-code", "host.name": "laptop-0"}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("claude_code.tool_result", "otel.tool_result"),
        ("claude_code.user_prompt", "otel.user_prompt"),
        ("claude_code.tool_decision", "otel.tool_decision"),
        ("claude_code.api_request", "otel.api_request"),
        ("claude_code.api_error", "otel.api_error"),
        ("claude_code.permission_mode_changed", "otel.permission_mode"),
        ("claude_code.mcp_server_connection", "otel.mcp_connection"),
        ("claude_code.plugin_installed", "otel.plugin"),
        ("claude_code.skill_activated", "otel.skill"),
        ("claude_code.hook_execution", "otel.hook"),
        ("claude_code.something_else", "otel.event"),
        ("other.tool_result", "otel.event"),
        ("", "otel.event"),
    ],
)
def test_event_names_map_to_kinds(name: str, kind: str) -> None:
    assert kind_of(name) == kind


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_as_protobuf_decode_or_fail_with_a_reason(data: bytes) -> None:
    try:
        decode(data, PB)
    except BadOtlp as e:
        assert str(e) and "\n" not in str(e)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["resourceLogs", "scopeLogs", "logRecords", "attributes", "key", "value",
                 "stringValue", "intValue", "arrayValue", "kvlistValue", "values", "body",
                 "timeUnixNano", "traceId", "resource", "scope", "name", "bytesValue"]
            ),
            inner,
            max_size=4,
        ),
        max_leaves=30,
    )
)  # fmt: skip
def test_any_json_shape_decodes_or_fails_with_a_reason(value: object) -> None:
    try:
        body = json.dumps({"resourceLogs": [value]}).encode()
    except ValueError:
        return
    try:
        events = decode(body, JS)
    except BadOtlp as e:
        assert str(e).startswith(("resourceLogs[0]", "the body")), str(e)
        return
    from datetime import UTC, datetime

    for e in events:  # whatever decoded maps to a record or a one-line InputError
        try:
            to_record(e, sender="t", now=datetime.now(UTC))
        except InputError as err:
            assert "\n" not in str(err)


def test_odd_unicode_and_huge_values() -> None:
    odd = tool_result("s\u202e1", "\u00e9@example.com", "tu-\U0001f600")
    (e,) = decode(protobuf_body([odd]), PB)
    from datetime import UTC, datetime

    record = to_record(e, sender="t", now=datetime.now(UTC))
    assert record.payload is not None
    assert record.payload["agent"]["tool_use_id"] == "tu-\U0001f600"
    big = tool_result("s1", "a@example.com", "x" * 100_000)
    (e,) = decode(protobuf_body([big]), PB)
    long = to_record(e, sender="t", now=datetime.now(UTC)).payload
    assert long is not None and len(long["agent"]["tool_use_id"]) == 500  # capped
    kept = long["otel"]["attributes"]["tool_use_id"]
    assert kept.startswith("x" * 4096) and "cut 95904 chars; sha256 " in kept
    with pytest.raises(BadOtlp, match="expected an object"):
        decode(b"[]", JS)
    with pytest.raises(BadOtlp, match="not UTF-8"):
        decode(b'{"resourceLogs": "\xc3\x28"}', JS)

"""Decoding OTLP/HTTP log export requests into plain values.

Implements the request side of the OTLP specification's OTLP/HTTP transport
(opentelemetry.io/docs/specs/otlp/, "OTLP/HTTP"): a body is an ``ExportLogsServiceRequest``
either in binary protobuf (``application/x-protobuf``, decoded with the
``opentelemetry-proto`` package) or in the OTLP JSON encoding (``application/json``, "JSON
Protobuf Encoding": lowerCamelCase field names, trace and span ids as hex, 64-bit integers
as decimal strings or numbers, enums as integers, ``AnyValue`` as a one-key union object).

Both encodings end as the same :class:`LogEvent` values, with every ``AnyValue`` turned into
JSON (str, int, float, bool, None, list, dict; bytes as base64). Structure is checked
strictly and every failure is a :class:`BadOtlp` with a one-line reason naming the place,
e.g. ``resourceLogs[0].scopeLogs[1].logRecords[3].attributes[2]: ...``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from affidavit.errors import InputError

MAX_DEPTH = 16  # AnyValue nesting deeper than this is refused, not walked
MAX_RECORDS = 20_000


class BadOtlp(InputError):
    """The body is not a well-formed ExportLogsServiceRequest (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One OTLP LogRecord with its resource and scope, as JSON values."""

    resource: dict[str, Any]
    scope: str
    time_unix_nano: int
    observed_unix_nano: int
    severity: str
    event_name: str
    body: Any
    attributes: dict[str, Any]
    trace_id: str
    span_id: str


def decode(body: bytes, content_type: str) -> list[LogEvent]:
    """The log records of one request body; ``content_type`` is the media type only."""
    events = list(_protobuf(body) if content_type == "application/x-protobuf" else _json(body))
    if len(events) > MAX_RECORDS:
        raise BadOtlp(f"{len(events)} log records in one request; send at most {MAX_RECORDS}")
    return events


# -- binary protobuf ------------------------------------------------------------------------


def _protobuf(body: bytes) -> Iterator[LogEvent]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    try:
        request = ExportLogsServiceRequest.FromString(body)
    except (DecodeError, RecursionError, ValueError) as e:
        raise BadOtlp(f"the body is not a protobuf ExportLogsServiceRequest: {e}") from None
    for i, rl in enumerate(request.resource_logs):
        where = f"resourceLogs[{i}]"
        resource = _pb_attributes(rl.resource.attributes, f"{where}.resource")
        for j, sl in enumerate(rl.scope_logs):
            for k, lr in enumerate(sl.log_records):
                at = f"{where}.scopeLogs[{j}].logRecords[{k}]"
                yield LogEvent(
                    resource=resource,
                    scope=sl.scope.name,
                    time_unix_nano=lr.time_unix_nano,
                    observed_unix_nano=lr.observed_time_unix_nano,
                    severity=lr.severity_text,
                    event_name=lr.event_name,
                    body=_pb_value(lr.body, f"{at}.body", 0) if lr.HasField("body") else None,
                    attributes=_pb_attributes(lr.attributes, at),
                    trace_id=lr.trace_id.hex(),
                    span_id=lr.span_id.hex(),
                )


def _pb_attributes(items: Any, where: str) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value, f"{where}.attributes[{kv.key!r}]", 0) for kv in items}


def _pb_value(value: Any, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadOtlp(f"{where}: AnyValue nests deeper than {MAX_DEPTH} levels")
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        items = value.array_value.values
        return [_pb_value(v, f"{where}[{n}]", depth + 1) for n, v in enumerate(items)]
    if which == "kvlist_value":
        return {
            kv.key: _pb_value(kv.value, f"{where}.{kv.key}", depth + 1)
            for kv in value.kvlist_value.values
        }
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, which)


# -- OTLP JSON ------------------------------------------------------------------------------


def _json(body: bytes) -> Iterator[LogEvent]:
    try:
        request = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadOtlp(f"the body is not UTF-8 (byte {e.start})") from None
    except RecursionError:
        raise BadOtlp("the JSON body nests too deeply") from None
    except ValueError as e:
        raise BadOtlp(f"the body is not JSON: {e}") from None
    for i, rl in enumerate(_list(_obj(request, "the body"), "resourceLogs", "the body")):
        where = f"resourceLogs[{i}]"
        rl = _obj(rl, where)
        resource_obj = _obj(rl.get("resource") or {}, f"{where}.resource")
        resource = _json_attributes(resource_obj, f"{where}.resource")
        for j, sl in enumerate(_list(rl, "scopeLogs", where)):
            sl_where = f"{where}.scopeLogs[{j}]"
            sl = _obj(sl, sl_where)
            scope = _obj(sl.get("scope") or {}, f"{sl_where}.scope")
            for k, lr in enumerate(_list(sl, "logRecords", sl_where)):
                at = f"{sl_where}.logRecords[{k}]"
                lr = _obj(lr, at)
                yield LogEvent(
                    resource=resource,
                    scope=_str(scope.get("name"), f"{sl_where}.scope.name"),
                    time_unix_nano=_uint64(lr.get("timeUnixNano"), f"{at}.timeUnixNano"),
                    observed_unix_nano=_uint64(
                        lr.get("observedTimeUnixNano"), f"{at}.observedTimeUnixNano"
                    ),
                    severity=_str(lr.get("severityText"), f"{at}.severityText"),
                    event_name=_str(lr.get("eventName"), f"{at}.eventName"),
                    body=None if lr.get("body") is None else _any(lr["body"], f"{at}.body", 0),
                    attributes=_json_attributes(lr, at),
                    trace_id=_hex(lr.get("traceId"), 16, f"{at}.traceId"),
                    span_id=_hex(lr.get("spanId"), 8, f"{at}.spanId"),
                )


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadOtlp(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadOtlp(f"{where}.{key}: expected an array, got {type(value).__name__}")
    return value


def _str(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadOtlp(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _uint64(value: object, where: str) -> int:
    # int64/fixed64 are JSON strings in OTLP JSON; plain numbers are accepted as well.
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadOtlp(f"{where}: expected an integer or a decimal string")
    try:
        number = int(value)
    except ValueError:
        raise BadOtlp(f"{where}: {str(value)[:40]!r} is not a decimal integer") from None
    if not 0 <= number < 2**64:
        raise BadOtlp(f"{where}: out of the range of a 64-bit unsigned integer")
    return number


def _hex(value: object, size: int, where: str) -> str:
    text = _str(value, where)
    if text and (len(text) != 2 * size or not _is_hex(text)):
        raise BadOtlp(f"{where}: expected {2 * size} hex digits (OTLP JSON ids are hex)")
    return text.lower()


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _json_attributes(parent: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, kv in enumerate(_list(parent, "attributes", where)):
        at = f"{where}.attributes[{n}]"
        kv = _obj(kv, at)
        key = kv.get("key")
        if not isinstance(key, str):
            raise BadOtlp(f"{at}.key: expected a string")
        out[key] = None if kv.get("value") is None else _any(kv["value"], f"{at}.value", 0)
    return out


def _any(value: object, where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadOtlp(f"{where}: AnyValue nests deeper than {MAX_DEPTH} levels")
    union = _obj(value, where)
    if not union:
        return None
    if len(union) != 1:
        raise BadOtlp(f"{where}: an AnyValue holds exactly one of its fields, not {sorted(union)}")
    ((field, inner),) = union.items()
    if field == "stringValue":
        return _str(inner, f"{where}.stringValue")
    if field == "boolValue":
        if not isinstance(inner, bool):
            raise BadOtlp(f"{where}.boolValue: expected true or false")
        return inner
    if field == "intValue":
        if isinstance(inner, bool) or not isinstance(inner, int | str):
            raise BadOtlp(f"{where}.intValue: expected an integer or a decimal string")
        try:
            number = int(inner)
        except ValueError:
            bad = str(inner)[:40]
            raise BadOtlp(f"{where}.intValue: {bad!r} is not a decimal integer") from None
        if not -(2**63) <= number < 2**63:
            raise BadOtlp(f"{where}.intValue: out of the range of int64")
        return number
    if field == "doubleValue":
        if isinstance(inner, bool) or not isinstance(inner, int | float):
            raise BadOtlp(f"{where}.doubleValue: expected a number")
        return float(inner)
    if field == "bytesValue":
        try:
            raw = base64.b64decode(_str(inner, f"{where}.bytesValue"), validate=True)
        except binascii.Error:
            raise BadOtlp(f"{where}.bytesValue: not base64") from None
        return base64.b64encode(raw).decode("ascii")
    if field == "arrayValue":
        items = _list(_obj(inner, f"{where}.arrayValue"), "values", f"{where}.arrayValue")
        return [_any(v, f"{where}[{n}]", depth + 1) for n, v in enumerate(items)]
    if field == "kvlistValue":
        return _json_attributes_list(_obj(inner, f"{where}.kvlistValue"), where, depth)
    raise BadOtlp(f"{where}: unknown AnyValue field {field!r}")


def _json_attributes_list(kvlist: dict[str, Any], where: str, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, kv in enumerate(_list(kvlist, "values", f"{where}.kvlistValue")):
        at = f"{where}.kvlistValue.values[{n}]"
        kv = _obj(kv, at)
        key = kv.get("key")
        if not isinstance(key, str):
            raise BadOtlp(f"{at}.key: expected a string")
        out[key] = None if kv.get("value") is None else _any(kv["value"], at, depth + 1)
    return out

"""The collector's OTLP/HTTP logs receiver, the identity join and reconciliation, end to end:
a real uvicorn collector on loopback and real PostgreSQL; events sent by the OpenTelemetry
Python SDK's OTLP/HTTP log exporter (protobuf, gzip) and as OTLP JSON bodies (shapes in
otlp_helpers.py, from Claude Code's monitoring documentation and the OTLP specification);
hook records shipped from a laptop's ledger and an http-hook record appended to the org log
as the collector's own hook route does."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from affidavit import shipping
from affidavit.record import Kind, Record
from affidavit.server import orglog
from affidavit.server.schema import Collector as CollectorConfig
from collector_helpers import ORIGIN, Collector
from ledger_helpers import T0, cli_env, new_ledger
from otlp_helpers import ORG_ID, event, json_body, protobuf_body, tool_result
from pg_helpers import Schemas

GRACE_S = 3
LAPTOP = "laptop.example.com/0"


def hook(kind: Kind, session: str, tool_use: str | None, path: str | None = None) -> Record:
    agent = {"product": "claude-code", "session_id": session, "prompt_id": "p1", "tool": "Edit"}
    if tool_use:
        agent["tool_use_id"] = tool_use
    payload: dict[str, Any] = {"actor": {"user": "root"}, "agent": agent}
    if path:
        payload["file"] = {"path": path}
    return Record.create(kind, "claude-code.hook", payload, time=T0)


class Org:
    def __init__(self, c: Collector, tokens: dict[str, str]) -> None:
        self.c, self.tokens = c, tokens

    def post_logs(self, body: bytes, media: str, token: str | None = None, **headers: str) -> Any:
        import httpx

        h = {"Content-Type": media, **headers}
        if token is not False:
            h["Authorization"] = f"Bearer {token or self.tokens['otel']}"
        return httpx.post(self.c.url + "/v1/logs", content=body, headers=h, timeout=60)

    def org_records(self) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.c.sql(
            f'SELECT seq, leaf, payload FROM "{self.c.schema}_org".records ORDER BY seq'
        )
        return [(int(s), json.loads(leaf)["kind"], json.loads(p)) for s, leaf, p in rows]

    def seal(self) -> None:
        r = self.c.post("/api/v1/seal", self.tokens["admin"], {})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def org(pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    home = tmp_path_factory.mktemp("otlp")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    with c.serving(options=("--gap-grace", str(GRACE_S))):
        tokens = {
            "otel": c.token("device", "otel"),
            "admin": c.token("admin", "admin"),
            "auditor": c.token("auditor", "auditor"),
        }
        laptop = home / "laptop"
        laptop.mkdir()
        device = c.token("device", "laptop-0")
        with new_ledger(laptop, origin=LAPTOP) as ledger:
            ledger.append(
                [
                    hook(Kind.FILE_UPDATE, "s1", "tu1", "finance/q1.xlsx"),
                    hook(Kind.COMMAND_EXEC, "s1", "tu2"),
                    hook(Kind.FILE_CREATE, "s1", "tu4", "finance/new.xlsx"),  # no telemetry
                    hook(Kind.FILE_UPDATE, "s2", "tu9", "hr/staff.csv"),  # a session never seen
                ]
            )
            ledger.seal()
            shipping.enrol(ledger, laptop / "ledger.sqlite", c.url, device)
            shipping.ship(ledger, laptop / "ledger.sqlite", device)
        yield Org(c, tokens)


def _sdk_export(org: Org, events: list[dict[str, object]]) -> None:
    """Send events with the OpenTelemetry SDK's own OTLP/HTTP log exporter (protobuf, gzip)."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    exporter = OTLPLogExporter(
        endpoint=org.c.url + "/v1/logs",
        headers={"Authorization": f"Bearer {org.tokens['otel']}"},
        compression=Compression.Gzip,
    )
    resource = Resource.create({"service.name": "claude-code", "host.name": "laptop-0"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("com.anthropic.claude_code.events")
    for attributes in events:
        logger.emit(body=f"claude_code.{attributes['event.name']}", attributes=attributes)
    provider.shutdown()


def test_round_trip_records_links_and_gaps(org: Org) -> None:
    before = len(org.org_records())
    alice = "alice@example.com"
    _sdk_export(
        org,
        [
            event("user_prompt", "s1", alice, prompt_length=42),
            tool_result("s1", alice, "tu1"),
            event("tool_decision", "s1", alice, tool_name="Bash", tool_use_id="tu2",
                  decision="accept", source="config"),
            tool_result("s1", alice, "tu2", "Bash"),
            tool_result("s1", alice, "tu3", "Write"),  # no hook ever records tu3
            event("api_request", "s1", alice, model="claude-sonnet-4-6", cost_usd=0.01,
                  input_tokens=10, output_tokens=20),
            event("api_error", "s1", alice, model="claude-sonnet-4-6", error="overloaded",
                  status_code="529"),
        ],
    )  # fmt: skip
    # Cowork, as OTLP JSON: a tool use its http hook saw, a permission mode change and an
    # event this version does not know.
    bob = "bob@example.com"
    cowork = [
        tool_result("s3", bob, "tu5", "Write"),
        event("permission_mode_changed", "s3", bob, mode="acceptEdits"),
        event("brand_new_thing", "s3", bob, detail="kept"),
    ]
    r = org.post_logs(json.dumps(json_body(cowork, service="cowork", host="vm-7")).encode(),
                      "application/json")  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json() == {}  # everything accepted: no partialSuccess
    _http_hook(org, hook(Kind.FILE_CREATE, "s3", "tu5", "docs/plan.md"), source="cowork.http-hook")

    records = org.org_records()[before:]
    kinds = [k for _, k, _ in records]
    assert kinds.count("otel.tool_result") == 4
    for k in ("otel.user_prompt", "otel.tool_decision", "otel.api_request", "otel.api_error",
              "otel.permission_mode", "otel.event"):  # fmt: skip
        assert k in kinds, k
    unknown = next(p for _, k, p in records if k == "otel.event")
    assert unknown["otel"]["event"] == "claude_code.brand_new_thing"
    assert unknown["otel"]["attributes"]["detail"] == "kept"
    assert unknown["agent"]["product"] == "cowork" and unknown["device"] == "vm-7"
    first = next(p for _, k, p in records if k == "otel.tool_result")
    assert first["actor"] == {"email": alice, "account_uuid": "acct-alice", "org_uuid": ORG_ID}
    assert first["otel"]["attributes"]["user.id"] == "f0e1d2c3b4a5"
    assert first["agent"]["product"] == "claude-code" and first["device"] == "laptop-0"

    org.seal()
    by_seq = {s: (k, p) for s, k, p in org.org_records()}
    links = [p for k, p in by_seq.values() if k == "identity.link"]
    # The newest link of each hook record counts: events arrive one by one and the
    # integrator joins every half second, so a record may first be linked by its prompt and
    # then again, exactly, when its own tool use's event arrives.
    linked = {(p["hook"]["origin"], p["tool_use_id"]): p for p in links}
    # Every hook record of a session seen with a person is linked, by its exact tool use
    # where telemetry reported it; tu4 (no telemetry of its own) falls back to the prompt.
    assert set(linked) == {
        (LAPTOP, "tu1"),
        (LAPTOP, "tu2"),
        (LAPTOP, "tu4"),
        ("cowork.http-hook", "tu5"),
    }
    for (_, tool_use), link in linked.items():
        kind, evidence = by_seq[link["otel_seq"]]
        assert kind.startswith("otel.")
        assert evidence["agent"]["session_id"] == link["session_id"]
        if tool_use in ("tu1", "tu2", "tu5"):
            assert link["match"] == "tool_use"
            assert evidence["agent"]["tool_use_id"] == tool_use
        else:
            assert link["match"] == "prompt" and evidence["agent"]["prompt_id"] == "p1"
    assert all(p["match"] in ("tool_use", "prompt") for p in links)
    assert linked[(LAPTOP, "tu1")]["user"]["email"] == alice
    assert linked[("cowork.http-hook", "tu5")]["user"] == {
        "email": bob,
        "account_uuid": "acct-bob",
        "organization_id": ORG_ID,
    }
    # The link names the shipped record by its leaf hash, as the endpoint's log holds it.
    hook_row = org.c.sql("SELECT leaf_hash FROM entries WHERE origin = %s AND seq = 0", LAPTOP)
    import base64

    assert linked[(LAPTOP, "tu1")]["hook"] == {
        "origin": LAPTOP, "seq": 0, "leaf_hash": base64.b64encode(hook_row[0][0]).decode(),
    }  # fmt: skip

    # The org-level log shows the person, or "unattributed" for a session never seen.
    result = _cli(org, "log", "--server", org.c.url, "--format", "jsonl")
    rows = {(r["origin"], r["seq"]): r for r in map(json.loads, result.stdout.splitlines())}
    assert rows[(LAPTOP, 0)]["person"] == alice
    assert rows[(LAPTOP, 3)]["person"] == "unattributed"  # session s2
    # The Cowork http hook's record is on the org log itself (origin: its source).
    direct = [r for (origin, _), r in rows.items() if origin == "cowork.http-hook"]
    assert [r["person"] for r in direct] == [bob]
    assert {r["person"] for r in rows.values()} == {alice, bob, "unattributed"}

    # After the grace period tu3 becomes a capture.gap naming device and person.
    time.sleep(GRACE_S + 0.5)
    org.seal()
    gaps = [p for _, k, p in org.org_records() if k == "capture.gap"]
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap["direction"] == "otel_without_hook"
    assert gap["agent"]["tool_use_id"] == "tu3" and gap["device"] == "laptop-0"
    assert gap["user"]["email"] == alice and "laptop-0" in gap["reason"]
    org.seal()  # a second turn records nothing twice
    assert [k for _, k, _ in org.org_records()].count("capture.gap") == 1

    # A hook record that arrives after its gap was recorded leaves the gap (records are never
    # changed) and is marked late in the listing; `server seal` runs the join as well.
    _http_hook(org, hook(Kind.FILE_CREATE, "s1", "tu3", "late.md"), source="claude-code.http-hook")
    org.c.cli("seal")
    assert [k for _, k, _ in org.org_records()].count("capture.gap") == 1

    listed = _cli(org, "gaps", "--server", org.c.url, "--format", "jsonl", code=1)
    found = [json.loads(line) for line in listed.stdout.splitlines()]
    late = next(g for g in found if g["direction"] == "otel_without_hook")
    assert late["late_hook"] is True
    directions = sorted((g["direction"], g.get("tool_use_id"), g["device"]) for g in found)
    assert directions == [
        ("hook_without_otel", "tu4", LAPTOP),
        ("otel_without_hook", "tu3", "laptop-0"),
        ("session_without_otel", None, LAPTOP),
    ]
    assert "3 gaps" in listed.stderr
    per_person = _cli(org, "gaps", "--server", org.c.url, "--by", "person", "--format", "jsonl",
                      code=1)  # fmt: skip
    counts = {r["person"]: r for r in map(json.loads, per_person.stdout.splitlines())}
    assert counts[alice]["otel_without_hook"] == 1 and counts[alice]["hook_without_otel"] == 1
    assert counts["unattributed"]["session_without_otel"] == 1

    # The org log with all of it still verifies.
    verified = org.c.cli("verify")
    assert verified.returncode == 0, verified.stderr


def test_identity_links_index_holds_the_org_log_s_links_and_verify_checks_it(org: Org) -> None:
    """The console's record page finds a record's links through ``identity_links``, not a
    read of the whole org log; the table must hold exactly the log's links."""
    from affidavit.server import identity
    from affidavit.server.console.proof import identity_links

    org.seal()
    links = [(s, p) for s, k, p in org.org_records() if k == "identity.link"]
    assert len(links) >= 4
    expected = sorted((p["hook"]["origin"], p["hook"]["seq"], s) for s, p in links)

    def table() -> list[tuple[str, int, int]]:
        return sorted(org.c.sql("SELECT origin, seq, link_seq FROM identity_links"))

    assert table() == expected
    origin, seq, _ = expected[0]
    with psycopg.connect(org.c.db, autocommit=True) as conn:
        config = CollectorConfig.load(conn, org.c.schema, org.c.keys)
        found = identity_links(conn, config, origin, seq)
        assert [s for s, _ in found] == [k for o, q, k in expected if (o, q) == (origin, seq)]
        assert all(p["hook"]["origin"] == origin and p["hook"]["seq"] == seq for _, p in found)
        assert identity_links(conn, config, origin, 10**6) == []
        # A collector made before the table: its links are read back from the org log.
        with conn.transaction():
            conn.execute(f'DROP TABLE "{org.c.schema}".identity_links')
            identity.ensure_tables(conn, org.c.schema)
    assert table() == expected
    assert org.c.cli("verify").returncode == 0
    o, q, k = expected[-1]

    def run(sql: str, *args: object) -> None:
        with psycopg.connect(org.c.db, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{org.c.schema}"')
            conn.execute(sql, args)

    for change, undo, word in (
        ("DELETE FROM identity_links WHERE link_seq = %s", "INSERT INTO identity_links "
         "SELECT %s, %s, %s", "lacks"),
        ("INSERT INTO identity_links VALUES ('elsewhere', 7, %s)",
         "DELETE FROM identity_links WHERE origin = 'elsewhere' AND link_seq = %s", "holds"),
    ):  # fmt: skip
        run(change, k)
        bad = org.c.cli("verify", check=False)
        assert bad.returncode != 0 and f"identity_links {word} org record {k}" in bad.stderr, (
            bad.stderr
        )
        run(undo, *((o, q, k) if word == "lacks" else (k,)))
        assert org.c.cli("verify").returncode == 0


def _http_hook(org: Org, record: Record, *, source: str) -> None:
    """Append a hook record to the org log as the collector's http-hook route does."""
    record = Record.create(record.envelope.kind, source, record.payload or {}, time=T0)
    with psycopg.connect(org.c.db, autocommit=True) as conn:
        config = CollectorConfig.load(conn, org.c.schema, org.c.keys)
        orglog.append_direct(conn, config, [record])


def _cli(org: Org, *args: str, code: int = 0) -> Any:
    import subprocess
    import sys

    env = cli_env(org.c.home) | {"AFFIDAVIT_TOKEN": org.tokens["auditor"]}
    result = subprocess.run(
        [sys.executable, "-m", "affidavit", *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == code, result.stderr
    return result


def _nested_json(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


def _nested_pb(depth: int) -> Any:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue

    value = AnyValue(string_value="bottom")
    for _ in range(depth):
        value = AnyValue(array_value=ArrayValue(values=[value]))
    return value


BAD_JSON: list[tuple[str, bytes, int, str]] = [
    ("not JSON", b"{\"resourceLogs\": [", 400, "not JSON"),
    ("invalid UTF-8", b"{\"resourceLogs\": [\"\xff\xfe\"]}", 400, "not UTF-8"),
    ("wrong types", b"{\"resourceLogs\": {\"a\": 1}}", 400, "resourceLogs: expected an array"),
    (
        "int64 that is not a number",
        json.dumps(
            json_body([tool_result("s9", "eve@example.com", "tu-x")])
        ).replace("1795687200000000000", "soon").encode(),
        400,
        "timeUnixNano",
    ),
    (
        "a union with two members",
        json.dumps(
            {"resourceLogs": [{"scopeLogs": [{"logRecords": [
                {"body": {"stringValue": "a", "intValue": "1"}}]}]}]}
        ).encode(),
        400,
        "exactly one",
    ),
    (
        "deeply nested AnyValue",
        json.dumps(
            {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": _nested_json(40)}]}]}]}
        ).encode(),
        400,
        "nests deeper",
    ),
    (
        "hex id of the wrong length",
        json.dumps(json_body([tool_result("s9", "eve@example.com", "tu-y")])).replace(
            "eee19b7ec3c1b174", "eee1"
        ).encode(),
        400,
        "spanId",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "body", "status", "reason"), BAD_JSON, ids=[b[0] for b in BAD_JSON]
)
def test_bad_json_bodies_are_refused_and_nothing_is_stored(
    org: Org, name: str, body: bytes, status: int, reason: str
) -> None:
    before = len(org.org_records())
    r = org.post_logs(body, "application/json")
    assert r.status_code == status, r.text
    assert reason in r.json()["message"], r.text
    assert r.json()["code"] == 3  # google.rpc.Code INVALID_ARGUMENT
    assert len(org.org_records()) == before


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    size, n = bytearray(), len(payload)
    while True:
        size.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            break
    return bytes([number << 3 | 2]) + bytes(size) + payload


def _status_message(body: bytes) -> str:
    """google.rpc.Status {int32 code = 1; string message = 2} decoded with the real
    classes: the exporter's dependency googleapis-common-protos ships status_pb2."""
    from google.rpc.status_pb2 import Status

    status = Status.FromString(body)
    assert status.code == 3  # INVALID_ARGUMENT
    return str(status.message)


def test_bad_protobuf_and_transport_errors(org: Org) -> None:
    good = protobuf_body([tool_result("s9", "eve@example.com", "tu-p")])
    before = len(org.org_records())
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    # 200 levels: more than the protobuf runtime builds, so written on the wire by hand
    # (AnyValue.array_value = 5, ArrayValue.values = 1, LogRecord.body = 5, ScopeLogs.
    # log_records = 2, ResourceLogs.scope_logs = 2, the request's resource_logs = 1).
    value_bytes = _field(1, b"bottom")
    for _ in range(200):
        value_bytes = _field(5, _field(1, value_bytes))
    too_deep = _field(1, _field(2, _field(2, _field(5, value_bytes))))
    request = ExportLogsServiceRequest.FromString(good)
    shallow_value = _nested_pb(20)
    request.resource_logs[0].scope_logs[0].log_records[0].body.CopyFrom(shallow_value)
    deeper_than_allowed = request.SerializeToString()
    bad_utf8 = good.replace(b"eve@example.com", b"eve@exampl\xff.com")
    cases = [
        ("truncated", good[: len(good) // 2], "application/x-protobuf", 400, "protobuf"),
        ("invalid UTF-8 in a string", bad_utf8, "application/x-protobuf", 400, "protobuf"),
        ("200-deep AnyValue", too_deep, "application/x-protobuf", 400, ""),
        ("20-deep AnyValue", deeper_than_allowed, "application/x-protobuf", 400, "nests deeper"),
    ]
    for name, body, media, status, reason in cases:
        r = org.post_logs(body, media)
        assert r.status_code == status, (name, r.status_code, r.content[:200])
        assert r.headers["content-type"] == "application/x-protobuf", name
        assert reason in _status_message(r.content), (name, r.content[:200])
    # Transport: media type, size, gzip, tokens.
    r = org.post_logs(good, "text/plain")
    assert r.status_code == 415 and "application/x-protobuf" in r.json()["message"]
    huge = b"\x0a" + b"\xff" * 9 + b"\x01" + b"x" * (10 * 1024 * 1024)
    r = org.post_logs(huge, "application/x-protobuf")
    assert r.status_code == 413, r.status_code
    bomb = gzip.compress(b"\x00" * (20 * 1024 * 1024))
    r = org.post_logs(bomb, "application/x-protobuf", **{"Content-Encoding": "gzip"})
    assert r.status_code == 413 and b"decompressed" in r.content
    r = org.post_logs(b"\x1f\x8b not gzip", "application/json", **{"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in r.json()["message"]
    wrong = org.tokens["otel"][:-4] + "AAAA"
    r = org.post_logs(good, "application/json", token=wrong)
    assert r.status_code == 401 and r.json()["message"] == "wrong token"
    r = org.post_logs(good, "application/json", token=False)
    assert r.status_code == 401
    r = org.post_logs(good, "application/json", token=org.tokens["auditor"])
    assert r.status_code == 403
    assert len(org.org_records()) == before
    # The server keeps serving: the same body, well sent, is stored, and the X-Affidavit-Token
    # header works as well as the bearer header.
    r = org.post_logs(good, "application/x-protobuf", token=False,
                      **{"X-Affidavit-Token": org.tokens["otel"]})  # fmt: skip
    assert r.status_code == 200
    assert len(org.org_records()) == before + 1


def test_partial_success_names_the_rejected_record(org: Org) -> None:
    before = len(org.org_records())
    body = json.dumps(
        json_body([tool_result("s8", "eve@example.com", "tu-ok"),
                   tool_result("s8", "eve@example.com", "tu-\ud800")])  # a lone surrogate
    ).encode()  # fmt: skip
    r = org.post_logs(body, "application/json")
    assert r.status_code == 200, r.text
    partial = r.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "1"
    assert partial["errorMessage"].startswith("log record 1: ")
    stored = org.org_records()[before:]
    assert [p["agent"]["tool_use_id"] for _, _, p in stored] == ["tu-ok"]
    # The same in protobuf: the response is an ExportLogsServiceResponse.
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    r = org.post_logs(protobuf_body([tool_result("s8", "eve@example.com", "tu-pb")]),
                      "application/x-protobuf")  # fmt: skip
    response = ExportLogsServiceResponse.FromString(r.content)
    assert r.status_code == 200 and not response.HasField("partial_success")

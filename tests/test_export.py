"""``affidavit export``: every format validates against its own specification.

Two ledgers: the RonKat2008 Claude Code hook payloads replayed through the real ``affidavit
hook`` (read in place from ``../shared/``), and one made here with a record of every kind,
a failed command, strings that need escaping and an erased record. Each export is checked
against facts copied from the specifications (OCSF 1.8.0 schema, ECS 9.1 ``fields.csv``,
the CEF header/extension grammar), against ``affidavit sql`` for the filters and against
``affidavit show`` for the seq and leaf hash every row carries.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit import export, query
from affidavit.cli import EXIT_OK, EXIT_USAGE, run
from affidavit.errors import InputError
from affidavit.export import ExportReport, Row, cef
from affidavit.ledger import Ledger
from affidavit.record import Kind, Record
from conftest import shared_path
from ledger_helpers import ORIGIN, key_of

HOOKS = ("fixtures", "RonKat2008__agent-verdict", "tests", "fixtures", "hooks")
FORMATS = ("ocsf", "ecs", "cef", "csv", "jsonl", "parquet")
T0 = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
H1, H2 = "a" * 64, "b" * 64
ODD_PATH = "/work/finance/odd|name\\with=eq\nand newline.md"
ODD_PROMPT = "Fix the budget\r\nthen = done | ok \\ end"

Cli = Callable[..., tuple[int, str, str]]

# -- the facts each format is checked against ----------------------------------------------

# OCSF 1.8.0: class → (category_uid, activity_id enum, attributes beyond the base event's).
OCSF_CLASSES: dict[int, tuple[int, set[int], set[str]]] = {
    0: (0, {0, 99}, set()),
    1001: (1, {0, *range(1, 15), 99}, {"file", "file_result", "file_diff", "access_mask"}),
    1007: (1, {0, 1, 2, 3, 4, 5, 99}, {"process", "exit_code", "module", "launch_type_id"}),
    4002: (
        4,
        {0, *range(1, 10), 99},
        {"http_request", "http_response", "src_endpoint", "dst_endpoint"},
    ),
    6002: (6, {0, *range(1, 9), 99}, {"app"}),
    6003: (6, {0, 1, 2, 3, 4, 99}, {"api", "src_endpoint", "dst_endpoint", "resources"}),
}
# Required beyond class_uid, category_uid, activity_id, type_uid, severity_id, time, metadata.
OCSF_REQUIRED = {
    0: set(),
    1001: {"actor", "device", "file"},
    1007: {"actor", "device", "process"},
    4002: set(),
    6002: {"app"},
    6003: {"actor", "api", "src_endpoint"},
}
# base_event 1.8.0 attributes (host profile included: actor, device)
OCSF_BASE = {
    "activity_id", "activity_name", "actor", "category_name", "category_uid", "class_name",
    "class_uid", "device", "message", "metadata", "severity", "severity_id", "status",
    "status_code", "status_detail", "status_id", "time", "type_name", "type_uid", "unmapped",
}  # fmt: skip
OCSF_OBJECTS = {  # object → attributes (the ones an export may use), OCSF 1.8.0
    "metadata": {
        "correlation_uid", "event_code", "labels", "log_name", "original_event_uid",
        "original_time", "product", "profiles", "sequence", "tenant_uid", "uid", "version",
    },
    "product": {"name", "vendor_name", "version", "uid"},
    "actor": {"app_name", "app_uid", "process", "session", "user", "invoked_by"},
    "user": {"name", "email_addr", "uid", "account", "type_id"},
    "session": {"uid", "created_time"},
    "device": {"hostname", "name", "type", "type_id", "uid", "ip"},
    "file": {"name", "path", "type", "type_id", "hashes", "size", "uid"},
    "fingerprint": {"algorithm", "algorithm_id", "value"},
    "process": {"cmd_line", "uid", "pid", "cpid", "name", "working_directory"},
    "api": {"operation", "request", "response", "service"},
    "request": {"uid", "data"},
    "service": {"name", "uid"},
    "http_request": {"http_method", "url"},
    "url": {"url_string", "hostname", "path"},
    "network_endpoint": {"hostname", "ip", "name", "uid"},
}  # fmt: skip
SEVERITIES = {0, 1, 2, 3, 4, 5, 6, 99}
STATUSES = {0, 1, 2, 99}
FILE_TYPES = {0, 1, 2, 3, 4, 5, 6, 7, 8, 99}
ALGORITHMS = {0, *range(1, 21), 99}

EXPECTED_OCSF = {  # kind → (class_uid, activity_id) as the exporter's docstring says
    "file.create": (1001, 1),
    "file.read": (1001, 2),
    "file.update": (1001, 3),
    "file.delete": (1001, 4),
    "file.rename": (1001, 5),
    "file.restore": (1001, 1),  # the generated restore recreates a deleted file
    "command.exec": (1007, 1),
    "web.fetch": (4002, 3),
    "tool.call": (6003, 99),
    "tool.intent": (6003, 99),
    "agent.spawn": (6003, 1),
    "prompt.submit": (6003, 99),
    "web.search": (6003, 2),
    "session.start": (6002, 3),
    "session.end": (6002, 4),
}
OCSF_UNMAPPED = {k.value for k in Kind} - set(EXPECTED_OCSF)

# ECS 9.1 fields.csv: field → (type, is an array)
ECS_FIELDS = {
    "@timestamp": ("date", False),
    "ecs.version": ("keyword", False),
    "event.kind": ("keyword", False),
    "event.category": ("keyword", True),
    "event.type": ("keyword", True),
    "event.action": ("keyword", False),
    "event.outcome": ("keyword", False),
    "event.sequence": ("long", False),
    "event.hash": ("keyword", False),
    "event.module": ("keyword", False),
    "event.dataset": ("keyword", False),
    "event.provider": ("keyword", False),
    "user.name": ("keyword", False),
    "user.email": ("keyword", False),
    "user.id": ("keyword", False),
    "host.hostname": ("keyword", False),
    "host.name": ("keyword", False),
    "organization.id": ("keyword", False),
    "file.path": ("keyword", False),
    "file.name": ("keyword", False),
    "file.directory": ("keyword", False),
    "file.extension": ("keyword", False),
    "file.size": ("long", False),
    "file.hash.sha256": ("keyword", False),
    "file.type": ("keyword", False),
    "process.command_line": ("wildcard", False),
    "process.exit_code": ("long", False),
    "process.working_directory": ("keyword", False),
    "process.entity_id": ("keyword", False),
    "url.full": ("wildcard", False),
    "url.original": ("wildcard", False),
    "url.domain": ("keyword", False),
    "message": ("match_only_text", False),
    "error.message": ("match_only_text", False),
    "gen_ai.agent.name": ("keyword", False),
    "gen_ai.agent.id": ("keyword", False),
    "gen_ai.system": ("keyword", False),
    "gen_ai.tool.name": ("keyword", False),
    "gen_ai.tool.call.id": ("keyword", False),
    "gen_ai.operation.name": ("keyword", False),
    "related.hash": ("keyword", True),
    "related.user": ("keyword", True),
    "related.hosts": ("keyword", True),
    "tags": ("keyword", True),
}
ECS_CATEGORY_TYPES = {  # allowed event.category values → their expected event.type values
    "api": {"access", "admin", "allowed", "change", "creation", "deletion", "denied", "end",
            "info", "start", "user"},
    "configuration": {"access", "change", "creation", "deletion", "info"},
    "file": {"access", "change", "creation", "deletion", "info"},
    "process": {"access", "change", "end", "info", "start"},
    "session": {"start", "end", "info"},
    "web": {"access", "error", "info"},
}  # fmt: skip
ECS_KINDS = {"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
ECS_OUTCOMES = {"failure", "success", "unknown"}
ECS_UNMAPPED = OCSF_UNMAPPED - {"convention.snapshot"}
CEF_UNMAPPED = {k.value for k in Kind} - set(cef.NAMES)


# -- ledgers ----------------------------------------------------------------------------------


def run_hook(ledger: Path, payload: bytes, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFFIDAVIT_", "CLAUDE_"))}
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", str(ledger)],
        input=payload,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real hook payloads, through the real hook, in a ledger of their own."""
    folder = tmp_path_factory.mktemp("hooked")
    path = folder / "ledger.sqlite"
    Ledger.create(path, origin=ORIGIN, key_path=key_of(path)).close()
    for fixture in sorted(shared_path(*HOOKS).glob("*.json")):
        run_hook(path, fixture.read_bytes(), folder / "home")
    return path


def _agent(tool: str | None = None, n: int = 0, **extra: str) -> dict[str, str]:
    agent = {"product": "claude-code", "session_id": f"sess-{n % 2}", "surface": "cli"}
    if tool:
        agent.update(tool=tool, tool_use_id=f"toolu_{n:04d}", event="PostToolUse")
    return {**agent, **extra, "cwd": "/work"}


ACTOR = {
    "user": "alice",
    "host": "laptop-7",
    "email": "alice@example.com",
    "account_uuid": "acc-1",
    "org_uuid": "org-1",
}


def every_kind() -> list[tuple[str, dict[str, Any]]]:
    """One (kind, payload) per record kind, shaped as the capture code writes them."""
    a = ACTOR
    return [
        ("file.create", {"actor": a, "agent": _agent("Write", 0), "outcome": "ok",
                         "file": {"path": "/work/finance/new.md", "after_sha256": H1, "size": 12}}),
        ("file.read", {"actor": a, "agent": _agent("Read", 1), "outcome": "ok",
                       "file": {"path": "/work/hr/policy.md", "before_sha256": H1}}),
        ("file.update", {"actor": a, "agent": _agent("Edit", 2), "outcome": "ok",
                         "file": {"path": ODD_PATH, "before_sha256": H1, "after_sha256": H2,
                                  "size": 30}}),
        ("file.delete", {"agent": _agent("Bash", 3), "command": {"text": "rm old.md"},
                         "via": "command-side-effect",
                         "file": {"path": "/work/finance/old.md", "before_sha256": H2}}),
        ("file.rename", {"actor": a, "agent": _agent("Bash", 4), "outcome": "ok",
                         "file": {"path": "/work/legal/b.md", "old_path": "/work/legal/a.md",
                                  "before_sha256": H1, "after_sha256": H1}}),
        ("file.restore", {"actor": a, "restore": {"of_seq": 3, "forced": False},
                          "file": {"path": "/work/finance/old.md", "after_sha256": H2}}),
        ("command.exec", {"actor": a, "agent": _agent("Bash", 6), "outcome": "failed",
                          "error": "Exit code 2", "tool": {"name": "Bash", "input": {}},
                          "command": {"text": "ls -la | grep x=1", "description": "List",
                                      "exit": 2}}),
        ("tool.call", {"actor": a, "agent": _agent("mcp__drive__search", 7), "outcome": "ok",
                       "tool": {"server": "drive", "name": "search", "input": {"q": "budget"}}}),
        ("tool.intent", {"actor": a, "agent": _agent("Bash", 8, event="PreToolUse"),
                         "tool": {"name": "Bash", "input": {"command": "ls"}}}),
        ("web.fetch", {"actor": a, "agent": _agent("WebFetch", 9), "outcome": "ok",
                       "tool": {"name": "WebFetch",
                                "input": {"url": "https://example.com/a?b=c", "prompt": "read"}}}),
        ("web.search", {"actor": a, "agent": _agent("WebSearch", 10), "outcome": "ok",
                        "tool": {"name": "WebSearch", "input": {"query": "ocsf 1.8"}}}),
        ("agent.spawn", {"actor": a, "agent": _agent("Task", 11), "outcome": "ok",
                         "tool": {"name": "Task", "input": {"prompt": "sub"}}}),
        ("agent.event", {"actor": a, "agent": _agent(None, 12, event="Stop"), "raw": {"x": 1}}),
        ("prompt.submit", {"actor": a, "agent": _agent(None, 13, event="UserPromptSubmit",
                                                        prompt_id="p-13"),
                           "prompt": {"text": ODD_PROMPT}}),
        ("session.start", {"actor": a, "agent": _agent(None, 14, version="2.1.278")}),
        ("session.end", {"actor": a, "agent": _agent(None, 15)}),
        ("permission.decision", {"actor": a, "agent": _agent("Bash", 16)}),
        ("convention.snapshot", {"actor": a, "agent": _agent(None, 17),
                                 "conventions": {"files": []}}),
        ("capture.error", {"actor": a, "error": "unreadable event"}),
        ("capture.gap", {"actor": a, "gap": {"reason": "cap reached"}}),
        ("capture.corroboration", {"seqs": [0], "source": "claude-code.transcript"}),
        ("policy.finding", {"rule": "no-finance", "seq": 0}),
        ("review.signoff", {"reviewer": "bob", "up_to": 20}),
        ("attestation", {"statement": "reviewed"}),
        ("source.config", {"source": {"name": "team", "provider": "dropbox"}}),
        ("source.revision", {"link": {"source": "team", "revision": {"id": "r1"}},
                             "file": {"path": "/work/finance/new.md"}}),
        ("source.pull", {"pull": {"source": "team", "cursor": 0}}),
        ("connector.salesforce_audit", {"entry": {"action": "changedUserEmail"}}),
        ("connector.salesforce_event", {"entry": {"EVENT_TYPE": "API"}}),
        ("connector.unified_audit", {"entry": {"Operation": "FileModified"}}),
        ("connector.import", {"import": {"format": "m365-audit-json", "cursor": "x"}}),
        ("org.entry", {"origin": "laptop.example.com/1", "seq": 0, "leaf_hash": "AA==",
                       "kind": "file.create"}),
        ("witness.conflict", {"origin": "laptop.example.com/1", "cosigned": "a",
                              "refused": "b", "reason": "a different tree"}),
        ("connector.match", {"match": {"server": "salesforce", "counts": {"unmatched": 0}}}),
        ("compliance.activity", {"compliance": {"source": "acme", "type": "user_logged_in"},
                                 "actor": {"email": "dana@example.com"}}),
        ("compliance.session", {"compliance": {"source": "acme", "family": "local"},
                                "agent": {"product": "cowork", "session_id": "clls_1"}}),
        ("compliance.pull", {"pull": {"source": "acme", "new": {"activities": 1}}}),
        ("archive.run", {"run": {"to": "s3://b/p", "outcome": "archived", "archive": 3}}),
        *((kind, {"actor": {"email": "a@example.com", "account_uuid": "u-1"},
                  "agent": _agent("Edit", 30),
                  "otel": {"event": "claude_code." + kind[5:]}})
          for kind in ("otel.user_prompt", "otel.tool_result", "otel.tool_decision",
                       "otel.api_request", "otel.api_error", "otel.permission_mode",
                       "otel.mcp_connection", "otel.hook", "otel.plugin", "otel.skill",
                       "otel.event")),
        ("identity.link", {"session_id": "s", "tool_use_id": "t", "prompt_id": None,
                           "hook": {"origin": "laptop.example.com/1", "seq": 0,
                                    "leaf_hash": "AA=="},
                           "otel_seq": 1, "user": {"email": "a@example.com"}}),
        ("collector.erasure", {"origin": "laptop.example.com/1", "seq": 0, "leaf_hash": "AA==",
                               "reason": "request 7", "by": "admin-1"}),
        ("file.claim", {"actor": {"device": "cowork-vm"}, "agent": _agent("Bash", 31),
                        "outcome": "ok", "file": {"path": "/work/finance/old.md"},
                        "claim": {"by": "command", "observed": False}}),
    ]  # fmt: skip


ERASED = 1  # the file.read record


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every record kind (the erasure too), in seq order of :func:`every_kind`."""
    path = tmp_path_factory.mktemp("generated") / "ledger.sqlite"
    with Ledger.create(path, origin=ORIGIN, key_path=key_of(path)) as ledger:
        ledger.append(
            Record.create(kind, "test.suite", payload, time=T0 + timedelta(seconds=i))
            for i, (kind, payload) in enumerate(every_kind())
        )
        ledger.erase([ERASED], "GDPR request 7")
    return path


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AFFIDAVIT_LEDGER", "AFFIDAVIT_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    def invoke(ledger: Path, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(["--ledger", str(ledger), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def exported(cli: Cli, ledger: Path, tmp_path: Path, fmt: str, *args: str) -> Path:
    out = tmp_path / f"out.{fmt}"
    out.unlink(missing_ok=True)
    code, _, err = cli(ledger, "export", "--format", fmt, "--out", str(out), *args)
    assert code == EXIT_OK, err
    return out


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def shown(cli: Cli, ledger: Path) -> dict[int, dict[str, Any]]:
    """``affidavit show --all``, by seq."""
    code, out, err = cli(ledger, "show", "--all")
    assert code == EXIT_OK, err
    return {r["seq"]: r for r in map(json.loads, out.splitlines())}


def epoch_ms(text: str) -> int:
    return (datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        milliseconds=1
    )


# -- validators -------------------------------------------------------------------------------


def ocsf_problems(event: dict[str, Any]) -> list[str]:
    """What in one event breaks OCSF 1.8.0: required attributes, enums, types, names."""
    bad: list[str] = []
    uid = event.get("class_uid")
    if uid not in OCSF_CLASSES:
        return [f"class_uid {uid!r} is not a class this export may use"]
    category, activities, own = OCSF_CLASSES[uid]
    for name in ("class_uid", "category_uid", "activity_id", "type_uid", "severity_id", "time"):
        if type(event.get(name)) is not int:
            bad.append(f"{name} is not an integer")
    if event.get("category_uid") != category:
        bad.append(f"category_uid {event.get('category_uid')} is not {category}")
    if event.get("activity_id") not in activities:
        bad.append(f"activity_id {event.get('activity_id')} not in the class enum")
    if event.get("type_uid") != uid * 100 + event.get("activity_id", -1):
        bad.append("type_uid is not class_uid * 100 + activity_id")
    if event.get("severity_id") not in SEVERITIES:
        bad.append("severity_id not in the enum")
    if "status_id" in event and event["status_id"] not in STATUSES:
        bad.append("status_id not in the enum")
    for name in OCSF_REQUIRED[uid] | {"metadata"}:
        if name not in event:
            bad.append(f"required {name} missing")
    bad += [f"{k} is no attribute of class {uid}" for k in event if k not in OCSF_BASE | own]
    meta = event.get("metadata", {})
    if not re.fullmatch(r"1\.\d+\.\d+", str(meta.get("version"))):
        bad.append("metadata.version is not an OCSF 1.x version")
    if not isinstance(meta.get("product"), dict) or not meta["product"].get("name"):
        bad.append("metadata.product has no name")
    bad += _object_problems("metadata", meta)
    bad += _object_problems("product", meta.get("product", {}))
    for name, kind in (("actor", "actor"), ("device", "device"), ("app", "product")):
        if name in event:
            bad += _object_problems(kind, event[name])
    actor = event.get("actor")
    if actor is not None:
        if not {"process", "user", "invoked_by", "session", "app_name", "app_uid"} & set(actor):
            bad.append("actor has none of its at-least-one attributes")
        if "user" in actor:
            bad += _object_problems("user", actor["user"])
            if not {"account", "name", "uid"} & set(actor["user"]):
                bad.append("actor.user has none of account, name, uid")
        if "session" in actor:
            bad += _object_problems("session", actor["session"])
    if "device" in event and type(event["device"].get("type_id")) is not int:
        bad.append("device.type_id (required) missing")
    for name in ("file", "file_result"):
        if name in event:
            bad += _file_problems(event[name])
    if "process" in event:
        bad += _object_problems("process", event["process"])
        if not {"pid", "uid", "cpid"} & set(event["process"]):
            bad.append("process has none of pid, uid, cpid")
    if "api" in event:
        bad += _object_problems("api", event["api"])
        if not isinstance(event["api"].get("operation"), str):
            bad.append("api.operation (required) missing")
        bad += _object_problems("request", event["api"].get("request", {}))
        if "request" in event["api"] and "uid" not in event["api"]["request"]:
            bad.append("api.request.uid (required) missing")
    for name in ("src_endpoint", "dst_endpoint"):
        if name in event:
            bad += _object_problems("network_endpoint", event[name])
            if not {"ip", "uid", "name", "hostname"} & set(event[name]):
                bad.append(f"{name} has none of its at-least-one attributes")
    if uid == 4002:
        if not {"http_request", "http_response"} & set(event):
            bad.append("HTTP Activity needs http_request or http_response")
        if not {"src_endpoint", "dst_endpoint"} & set(event):
            bad.append("HTTP Activity needs an endpoint")
        bad += _object_problems("http_request", event.get("http_request", {}))
    if not isinstance(event.get("unmapped", {}), dict):
        bad.append("unmapped is not an object")
    return bad


def _object_problems(kind: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{kind} is not an object"]
    return [f"{kind}.{k} is no attribute of {kind}" for k in value if k not in OCSF_OBJECTS[kind]]


def _file_problems(file: dict[str, Any]) -> list[str]:
    bad = _object_problems("file", file)
    if not isinstance(file.get("name"), str) or file.get("type_id") not in FILE_TYPES:
        bad.append("file.name and file.type_id are required")
    for digest in file.get("hashes", []):
        bad += _object_problems("fingerprint", digest)
        if digest.get("algorithm_id") not in ALGORITHMS or not isinstance(digest.get("value"), str):
            bad.append("fingerprint needs algorithm_id (enum) and value")
    if "size" in file and type(file["size"]) is not int:
        bad.append("file.size is not an integer")
    return bad


def flatten(doc: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in doc.items():
        if isinstance(value, dict):
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def ecs_problems(doc: dict[str, Any]) -> list[str]:
    """What in one document breaks ECS 9.1: unknown fields, wrong types, disallowed values."""
    bad: list[str] = []
    for field, value in flatten(doc):
        if field.startswith("affidavit."):
            continue  # our own namespace, as ECS asks for custom fields
        if field not in ECS_FIELDS:
            bad.append(f"{field} is no ECS field")
            continue
        kind, array = ECS_FIELDS[field]
        if array and not isinstance(value, list):
            bad.append(f"{field} must be an array")
        for item in value if isinstance(value, list) else [value]:
            if kind == "long" and (type(item) is not int or not -(2**63) <= item < 2**63):
                bad.append(f"{field} is not a long: {item!r}")
            elif kind in ("keyword", "wildcard", "match_only_text") and not isinstance(item, str):
                bad.append(f"{field} is not a string: {item!r}")
            elif kind == "date":
                try:
                    datetime.fromisoformat(item)
                except (TypeError, ValueError):
                    bad.append(f"{field} is not an ISO 8601 date: {item!r}")
    event = doc.get("event", {})
    if event.get("kind") not in ECS_KINDS:
        bad.append("event.kind not allowed")
    if "outcome" in event and event["outcome"] not in ECS_OUTCOMES:
        bad.append("event.outcome not allowed")
    for category in event.get("category", []):
        if category not in ECS_CATEGORY_TYPES:
            bad.append(f"event.category {category} not allowed")
        elif not set(event.get("type", [])) <= ECS_CATEGORY_TYPES[category]:
            bad.append(f"event.type {event.get('type')} not expected for {category}")
    return bad


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), text, flags=re.S)


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """A CEF line → its 7 header fields and extension pairs, unescaped; AssertionError if
    malformed (an unescaped pipe count that is not 7, a bad key, an unescaped newline)."""
    assert line.startswith("CEF:0|") and "\n" not in line and "\r" not in line
    header: list[str] = []
    cut = 0
    i = 0
    while len(header) < 7:
        assert i < len(line), "fewer than 7 header fields"
        if line[i] == "\\":
            assert line[i + 1] in "\\|", f"bad header escape {line[i : i + 2]!r}"
            i += 2
        elif line[i] == "|":
            header.append(_unescape(line[cut:i]))
            cut = i = i + 1
        else:
            i += 1
    extension = line[cut:]
    segments, start, i = [], 0, 0
    while i < len(extension):
        if extension[i] == "\\":
            assert extension[i + 1] in "\\=nr", f"bad extension escape {extension[i : i + 2]!r}"
            i += 2
        elif extension[i] == "=":
            segments.append(extension[start:i])
            start = i = i + 1
        else:
            i += 1
    segments.append(extension[start:])
    keys, values = [segments[0]], []
    for segment in segments[1:-1]:
        value, _, key = segment.rpartition(" ")
        values.append(value)
        keys.append(key)
    values.append(segments[-1])
    for key in keys:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key), f"bad extension key {key!r}"
    assert len(set(keys)) == len(keys), "a key appears twice"
    return header, {k: _unescape(v) for k, v in zip(keys, values, strict=True)}


def trace_of(fmt: str, path: Path) -> list[tuple[int, str]]:
    """(seq, leaf hash hex) of every exported row."""
    if fmt == "ocsf":
        events = json_lines(path)
        for e in events:
            trace = e["unmapped"]["affidavit"]
            assert (trace["seq"], trace["leaf_hash"]) == (
                e["metadata"]["sequence"],
                e["metadata"]["uid"],
            )
            assert e["metadata"]["original_event_uid"] == str(trace["seq"])
        return [(e["metadata"]["sequence"], e["metadata"]["uid"]) for e in events]
    if fmt == "ecs":
        docs = json_lines(path)
        for d in docs:
            assert (d["affidavit"]["seq"], d["affidavit"]["leaf_hash"]) == (
                d["event"]["sequence"],
                d["event"]["hash"],
            )
        return [(d["event"]["sequence"], d["event"]["hash"]) for d in docs]
    if fmt == "cef":
        pairs = []
        for line in path.read_text("utf-8").splitlines():
            _, ext = parse_cef(line)
            assert ext["cs1Label"] == "leafHash"
            pairs.append((int(ext["externalId"]), ext["cs1"]))
        return pairs
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"), newline="")))
        return [(int(r["seq"]), r["leaf_hash"]) for r in rows]
    if fmt == "jsonl":
        return [(r["seq"], r["leaf_hash"]) for r in json_lines(path)]
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(path).to_pydict()
    return list(zip(table["seq"], table["leaf_hash"], strict=True))


# -- OCSF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["hooked", "generated"])
def test_ocsf_events_validate(
    which: str, request: pytest.FixtureRequest, cli: Cli, tmp_path: Path
) -> None:
    ledger: Path = request.getfixturevalue(which)
    events = json_lines(exported(cli, ledger, tmp_path, "ocsf"))
    records = shown(cli, ledger)
    assert [e["metadata"]["sequence"] for e in events] == sorted(records)
    for event in events:
        seq = event["metadata"]["sequence"]
        assert ocsf_problems(event) == [], (seq, event)
        envelope = records[seq]["envelope"]
        assert event["time"] == epoch_ms(envelope["time"])
        assert event["metadata"]["original_time"] == envelope["time"]
        assert event["metadata"]["event_code"] == envelope["kind"]
        assert event["metadata"]["log_name"] == ORIGIN
        if records[seq]["payload"] is None:
            assert (event["class_uid"], event["metadata"]["labels"]) == (0, ["erased"])
            assert event["unmapped"]["affidavit"]["erased"] is True
            assert set(event) - OCSF_BASE == set() and "actor" not in event
        else:
            want = EXPECTED_OCSF.get(envelope["kind"], (0, 99))
            assert (event["class_uid"], event["activity_id"]) == want, envelope["kind"]
            assert "raw" not in event["unmapped"] and "raw_rest" not in event["unmapped"]


def test_ocsf_mapping_details(generated: Path, cli: Cli, tmp_path: Path) -> None:
    events = {
        e["metadata"]["event_code"]: e
        for e in json_lines(exported(cli, generated, tmp_path, "ocsf"))
    }
    sha = {"algorithm_id": 3, "algorithm": "SHA-256"}
    update = events["file.update"]
    assert update["file"]["path"] == update["file_result"]["path"] == ODD_PATH
    assert update["file"]["hashes"] == [{**sha, "value": H1}]
    assert update["file_result"]["hashes"] == [{**sha, "value": H2}]
    assert update["file_result"]["size"] == 30
    assert update["actor"]["user"] == {
        "name": "alice",
        "email_addr": "alice@example.com",
        "uid": "acc-1",
    }
    assert update["device"]["hostname"] == "laptop-7"
    assert update["metadata"]["tenant_uid"] == "org-1"
    assert update["metadata"]["correlation_uid"] == update["actor"]["session"]["uid"] == "sess-0"
    rename = events["file.rename"]
    assert (rename["file"]["path"], rename["file_result"]["path"]) == (
        "/work/legal/a.md",
        "/work/legal/b.md",
    )
    delete = events["file.delete"]  # a shell side effect: no actor or host in the record
    assert delete["file"]["hashes"] == [{**sha, "value": H2}]
    assert delete["actor"] == {"app_name": "claude-code", "session": {"uid": "sess-1"}}
    assert delete["device"] == {"name": "unknown", "type_id": 0, "type": "Unknown"}
    command = events["command.exec"]
    assert command["process"]["cmd_line"] == "ls -la | grep x=1"
    assert (command["exit_code"], command["status_id"], command["status_detail"]) == (
        2,
        2,
        "Exit code 2",
    )
    assert command["unmapped"]["command"] == {"description": "List"}
    tool = events["tool.call"]
    assert tool["api"] == {
        "operation": "mcp__drive__search",
        "request": {"uid": "toolu_0007", "data": {"q": "budget"}},
        "service": {"name": "drive"},
    }
    prompt = events["prompt.submit"]
    assert prompt["api"]["request"] == {"uid": "p-13", "data": {"prompt": ODD_PROMPT}}
    fetch = events["web.fetch"]
    assert fetch["http_request"]["url"] == {
        "url_string": "https://example.com/a?b=c",
        "hostname": "example.com",
    }
    assert fetch["dst_endpoint"] == {"hostname": "example.com"}
    start = events["session.start"]
    assert start["app"] == {"name": "claude-code", "vendor_name": "Anthropic", "version": "2.1.278"}
    error = events["capture.error"]  # a Base Event still maps what the base class holds
    assert error["status_detail"] == "unreadable event" and "error" not in error["unmapped"]
    gap = events["capture.gap"]
    assert (
        gap["unmapped"]["gap"] == {"reason": "cap reached"}
        and gap["activity_name"] == "capture.gap"
    )
    for event in events.values():
        if event["class_uid"] not in (1001, 1007):
            assert event["metadata"].get("profiles", ["host"]) == ["host"]


# -- ECS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["hooked", "generated"])
def test_ecs_documents_validate(
    which: str, request: pytest.FixtureRequest, cli: Cli, tmp_path: Path
) -> None:
    ledger: Path = request.getfixturevalue(which)
    docs = json_lines(exported(cli, ledger, tmp_path, "ecs"))
    records = shown(cli, ledger)
    assert len(docs) == len(records)
    for doc in docs:
        assert ecs_problems(doc) == [], doc
        record = records[doc["event"]["sequence"]]
        assert doc["@timestamp"] == record["envelope"]["time"]
        assert doc["event"]["action"] == record["envelope"]["kind"]
        if record["payload"] is None:
            assert doc["tags"] == ["erased"] and doc["affidavit"]["erased"] is True
            assert set(doc) == {"@timestamp", "ecs", "event", "tags", "affidavit"}
        if "payload" in doc["affidavit"]:
            assert isinstance(json.loads(doc["affidavit"]["payload"]), dict)


def test_ecs_mapping_details(generated: Path, cli: Cli, tmp_path: Path) -> None:
    docs = {d["event"]["action"]: d for d in json_lines(exported(cli, generated, tmp_path, "ecs"))}
    update = docs["file.update"]
    assert update["file"]["path"] == ODD_PATH and update["file"]["size"] == 30
    assert update["file"]["hash"] == {"sha256": H2}
    assert update["affidavit"]["file"] == {"before_sha256": H1}
    assert update["related"]["hash"] == [H1, H2]
    assert update["user"] == {"name": "alice", "email": "alice@example.com", "id": "acc-1"}
    assert (update["event"]["category"], update["event"]["type"]) == (["file"], ["change"])
    command = docs["command.exec"]
    assert command["process"]["command_line"] == "ls -la | grep x=1"
    assert command["process"]["exit_code"] == 2 and command["event"]["outcome"] == "failure"
    assert command["error"] == {"message": "Exit code 2"}
    assert docs["prompt.submit"]["message"] == ODD_PROMPT
    assert docs["tool.call"]["gen_ai"]["tool"] == {
        "name": "mcp__drive__search",
        "call": {"id": "toolu_0007"},
    }
    assert docs["web.fetch"]["url"]["domain"] == "example.com"
    assert docs["session.end"]["event"]["type"] == ["end"]


# -- CEF --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["hooked", "generated"])
def test_cef_lines_parse(
    which: str, request: pytest.FixtureRequest, cli: Cli, tmp_path: Path
) -> None:
    ledger: Path = request.getfixturevalue(which)
    lines = exported(cli, ledger, tmp_path, "cef").read_text("utf-8").split("\n")
    assert lines.pop() == ""
    records = shown(cli, ledger)
    assert len(lines) == len(records)
    for line in lines:
        header, ext = parse_cef(line)
        version, vendor, product, _, signature, name, severity = header
        assert (version, vendor, product) == ("CEF:0", "Affidavit", "Affidavit")
        assert severity.isdigit() and 0 <= int(severity) <= 10
        record = records[int(ext["externalId"])]
        assert signature == record["envelope"]["kind"]
        assert int(ext["rt"]) == epoch_ms(record["envelope"]["time"])
        assert ext["deviceExternalId"] == ORIGIN
        if record["payload"] is None:
            assert name.endswith("(payload erased)")
            assert ext["msg"] == "payload erased; envelope only"


def test_cef_escaping_round_trips(generated: Path, cli: Cli, tmp_path: Path) -> None:
    lines = exported(cli, generated, tmp_path, "cef").read_text("utf-8").splitlines()
    parsed = {h[4]: ext for h, ext in map(parse_cef, lines)}
    update = parsed["file.update"]
    assert update["filePath"] == ODD_PATH
    assert update["fname"] == "with=eq\nand newline.md"  # / and \ both separate, as in log
    assert (update["fileHash"], update["oldFileHash"]) == (H2, H1)
    assert parsed["prompt.submit"]["msg"] == ODD_PROMPT
    command = parsed["command.exec"]
    assert (command["cs4Label"], command["cs4"]) == ("command", "ls -la | grep x=1")
    assert (command["cn1"], command["outcome"]) == ("2", "failure")
    assert parsed["file.rename"]["oldFilePath"] == "/work/legal/a.md"
    assert parsed["web.fetch"]["request"] == "https://example.com/a?b=c"


@given(st.text())
def test_cef_value_escape_round_trips(value: str) -> None:
    escaped = cef.escape_value(value)
    assert "\n" not in escaped and "\r" not in escaped
    assert re.search(r"(?<!\\)(\\\\)*=", escaped) is None  # every '=' escaped
    assert _unescape(escaped) == value


@given(st.text())
def test_cef_header_escape(value: str) -> None:
    escaped = cef.escape_header(value)
    assert re.search(r"(?<!\\)(\\\\)*\|", escaped) is None  # every '|' escaped
    assert _unescape(escaped) == value.replace("\r", " ").replace("\n", " ")


# -- CSV, JSON Lines, Parquet -----------------------------------------------------------------


def test_csv_is_the_actions_table(generated: Path, cli: Cli, tmp_path: Path) -> None:
    rows = list(
        csv.reader(
            io.StringIO(exported(cli, generated, tmp_path, "csv").read_text("utf-8"), newline="")
        )
    )
    code, out, _ = cli(generated, "sql", "SELECT * FROM actions ORDER BY seq", "--format", "csv")
    assert code == EXIT_OK
    assert rows == list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == list(query.COLUMNS)
    erased = rows[1 + ERASED]
    assert (
        erased[query.COLUMNS.index("erased")] == "1" and erased[query.COLUMNS.index("path")] == ""
    )
    assert rows[3][query.COLUMNS.index("path")] == ODD_PATH


def test_jsonl_is_the_payload_shape(generated: Path, cli: Cli, tmp_path: Path) -> None:
    lines = json_lines(exported(cli, generated, tmp_path, "jsonl"))
    records = shown(cli, generated)
    assert len(lines) == len(records)
    for line in lines:
        record = records[line["seq"]]
        assert set(line) == {"seq", "leaf_hash", "time", "kind", "source", "erased", "payload"}
        assert line["payload"] == record["payload"]  # raw and all, exactly as stored
        assert line["erased"] is (record["payload"] is None)
        assert (line["time"], line["kind"], line["source"]) == tuple(
            record["envelope"][k] for k in ("time", "kind", "source")
        )


def test_parquet_round_trip(generated: Path, cli: Cli, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(exported(cli, generated, tmp_path, "parquet"))
    assert table.column_names == [*query.COLUMNS, "payload"]
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("size").type) == "int64"
    assert table.schema.metadata[b"affidavit.origin"] == ORIGIN.encode()
    data = table.to_pylist()
    records = shown(cli, generated)
    _, out, _ = cli(generated, "sql", "SELECT * FROM actions ORDER BY seq", "--format", "jsonl")
    actions = [json.loads(line) for line in out.splitlines()]
    assert len(data) == len(actions) == len(records)
    for row, action in zip(data, actions, strict=True):
        record = records[row["seq"]]
        assert row["payload"] == (
            None
            if record["payload"] is None
            else json.dumps(
                record["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
        )
        assert row["time"] == datetime.fromisoformat(action["time"])
        for name in query.COLUMNS:
            if name != "time":
                want = action[name]
                assert row[name] == (bool(want) if name in ("erased", "corroborated") else want), (
                    name
                )


def test_parquet_without_pyarrow_names_the_extra(
    generated: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = importlib.import_module

    def no_pyarrow(name: str, package: str | None = None) -> Any:
        if name.split(".")[0] == "pyarrow":
            raise ImportError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_pyarrow)
    out = tmp_path / "out.parquet"
    code, _, err = cli(generated, "export", "--format", "parquet", "--out", str(out))
    assert code == EXIT_USAGE
    assert "affidavit[parquet]" in err
    assert not out.exists()


# -- what every format shares -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_row_leads_to_its_proof(fmt: str, generated: Path, cli: Cli, tmp_path: Path) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    trace = trace_of(fmt, exported(cli, generated, tmp_path, fmt))
    records = shown(cli, generated)
    assert [seq for seq, _ in trace] == sorted(records)
    for seq, leaf_hash in trace:
        assert bytes.fromhex(leaf_hash) == base64.b64decode(records[seq]["leaf_hash"])


FILTERS = [
    (["--kind", "file"], "kind = 'file' OR kind LIKE 'file.%'"),
    (["--kind", "command", "--kind", "prompt"], "kind LIKE 'command.%' OR kind LIKE 'prompt.%'"),
    (["--path", "finance"], "path_matches(path, 'finance')"),
    (["--kind", "file", "--path", "/work/legal/*"],
     "kind LIKE 'file.%' AND path_matches(path, '/work/legal/*')"),
    (["--actor", "alice@example.com"],
     "actor_user = 'alice@example.com' OR actor_email = 'alice@example.com'"),
    (["--session", "sess-1"], "session_id = 'sess-1'"),
    (["--tool", "Bash"], "tool = 'Bash'"),
    (["--since", "2026-11-26T10:00:05Z", "--until", "2026-11-26T10:00:12Z"],
     "time >= '2026-11-26T10:00:05.000000Z' AND time < '2026-11-26T10:00:12.000000Z'"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "where"), FILTERS, ids=[" ".join(a) for a, _ in FILTERS])
def test_filters_select_what_sql_selects(
    args: list[str], where: str, generated: Path, cli: Cli, tmp_path: Path
) -> None:
    code, out, _ = cli(
        generated, "sql", f"SELECT seq FROM actions WHERE {where} ORDER BY seq", "--format", "jsonl"
    )
    assert code == EXIT_OK
    want = [json.loads(line)["seq"] for line in out.splitlines()]
    assert want, "a filter that selects nothing proves nothing"
    for fmt in ("ocsf", "ecs", "cef", "csv", "jsonl"):
        got = [seq for seq, _ in trace_of(fmt, exported(cli, generated, tmp_path, fmt, *args))]
        assert got == want, fmt


def test_hooked_filters(hooked: Path, cli: Cli, tmp_path: Path) -> None:
    _, out, _ = cli(
        hooked, "sql", "SELECT seq, kind, tool FROM actions ORDER BY seq", "--format", "jsonl"
    )
    rows = [json.loads(line) for line in out.splitlines()]
    files = [r["seq"] for r in rows if r["kind"].startswith("file.")]
    bash = [r["seq"] for r in rows if r["tool"] == "Bash"]
    assert files and bash
    assert [
        s for s, _ in trace_of("ocsf", exported(cli, hooked, tmp_path, "ocsf", "--kind", "file"))
    ] == files
    assert [
        s for s, _ in trace_of("ecs", exported(cli, hooked, tmp_path, "ecs", "--tool", "Bash"))
    ] == bash


@pytest.mark.parametrize(
    ("fmt", "unmapped"),
    [
        ("ocsf", OCSF_UNMAPPED),
        ("ecs", ECS_UNMAPPED),
        ("cef", CEF_UNMAPPED),
        ("csv", set()),
        ("jsonl", set()),
    ],
)
def test_unmapped_records_are_counted_and_reported(
    fmt: str, unmapped: set[str], generated: Path, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / f"summary.{fmt}"
    code, stdout, _ = cli(generated, "export", "--format", fmt, "--out", str(out), "--json")
    assert code == EXIT_OK
    summary = json.loads(stdout)
    assert set(summary["unmapped_by_kind"]) == unmapped
    assert all(count == 1 for count in summary["unmapped_by_kind"].values())
    assert summary["unmapped"] == len(unmapped)
    assert (summary["written"], summary["erased"]) == (len(Kind), 1)
    out.unlink()
    code, _, err = cli(generated, "export", "--format", fmt, "--out", str(out))
    assert err.startswith(f"wrote {len(Kind)} records to {out}; {len(unmapped)} unmapped")
    for kind in unmapped:
        assert f"{kind} 1" in err
    assert "1 erased (envelope only)" in err


def test_out_is_never_overwritten_without_force(generated: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    out.write_text("an auditor's earlier export\n")
    code, _, err = cli(generated, "export", "--format", "jsonl", "--out", str(out))
    assert code == EXIT_USAGE and "--force" in err
    assert out.read_text() == "an auditor's earlier export\n"
    code, _, err = cli(generated, "export", "--format", "jsonl", "--out", str(out), "--force")
    assert code == EXIT_OK, err
    assert len(json_lines(out)) == len(Kind)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "xml", "--out", "x"],
        ["--format", "ocsf"],
        ["--out", "x"],
        ["--format", "ocsf", "--out", "x", "--since", "last tuesday"],
    ],
)
def test_bad_arguments_exit_2(
    args: list[str], generated: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(generated, "export", *args)
    assert code == EXIT_USAGE and err
    assert not (tmp_path / "x").exists()


def test_unknown_format_in_the_library() -> None:
    with pytest.raises(InputError, match="unknown export format 'xml'"):
        export.exporter("xml", origin=ORIGIN)


class Failing:
    """An exporter that dies half way, as a full disk would."""

    name = "failing"
    suffix = ".x"

    def write(self, rows: Any, out: IO[bytes]) -> ExportReport:
        out.write(b"half an export")
        raise OSError("No space left on device")


def test_a_failed_export_leaves_no_file(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "export.ocsf"
    with Ledger.open(generated) as ledger, pytest.raises(OSError, match="No space"):
        export.write_file(ledger.store, query.Filters(), Failing(), out)
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported(generated: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    with Ledger.open(generated) as ledger:
        fmt = export.exporter("ocsf", origin=ledger.origin)
        report = export.write_file(
            ledger.store, query.Filters(), fmt, tmp_path / "o", progress=seen.append
        )
    assert seen[-1] == report.written == len(Kind)


@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_stream(fmt: str, generated: Path) -> None:
    """Output appears while rows still arrive: nothing holds the whole ledger in memory."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    with Ledger.open(generated) as ledger:
        query.refresh(ledger.store)
        sample = list(export.read_rows(ledger.store, query.Filters()))
        exporter = export.exporter(fmt, origin=ledger.origin)
    out = io.BytesIO()
    written_before_the_end: list[int] = []

    def rows() -> Iterator[Row]:
        for i in range(40_000):
            yield sample[i % len(sample)]._replace(seq=i)
        written_before_the_end.append(out.getbuffer().nbytes)

    report = exporter.write(rows(), out)
    assert report.written == 40_000
    assert 0 < written_before_the_end[0] < out.getbuffer().nbytes


def test_row_has_the_actions_columns() -> None:
    assert Row._fields == (*query.COLUMNS, "payload", "body")


def test_epoch_ms() -> None:
    ms = export.EpochMs()
    for text in (
        "2026-11-26T10:00:00.123456Z",
        "2026-11-26T10:00:00.999999Z",
        "1970-01-01T00:00:00.000000Z",
        "2026-11-26T10:00:01.000000Z",
        "2026-11-26T10:00:01+00:00",
        "2026-11-26T11:00:01.5+01:00",
    ):
        assert ms(text) == epoch_ms(text), text

"""``affidavit install --http URL``: http hooks to the collector, for machines without Python.

The plugin (``--plugin DIR --http URL``) and the managed drop-in (``--scope managed --http
URL``) are checked against SchemaStore's Claude Code settings schema (read in place from
``../shared/vectors/``) and the plugins reference's manifest rules; the installed handler is
then used as Claude Code uses it: ``$AFFIDAVIT_TOKEN`` filled from the environment into the
header, the body POSTed to the URL, against a real collector.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from affidavit.capture import install as core
from affidavit.cli import run
from collector_helpers import ORIGIN, Collector
from conftest import shared_path
from pg_helpers import Schemas

URL = "https://collector.example.com"
# The plugins reference's rule for a plugin name (kebab-case, starts with a letter).
PLUGIN_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def load(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def validator() -> Draft7Validator:
    path = shared_path("vectors", "claude-code-settings", "claude-code-settings.json")
    return Draft7Validator(json.loads(path.read_text(encoding="utf-8")))


def check_handlers(hooks: dict[str, Any], url: str) -> None:
    assert set(hooks) == set(core.EVENTS)
    for event, groups in hooks.items():
        (group,) = groups
        assert ("matcher" in group) == (event in core.TOOL_EVENTS)
        (hook,) = group["hooks"]
        assert hook == {
            "type": "http",
            "url": url.rstrip("/") + "/v1/hooks",
            "headers": {
                "Authorization": "Bearer $AFFIDAVIT_TOKEN",
                "X-Affidavit-Remote": "$CLAUDE_CODE_REMOTE",
                "X-Affidavit-Remote-Session": "$CLAUDE_CODE_REMOTE_SESSION_ID",
            },
            "allowedEnvVars": [
                "AFFIDAVIT_TOKEN",
                "CLAUDE_CODE_REMOTE",
                "CLAUDE_CODE_REMOTE_SESSION_ID",
            ],
            "timeout": hook["timeout"],
        }
        assert 0 < hook["timeout"] <= 30


def test_plugin_with_http_handlers_validates_and_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plugin = tmp_path / "affidavit-cowork"
    assert run(["install", "--plugin", str(plugin), "--http", URL + "/"]) == 0
    assert capsys.readouterr().err == f"added {len(core.EVENTS)} hooks to {plugin}\n"
    manifest = load(plugin / ".claude-plugin" / "plugin.json")
    assert PLUGIN_NAME.fullmatch(manifest["name"]) and manifest["description"]
    hooks = load(plugin / "hooks" / "hooks.json")
    check_handlers(hooks["hooks"], URL)
    # hooks.json holds the settings "hooks" shape: the published schema takes it as one.
    schema = validator()
    assert list(schema.iter_errors({"hooks": hooks["hooks"]})) == []
    broken = json.loads(json.dumps(hooks["hooks"]))
    broken["PreToolUse"][0]["hooks"][0]["allowedEnvVars"] = "AFFIDAVIT_TOKEN"
    assert not schema.is_valid({"hooks": broken})  # the check is not a rubber stamp
    assert run(["install", "--plugin", str(plugin), "--http", URL]) == 0
    assert capsys.readouterr().err == f"already installed in {plugin}\n"
    assert run(["uninstall", "--plugin", str(plugin)]) == 0
    assert not plugin.exists()


def test_managed_http_drop_in_validates_against_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["install", "--scope", "managed", "--http", URL, "--root", str(tmp_path)]
    assert run([*args, "--dry-run", "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    (text,) = [
        s["text"] for s in steps if s["target"].endswith("managed-settings.d/affidavit.json")
    ]
    document = json.loads(text)
    assert list(validator().iter_errors(document)) == []
    assert document["allowManagedHooksOnly"] is True
    assert "permissions" not in document  # no local ledger or key to keep the agent off
    check_handlers(document["hooks"], URL)


@pytest.mark.parametrize(
    "url",
    ["collector.example.com", "ftp://collector.example.com", "https://", URL + "/?token=x"],
)
def test_a_url_that_is_not_a_collector_address_is_refused(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["install", "--plugin", str(tmp_path / "p"), "--http", url]) == 2
    assert "--http" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_http_does_not_go_with_system(tmp_path: Path) -> None:
    assert run(["install", "--system", "--http", URL, "--root", str(tmp_path), "--dry-run"]) == 2


def test_the_plugins_handler_reaches_a_real_collector(
    pg_schemas: Schemas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = Collector(pg_schemas, tmp_path)
    c.cli("init", "--origin", ORIGIN)
    token = c.token("device", "plugin-check")
    with c.serving():
        plugin = tmp_path / "plugin"
        assert run(["install", "--plugin", str(plugin), "--http", c.url]) == 0
        (group,) = load(plugin / "hooks" / "hooks.json")["hooks"]["Stop"]
        (hook,) = group["hooks"]
        env = {"AFFIDAVIT_TOKEN": token, "OTHER": "never sent"}
        body = {"hook_event_name": "Stop", "session_id": "s-plugin", "cwd": str(tmp_path)}
        answer = httpx.post(
            hook["url"], json=body, headers=claude_code_headers(hook, env), timeout=hook["timeout"]
        )
        assert (answer.status_code, answer.json()) == (200, {})
        assert c.sql("SELECT count(*) FROM tokens WHERE last_used IS NOT NULL") == [(1,)]


def claude_code_headers(hook: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """What Claude Code does with the handler's headers: $VAR filled only from
    allowedEnvVars, "" for one that is unset or not listed (the hooks reference)."""
    return {
        name: re.sub(
            r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
            lambda m: env.get(m[1], "") if m[1] in hook["allowedEnvVars"] else "",
            value,
        )
        for name, value in hook["headers"].items()
    }


def test_a_cloud_session_is_told_apart_through_the_plugins_headers(
    pg_schemas: Schemas, tmp_path: Path
) -> None:
    # code.claude.com/docs/en/claude-code-on-the-web: a cloud session has CLAUDE_CODE_REMOTE
    # "true" ("Local vs remote execution") and its id in CLAUDE_CODE_REMOTE_SESSION_ID
    # ("Link artifacts back to the session"); a laptop has neither.
    c = Collector(pg_schemas, tmp_path)
    c.cli("init", "--origin", ORIGIN)
    token = c.token("device", "cloud-check")
    with c.serving():
        plugin = tmp_path / "plugin"
        assert run(["install", "--plugin", str(plugin), "--http", c.url]) == 0
        (group,) = load(plugin / "hooks" / "hooks.json")["hooks"]["PostToolUse"]
        (hook,) = group["hooks"]
        body = {
            "hook_event_name": "PostToolUse",
            "session_id": "s-cloud",
            "cwd": "/home/user/repo",
            "tool_name": "Bash",
            "tool_input": {"command": "ls"},
            "tool_response": {"stdout": "", "stderr": "", "interrupted": False},
            "tool_use_id": "toolu_cloud",
        }
        laptop = {"AFFIDAVIT_TOKEN": token}
        cloud = laptop | {
            "CLAUDE_CODE_REMOTE": "true",
            "CLAUDE_CODE_REMOTE_SESSION_ID": "session_01CloudExample",
        }
        for env in (laptop, cloud):
            answer = httpx.post(
                hook["url"], json=body, headers=claude_code_headers(hook, env), timeout=5
            )
            assert (answer.status_code, answer.json()) == (200, {})
        rows = c.sql(
            "SELECT d.org_seq, convert_from(r.payload, 'UTF8')::jsonb -> 'agent' FROM direct d "
            f'JOIN "{c.schema}_org".records r ON r.seq = d.org_seq '
            "WHERE d.source = 'claude-code.http-hook' ORDER BY d.org_seq"
        )
        agents = [agent for _, agent in rows]
        assert [a["surface"] for a in agents] == ["cli", "remote"]
        assert "remote_session_id" not in agents[0]
        assert agents[1]["remote_session_id"] == "session_01CloudExample"
        assert agents[1]["product"] == "claude-code"


def test_a_settings_file_gets_http_handlers_and_loses_them_again(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    theirs = '{"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}'
    original = '{\n  "model": "opus",\n  "hooks": ' + theirs + "\n}\n"
    settings.write_text(original, encoding="utf-8")
    assert run(["install", "--settings", str(settings), "--http", URL]) == 0
    value = load(settings)
    assert value["model"] == "opus"
    stop = value["hooks"]["Stop"]
    assert stop[0]["hooks"][0]["command"] == "say done"  # someone else's hook stays
    assert stop[1]["hooks"][0]["url"] == URL + "/v1/hooks"
    assert list(validator().iter_errors(value)) == []
    assert run(["uninstall", "--settings", str(settings)]) == 0
    assert settings.read_text(encoding="utf-8") == original


def test_someone_elses_http_hook_is_not_taken_for_ours(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    theirs = {
        "type": "http",
        "url": "https://audit.example.org/v1/hooks",
        "headers": {"Authorization": "Bearer $THEIR_TOKEN"},
        "allowedEnvVars": ["THEIR_TOKEN"],
    }
    settings.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [theirs]}]}}), encoding="utf-8")
    assert run(["install", "--settings", str(settings), "--http", URL]) == 0
    assert run(["uninstall", "--settings", str(settings)]) == 0
    assert load(settings)["hooks"] == {"Stop": [{"hooks": [theirs]}]}

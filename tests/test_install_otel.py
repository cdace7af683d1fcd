"""`affidavit install --otel`: the Claude Code environment and Cowork console values that send
OpenTelemetry logs to the collector, printed, merged into a settings file, or written as a
managed-settings drop-in under --root. Variable names are those of Claude Code's monitoring
documentation (code.claude.com/docs/en/monitoring-usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from affidavit.capture import otel_setup
from affidavit.errors import InputError
from ledger_helpers import cli_env

TOKEN = "afv_12_" + "A" * 43
URL = "https://audit.example.com:8443"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "affidavit", "install", "--otel", *args],
        capture_output=True,
        text=True,
        env=cli_env(home),
    )


def test_prints_the_env_and_the_cowork_values(tmp_path: Path) -> None:
    result = run(tmp_path, "--server", URL, "--token", TOKEN, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["claude_code"]["env"] == {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": URL + "/v1/logs",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {TOKEN}",
        "OTEL_LOG_TOOL_DETAILS": "1",
    }
    assert out["cowork"]["egress_allow"] == "audit.example.com:8443"
    assert out["cowork"]["endpoint"] == URL + "/v1/logs"
    text = run(tmp_path, "--server", "https://audit.example.com/", "--token", TOKEN)
    assert "Network egress allow-list: audit.example.com\n" in text.stdout
    assert '"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "https://audit.example.com/v1/logs"' in text.stdout


def test_merges_into_a_settings_file_and_keeps_the_rest(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"env": {"KEEP": "1"}, "hooks": {"Stop": []}}))
    result = run(tmp_path, "--server", URL, "--token", TOKEN, "--settings", str(settings))
    assert result.returncode == 0, result.stderr
    written = json.loads(settings.read_text())
    assert written["hooks"] == {"Stop": []} and written["env"]["KEEP"] == "1"
    assert written["env"]["OTEL_LOGS_EXPORTER"] == "otlp"
    again = run(tmp_path, "--server", URL, "--token", TOKEN, "--settings", str(settings))
    assert "already set" in again.stderr


def test_managed_scope_writes_its_own_drop_in_under_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    dry = run(tmp_path, "--server", URL, "--token", TOKEN, "--scope", "managed", "--root",
              str(root), "--dry-run")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert not any(root.rglob("*.json")) and '"OTEL_LOGS_EXPORTER": "otlp"' in dry.stdout
    result = run(tmp_path, "--server", URL, "--token", TOKEN, "--scope", "managed", "--root",
                 str(root))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (drop_in,) = root.rglob(otel_setup.DROP_IN)
    assert drop_in.parent.name == "managed-settings.d"
    assert json.loads(drop_in.read_text())["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"
    assert drop_in.stat().st_mode & 0o777 == 0o644
    assert "allow audit.example.com:8443 in network egress" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "ftp://x", "--token", TOKEN], "collector's URL"),
        (["--server", URL, "--token", "has space"], "--token"),
        (["--server", URL], "--otel needs --server URL and --token"),
        (["--server", URL, "--token", TOKEN, "--scope", "user"], "--scope managed"),
    ],
)
def test_bad_options_are_refused_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_settings_file_that_is_not_json_is_left_alone(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("{not json")
    result = run(tmp_path, "--server", URL, "--token", TOKEN, "--settings", str(settings))
    assert result.returncode == 2 and "not JSON" in result.stderr
    assert settings.read_text() == "{not json"
    with pytest.raises(InputError, match="env is not an object"):
        otel_setup.merge_env('{"env": []}', {"A": "1"}, where="f")

"""What Claude Code and Cowork need to send their OpenTelemetry logs to the collector.

Claude Code reads its telemetry settings from environment variables, which an
administrator sets for every user in the ``env`` block of managed settings (Claude Code's
monitoring documentation, code.claude.com/docs/en/monitoring-usage, "Quick start" and
"Administrator configuration"): ``CLAUDE_CODE_ENABLE_TELEMETRY=1``,
``OTEL_LOGS_EXPORTER=otlp``, the OTLP protocol, endpoint and headers (the standard
``OTEL_EXPORTER_OTLP_*`` variables of the OpenTelemetry SDK configuration specification),
and ``OTEL_LOG_TOOL_DETAILS=1`` so tool events carry their parameters. The logs endpoint
variable is the full URL of the receiver (``.../v1/logs``), as the OTLP exporter
specification says for signal-specific endpoints.

Cowork is configured in the organisation's admin console with the same three values
(endpoint, protocol, headers); its sandbox only reaches hosts on the network egress
allow-list, so the collector's host must be added there or the exporter's requests are
dropped without an error.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from affidavit.errors import InputError

DROP_IN = "affidavit-otel.json"
_TOKEN = re.compile(r"[A-Za-z0-9_.~-]{8,200}")


def _check(server: str, token: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--server {server!r}: give the collector's URL, e.g. https://host")
    if parts.query or parts.fragment:
        raise InputError(f"--server {server!r}: no query or fragment in the collector's URL")
    if not _TOKEN.fullmatch(token):
        raise InputError("--token: a collector token (affidavit server token create --role device)")
    return parts


def claude_code_env(server: str, token: str) -> dict[str, str]:
    """The environment Claude Code needs to export its events to the collector."""
    _check(server, token)
    return {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": server.rstrip("/") + "/v1/logs",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
        "OTEL_LOG_TOOL_DETAILS": "1",
    }


def cowork_console(server: str, token: str) -> dict[str, str]:
    """The values to enter in Cowork's admin console, and the egress allow-list entry."""
    parts = _check(server, token)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {
        "endpoint": server.rstrip("/") + "/v1/logs",
        "protocol": "http/protobuf",
        "headers": f"Authorization=Bearer {token}",
        "egress_allow": f"{parts.hostname}:{port}" if parts.port else str(parts.hostname),
    }


def merge_env(text: str | None, env: dict[str, str], *, where: str) -> str:
    """A settings file's text with ``env`` set in its ``env`` block, other keys kept."""
    document: dict[str, object] = {}
    if text is not None and text.strip():
        try:
            loaded = json.loads(text)
        except ValueError as e:
            raise InputError(f"{where}: not JSON ({e}); fix or remove it first") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{where}: a settings file holds a JSON object")
        document = loaded
    block = document.get("env", {})
    if not isinstance(block, dict):
        raise InputError(f"{where}: its env is not an object")
    document["env"] = {**block, **env}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

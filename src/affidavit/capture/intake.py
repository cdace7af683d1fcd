"""The hook's input: decode one event, the records for input that is not one, the actor.

Standard library only: this runs in the hook, in every mode (service, direct, spool).
"""

from __future__ import annotations

import json
import os
import re

from affidavit.capture import digest, events, snapshots

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from affidavit.store.sqlite import SqliteStore

    Draft = tuple[str, dict[str, Any]]

MAX_STDIN = 32 * 2**20
# A surrogate escaped in JSON, or UTF-8-encoded (json.loads decodes bytes with surrogatepass).
_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")


def now_text() -> str:
    from datetime import UTC, datetime  # not at import: the thin client never needs it

    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def decode(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if len(raw) > MAX_STDIN:
        return None, f"hook input is larger than {MAX_STDIN} bytes; kept its first 4 KiB"
    if not raw.strip():
        return None, "hook input is empty"
    try:
        value = json.loads(raw)
    except RecursionError:
        return None, "hook input nests too deeply"
    except (ValueError, UnicodeDecodeError) as e:
        return None, f"hook input is not JSON: {e}"
    if not isinstance(value, dict):
        return None, f"hook input is a JSON {type(value).__name__}, not an object"
    if _LONE_SURROGATE.search(raw):
        # JavaScript cut a string between the two halves of a pair. A lone surrogate can be
        # neither canonical JSON nor SQLite text, so it is written as its escape at once.
        value = events.storable(value)
    return value, None


def with_env(raw: bytes, env: Mapping[str, str]) -> bytes:
    """``raw`` with the documented session variables set in ``env`` added under
    :data:`affidavit.capture.events.ENV_KEY`; unchanged when none is set or ``raw`` is no
    JSON object.

    A command hook reads them from its own environment; an ``http`` hook cannot run code, so
    Claude Code forwards them as headers (``allowedEnvVars``) and the collector passes those
    here. Both ways the event then holds the same bytes' meaning, so the records match, and
    the spool and the recorder service (another process, another environment) see what the
    hook saw. The event is read again only when a variable is set: never on a laptop.
    """
    found = {name: env[name] for name in events.SESSION_ENV if env.get(name)}
    if not found:
        return raw
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return raw  # decode() names the problem; nothing to annotate
    if not isinstance(value, dict):
        return raw
    value[events.ENV_KEY] = found
    return json.dumps(value, separators=(",", ":")).encode()


def error_draft(actor: dict[str, Any], message: str, raw: bytes) -> Draft:
    excerpt = raw[:4096].decode("utf-8", "replace")
    return (
        "capture.error",
        {
            "actor": actor,
            "error": {"message": message, "stage": "hook"},
            "input": {
                "bytes": len(raw),
                "sha256": digest.sha256_hex(raw),
                "excerpt": excerpt,
            },
        },
    )


def actor_of(store: SqliteStore | None) -> dict[str, Any]:
    """OS user and host, plus the Claude account in ~/.claude.json (cached by its stat in
    the store's meta table; read afresh without a store)."""
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if not user:
        try:
            import pwd

            user = pwd.getpwuid(os.getuid()).pw_name
        except (ImportError, KeyError, OSError):
            user = None
    uname = getattr(os, "uname", None)  # not on Windows
    host = uname().nodename if uname else os.environ.get("COMPUTERNAME")
    actor: dict[str, Any] = {"user": user, "host": host}
    config_dir = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.expanduser("~")
    path = os.path.join(config_dir, ".claude.json")
    st = snapshots.stat_of(path)
    if st is not None:
        key = f"actor:{path}:{st[0]}:{st[1]}"
        cached = store.meta("actor_cache") if store is not None else None
        if cached is not None and cached.startswith(key + "\n"):
            actor.update(json.loads(cached[len(key) + 1 :]))
        else:
            account: dict[str, Any] = {}
            try:
                with open(path, "rb") as f:
                    oauth = json.load(f).get("oauthAccount") or {}
                account = {
                    "email": oauth.get("emailAddress"),
                    "account_uuid": oauth.get("accountUuid"),
                    "org_uuid": oauth.get("organizationUuid"),
                }
            except (OSError, ValueError, AttributeError):
                account = {}
            account = {k: v for k, v in account.items() if isinstance(v, str)}
            if store is not None:
                store.set_meta("actor_cache", key + "\n" + json.dumps(account))
            actor.update(account)
    return {k: v for k, v in actor.items() if v}

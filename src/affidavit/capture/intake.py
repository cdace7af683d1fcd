"""The hook's input: decode one event, the records for input that is not one, the actor.

Standard library only: this runs in the hook, in every mode (service, direct, spool).
"""

from __future__ import annotations

import os

from affidavit.capture import digest, events, jsontext, snapshots

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from affidavit.store.sqlite import SqliteStore

    Draft = tuple[str, dict[str, Any]]

MAX_STDIN = 32 * 2**20
_HEX = frozenset(b"0123456789abcdefABCDEF")


def may_hold_surrogate(raw: bytes) -> bool:
    """Whether the input may hold a surrogate: escaped in JSON (``\\uD800`` to ``\\uDFFF``,
    either case), or UTF-8-encoded (json decodes bytes with ``surrogatepass``). True for a
    pair too, and for input that is not UTF-8 at all: only then is the value walked.

    Without ``re``: importing it costs the hook about 4 ms (see :mod:`.jsontext`).
    """
    try:
        raw.decode("utf-8")  # strict UTF-8 refuses an encoded surrogate
    except UnicodeDecodeError:
        return True
    for marker in (b"\\ud", b"\\uD"):
        at = raw.find(marker)
        while at != -1:
            rest = raw[at + 3 : at + 6]
            if (
                len(rest) == 3
                and rest[0] in b"89abcdefABCDEF"
                and rest[1] in _HEX
                and rest[2] in _HEX
            ):
                return True
            at = raw.find(marker, at + 1)
    return False


def now_text() -> str:
    from datetime import UTC, datetime  # not at import: the thin client never needs it

    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def decode(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    if len(raw) > MAX_STDIN:
        return None, f"hook input is larger than {MAX_STDIN} bytes; kept its first 4 KiB"
    if not raw.strip():
        return None, "hook input is empty"
    try:
        value = jsontext.loads(raw)
    except RecursionError:
        return None, "hook input nests too deeply"
    except (ValueError, UnicodeDecodeError) as e:
        return None, f"hook input is not JSON: {e}"
    if not isinstance(value, dict):
        return None, f"hook input is a JSON {type(value).__name__}, not an object"
    if may_hold_surrogate(raw):
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
        value = jsontext.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return raw  # decode() names the problem; nothing to annotate
    if not isinstance(value, dict):
        return raw
    value[events.ENV_KEY] = found
    return jsontext.dumps(value, compact=True).encode()


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
            actor.update(jsontext.loads(cached[len(key) + 1 :]))
        else:
            account: dict[str, Any] = {}
            try:
                with open(path, "rb") as f:
                    oauth = jsontext.loads(f.read()).get("oauthAccount") or {}
                account = {
                    "email": oauth.get("emailAddress"),
                    "account_uuid": oauth.get("accountUuid"),
                    "org_uuid": oauth.get("organizationUuid"),
                }
            except (OSError, ValueError, AttributeError):
                account = {}
            account = {k: v for k, v in account.items() if isinstance(v, str)}
            if store is not None:
                store.set_meta("actor_cache", key + "\n" + jsontext.dumps(account))
            actor.update(account)
    return {k: v for k, v in actor.items() if v}

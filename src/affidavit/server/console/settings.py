"""The console's settings, read from the environment like the rest of the collector.

``AFFIDAVIT_CONSOLE_OIDC_ISSUER``, ``..._CLIENT_ID``, ``..._CLIENT_SECRET``
    the organisation's OpenID Connect provider (OpenID Connect Discovery 1.0: the metadata is
    read from ``<issuer>/.well-known/openid-configuration``); unset: token sign-in only.
``AFFIDAVIT_CONSOLE_ROLES``
    who may sign in through OIDC, and as what: ``email=role`` pairs separated by commas,
    role ``auditor`` or ``admin``. Anyone else is refused after the provider vouched for them.
``AFFIDAVIT_CONSOLE_POLICY``
    the organisation's ``affidavit.toml``: its folder rules name the business functions (the
    collector does not hold the endpoints' files), and its declared facts (plan, DPA,
    connectors, documents, incident contact) are what the compliance checklist scores with
    each device's records; unset: no function column or filter, and every declared fact is
    missing evidence.
``AFFIDAVIT_CONSOLE_SECURE_COOKIE``
    ``1`` behind HTTPS (the session cookie is then ``Secure``).

The session key is derived from the org signing key file (HMAC-SHA256 under a context
string), so every worker and host of one collector signs cookies alike with nothing more to
configure, and a new org key ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from affidavit.config import Config
from affidavit.errors import InputError

ROLES = ("auditor", "admin")
_CONTEXT = b"affidavit/console-session/v1"


@dataclass(frozen=True, slots=True)
class Oidc:
    issuer: str
    client_id: str
    client_secret: str

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class Settings:
    oidc: Oidc | None
    roles: dict[str, str]
    functions: tuple[tuple[str, str], ...]
    secure_cookie: bool
    policy: Config | None = None
    """The organisation's affidavit.toml: folder rules, and the facts the checklist scores."""


def parse_roles(text: str) -> dict[str, str]:
    """``a@x=admin,b@x=auditor`` -> {email: role}; a malformed pair is an error naming it."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        email, sep, role = part.rpartition("=")
        if not sep or not email.strip() or role.strip() not in ROLES:
            raise InputError(
                f"AFFIDAVIT_CONSOLE_ROLES: {part!r} is not email=role (role: {', '.join(ROLES)})"
            )
        out[email.strip().lower()] = role.strip()
    return out


def load() -> Settings:
    env = os.environ
    issuer = env.get("AFFIDAVIT_CONSOLE_OIDC_ISSUER", "").strip()
    oidc = None
    if issuer:
        client_id = env.get("AFFIDAVIT_CONSOLE_OIDC_CLIENT_ID", "").strip()
        if not client_id:
            raise InputError("AFFIDAVIT_CONSOLE_OIDC_ISSUER is set: set ..._OIDC_CLIENT_ID too")
        oidc = Oidc(issuer, client_id, env.get("AFFIDAVIT_CONSOLE_OIDC_CLIENT_SECRET", ""))
    functions: tuple[tuple[str, str], ...] = ()
    path = env.get("AFFIDAVIT_CONSOLE_POLICY", "").strip()
    policy = None
    if path:
        from affidavit import config

        policy = config.load(path)
        functions = tuple(policy.function_rules)
    return Settings(
        oidc,
        parse_roles(env.get("AFFIDAVIT_CONSOLE_ROLES", "")),
        functions,
        env.get("AFFIDAVIT_CONSOLE_SECURE_COOKIE", "") == "1",
        policy,
    )


def session_key(keys: Path) -> str:
    """The cookie signing key of this collector (see the module docstring)."""
    try:
        raw = (keys / "org.key").read_bytes()
    except OSError as e:
        raise InputError(f"the console needs the org key to sign sessions: {e}") from e
    return hmac.new(raw, _CONTEXT, hashlib.sha256).hexdigest()

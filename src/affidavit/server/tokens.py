"""Bearer tokens for the collector: created once, shown once, stored argon2-hashed.

A token reads ``afv_<id>_<secret>``: the id finds the row, argon2 checks the secret. Roles:
``device`` may enrol and ship, ``auditor`` may read, ``admin`` may do both and manage.
A revoked token is refused from the next request on, in every worker (the row is read on
every request); only the slow argon2 check is cached, per process, for a verified token.
Tokens are never logged, never stored in the clear, never put in a message.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError as Argon2Mismatch

from affidavit.errors import InputError

ROLES = ("device", "auditor", "admin")
_TOKEN = re.compile(r"afv_([1-9][0-9]{0,18})_([A-Za-z0-9_-]{43})")
_LAST_USED_EVERY_S = 60
_CACHE_S = 300


def _hasher() -> PasswordHasher:
    """argon2id at its lightest settings (1 pass, 8 MiB). A token's secret is 32 random bytes:
    no guessing attack exists for a work factor to slow down, so argon2's default cost
    (3 passes over 64 MiB, over a second on a loaded 2-core host) only made every worker's
    first request per token slow; 200 endpoints meant minutes of it. A stolen hash still
    reveals nothing. Hashes made with other settings verify as before (they carry their own)."""
    return PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from."""

    token_id: int
    name: str
    role: str


class AuthError(Exception):
    """A request's token is missing, malformed, unknown, wrong or revoked (HTTP 401)."""


def create_token(conn: psycopg.Connection[Any], schema: str, *, role: str, name: str) -> str:
    """Store a new token's hash; returns the token, which is never shown again."""
    if role not in ROLES:
        raise InputError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 200:
        raise InputError("a token needs a name of 1-200 characters (--name)")
    secret = secrets.token_urlsafe(32)
    try:
        row = conn.execute(
            f'INSERT INTO "{schema}".tokens (name, role, hash) VALUES (%s, %s, %s) RETURNING id',
            (name, role, _hasher().hash(secret)),
        ).fetchone()
    except psycopg.errors.UniqueViolation as e:
        raise InputError(f"a token named {name!r} exists; choose another --name") from e
    assert row is not None
    return f"afv_{row[0]}_{secret}"


def revoke_token(conn: psycopg.Connection[Any], schema: str, name: str) -> None:
    cur = conn.execute(
        f'UPDATE "{schema}".tokens SET revoked = now() WHERE name = %s AND revoked IS NULL',
        (name,),
    )
    if cur.rowcount != 1:
        raise InputError(f"no live token named {name!r}")


def list_tokens(conn: psycopg.Connection[Any], schema: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        f'SELECT name, role, created, revoked, last_used FROM "{schema}".tokens ORDER BY id'
    ).fetchall()
    keys = ("name", "role", "created", "revoked", "last_used")
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(keys, r, strict=True)}
        for r in rows
    ]


class Authenticator:
    """Checks bearer tokens against the table; one per worker process."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._hasher = _hasher()
        self._verified: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def authenticate(self, conn: psycopg.Connection[Any], header: str | None) -> Principal:
        if not header or not header.startswith("Bearer "):
            raise AuthError("send the token as: Authorization: Bearer <token>")
        token = header[len("Bearer ") :].strip()
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise AuthError("the token is malformed")
        token_id, secret = int(match[1]), match[2]
        row = conn.execute(
            f"SELECT name, role, hash, revoked IS NOT NULL, "
            f"last_used IS NULL OR last_used < now() - interval '{_LAST_USED_EVERY_S} seconds' "
            f'FROM "{self.schema}".tokens WHERE id = %s',
            (token_id,),
        ).fetchone()
        if row is None:
            raise AuthError("unknown token")
        name, role, stored, revoked, stale = row
        if revoked:
            raise AuthError(f"token {name!r} was revoked")
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            fresh = self._verified.get(digest, 0.0) > time.monotonic()
        if not fresh:
            try:
                self._hasher.verify(stored, secret)
            except Argon2Mismatch:
                raise AuthError("wrong token") from None
            with self._lock:
                self._verified[digest] = time.monotonic() + _CACHE_S
        if stale:
            conn.execute(
                f'UPDATE "{self.schema}".tokens SET last_used = now() WHERE id = %s', (token_id,)
            )
        return Principal(token_id, name, role)

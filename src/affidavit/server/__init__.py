"""The organisation's collector (issue 12): endpoints ship their records and checkpoints to a
server on PostgreSQL, which witnesses their logs, keeps the org log and serves it.

* :mod:`.schema`  the collector's tables, ``server init``, its keys;
* :mod:`.tokens`  bearer tokens (argon2-hashed, roles, revocation, last use);
* :mod:`.ingest`  enrolment and shipping: verify, store exactly once, cosign (witness);
* :mod:`.orglog`  the org log over every shipped record, sealed by one integrator;
* :mod:`.tiles`   the org log as C2SP tlog-tiles;
* :mod:`.otlp`    ``POST /v1/logs``, the OTLP/HTTP receiver for Claude Code and Cowork
  (:mod:`.otlp_decode` the two encodings, :mod:`.otlp_events` the events as records);
* :mod:`.identity` the join of OpenTelemetry identities onto hook records;
* :mod:`.reconcile` gaps between OpenTelemetry and hooks, in both directions;
* :mod:`.app`     the ASGI app (Starlette on uvicorn) tying them to HTTP.

Everything here needs the ``server`` extra; :func:`require_extra` says so by name.
"""

from __future__ import annotations

import importlib

from affidavit.errors import InputError

_EXTRA = ("psycopg", "psycopg_pool", "starlette", "uvicorn", "argon2", "opentelemetry.proto")


def require_extra() -> None:
    """Raise :class:`InputError` naming the ``server`` extra if any of its modules is missing."""
    missing = []
    for name in _EXTRA:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise InputError(
            f"the collector needs the server extra (missing: {', '.join(missing)}); "
            "install it with: pip install 'affidavit[server]'"
        )

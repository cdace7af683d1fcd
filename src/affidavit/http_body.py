"""Reading an HTTP answer's body with a size limit, without missing a truncated one."""

from __future__ import annotations

import http.client


def read_body(response: http.client.HTTPResponse, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of the body (more than ``limit`` tells the caller it is too
    big); raises :class:`http.client.IncompleteRead` when the connection closed before the
    ``Content-Length`` it announced. ``read(amt)`` alone returns the short body as if it were
    whole (http.client keeps that for compatibility), so a killed server's half answer, or an
    empty one, would pass for the answer."""
    raw = response.read(limit + 1)
    if len(raw) <= limit and response.length:
        raise http.client.IncompleteRead(raw, response.length)
    return raw
